"""The egress policy (issue 7, item 20): which hosts calls may reach, which files
resources may be read from. Refusals happen before any connection is opened, so
the denied addresses below are never actually contacted."""

from __future__ import annotations

import asyncio
import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest

from podium import Runtime, WorkflowError
from podium.config import Settings
from podium.egress import HostPolicy, HostRule, parse_host_patterns
from tests.support.fake_services import FakeServices

AUTHORIZATION = "https://serverlessworkflow.io/spec/1.0.0/errors/authorization"
METADATA = "169.254.169.254"


def ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


def allow(*patterns: str) -> HostPolicy:
    return HostPolicy(tuple(HostRule.parse(p) for p in patterns))


# --- patterns and decisions -------------------------------------------------------------


@pytest.mark.parametrize("pattern, kind", [
    ("api.example.com", "glob"), ("*.example.com:443", "glob"), ("*", "glob"),
    ("10.1.2.3", "network"), ("10.0.0.0/8", "network"), ("10.0.0.0/8:5432", "network"),
    ("fd00::/8", "network"), ("[fd00::1]:8443", "network"), ("fe80::1", "network"),
])
def test_patterns(pattern: str, kind: str) -> None:
    rule = HostRule.parse(pattern)
    assert (rule.network is not None) == (kind == "network")
    assert (rule.glob is not None) == (kind == "glob")


@pytest.mark.parametrize("pattern", ["http://x", "a b", "x:99999", "ex_ample.com/8", "[::1"])
def test_bad_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(ValueError, match=r"is not|port"):
        parse_host_patterns(pattern)


def test_the_default_policy_denies_link_local_and_metadata_only() -> None:
    policy = HostPolicy()
    assert policy.refusal("127.0.0.1", 80, [ip("127.0.0.1")]) is None
    assert policy.refusal("db.internal", 5432, [ip("10.0.0.5")]) is None
    refusal = policy.refusal(METADATA, 80, [ip(METADATA)])
    assert refusal == (
        "host 169.254.169.254 is denied by the default egress policy (cloud metadata); "
        "allow it with --allow-hosts (or PODIUM_ALLOW_HOSTS)"
    )
    assert "(link-local)" in str(policy.refusal("169.254.10.1", 80, [ip("169.254.10.1")]))
    assert "(link-local)" in str(policy.refusal("[fe80::1]", 80, [ip("fe80::1")]))
    assert "cloud metadata" in str(policy.refusal("fd00:ec2::254", 80, [ip("fd00:ec2::254")]))
    mapped = ip("::ffff:169.254.169.254")
    assert "cloud metadata" in str(policy.refusal("x", 80, [mapped]))
    # A name is judged by what it resolves to, and the metadata name even unresolved.
    assert "host evil.example (169.254.169.254)" in str(
        policy.refusal("evil.example", 80, [ip("93.184.216.34"), ip(METADATA)])
    )
    assert "cloud metadata" in str(policy.refusal("metadata.google.internal", 80, []))


def test_an_allow_list_allows_only_what_it_names() -> None:
    policy = allow("*.example.com", "10.0.0.0/8:5432")
    assert policy.refusal("api.example.com", 443, [ip("93.184.216.34")]) is None
    assert policy.refusal("db", 5432, [ip("10.1.1.1")]) is None
    assert "(port 5433) is not allowed by the egress policy (*.example.com, 10.0.0.0/8:5432)" \
        in str(policy.refusal("db", 5433, [ip("10.1.1.1")]))
    assert "not allowed" in str(policy.refusal("example.org", 443, [ip("93.184.216.34")]))
    assert "not allowed" in str(policy.refusal("127.0.0.1", 80, [ip("127.0.0.1")]))
    # A glob never opens a default-denied address; a rule naming it does.
    refusal = policy.refusal("evil.example.com", 80, [ip(METADATA)])
    assert refusal is not None and "matches '*.example.com'" in refusal
    assert "cloud metadata" in refusal
    assert allow("*").refusal(METADATA, 80, [ip(METADATA)]) is not None
    assert allow(METADATA).refusal(METADATA, 80, [ip(METADATA)]) is None
    assert allow("169.254.0.0/16").refusal("x", 80, [ip(METADATA)]) is None
    named = allow("metadata.google.internal")
    assert named.refusal("metadata.google.internal", 80, [ip(METADATA)]) is None
    # Every address a name resolves to must be allowed: the client may use any.
    assert allow("127.0.0.1").refusal("localhost", 80, [ip("127.0.0.1"), ip("::1")])


