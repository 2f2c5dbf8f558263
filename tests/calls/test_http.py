"""`call: http` against the local httpbin/petstore stand-ins."""

from __future__ import annotations

import base64
import socket
from typing import Any

import pytest

from podium import Runtime, WorkflowError
from tests.support.fake_services import FakeServices

COMMUNICATION = "https://serverlessworkflow.io/spec/1.0.0/errors/communication"


def workflow(call_with: str, use: str = "", extra: str = "") -> str:
    return f"""
document: {{dsl: '1.0.3', namespace: test, name: http, version: '1.0.0'}}
{use}
do:
  - call:
      call: http
      with:
{call_with}
{extra}
"""


async def run(doc: str, data: Any = None, **options: Any) -> Any:
    async with Runtime(**options) as runtime:
        return await runtime.run(doc, data)


@pytest.fixture
def svc(fake_services: FakeServices) -> FakeServices:
    fake_services.reset()
    return fake_services


async def test_uri_template_is_filled_from_the_transformed_input(svc: FakeServices) -> None:
    doc = workflow(f"""
        method: get
        endpoint: {svc.url}/petstore/v2/pet/{{petId}}""")
    assert (await run(doc, {"petId": 3}))["id"] == 3


async def test_template_values_are_percent_encoded(svc: FakeServices) -> None:
    doc = workflow(f"""
        method: get
        endpoint: {svc.url}/httpbin/anything/{{name}}""")
    out = await run(doc, {"name": "a?b=1"})
    # Unencoded, "?b=1" would have become a query string.
    assert out["args"] == {}
    assert "/anything/a%3Fb" in out["url"]


async def test_missing_template_value_expands_to_empty(svc: FakeServices) -> None:
    doc = workflow(f"""
        method: get
        endpoint:
          uri: {svc.url}/httpbin/anything/x{{missing}}y""")
    assert (await run(doc, {}))["url"].endswith("/anything/xy")


async def test_object_template_value_is_an_expression_error(svc: FakeServices) -> None:
    doc = workflow(f"""
        method: get
        endpoint: {svc.url}/httpbin/anything/{{obj}}""")
    with pytest.raises(WorkflowError) as caught:
        await run(doc, {"obj": {"a": 1}})
    assert caught.value.type.endswith("/errors/expression")
    assert caught.value.status == 400


async def test_endpoint_expression_headers_query_and_json_body(svc: FakeServices) -> None:
    doc = workflow(f"""
        method: ${{ .verb }}
        endpoint: ${{ "{svc.url}/httpbin/anything/" + .path }}
        headers:
          X-Trace: ${{ .trace }}
        query:
          page: ${{ .page }}
          lang: en
        body:
          order: ${{ .order }}""")
    data = {"verb": "post", "path": "orders", "trace": "t-1", "page": 2, "order": {"id": 7}}
    out = await run(doc, data)
    assert out["method"] == "POST"
    assert out["headers"]["X-Trace"] == "t-1"
    assert out["args"] == {"page": "2", "lang": "en"}
    assert out["json"] == {"order": {"id": 7}}
    assert out["headers"]["Content-Type"] == "application/json"


async def test_form_body_when_the_content_type_says_so(svc: FakeServices) -> None:
    doc = workflow(f"""
        method: post
        endpoint: {svc.url}/httpbin/anything
        headers:
          Content-Type: application/x-www-form-urlencoded
        body:
          name: Ada""")
    assert (await run(doc))["form"] == {"name": "Ada"}


async def test_output_response_describes_request_and_response(svc: FakeServices) -> None:
    doc = workflow(f"""
        method: get
        endpoint: {svc.url}/petstore/v2/pet/1
        output: response""")
    out = await run(doc)
    assert out["statusCode"] == 200
    assert out["content"]["id"] == 1
    assert out["request"]["method"] == "get"
    assert out["request"]["uri"] == f"{svc.url}/petstore/v2/pet/1"
    assert isinstance(out["request"]["headers"], dict)
    assert out["headers"]["content-type"].startswith("application/json")


async def test_output_raw_is_base64(svc: FakeServices) -> None:
    doc = workflow(f"""
        method: get
        endpoint: {svc.url}/httpbin/html
        output: raw""")
    out = await run(doc)
    assert b"Moby-Dick" in base64.b64decode(out)


