"""`call: openapi` against the petstore stand-in (Swagger 2.0 JSON, OpenAPI 3 YAML)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from podium import Runtime, WorkflowError
from tests.support.egress import TMP_FILES
from tests.support.fake_services import FakeServices


def workflow(document: str, operation: str, more: str = "", use: str = "",
             extra: str = "") -> str:
    return f"""
document: {{dsl: '1.0.3', namespace: test, name: openapi, version: '1.0.0'}}
{use}
do:
  - call:
      call: openapi
      with:
        document:
          endpoint: {document}
        operationId: {operation}
{more}
{extra}
"""


async def run(doc: str, data: Any = None, **options: Any) -> Any:
    options.setdefault("settings", TMP_FILES)  # resource files in tmp_path
    async with Runtime(**options) as runtime:
        return await runtime.run(doc, data)


@pytest.fixture
def svc(fake_services: FakeServices) -> FakeServices:
    fake_services.reset()
    return fake_services


def swagger(svc: FakeServices) -> str:
    return f"{svc.petstore_url}/swagger.json"


def openapi3(svc: FakeServices) -> str:
    return f"{svc.url}/petstore/v3/openapi.yaml"


async def test_swagger2_query_parameter(svc: FakeServices) -> None:
    doc = workflow(swagger(svc), "findPetsByStatus", "        parameters:\n"
                   "          status: ${ .status }")
    pets = await run(doc, {"status": "sold"})
    assert pets and all(pet["status"] == "sold" for pet in pets)


async def test_swagger2_multi_query_parameter_repeats_the_key(svc: FakeServices) -> None:
    doc = workflow(swagger(svc), "findPetsByStatus",
                   "        parameters:\n          status: [pending, sold]")
    statuses = {pet["status"] for pet in await run(doc)}
    assert statuses == {"pending", "sold"}


async def test_swagger2_path_parameter_and_response_output(svc: FakeServices) -> None:
    doc = workflow(swagger(svc), "getPetById",
                   "        parameters:\n          petId: ${ .id }\n        output: response")
    out = await run(doc, {"id": 5})
    assert out["statusCode"] == 200
    assert out["content"]["id"] == 5
    assert out["request"]["method"] == "get"
    assert out["request"]["uri"] == f"{svc.petstore_url}/pet/5"
    assert out["request"]["headers"]["accept"] == "application/json"


async def test_swagger2_named_body_parameter(svc: FakeServices) -> None:
    doc = workflow(swagger(svc), "addPet",
                   "        parameters:\n          body: {name: rex, photoUrls: []}")
    out = await run(doc)
    assert out["name"] == "rex" and out["id"] == 11


async def test_swagger2_body_from_the_remaining_parameters(svc: FakeServices) -> None:
    doc = workflow(swagger(svc), "addPet", "        parameters:\n"
                   "          name: ${ .name }\n          photoUrls: ${ .photoUrls }")
    out = await run(doc, {"name": "felix", "photoUrls": ["x"]})
    assert out == {"id": 11, "name": "felix", "photoUrls": ["x"]}


async def test_values_are_not_evaluated_twice(svc: FakeServices) -> None:
    # A string from the input that looks like an expression is data, not code.
    doc = workflow(swagger(svc), "addPet", "        parameters:\n          body: ${ . }")
    out = await run(doc, {"name": "${ $workflow.id }", "photoUrls": []})
    assert out["name"] == "${ $workflow.id }"


async def test_missing_required_parameter_is_a_validation_error(svc: FakeServices) -> None:
    doc = workflow(swagger(svc), "getPetById", "        parameters: {}")
    with pytest.raises(WorkflowError) as caught:
        await run(doc)
    error = caught.value
    assert error.type.endswith("/errors/validation") and error.status == 400
    assert "'petId'" in (error.detail or "")
    assert error.instance == "/do/0/call"
    assert not any("/pet/" in request.path for request in svc.requests)


async def test_missing_required_body_is_a_validation_error(svc: FakeServices) -> None:
    with pytest.raises(WorkflowError) as caught:
        await run(workflow(swagger(svc), "addPet"))
    assert caught.value.type.endswith("/errors/validation")
    assert "'body'" in (caught.value.detail or "")


async def test_unknown_operation_is_a_configuration_error(svc: FakeServices) -> None:
    with pytest.raises(WorkflowError) as caught:
        await run(workflow(swagger(svc), "deletePet"))
    error = caught.value
    assert error.type.endswith("/errors/configuration")
    assert "'deletePet'" in (error.detail or "")
    assert "addPet, findPetsByStatus, getPetById" in (error.detail or "")


async def test_service_error_is_a_communication_error_with_its_status(
    svc: FakeServices,
) -> None:
    doc = workflow(swagger(svc), "getPetById", "        parameters: {petId: 404}")
    with pytest.raises(WorkflowError) as caught:
        await run(doc)
    assert caught.value.type.endswith("/errors/communication")
    assert caught.value.status == 404


async def test_not_an_openapi_document(svc: FakeServices) -> None:
    with pytest.raises(WorkflowError) as caught:
        await run(workflow(f"{svc.httpbin_url}/anything", "x"))
    assert caught.value.type.endswith("/errors/configuration")
    assert "not an OpenAPI document" in (caught.value.detail or "")


# --- OpenAPI 3 ------------------------------------------------------------------


async def test_openapi3_relative_server_and_parameter_ref(svc: FakeServices) -> None:
    doc = workflow(openapi3(svc), "getPetById", "        parameters: {petId: 2}")
    assert (await run(doc))["id"] == 2
    assert svc.hits["/petstore/v2/pet/2"] == 1


async def test_openapi3_exploded_array_query(svc: FakeServices) -> None:
    doc = workflow(openapi3(svc), "findPetsByStatus",
                   "        parameters: {status: [available, sold]}")
    assert {pet["status"] for pet in await run(doc)} == {"available", "sold"}


async def test_openapi3_request_body_from_the_remaining_parameters(svc: FakeServices) -> None:
    doc = workflow(openapi3(svc), "addPet",
                   "        parameters: {name: tom, photoUrls: [a]}")
    assert await run(doc) == {"id": 11, "name": "tom", "photoUrls": ["a"]}


async def test_openapi3_parameter_styles_and_locations(svc: FakeServices) -> None:
    more = """        parameters:
          path: [a, b]
          tags: [x, y]
          filter: {color: red}
          X-Trace: abc
          session: s1
          body: {hello: world}"""
    out = await run(workflow(openapi3(svc), "echo", more))
    assert out["url"].split("?")[0].endswith("/httpbin/anything/a,b")
    assert out["args"] == {"tags": "x,y", "filter[color]": "red"}
    assert out["headers"]["X-Trace"] == "abc"
    assert out["headers"]["Cookie"] == "session=s1"
    assert out["json"] == {"hello": "world"}
    assert out["method"] == "POST"


async def test_openapi3_document_from_a_file_with_server_variables(
    svc: FakeServices, tmp_path: Path
) -> None:
    host = svc.url.removeprefix("http://")
    document = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "servers": [{"url": "http://{host}/{base}",
                     "variables": {"host": {"default": host}, "base": {"default": "petstore/v2"}}}],
        "paths": {"/pet/{id}": {"get": {
            "operationId": "get",
            "parameters": [{"name": "id", "in": "path", "required": True}],
            "responses": {"200": {"description": "ok"}},
        }}},
    }
    path = tmp_path / "api.json"
    path.write_text(json.dumps(document))
    doc = workflow(path.as_uri(), "get", "        parameters: {id: 7}")
    assert (await run(doc))["id"] == 7


async def test_bearer_authentication(svc: FakeServices) -> None:
    more = "        authentication:\n          bearer:\n            token: ${ .token }"
    out = await run(workflow(openapi3(svc), "whoAmI", more), {"token": "s3cr3t"})
    assert out == {"authenticated": True, "token": "s3cr3t"}


async def test_reusable_authentication_and_raw_output(svc: FakeServices) -> None:
    use = "use:\n  authentications:\n    api:\n      bearer:\n        token: t0k"
    more = "        authentication:\n          use: api\n        output: raw"
    out = await run(workflow(openapi3(svc), "whoAmI", more, use))
    assert isinstance(out, str) and out  # base64 of the JSON answer


async def test_missing_authentication_gives_the_service_401(svc: FakeServices) -> None:
    with pytest.raises(WorkflowError) as caught:
        await run(workflow(openapi3(svc), "whoAmI"))
    assert caught.value.status == 401


def swagger_file(tmp_path: Path, document: dict[str, Any]) -> str:
    path = tmp_path / "swagger.json"
    path.write_text(json.dumps({"swagger": "2.0", "info": {"title": "t", "version": "1"},
                                **document}))
    return path.as_uri()


async def test_swagger2_form_data_header_and_csv_query(
    svc: FakeServices, tmp_path: Path
) -> None:
    document = swagger_file(tmp_path, {
        "host": svc.url.removeprefix("http://"),
        "basePath": "/httpbin",
        "schemes": ["http"],
        "paths": {"/anything": {"post": {
            "operationId": "submit",
            "consumes": ["application/x-www-form-urlencoded"],
            "parameters": [
                {"name": "ids", "in": "query", "type": "array", "items": {"type": "integer"}},
                {"name": "X-Mode", "in": "header", "type": "string"},
                {"name": "name", "in": "formData", "type": "string", "required": True},
                {"name": "age", "in": "formData", "type": "integer"},
            ],
            "responses": {"200": {"description": "ok"}},
        }}},
    })
    more = "        parameters: {ids: [1, 2], X-Mode: fast, name: Ada, age: 36, extra: ignored}"
    out = await run(workflow(document, "submit", more))
    assert out["args"] == {"ids": "1,2"}
    assert out["form"] == {"name": "Ada", "age": "36"}
    assert out["headers"]["X-Mode"] == "fast"


async def test_swagger2_file_document_without_host(tmp_path: Path) -> None:
    document = swagger_file(tmp_path, {"paths": {"/x": {"get": {
        "operationId": "x", "responses": {"200": {"description": "ok"}}}}}})
    with pytest.raises(WorkflowError) as caught:
        await run(workflow(document, "x"))
    assert caught.value.type.endswith("/errors/configuration")
    assert "'host'" in (caught.value.detail or "")