# --- calls ------------------------------------------------------------------------------


def document(task: str, use: str = "") -> str:
    return f"""
document: {{dsl: '1.0.3', namespace: test, name: egress, version: '1.0.0'}}
{use}
do:
  - reach:
{task}
"""


async def fault(doc: str, settings: Settings | None = None, input: Any = None) -> WorkflowError:
    async with asyncio.timeout(20), Runtime(settings=settings) as runtime:
        execution = await runtime.execute(doc, input)
    assert execution.status == "faulted", execution
    assert execution.error is not None
    return execution.error


def http_call(url: str, redirect: bool = False) -> str:
    return f"""      call: http
      with:
        method: get
        endpoint: '{url}'
        redirect: {str(redirect).lower()}"""


def assert_denied(error: WorkflowError, what: str) -> None:
    assert (error.type, error.status) == (AUTHORIZATION, 403), error
    assert what in str(error.detail)
    assert error.instance == "/do/0/reach"


async def test_http_to_the_metadata_address_is_refused() -> None:
    error = await fault(document(http_call(f"http://{METADATA}/latest/meta-data/")))
    assert_denied(error, "host 169.254.169.254 is denied by the default egress policy "
                         "(cloud metadata); allow it with --allow-hosts")


async def test_a_redirect_to_a_denied_address_is_refused_at_the_hop(
    fake_services: FakeServices,
) -> None:
    url = f"{fake_services.url}/httpbin/redirect-to?url=http://{METADATA}/latest/"
    error = await fault(document(http_call(url, redirect=True)))
    assert_denied(error, "169.254.169.254 is denied")


async def test_local_services_are_allowed_by_default_and_by_matching_rules(
    fake_services: FakeServices,
) -> None:
    doc = document(http_call(f"{fake_services.url}/httpbin/anything"))
    for settings in (None, Settings(allow_hosts=("127.0.0.0/8",)),
                     Settings(allow_hosts=(f"127.0.0.1:{fake_services.url.rsplit(':', 1)[1]}",))):
        async with asyncio.timeout(20), Runtime(settings=settings) as runtime:
            assert "url" in await runtime.run(doc)


async def test_an_allow_list_refuses_other_hosts_and_ports(fake_services: FakeServices) -> None:
    doc = document(http_call(f"{fake_services.url}/httpbin/anything"))
    error = await fault(doc, Settings(allow_hosts=("*.example.com",)))
    assert_denied(error, "host 127.0.0.1 (port")
    assert "is not allowed by the egress policy (*.example.com)" in str(error.detail)
    error = await fault(doc, Settings(allow_hosts=("127.0.0.1:1",)))
    assert_denied(error, "not allowed")


async def test_grpc_asyncapi_mcp_openapi_and_token_endpoints_are_checked(
    tmp_path: Path,
) -> None:
    asyncapi = tmp_path / "asyncapi.yaml"
    asyncapi.write_text(json.dumps({
        "asyncapi": "3.0.0", "info": {"title": "t", "version": "1"},
        "servers": {"meta": {"host": f"{METADATA}:4222", "protocol": "nats"}},
        "channels": {"c": {"address": "c"}},
        "operations": {"send": {"action": "send", "channel": {"$ref": "#/channels/c"}}},
    }))
    tasks = {
        "grpc": f"""      call: grpc
      with:
        proto: {{endpoint: 'file://{Path(__file__).parent}/support/protos/greeter.proto'}}
        service: {{name: Greeter, host: {METADATA}, port: 50051}}
        method: SayHello
        arguments: {{name: x}}""",
        "asyncapi": f"""      call: asyncapi
      with:
        document: {{endpoint: '{asyncapi.as_uri()}'}}
        operation: send
        message: {{payload: {{a: 1}}}}""",
        "mcp": f"""      call: mcp
      with:
        method: tools/list
        transport:
          http: {{endpoint: 'http://{METADATA}/mcp'}}""",
        "openapi": f"""      call: openapi
      with:
        document: {{endpoint: 'http://{METADATA}/openapi.json'}}
        operationId: x""",
        "oauth2": f"""      call: http
      with:
        method: get
        endpoint:
          uri: http://127.0.0.1:1/never
          authentication:
            oauth2:
              authority: http://{METADATA}
              grant: client_credentials
              client: {{id: a, secret: b}}""",
    }
    settings = Settings(allow_files=(tmp_path, Path(__file__).parent))
    for kind, task in tasks.items():
        error = await fault(document(task), settings)
        assert_denied(error, "169.254.169.254 is denied"), kind


