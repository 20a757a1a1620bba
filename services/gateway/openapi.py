"""An OpenAPI 3.0 document for the REST API, generated from the same http annotations the gateway routes by.

One operation per RPC: each path keeps its literal segments (`/api/v1/campaigns/{campaign}:activate`), so
resource names never collapse onto one `/v1/{name}` path. Every message has its own schema (proto3 JSON
mapping: 64-bit integers as strings, enums by name, well-known types in their string forms); server streams
are `text/event-stream`, client streams take `application/octet-stream`; errors are google.rpc.Status.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from services.gateway.routes import _VARIABLE, Route, bound_by_path_or_body

_T = FieldDescriptor
_INT32 = {_T.TYPE_INT32: (-(1 << 31), (1 << 31) - 1), _T.TYPE_SINT32: (-(1 << 31), (1 << 31) - 1),
          _T.TYPE_SFIXED32: (-(1 << 31), (1 << 31) - 1), _T.TYPE_UINT32: (0, (1 << 32) - 1),
          _T.TYPE_FIXED32: (0, (1 << 32) - 1)}
_INT64 = {_T.TYPE_INT64, _T.TYPE_SINT64, _T.TYPE_SFIXED64, _T.TYPE_UINT64, _T.TYPE_FIXED64}
WELL_KNOWN: dict[str, dict] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]{1,9})?s$"},
    "google.protobuf.FieldMask": {"type": "string"},
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.Empty": {"type": "object"},
    "google.protobuf.Any": {"type": "object", "properties": {"@type": {"type": "string"}},
                            "additionalProperties": True},
}
STATUS_SCHEMA = {
    "type": "object", "description": "google.rpc.Status",
    "properties": {"code": {"type": "integer"}, "message": {"type": "string"},
                   "details": {"type": "array", "items": {"type": "object", "additionalProperties": True}}},
    "required": ["code", "message"],
}
SEGMENT = {"*": {"type": "string", "minLength": 1, "pattern": "^[^/:]+$"},
           "**": {"type": "string", "minLength": 1, "pattern": "^[^:]+$"}}


def _singular(word: str) -> str:
    for plural, single in (("ies", "y"), ("ses", "s"), ("oes", "o")):
        if word.endswith(plural):
            return word[: -len(plural)] + single
    return word[:-1] if word.endswith("s") else word


class SchemaBuilder:
    def __init__(self) -> None:
        self.schemas: dict[str, dict] = {"google.rpc.Status": STATUS_SCHEMA}

    def message(self, descriptor: Descriptor) -> dict:
        name = descriptor.full_name
        if name in WELL_KNOWN:
            return dict(WELL_KNOWN[name])
        if name.startswith("google.protobuf.") and name.endswith("Value"):  # wrappers: the bare value or null
            return {**self.field(descriptor.fields_by_name["value"]), "nullable": True}
        if name not in self.schemas:
            self.schemas[name] = {}  # placeholder: recursive messages refer to themselves
            properties = {f.name: self.field(f) for f in descriptor.fields}
            self.schemas[name] = {"type": "object", "properties": properties, "additionalProperties": False}
        return {"$ref": f"#/components/schemas/{name}"}

    def scalar(self, field: FieldDescriptor) -> dict:
        if field.enum_type is not None:
            return {"type": "string", "enum": [v.name for v in field.enum_type.values]}
        if field.type in _INT32:
            low, high = _INT32[field.type]
            return {"type": "integer", "format": "int32" if low < 0 else "int64", "minimum": low, "maximum": high}
        if field.type in _INT64:
            return {"type": "string", "format": "int64", "pattern": "^-?[0-9]{1,20}$"}
        if field.type in (_T.TYPE_DOUBLE, _T.TYPE_FLOAT):
            return {"type": "number"}
        if field.type == _T.TYPE_BOOL:
            return {"type": "boolean"}
        if field.type == _T.TYPE_BYTES:
            return {"type": "string", "format": "byte"}
        return {"type": "string"}

    def field(self, field: FieldDescriptor) -> dict:
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            return {"type": "object", "additionalProperties": self.field(field.message_type.fields_by_name["value"])}
        single = self.message(field.message_type) if field.message_type is not None else self.scalar(field)
        return {"type": "array", "items": single} if field.is_repeated else single


def openapi_path(prefix: str, template: str) -> tuple[str, list[dict]]:
    """`/v1/{name=campaigns/*/aliases/**}` -> `/api/v1/campaigns/{campaign}/aliases/{alias}` and its parameters."""
    parameters: list[dict] = []
    path, position = "", 0
    for match in _VARIABLE.finditer(template):
        path += template[position : match.start()]
        field, pattern = match.group(1), match.group(2) or "*"
        pieces, previous = [], field.split(".")[-1]
        for segment in pattern.split("/"):
            if segment in SEGMENT:
                name = _singular(previous) if previous != field.split(".")[-1] else previous
                while any(p["name"] == name for p in parameters):
                    name += "_"
                parameters.append({"name": name, "in": "path", "required": True, "schema": dict(SEGMENT[segment]),
                                   "description": f"part of `{field}`"})
                pieces.append("{" + name + "}")
            else:
                pieces.append(segment)
                previous = segment
        path += "/".join(pieces)
        position = match.end()
    return prefix + path + template[position:], parameters


def query_parameters(builder: SchemaBuilder, descriptor: Descriptor, excluded: frozenset[str], prefix: str = "",
                     depth: int = 0) -> list[dict]:
    found: list[dict] = []
    for field in descriptor.fields:
        if not prefix and field.name in excluded:
            continue
        name = prefix + field.name
        if field.message_type is not None:
            if field.message_type.GetOptions().map_entry:
                continue
            if field.message_type.full_name in ("google.protobuf.Timestamp", "google.protobuf.Duration",
                                                "google.protobuf.FieldMask") and not field.is_repeated:
                found.append({"name": name, "in": "query", "schema": dict(WELL_KNOWN[field.message_type.full_name])})
            elif not field.is_repeated and depth < 2 and not field.message_type.full_name.startswith("google."):
                found += query_parameters(builder, field.message_type, excluded, name + ".", depth + 1)
            continue
        schema = builder.field(field)
        parameter: dict[str, Any] = {"name": name, "in": "query", "schema": schema}
        if field.is_repeated:
            parameter.update(style="form", explode=True)
        found.append(parameter)
    return found


def openapi_document(routes: list[Route], prefix: str = "/api") -> dict:
    builder = SchemaBuilder()
    paths: dict[str, dict] = {}
    for route in routes:
        path, parameters = openapi_path(prefix, route.template)
        service = route.method.containing_service.name
        input_type, output_type = route.method.input_type, route.method.output_type
        operation: dict[str, Any] = {
            "operationId": f"{service}_{route.method.name}",
            "summary": route.method.full_name,
            "tags": [route.service],
            "parameters": parameters,
            "responses": {"default": {"description": "error (google.rpc.Status)", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/google.rpc.Status"}}}}},
        }
        if route.client_streaming:
            header = next(f for f in input_type.fields if f.message_type is not None).message_type
            operation["parameters"] += query_parameters(builder, header, frozenset(
                f.split(".")[-1] for f in route.path_fields))
            operation["requestBody"] = {"required": True, "description": f"raw bytes for {input_type.full_name}",
                                        "content": {"application/octet-stream": {
                                            "schema": {"type": "string", "format": "binary"}}}}
        elif route.body == "*":
            operation["requestBody"] = {"content": {"application/json": {"schema": builder.message(input_type)}}}
        else:
            if route.body:
                field = input_type.fields_by_name[route.body]
                operation["requestBody"] = {"content": {"application/json": {"schema": builder.field(field)}}}
            operation["parameters"] += query_parameters(builder, input_type, bound_by_path_or_body(route))
        if route.server_streaming:
            operation["parameters"] += [
                {"name": "Last-Event-ID", "in": "header", "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
                 "description": "resume after this event id"},
                {"name": "last_event_id", "in": "query", "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
                 "description": "resume after this event id (for EventSource, which cannot set headers)"},
                {"name": "replay", "in": "query", "schema": {"type": "boolean"},
                 "description": "event streams: start from the retained history instead of from now"}]
            operation["responses"]["200"] = {
                "description": f"Server-Sent Events; each `data:` is a {output_type.full_name} as JSON",
                "content": {"text/event-stream": {"schema": {"type": "string"}}}}
            builder.message(output_type)
        else:
            operation["responses"]["200"] = {"description": output_type.full_name, "content": {
                "application/json": {"schema": builder.message(output_type)}}}
        paths.setdefault(path, {})[route.verb.lower()] = operation
    return {
        "openapi": "3.0.3",
        "info": {"title": "Realm gateway REST API", "version": "v1",
                 "description": "Every RPC of every Realm service, transcoded by its google.api.http annotation. "
                                "OpenAI-compatible routes live at /v1, TGI-compatible ones at /."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": builder.schemas,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
    }
