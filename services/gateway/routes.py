"""REST routes derived from the `google.api.http` annotations of every service's protos, bound by its rules.

A route knows its HTTP verb, its path pattern (a regex over the raw, still percent-encoded path, with one group
per path variable), which request fields come from the path, the body and the query string, and how it streams.
Binding (google/api/http.proto): path variables first; `body: "*"` takes every other field from the body and
none from the query; `body: "field"` takes that field from the body; every other field may come from the query
(`?a=1`, repeated `?t=x&t=y`, nested `?sub.field=v`; never a whole message).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from google.api import annotations_pb2
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor, MethodDescriptor

from services.gateway.errors import HttpError

_VARIABLE = re.compile(r"\{([a-zA-Z0-9_.]+)(?:=([^}]*))?\}")
_I32, _I64 = (-(1 << 31), (1 << 31) - 1), (-(1 << 63), (1 << 63) - 1)
_U32, _U64 = (0, (1 << 32) - 1), (0, (1 << 64) - 1)
_T = FieldDescriptor
_INTEGERS = {_T.TYPE_INT32: _I32, _T.TYPE_SINT32: _I32, _T.TYPE_SFIXED32: _I32, _T.TYPE_INT64: _I64,
             _T.TYPE_SINT64: _I64, _T.TYPE_SFIXED64: _I64, _T.TYPE_UINT32: _U32, _T.TYPE_FIXED32: _U32,
             _T.TYPE_UINT64: _U64, _T.TYPE_FIXED64: _U64}
_FLOATS = (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT)
_PARSE_ERROR_FIELD = re.compile(r"Failed to parse (\S+) field")
# Well-known types that have a string form in proto3 JSON, so they may come from the query string.
STRING_WELL_KNOWN = {"google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask"}


@dataclass(frozen=True)
class Route:
    service: str  # SDK service key: "vault", "trainer", ...
    method: MethodDescriptor
    verb: str
    template: str
    regex: re.Pattern[str]
    path_fields: tuple[str, ...]
    body: str  # "", "*", or a field name

    @property
    def client_streaming(self) -> bool:
        return self.method.client_streaming

    @property
    def server_streaming(self) -> bool:
        return self.method.server_streaming

    def match_path(self, path: str) -> dict[str, str] | None:
        found = self.regex.fullmatch(path)
        if not found:
            return None
        return {self.path_fields[int(k[1:])]: unquote(v) for k, v in found.groupdict().items()}

    def match(self, verb: str, path: str) -> dict[str, str] | None:
        return self.match_path(path) if verb == self.verb else None


def _segment_regex(pattern: str) -> str:
    parts = []
    for segment in pattern.split("/"):
        if segment == "**":
            parts.append(r"[^:]+")
        elif segment == "*":
            parts.append(r"[^/:]+")
        else:
            parts.append(re.escape(segment))
    return "/".join(parts)


def compile_template(template: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    fields: list[str] = []
    regex = ""
    position = 0
    for match in _VARIABLE.finditer(template):
        regex += re.escape(template[position : match.start()])
        fields.append(match.group(1))
        regex += f"(?P<v{len(fields) - 1}>{_segment_regex(match.group(2) or '*')})"
        position = match.end()
    regex += re.escape(template[position:])
    return re.compile(regex), tuple(fields)


def routes_for(service: str, service_descriptor, *, prefix: str = "") -> list[Route]:
    """Routes relative to the gateway's `prefix`; an annotation that already names the prefix (the kit's
    MaintenanceService says /api/v1/...) is served at that same path."""
    routes = []
    for method in service_descriptor.methods:
        rule = method.GetOptions().Extensions[annotations_pb2.http]
        verb = rule.WhichOneof("pattern")
        if verb is None or verb == "custom":
            continue
        template = getattr(rule, verb)
        if prefix and template.startswith(prefix + "/"):
            template = template[len(prefix):]
        regex, fields = compile_template(template)
        routes.append(Route(service, method, verb.upper(), template, regex, fields, rule.body))
    return routes


def _scalar(field: FieldDescriptor, key: str, value: str) -> Any:
    """One query-string value converted by the field's type; an error names the parameter."""
    if field.type == FieldDescriptor.TYPE_BOOL:
        lowered = value.lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise HttpError(400, f"{key}: expected true or false, got {value!r}", field=key)
    if field.type in _INTEGERS:
        try:
            number = int(value)
        except ValueError:
            raise HttpError(400, f"{key}: expected an integer, got {value!r}", field=key) from None
        low, high = _INTEGERS[field.type]
        if not low <= number <= high:
            raise HttpError(400, f"{key}: {number} is out of range [{low}, {high}]", field=key)
        return number
    if field.type in _FLOATS:
        try:
            return float(value)
        except ValueError:
            raise HttpError(400, f"{key}: expected a number, got {value!r}", field=key) from None
    if field.enum_type is not None:
        names = field.enum_type.values_by_name
        if value in names:
            return value
        if value.lstrip("-").isdigit() and int(value) in field.enum_type.values_by_number:
            return field.enum_type.values_by_number[int(value)].name
        raise HttpError(400, f"{key}: {value!r} is not one of {', '.join(names)}", field=key)
    if field.type == FieldDescriptor.TYPE_BYTES:
        return value  # proto3 JSON: base64; ParseDict reports a bad one with the field name
    return value


