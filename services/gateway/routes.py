"""REST routes derived from the `google.api.http` annotations of every service's protos.

A route knows its HTTP verb, its path pattern (as a regex with named groups for path variables), which request
fields come from the path, the body and the query string, and how the RPC streams.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from google.api import annotations_pb2
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor, MethodDescriptor

_VARIABLE = re.compile(r"\{([a-zA-Z0-9_.]+)(?:=([^}]*))?\}")


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

    def match(self, verb: str, path: str) -> dict[str, str] | None:
        if verb != self.verb:
            return None
        found = self.regex.fullmatch(path)
        if not found:
            return None
        return {self.path_fields[int(k[1:])]: v for k, v in found.groupdict().items()}


def _segment_regex(pattern: str) -> str:
    parts = []
    for segment in pattern.split("/"):
        if segment == "**":
            parts.append(r".+")
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


def routes_for(service: str, service_descriptor) -> list[Route]:
    routes = []
    for method in service_descriptor.methods:
        rule = method.GetOptions().Extensions[annotations_pb2.http]
        verb = rule.WhichOneof("pattern")
        if verb is None or verb == "custom":
            continue
        template = getattr(rule, verb)
        regex, fields = compile_template(template)
        routes.append(Route(service, method, verb.upper(), template, regex, fields, rule.body))
    return routes


def _set_path_field(message, dotted: str, value: str) -> None:
    *parents, leaf = dotted.split(".")
    target = message
    for name in parents:
        target = getattr(target, name)
    setattr(target, leaf, value)


def _query_value(field: FieldDescriptor, value: str) -> Any:
    if field.type == FieldDescriptor.TYPE_BOOL:
        return value.lower() in ("1", "true", "yes")
    if field.type in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT32,
                      FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SINT64):
        return int(value)
    if field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return float(value)
    return value


def query_to_dict(descriptor, query: list[tuple[str, str]]) -> dict[str, Any]:
    """`?a=1&b.c=x&tags=1&tags=2` -> {"a": 1, "b": {"c": "x"}, "tags": ["1", "2"]} following field types."""
    result: dict[str, Any] = {}
    for key, value in query:
        node, desc = result, descriptor
        parts = key.split(".")
        for i, part in enumerate(parts):
            field = desc.fields_by_name.get(part)
            if field is None:
                raise ValueError(f"unknown query parameter {key!r}")
            if i < len(parts) - 1:
                if field.message_type is None:
                    raise ValueError(f"query parameter {key!r}: {part} is not a message")
                node = node.setdefault(part, {})
                desc = field.message_type
                continue
            well_known = field.message_type is not None and field.message_type.full_name.startswith("google.protobuf.")
            if field.message_type is not None and not well_known:
                raise ValueError(f"query parameter {key!r}: a message cannot come from the query string")
            converted = value if field.enum_type is not None else _query_value(field, value)
            if field.is_repeated:
                node.setdefault(part, []).append(converted)
            else:
                node[part] = converted
    return result


def build_request(route: Route, message_class, path_values: dict[str, str], query: list[tuple[str, str]],
                  body: Any) -> Any:
    """A request message from the path, the query string and the JSON body, as the annotation says."""
    request = message_class()
    if route.body == "*":
        if body:
            json_format.ParseDict(body, request)
    elif route.body:
        if body:
            json_format.ParseDict(body, getattr(request, route.body))
    if query and route.body != "*":
        json_format.ParseDict(query_to_dict(request.DESCRIPTOR, query), request, ignore_unknown_fields=False)
    for field, value in path_values.items():
        _set_path_field(request, field, value)
    return request