async def test_content_by_media_type(svc: FakeServices) -> None:
    text = await run(workflow(f"""
        method: get
        endpoint: {svc.url}/httpbin/html"""))
    assert isinstance(text, str) and "Moby-Dick" in text
    binary = await run(workflow(f"""
        method: get
        endpoint: {svc.url}/httpbin/bytes/16"""))
    assert len(base64.b64decode(binary)) == 16


async def test_status_outside_2xx_is_a_communication_error_with_that_status(
    svc: FakeServices,
) -> None:
    doc = workflow(f"""
        method: get
        endpoint: {svc.url}/httpbin/status/503""")
    with pytest.raises(WorkflowError) as caught:
        await run(doc)
    error = caught.value
    assert (error.type, error.status, error.instance) == (COMMUNICATION, 503, "/do/0/call")
    assert "503" in (error.detail or "")


async def test_redirect_false_refuses_3xx(svc: FakeServices) -> None:
    doc = workflow(f"""
        method: get
        endpoint: {svc.url}/httpbin/redirect-to?url=/httpbin/headers&status_code=302""")
    with pytest.raises(WorkflowError) as caught:
        await run(doc)
    assert caught.value.status == 302


async def test_redirect_true_follows(svc: FakeServices) -> None:
    doc = workflow(f"""
        method: get
        endpoint: {svc.url}/httpbin/redirect-to?url=/httpbin/headers&status_code=302
        redirect: true""")
    out = await run(doc)
    assert "headers" in out
    assert svc.hits["/httpbin/headers"] == 1


async def test_network_failure_is_communication_500() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    doc = workflow(f"""
        method: get
        endpoint: http://127.0.0.1:{port}/nothing""")
    with pytest.raises(WorkflowError) as caught:
        await run(doc)
    assert (caught.value.type, caught.value.status) == (COMMUNICATION, 500)
    assert f"127.0.0.1:{port}" in (caught.value.detail or "")


async def test_basic_authentication_inline_with_expressions(svc: FakeServices) -> None:
    doc = workflow(f"""
        method: get
        endpoint:
          uri: {svc.url}/httpbin/basic-auth/{{user}}/{{password}}
          authentication:
            basic:
              username: ${{ .user }}
              password: ${{ .password }}""")
    out = await run(doc, {"user": "ada", "password": "s3cret"})
    assert out == {"authenticated": True, "user": "ada"}


async def test_wrong_credentials_give_401(svc: FakeServices) -> None:
    doc = workflow(f"""
        method: get
        endpoint:
          uri: {svc.url}/httpbin/basic-auth/ada/right
          authentication:
            basic: {{username: ada, password: wrong}}""")
    with pytest.raises(WorkflowError) as caught:
        await run(doc)
    assert caught.value.status == 401


async def test_reusable_bearer_authentication_and_authorization_argument(
    svc: FakeServices,
) -> None:
    doc = workflow(
        f"""
        method: get
        endpoint:
          uri: {svc.url}/httpbin/bearer
          authentication:
            use: api""",
        use="use:\n  authentications:\n    api:\n      bearer:\n        token: tok-123",
        extra="      output:\n        as: '${ {body: ., auth: $authorization} }'",
    )
    out = await run(doc)
    assert out["body"] == {"authenticated": True, "token": "tok-123"}
    assert out["auth"] == {"scheme": "Bearer", "parameter": "tok-123"}


async def test_secret_based_basic_authentication(svc: FakeServices) -> None:
    doc = workflow(
        f"""
        method: get
        endpoint:
          uri: {svc.url}/httpbin/basic-auth/ada/pw
          authentication:
            basic:
              use: creds""",
        use="use:\n  secrets: [creds]",
    )
    out = await run(doc, secrets={"creds": {"username": "ada", "password": "pw"}})
    assert out["authenticated"] is True


async def test_credentials_are_redacted_in_response_output(svc: FakeServices) -> None:
    doc = workflow(f"""
        method: get
        endpoint:
          uri: {svc.url}/httpbin/bearer
          authentication:
            bearer: {{token: very-secret}}
        output: response""")
    out = await run(doc)
    assert "very-secret" not in str(out["request"])
    assert out["request"]["headers"]["authorization"] == "***"


async def test_query_adds_to_the_endpoint_query_string(svc: FakeServices) -> None:
    doc = workflow(f"""
        method: get
        endpoint: {svc.url}/httpbin/anything?fixed=1
        query:
          page: '2'""")
    assert (await run(doc))["args"] == {"fixed": "1", "page": "2"}
