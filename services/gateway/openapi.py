"""An OpenAPI 3 document generated from the same http annotations the gateway routes by."""

from __future__ import annotations

from services.gateway.routes import Route


def openapi_document(routes: list[Route]) -> dict:
    paths: dict[str, dict] = {}
    for route in routes:
        path = route.template
        for field in route.path_fields:  # "{name=campaigns/*}" -> "{name}"
            start = path.index("{" + field)
            end = path.index("}", start)
            path = path[:start] + "{" + field + "}" + path[end + 1 :]
        operation = {
            "operationId": f"{route.service}.{route.method.name}",
            "summary": route.method.full_name,
            "tags": [route.service],
            "parameters": [
                {"name": f, "in": "path", "required": True, "schema": {"type": "string"}} for f in route.path_fields
            ],
            "responses": {
                "200": {
                    "description": route.method.output_type.full_name,
                    "content": {"text/event-stream" if route.server_streaming else "application/json": {}},
                },
                "default": {"description": "error: {error: {code, status, message}}"},
            },
            "security": [{"bearer": []}],
        }
        if route.body or route.client_streaming:
            media = "application/octet-stream" if route.client_streaming else "application/json"
            operation["requestBody"] = {"content": {media: {}}, "description": route.method.input_type.full_name}
        paths.setdefault(path, {})[route.verb.lower()] = operation
    return {
        "openapi": "3.0.3",
        "info": {"title": "Realm gateway", "version": "v1"},
        "paths": paths,
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }
