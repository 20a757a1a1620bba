"""Every RPC of every service: a google.api.http annotation, Buf/AIP naming, and refusal without a token."""

from __future__ import annotations

import asyncio
import importlib

import grpc
import pytest
from google.api import annotations_pb2
from google.protobuf import message_factory

from fixtures.kit import make_test_settings, serve_for_test
from realm.sdk.core import SERVICES, connect


def service_descriptor(name):
    spec = SERVICES[name]
    return spec.module.DESCRIPTOR.services_by_name[spec.full_name.rsplit(".", 1)[-1]]


ALL_METHODS = [(svc, m) for svc in SERVICES for m in service_descriptor(svc).methods]


@pytest.mark.parametrize(("service", "method"), ALL_METHODS, ids=[f"{s}.{m.name}" for s, m in ALL_METHODS])
def test_rpc_has_http_annotation_and_own_messages(service, method):
    rule = method.GetOptions().Extensions[annotations_pb2.http]
    assert rule.WhichOneof("pattern") in {"get", "put", "post", "delete", "patch"}, method.full_name
    assert getattr(rule, rule.WhichOneof("pattern")).startswith("/v1/")
    assert method.input_type.name == f"{method.name}Request"
    assert method.output_type.name == f"{method.name}Response"


def realm_files(file):
    """The service's proto file and every realm/ file it imports (RPC messages may live in sibling files)."""
    seen, todo = {}, [file]
    while todo:
        current = todo.pop()
        if current.name in seen or not current.name.startswith("realm/"):
            continue
        seen[current.name] = current
        todo.extend(current.dependencies)
    return list(seen.values())


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_enums_start_with_unspecified(service):
    enums = []
    for file in realm_files(SERVICES[service].module.DESCRIPTOR):
        enums += list(file.enum_types_by_name.values())
        for message in file.message_types_by_name.values():
            enums += list(message.enum_types)
    for enum in enums:
        first = enum.values_by_number[0].name
        assert first.endswith("_UNSPECIFIED"), f"{enum.full_name} starts with {first}"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_list_rpcs_paginate(service):
    for method in service_descriptor(service).methods:
        if method.name.startswith("List"):
            fields = method.input_type.fields_by_name
            assert {"page_size", "page_token"} <= set(fields), method.full_name
            assert "next_page_token" in method.output_type.fields_by_name, method.full_name


def _empty_call(client, method):
    request = message_factory.GetMessageClass(method.input_type)()
    fn = getattr(client, method.name)
    if method.client_streaming:
        result = fn(iter([request]), timeout=10)
    else:
        result = fn(request, timeout=10)
    if method.server_streaming:
        next(iter(result))
    return result


@pytest.mark.integration
@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_every_rpc_refuses_callers_without_a_token(tmp_path, service):
    setup = importlib.import_module(f"services.{service}.app").setup
    settings = make_test_settings(tmp_path)
    async with serve_for_test(settings, service, setup) as running:
        client = getattr(connect(addresses={service: running.address}, token=None), service)
        for method in service_descriptor(service).methods:
            with pytest.raises(grpc.RpcError) as caught:
                await asyncio.to_thread(_empty_call, client, method)
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED, method.full_name