# --- files ------------------------------------------------------------------------------


def schema_workflow(uri: str) -> str:
    return document(f"""      input:
        schema:
          format: json
          resource: {{endpoint: '{uri}'}}
      set: {{ok: true}}""")


def tree(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A workflow directory with a schema inside, a secret file outside, and a
    symbolic link inside that points outside."""
    home = tmp_path / "flows"
    (home / "schemas").mkdir(parents=True)
    (home / "schemas" / "any.json").write_text("{}")
    outside = tmp_path / "private"
    outside.mkdir()
    (outside / "secret.json").write_text('{"type": "object"}')
    (home / "schemas" / "link.json").symlink_to(outside / "secret.json")
    return home, outside, home / "flow.yaml"


async def run_file(path: Path, settings: Settings | None = None) -> Any:
    async with asyncio.timeout(20), Runtime(settings=settings) as runtime:
        return await runtime.execute(path, {})


@pytest.mark.parametrize("reference", [
    "file://../private/secret.json",
    "file://schemas/../../private/secret.json",
    "file:///etc/passwd",
    "file://schemas/link.json",
])
async def test_files_outside_the_workflow_tree_are_refused(
    tmp_path: Path, reference: str
) -> None:
    home, _, flow = tree(tmp_path)
    flow.write_text(schema_workflow(reference))
    execution = await run_file(flow)
    assert execution.status == "faulted"
    assert execution.error is not None
    assert_denied(execution.error, "is outside the workflow's directory")
    assert str(home.resolve()) in str(execution.error.detail)
    assert "--allow-files" in str(execution.error.detail)


async def test_the_workflow_tree_and_allowed_directories_are_readable(tmp_path: Path) -> None:
    _, outside, flow = tree(tmp_path)
    flow.write_text(schema_workflow("file://schemas/any.json"))
    assert (await run_file(flow)).status == "completed"
    flow.write_text(schema_workflow("file://schemas/link.json"))
    execution = await run_file(flow, Settings(allow_files=(outside,)))
    assert execution.status == "completed", execution.error


def test_the_default_catalog_directory_is_readable(tmp_path: Path) -> None:
    from podium.egress import EgressDenied, readable_file

    catalog = tmp_path / "catalog"
    (catalog / "functions").mkdir(parents=True)
    document = catalog / "functions" / "f.yaml"
    document.write_text("set: {}")
    home = tmp_path / "flows"
    home.mkdir()
    (home / "flow.yaml").write_text("")
    source = str(home / "flow.yaml")
    with pytest.raises(EgressDenied):
        readable_file(document, source, Settings())
    for setting in (str(catalog), catalog.as_uri()):
        found = readable_file(document, source, Settings(default_catalog=setting))
        assert found == document.resolve()
    with pytest.raises(EgressDenied):
        readable_file(document, source, Settings(default_catalog="https://example.com/c"))


async def test_a_client_shared_by_runtimes_is_guarded_once_with_the_last_policy(
    fake_services: FakeServices,
) -> None:
    import httpx

    doc = document(http_call(f"{fake_services.url}/httpbin/anything"))
    async with httpx.AsyncClient() as client:
        async with Runtime(http_client=client, settings=Settings(allow_hosts=("x.org",))):
            pass
        async with asyncio.timeout(20), Runtime(http_client=client) as runtime:
            assert "url" in await runtime.run(doc)
        assert len(client.event_hooks["request"]) == 2  # the policy, Accept-Encoding
        assert len(client.event_hooks["response"]) == 1  # the payload limit