def query_to_dict(descriptor, query: list[tuple[str, str]], *, excluded: frozenset[str] = frozenset()
                  ) -> dict[str, Any]:
    """`?a=1&b.c=x&tags=1&tags=2` -> {"a": 1, "b": {"c": "x"}, "tags": ["1", "2"]} following field types."""
    result: dict[str, Any] = {}
    for key, value in query:
        top = key.split(".")[0]
        if key in excluded or top in excluded:
            raise HttpError(400, f"query parameter {key!r} is bound by the path or body, not the query", field=key)
        node, desc = result, descriptor
        parts = key.split(".")
        for i, part in enumerate(parts):
            field = desc.fields_by_name.get(part)
            if field is None:
                raise HttpError(400, f"unknown query parameter {key!r}", field=key)
            if i < len(parts) - 1:
                if field.message_type is None or field.is_repeated:
                    raise HttpError(400, f"query parameter {key!r}: {part} is not a message", field=key)
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise HttpError(400, f"query parameter {key!r} conflicts with {part!r}", field=key)
                node, desc = child, field.message_type
                continue
            is_message = field.message_type is not None
            if is_message and field.message_type.full_name not in STRING_WELL_KNOWN:
                raise HttpError(400, f"query parameter {key!r}: a message cannot come from the query string; "
                                     "name its fields (e.g. ?{key}.<field>=…)", field=key)
            converted = value if is_message else _scalar(field, key, value)
            if field.is_repeated:
                node.setdefault(part, []).append(converted)
            elif part in node:
                raise HttpError(400, f"query parameter {key!r} is given more than once", field=key)
            else:
                node[part] = converted
    return result


def _set_path_field(message, dotted: str, value: str) -> None:
    *parents, leaf = dotted.split(".")
    target = message
    for name in parents:
        target = getattr(target, name)
    field = target.DESCRIPTOR.fields_by_name[leaf]
    setattr(target, leaf, _scalar(field, dotted, value) if field.type != FieldDescriptor.TYPE_STRING else value)


def parse_into(data: Any, message, *, where: str = "body") -> None:
    if not isinstance(data, dict):
        raise HttpError(400, f"{where}: expected a JSON object, got {type(data).__name__}", field=where)
    try:
        json_format.ParseDict(data, message)
    except json_format.ParseError as exc:
        found = _PARSE_ERROR_FIELD.search(str(exc))
        field = found.group(1) if found else where
        raise HttpError(400, f"{field}: {exc}", field=field) from None
    except (RecursionError, ValueError, TypeError, OverflowError) as exc:
        raise HttpError(400, f"{where}: {exc}", field=where) from None


def bound_by_path_or_body(route: Route) -> frozenset[str]:
    return frozenset([f.split(".")[0] for f in route.path_fields] + ([route.body] if route.body not in ("", "*")
                                                                         else []))


def build_request(route: Route, message_class, path_values: dict[str, str], query: list[tuple[str, str]],
                  body: Any) -> Any:
    """A request message from the path, the query string and the JSON body, as the annotation says."""
    request = message_class()
    if route.body == "*":
        if query:
            names = ", ".join(sorted({k for k, _ in query}))
            raise HttpError(400, f"this method takes its fields from the body (body: \"*\"), not from query "
                                 f"parameters: {names}", field=query[0][0])
        if body is not None:
            parse_into(body, request)
    elif route.body:
        if body is not None:
            parse_into(body, getattr(request, route.body), where=route.body)
    if query and route.body != "*":
        parse_into(query_to_dict(request.DESCRIPTOR, query, excluded=bound_by_path_or_body(route)), request,
                   where="query")
    for field, value in path_values.items():
        _set_path_field(request, field, value)
    return request
