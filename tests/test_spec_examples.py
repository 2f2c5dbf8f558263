"""The specification's examples for calls, `run` and authentication, run.

Each example of ``examples/call-*.yaml``, ``run-*.yaml`` and
``authentication-*.yaml`` (beside the spec, ``tests.support.spec.SPEC_DIR``) is
loaded as written, its hosts rewritten to local stand-ins (string replacement
only), given the input, secrets and settings it needs, and run; the test
asserts what a user would see: a completed execution with a plausible output,
or the clear error the runtime documents when the example cannot work here.

Stand-ins: petstore and httpbin (``fake_services``; httpbin's echo also stands
in for swapi.dev), the local OAuth2/OIDC authority, the greeter gRPC server,
the local NATS broker, and the small files of ``tests/support/examples/`` (the
catalog's ``log`` function, a Slack MCP server, the AsyncAPI documents).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import podium
from podium.config import Settings
from podium.engine.execution import Execution
from podium.events.bus import InProcessBus
from tests.support.containers import GREETING, Engine
from tests.support.egress import TMP_FILES
from tests.support.fake_services import PETS, FakeServices
from tests.support.grpc_server import PROTO, GreeterServer
from tests.support.oauth_server import CLIENTS, OAuthServer
from tests.support.repeating import repeating
from tests.support.spec import SPEC_DIR

EXAMPLES = SPEC_DIR / "examples"
SUPPORT = Path(__file__).parent / "support" / "examples"
ERRORS = "https://serverlessworkflow.io/spec/1.0.0/errors/"
PETSTORE = "https://petstore.swagger.io/v2"
SWAPI = "https://swapi.dev/api/people/"
ASYNCAPI = "https://fake.com/docs/asyncapi.json"
AUTHORITY = "http://keycloak/realms/fake-authority"
# Every process kind; the AsyncAPI documents the examples use are written to tmp_path.
ALLOW_ALL = Settings(allow_run=frozenset({"shell", "script", "container"}),
                     allow_files=TMP_FILES.allow_files)
CLIENT_ID, CLIENT_SECRET = next(iter(CLIENTS.items()))
NATS_PORT = 4222

NAMES = sorted(
    path.name
    for pattern in ("call-*.yaml", "run-*.yaml", "authentication-*.yaml")
    for path in EXAMPLES.glob(pattern)
)
CONTAINERS = [name for name in NAMES if "container" in (EXAMPLES / name).read_text()]

# Examples that cannot run here, with the reason. Keep it short and honest.
SKIP: dict[str, str] = {}


@dataclass
class Env:
    services: FakeServices
    oauth: OAuthServer
    tmp_path: Path
    engine: Engine | None = None  # the container examples' (tests/support/containers.py)

    @property
    def petstore(self) -> str:
        return self.services.petstore_url


Case = Callable[[Env, str], Awaitable[None]]
CASES: dict[str, Case] = {}


def case(*names: str) -> Callable[[Case], Case]:
    def register(function: Case) -> Case:
        for name in names:
            assert name not in CASES, name
            CASES[name] = function
        return function

    return register


def example(name: str) -> str:
    return (EXAMPLES / name).read_text(encoding="utf-8")


def rewrite(name: str, *pairs: tuple[str, str]) -> str:
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    for old, new in pairs:
        assert old in text, f"{name} no longer contains {old!r}"
        text = text.replace(old, new)
    return text


async def execute(text: str, data: Any = None, *, seconds: float = 20,
                  **options: Any) -> Execution:
    options.setdefault("settings", ALLOW_ALL)
    # The runtime's exit is bounded too: it closes what the run opened.
    async with asyncio.timeout(seconds), podium.Runtime(**options) as runtime:
        return await runtime.execute(text, data)


def completed(execution: Execution) -> Any:
    assert execution.status == "completed", execution.error
    return execution.output


def faulted(execution: Execution, kind: str) -> podium.WorkflowError:
    assert execution.status == "faulted", execution.output
    assert execution.error is not None
    assert execution.error.type == ERRORS + kind, execution.error
    return execution.error


def last_request(services: FakeServices, path: str) -> dict[str, str]:
    return [r for r in services.requests if r.path == path][-1].headers


@pytest.fixture(scope="module")
def oauth_server() -> Iterator[OAuthServer]:
    with OAuthServer() as server:
        yield server


@pytest.fixture
def env(request: pytest.FixtureRequest, fake_services: FakeServices,
        oauth_server: OAuthServer, tmp_path: Path) -> Env:
    fake_services.reset()
    oauth_server.reset()
    name = getattr(request.node, "callspec", None) and request.node.callspec.params.get("name")
    # The container examples run real containers: the engine is theirs alone.
    engine = request.getfixturevalue("container_engine") if name in CONTAINERS else None
    return Env(fake_services, oauth_server, tmp_path, engine)


# Real containers share one podman: their tests run in one test process, so that
# one test's clean-up never removes another's container (pyproject: loadgroup).
ONE_PODMAN = pytest.mark.xdist_group("containers")


@pytest.mark.parametrize(
    "name",
    [pytest.param(name, marks=ONE_PODMAN) if name in CONTAINERS else name for name in NAMES],
)
async def test_spec_example(name: str, env: Env) -> None:
    if name in SKIP:
        pytest.skip(SKIP[name])
    assert name in CASES, f"no case for the spec example {name}: add one (or a SKIP reason)"
    await CASES[name](env, name)


def test_every_case_names_an_existing_example() -> None:
    assert NAMES, f"no examples under {EXAMPLES}"
    assert set(CASES) | set(SKIP) == set(NAMES)
    assert not set(CASES) & set(SKIP)


# call: http -------------------------------------------------------------------------------

@case("call-http-endpoint-interpolation-shorthand.yaml", "call-http-endpoint-interpolation.yaml")
async def _http_pet(env: Env, name: str) -> None:
    text = rewrite(name, (PETSTORE, env.petstore))
    assert completed(await execute(text, {"petId": 3})) == PETS[3]
    assert env.services.hits["/petstore/v2/pet/3"] == 1


@case("call-http-query-parameters.yaml", "call-http-query-headers-expressions.yaml")
async def _http_query(env: Env, name: str) -> None:
    # httpbin's echo stands in for swapi.dev: the output is the request it saw.
    text = rewrite(name, (SWAPI, f"{env.services.httpbin_url}/anything/api/people/"))
    output = completed(await execute(text, {"searchQuery": "Luke"}))
    assert output["method"] == "GET"
    assert output["args"] == {"search": "Luke"}
    assert output["url"].endswith("/httpbin/anything/api/people/?search=Luke")
    if "headers" in name:
        assert output["headers"]["Accept"] == "application/json"


async def test_query_example_input_schema_refuses_a_missing_search(env: Env) -> None:
    text = rewrite("call-http-query-parameters.yaml",
                   (SWAPI, f"{env.services.httpbin_url}/anything/api/people/"))
    faulted(await execute(text, {}), "validation")
    assert env.services.hits == {}


@case("call-http-redirect.yaml")
async def _http_redirect(env: Env, name: str) -> None:
    # swapi.dev answers /api/people/ directly: `redirect: true` changes nothing.
    text = rewrite(name, (SWAPI, f"{env.services.httpbin_url}/anything/api/people/"))
    output = completed(await execute(text, {"searchQuery": "Luke"}))
    assert output["args"] == {"search": "Luke"}


async def test_redirect_example_through_a_redirection(env: Env) -> None:
    # httpbin redirects first, so that `redirect: true` has a redirection to follow.
    target = f"{env.services.httpbin_url}/anything/api/people/"
    text = rewrite("call-http-redirect.yaml",
                   (SWAPI, f"{env.services.httpbin_url}/redirect-to?url={target}"))
    output = completed(await execute(text, {"searchQuery": "Luke"}))
    assert output["url"] == target
    assert env.services.hits["/httpbin/redirect-to"] == 1


# call: openapi ----------------------------------------------------------------------------

@case("call-openapi.yaml", "call-openapi-redirect.yaml")
async def _openapi(env: Env, name: str) -> None:
    text = rewrite(name, (PETSTORE, env.petstore))
    output = completed(await execute(text))
    assert output == [pet for pet in PETS.values() if pet["status"] == "available"]
    assert env.services.hits["/petstore/v2/pet/findByStatus"] == 1


# call: function ---------------------------------------------------------------------------

@case("call-custom-function-inline.yaml")
async def _function_inline(env: Env, name: str) -> None:
    # The example asks for pet 69, which the stand-in petstore (pets 1 to 10)
    # does not have: the user sees the petstore's 404 as a communication error.
    text = rewrite(name, (PETSTORE, env.petstore))
    error = faulted(await execute(text), "communication")
    assert error.status == 404
    assert env.services.hits["/petstore/v2/pet/69"] == 1


async def test_inline_function_input_schema_is_enforced(env: Env) -> None:
    text = rewrite("call-custom-function-inline.yaml", (PETSTORE, env.petstore),
                   ("petId: 69", "petId: seven"))
    faulted(await execute(text), "validation")
    assert env.services.hits == {}


@case("call-custom-function-cataloged.yaml")
async def _function_cataloged(env: Env, name: str) -> None:
    url = ("https://raw.githubusercontent.com/serverlessworkflow/catalog/main/functions/log/"
           "1.0.0/function.yaml")
    text = rewrite(name, (url, (SUPPORT / "log-function.yaml").as_uri()))
    line = completed(await execute(text))
    assert isinstance(line, str)
    assert line.endswith("[INFORMATION] (/do/0/log): Hello, world!"), line


# call: grpc -------------------------------------------------------------------------------

@case("call-grpc.yaml")
async def _grpc(env: Env, name: str) -> None:
    async with GreeterServer() as server:
        text = rewrite(name, ("file://app/greet.proto", PROTO.as_uri()),
                       ("GreeterApi.Greeter", "podium.test.Greeter"),
                       ("localhost", "127.0.0.1"), ("5011", str(server.port)))
        output = completed(await execute(text, {"user": {"preferredDisplayName": "Ada"}}))
        assert output["message"] == "Hello, Ada!"
        assert server.calls[0][0] == {"name": "Ada"}


# call: mcp --------------------------------------------------------------------------------

@case("call-mcp.yaml")
async def _mcp(env: Env, name: str) -> None:
    # The example starts a Slack MCP server with npx (from npm): a local
    # stand-in with the same tool answers instead, over stdio too.
    server = SUPPORT / "slack_mcp_server.py"
    text = rewrite(name, ("command: npx", f"command: {json.dumps(sys.executable)}"),
                   ("[ slack-mcp-serverr@latest, --transport, stdio ]",
                    f"[ {json.dumps(str(server))} ]"))
    output = completed(await execute(text))
    assert not output.get("isError")
    assert output["structuredContent"] == {
        "channel": "C1234567890", "thread_ts": "1623456789.123456",
        "text": "Hello, world! :wave:", "content_type": "text/markdown",
    }


# call: asyncapi ---------------------------------------------------------------------------

def require_nats() -> None:
    try:
        socket.create_connection(("127.0.0.1", NATS_PORT), timeout=2).close()
    except OSError as exc:
        pytest.fail(f"NATS must listen on 127.0.0.1:{NATS_PORT} for the AsyncAPI examples "
                    f"({exc})", pytrace=False)


@dataclass
class Broker:
    topic: str
    user: str
    documents: Path

    def asyncapi(self, name: str) -> str:
        """The example, its document the local one, after a task that sets the
        ``$context`` its filters read (``userId`` and ``contact``)."""
        version = "2.6" if "channel:" in (EXAMPLES / name).read_text() else "3.0"
        text = rewrite(name, (ASYNCAPI, (self.documents / f"asyncapi-{version}.yaml").as_uri()))
        context = {"userId": self.user, "contact": {"firstName": "Ada", "lastName": "Lovelace"}}
        return text.replace("\ndo:\n", "\ndo:\n  - setContext:\n"
                            f"      set: {json.dumps(context)}\n"
                            "      export:\n        as: ${ . }\n", 1)

    @contextlib.asynccontextmanager
    async def notifying(self, subject: str) -> AsyncIterator[None]:
        """Publish notifications on ``subject`` until the block ends: for the user
        from Ada Lovelace, and others (for someone else, or from someone else)."""
        import nats

        client = await nats.connect(f"nats://127.0.0.1:{NATS_PORT}", connect_timeout=2)

        async def publish(number: int) -> None:
            for index, (user, first) in enumerate(((self.user, "Ada"), ("someone-else", "Ada"),
                                                   (self.user, "Grace"))):
                payload = {"from": {"firstName": first, "lastName": "Lovelace"},
                           "n": 3 * number + index}
                await client.publish(subject, json.dumps(payload).encode(),
                                     headers={"correlationId": user})
            await client.flush(timeout=5)

        try:
            # At most a minute of notifications, whatever happens to the test.
            async with repeating(publish, interval=0.05, rounds=1200):
                yield
        finally:
            await client.close()


def assert_mine(broker: Broker, messages: Any) -> None:
    assert isinstance(messages, list) and messages
    for message in messages:
        assert message["correlationId"] == broker.user
        assert message["payload"]["from"] == {"firstName": "Ada", "lastName": "Lovelace"}


@case("call-asyncapi-publish.yaml")
async def _asyncapi_publish(env: Env, name: str) -> None:
    require_nats()
    import nats

    broker = _broker(env)
    text = rewrite(name, (ASYNCAPI, (broker.documents / "asyncapi-3.0.yaml").as_uri()))
    client = await nats.connect(f"nats://127.0.0.1:{NATS_PORT}", connect_timeout=2)
    try:
        subscription = await client.subscribe(f"podium.examples.{broker.topic}.pets")
        output = completed(await execute(text, {"pet": {"id": 7}, "token": "t0k3n"}))
        received = await subscription.next_msg(timeout=5)
    finally:
        await client.close()
    assert output["payload"] == {"petId": 7}
    assert json.loads(received.data) == {"petId": 7}


@case("call-asyncapi-subscribe-consume-until.yaml")
async def _asyncapi_until(env: Env, name: str) -> None:
    # `$context.consumedMessages` is no variable the spec defines: `until` never
    # holds, and the call returns what the `for` window (shortened from 30
    # minutes to 1 second) let it consume, filtered.
    require_nats()
    broker = _broker(env)
    text = broker.asyncapi(name).replace("minutes: 30", "seconds: 1")
    async with broker.notifying("/notifications"):
        output = completed(await execute(text))
    assert_mine(broker, output)


@case("call-asyncapi-subscribe-consume-while.yaml",
      "call-asyncapi-subscribe-consume-forever-foreach.yaml")
async def _asyncapi_while(env: Env, name: str) -> None:
    # `while: ${ true }` consumes forever, and so does the other example
    # (`$context.consumedMessages` is no variable the spec defines, so its count
    # stays 0): a task timeout, injected, is how a user stops them.
    require_nats()
    broker = _broker(env)
    call = "      call: asyncapi\n"
    text = broker.asyncapi(name)
    assert text.count(call) == 1
    text = text.replace(call, "      timeout:\n        after:\n          seconds: 1\n" + call)
    bus = InProcessBus()
    emitted = bus.subscribe()
    async with broker.notifying(f"podium.examples.{broker.topic}.notifications"):
        faulted(await execute(text, bus=bus), "timeout")
    events = [emitted.get_nowait() for _ in range(emitted.qsize())]
    if "foreach" not in name:
        assert events == []
        return
    # One event per message the filter accepted, emitted by `foreach`.
    assert events
    for event in events:
        assert event["type"] == "io.serverlessworkflow.samples.asyncapi.message.consumed.v1"
    assert_mine(broker, [event["data"]["message"] for event in events])


@case("call-asyncapi-subscribe-consume-amount.yaml")
async def _asyncapi_amount(env: Env, name: str) -> None:
    # `protocol: ws`: the document's WebSocket server; Podium speaks NATS, AMQP
    # and MQTT only, and says so.
    broker = _broker(env)
    error = faulted(await execute(broker.asyncapi(name)), "runtime")
    assert "'ws'" in (error.detail or "")
    assert "not support" in (error.detail or "")


def _broker(env: Env) -> Broker:
    topic = uuid.uuid4().hex[:12]
    for document in SUPPORT.glob("asyncapi-*.yaml"):
        text = document.read_text(encoding="utf-8").replace("TOPIC", topic)
        (env.tmp_path / document.name).write_text(text, encoding="utf-8")
    return Broker(topic, f"user-{topic}", env.tmp_path)


# run --------------------------------------------------------------------------------------



async def _container(env: Env, name: str) -> None:
    # Real containers from the local test image (no registry is reachable here):
    # the examples' images become it, and nothing is ever pulled.
    engine = env.engine
    assert engine is not None
    text = example(name)
    for image in ("image: hello-world", "image: alpine"):
        text = text.replace(image, f"image: {engine.image}\n          pullPolicy: never")
    text = text.replace("pullPolicy: always", "")
    settings = Settings(allow_run=frozenset({"container"}), container_engine=engine.path)
    output = completed(await execute(text, {}, settings=settings))
    expected: dict[str, Any] = {
        "run-return-all.yaml": {"code": 0, "stdout": GREETING, "stderr": ""},
        "run-return-code.yaml": 0,
        "run-return-none.yaml": None,
        "run-return-stderr.yaml": "",
        "run-container-stdin-and-arguments.yaml": "STDIN was: Hello World\nARGS are Foo Bar",
    }
    assert output == expected.get(name, GREETING), output


for _name in CONTAINERS:
    case(_name)(_container)


@case("run-shell-stdin-and-arguments.yaml")
async def _shell(env: Env, name: str) -> None:
    output = completed(await execute(example(name)))
    # The final line break is removed, as `$(...)` would (podium.processes._process).
    assert output == "STDIN was: Hello World\nARGS are Foo Bar"


@case("run-script-with-stdin-and-arguments.yaml")
async def _script(env: Env, name: str) -> None:
    output = completed(await execute(example(name)))
    assert output == "stdin >  Hello Workflow\narg >  hello\nenv >  bar"


async def test_run_examples_need_the_operator_to_allow_them(env: Env) -> None:
    execution = await execute(example("run-shell-stdin-and-arguments.yaml"),
                              settings=Settings())
    error = faulted(execution, "authorization")
    assert "--allow-run shell" in (error.detail or "")


@case("run-subflow.yaml")
async def _subflow(env: Env, name: str) -> None:
    subflow = """
document: {dsl: '1.0.3', namespace: test, name: register-customer, version: '0.1.0'}
do:
  - register:
      set:
        registered: ${ .customer }
"""
    async with podium.Runtime(settings=ALLOW_ALL) as runtime, asyncio.timeout(20):
        await runtime.deploy(subflow)
        execution = await runtime.execute(example(name), {"user": {"name": "Ada"}})
    # `customer: .user` is no runtime expression (no ${ }): the subflow gets the text.
    assert completed(execution) == {"registered": ".user"}


# authentication ---------------------------------------------------------------------------

def bearer_of(env: Env, path: str) -> str:
    scheme, _, token = last_request(env.services, path).get("authorization", "").partition(" ")
    assert scheme == "Bearer"
    return token


@case("authentication-bearer.yaml", "authentication-bearer-uri-format.yaml",
      "authentication-reusable.yaml")
async def _bearer(env: Env, name: str) -> None:
    text = rewrite(name, (PETSTORE, env.petstore))
    output = completed(await execute(text, {"petId": 1, "token": "t0k3n"}))
    assert output == PETS[1]
    assert bearer_of(env, "/petstore/v2/pet/1") == "t0k3n"


def _issued(env: Env, grant: str = "client_credentials") -> None:
    token = bearer_of(env, "/petstore/v2/pet/2")
    issued = env.oauth.access[token]
    assert (issued.grant, issued.client) == (grant, CLIENT_ID)


@case("authentication-oauth2.yaml", "authentication-oidc.yaml")
async def _oauth2(env: Env, name: str) -> None:
    text = rewrite(name, (PETSTORE, env.petstore), (AUTHORITY, env.oauth.url),
                   ("workflow-runtime-id", CLIENT_ID), ("workflow-runtime-secret", CLIENT_SECRET))
    if "oauth2" in name:
        # The example's token endpoint, /auth/token, is the authority's /custom/token.
        text = text.replace("token: /auth/token", "token: /custom/token")
    assert completed(await execute(text, {"petId": 2})) == PETS[2]
    _issued(env)
    if "oauth2" in name:
        assert env.oauth.hits["/custom/token"] == 1
    else:
        assert env.oauth.hits["/.well-known/openid-configuration"] == 1
        assert env.oauth.hits["/oidc/token"] == 1


@case("authentication-oauth2-secret.yaml", "authentication-oidc-secret.yaml")
async def _oauth2_secret(env: Env, name: str) -> None:
    secret = {"authority": env.oauth.url, "grant": "client_credentials",
              "client": {"id": CLIENT_ID, "secret": CLIENT_SECRET}}
    text = rewrite(name, (PETSTORE, env.petstore))
    execution = await execute(text, {"petId": 2}, secrets={"mySecret": secret})
    assert completed(execution) == PETS[2]
    _issued(env)
    token_path = "/oauth2/token" if "oauth2" in name else "/oidc/token"
    assert env.oauth.hits[token_path] == 1


async def test_secret_example_without_the_secret_faults(env: Env) -> None:
    text = rewrite("authentication-oauth2-secret.yaml", (PETSTORE, env.petstore))
    error = faulted(await execute(text, {"petId": 2}), "authorization")
    assert "mySecret" in (error.detail or "")
    assert env.services.hits == {}
