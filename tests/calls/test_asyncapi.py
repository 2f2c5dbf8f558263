"""`call: asyncapi` against the machine's RabbitMQ, Mosquitto and NATS.

The brokers are required: a broker that is not listening fails the test that
needs it, with the reason. Each test gets channel addresses of its own (the
documents in tests/support/asyncapi/ with TOPIC replaced), written next to the
workflow file so that the documents are found relative to the workflow.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from textwrap import dedent, indent
from typing import Any

import aio_pika
import aiomqtt
import nats
import pytest

from podium import Runtime, WorkflowError, load
from tests.durability.helpers import ended, journaled, runtime_on, working
from tests.support.repeating import repeating

SUPPORT = Path(__file__).parents[1] / "support" / "asyncapi"
COMMUNICATION = "https://serverlessworkflow.io/spec/1.0.0/errors/communication"
RUNTIME = "https://serverlessworkflow.io/spec/1.0.0/errors/runtime"
CONFIGURATION = "https://serverlessworkflow.io/spec/1.0.0/errors/configuration"
BROKERS = {"nats": ("NATS", 4222), "amqp": ("RabbitMQ", 5672), "mqtt": ("Mosquitto", 1883)}


def require(protocol: str) -> None:
    name, port = BROKERS[protocol]
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError as exc:
        pytest.fail(f"{name} must listen on 127.0.0.1:{port} for this test ({exc}); "
                    f"start it: these tests never skip", pytrace=False)


class Place:
    """A directory holding the AsyncAPI documents and the workflows of one test."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.topic = uuid.uuid4().hex[:12]
        for document in SUPPORT.glob("*.yaml"):
            text = document.read_text(encoding="utf-8").replace("TOPIC", self.topic)
            (root / f"asyncapi-{document.name.removeprefix('brokers-')}").write_text(text)

    def address(self, channel: str) -> str:
        return f"podium.test.{self.topic}.{channel}"

    def workflow(self, name: str, tasks: str) -> Path:
        path = self.root / f"{name}.yaml"
        path.write_text(
            f"document: {{dsl: '1.0.3', namespace: test, name: {name}, version: '1.0.0'}}\n"
            f"do:\n{indent(dedent(tasks).strip(), '  ')}\n"
        )
        return path

    def call(self, name: str, arguments: str, document: str = "asyncapi-3.0.yaml",
             extra: str = "") -> Path:
        """A workflow of one AsyncAPI call task."""
        body = indent(dedent(arguments).strip(), " " * 6)
        tasks = (f"- {name}:\n    call: asyncapi\n    with:\n"
                 f"      document: {{endpoint: 'file://{document}'}}\n{body}\n")
        return self.workflow(name, tasks + indent(dedent(extra).strip(), "  ") + "\n")

    async def publish_orders(self, server: str, numbers: list[int]) -> Any:
        """Publish ``{n}`` messages with a workflow: one publish call per number."""
        path = self.workflow("publishOrders", f"""
            - each:
                for: {{each: n, in: '${{ .numbers }}'}}
                do:
                  - publish:
                      call: asyncapi
                      with:
                        document: {{endpoint: "file://asyncapi-3.0.yaml"}}
                        operation: sendOrder
                        server: {{name: {server}}}
                        message:
                          payload: {{n: '${{ $n }}'}}
                          headers: {{orderId: '${{ "o-\\($n)" }}'}}
            """)
        return await run(path, {"numbers": numbers})


@pytest.fixture
async def place(tmp_path: Path) -> AsyncIterator[Place]:
    place = Place(tmp_path)
    yield place
    # The `orders` queue outlives its consumers (the rest stays for the next one).
    with contextlib.suppress(OSError, aio_pika.exceptions.AMQPError):
        connection = await aio_pika.connect("amqp://guest:guest@127.0.0.1:5672/", timeout=2)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(place.address("orders"))


async def run(path: Path, data: Any = None) -> Any:
    # A subscription waiting for a message that never comes fails the test.
    async with Runtime() as runtime, asyncio.timeout(15):
        return await runtime.run(path, data)


def numbers(messages: list[dict[str, Any]]) -> list[int]:
    return [message["payload"]["n"] for message in messages]


# Publish and subscribe, protocol by protocol ------------------------------------------------

async def test_amqp_messages_published_by_one_workflow_are_consumed_by_another(
    place: Place,
) -> None:
    require("amqp")
    # The output of the last publish call: the message as sent.
    sent = await place.publish_orders("rabbit", [0, 1, 2])
    assert sent == {"payload": {"n": 2}, "headers": {"orderId": "o-2"}}

    path = place.call("receive", """
        operation: receiveOrders
        protocol: amqp
        subscription:
          consume: {amount: 2}
        """)
    assert await run(path) == [
        {"payload": {"n": 0}, "headers": {"orderId": "o-0"}, "correlationId": "o-0"},
        {"payload": {"n": 1}, "headers": {"orderId": "o-1"}, "correlationId": "o-1"},
    ]
    # The third message stayed in the queue for the next consumer.
    rest = place.call("rest", """
        operation: receiveOrders
        protocol: amqp
        subscription:
          consume: {amount: 5, for: {milliseconds: 500}}
        """)
    assert numbers(await run(rest)) == [2]


async def test_amqp_exchange_binding_routes_by_the_channel_address(place: Place) -> None:
    require("amqp")
    receive = place.call("receive", """
        operation: receiveEvents
        server: {name: rabbit}
        subscription:
          consume: {amount: 1, for: {seconds: 5}}
        """)
    publish = place.call("publish", """
        operation: sendEvent
        server: {name: rabbit}
        message:
          payload: {event: shipped}
        """)
    consumer = asyncio.create_task(run(receive))
    # The subscription's queue is private: publish until it is bound (its `for`
    # window ends it within 5 s).
    async with asyncio.timeout(30):
        while not consumer.done():
            await run(publish)
            await asyncio.sleep(0.05)
    assert (await consumer)[0]["payload"] == {"event": "shipped"}


def publishing(send: Callable[[int], Awaitable[None]]) -> AbstractAsyncContextManager[None]:
    """Publish ``{n: 0, 1, ...}`` every 20 ms while the block runs (a minute at
    most): NATS and MQTT keep no message for a subscriber that has not
    subscribed yet."""
    return repeating(send, interval=0.02, rounds=3000)


def consecutive(values: list[int]) -> bool:
    return values == list(range(values[0], values[0] + len(values)))


async def test_nats_subscription_consumes_an_amount(place: Place) -> None:
    require("nats")
    client = await nats.connect("nats://127.0.0.1:4222")
    subject = place.address("orders")

    async def send(n: int) -> None:
        await client.publish(subject, json.dumps({"n": n}).encode(), headers={"orderId": f"o{n}"})

    path = place.call("receive", """
        operation: receiveOrders
        server: {name: nats, variables: {port: 4222}}
        subscription:
          consume: {amount: 3, for: {seconds: 10}}
        """)
    try:
        async with publishing(send):
            messages = await run(path)
    finally:
        await client.close()
    assert len(messages) == 3 and consecutive(numbers(messages))
    first = messages[0]
    assert first["headers"] == {"orderId": f"o{first['payload']['n']}"}
    assert first["correlationId"] == first["headers"]["orderId"]


async def test_nats_publish_sends_json_payload_and_headers(place: Place) -> None:
    require("nats")
    client = await nats.connect("nats://127.0.0.1:4222")
    try:
        subscription = await client.subscribe(place.address("orders"))
        await client.flush()
        path = place.call("publish", """
            operation: sendOrder
            protocol: nats
            message:
              payload: {id: '${ .id }', items: [1, 2]}
              headers: {orderId: '${ .id }', attempt: 1}
            """)
        output = await run(path, {"id": "A-1"})
        received = await subscription.next_msg(timeout=5)
    finally:
        await client.close()
    assert output == {"payload": {"id": "A-1", "items": [1, 2]},
                      "headers": {"orderId": "A-1", "attempt": 1}}
    assert json.loads(received.data) == {"id": "A-1", "items": [1, 2]}
    assert received.headers == {"orderId": "A-1", "attempt": "1"}


async def test_mqtt_subscription_and_publish(place: Place) -> None:
    require("mqtt")
    topic = place.address("orders")
    async with aiomqtt.Client("127.0.0.1", 1883,
                              protocol=aiomqtt.ProtocolVersion.V5) as client:

        async def send(n: int) -> None:
            await client.publish(topic, json.dumps({"n": n}), qos=1)

        receive = place.call("receive", """
            operation: receiveOrders
            server: {name: mosquitto}
            subscription:
              consume: {amount: 2, for: {seconds: 10}}
            """)
        async with publishing(send):
            messages = await run(receive)
        assert len(messages) == 2 and consecutive(numbers(messages))
        assert messages[0]["headers"] == {}

        publish = place.call("publish", """
            operation: sendOrder
            server: {name: mosquitto}
            message:
              payload: {greeting: hello}
              headers: {orderId: '42'}
            """)
        await client.subscribe(topic, qos=1)
        await run(publish)
        async with asyncio.timeout(5):
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                payload = json.loads(message.payload)
                if "greeting" in payload:
                    break
    assert payload == {"greeting": "hello"}
    assert message.properties is not None
    assert message.properties.UserProperty == [("orderId", "42")]
    assert bytes(message.properties.CorrelationData) == b"42"


# Consumption policies ----------------------------------------------------------------------

async def test_until_stops_after_the_message_that_satisfies_it(place: Place) -> None:
    require("amqp")
    await place.publish_orders("rabbit", [0, 1, 2, 3, 4])
    path = place.call("receive", """
        operation: receiveOrders
        server: {name: rabbit}
        subscription:
          consume:
            until: '${ .payload.n == 2 }'
        """)
    assert numbers(await run(path)) == [0, 1, 2]


async def test_while_is_checked_before_each_message(place: Place) -> None:
    require("amqp")
    await place.publish_orders("rabbit", [0, 1, 2, 3])
    path = place.call("receive", """
        operation: receiveOrders
        server: {name: rabbit}
        subscription:
          consume:
            while: '${ . == null or .payload.n < 1 }'
        """)
    assert numbers(await run(path)) == [0, 1]
    never = place.call("never", """
        operation: receiveOrders
        server: {name: rabbit}
        subscription:
          consume:
            while: '${ false }'
        """)
    assert await run(never) == []


async def test_filter_drops_messages_that_do_not_count(place: Place) -> None:
    require("amqp")
    await place.publish_orders("rabbit", [0, 1, 2, 3, 4])
    path = place.call("receive", """
        operation: receiveOrders
        server: {name: rabbit}
        subscription:
          filter: '${ .payload.n % 2 == 0 and .correlationId != null }'
          consume: {amount: 2}
        """)
    assert numbers(await run(path)) == [0, 2]


async def test_for_window_returns_what_was_consumed(place: Place) -> None:
    require("nats")
    path = place.call("receive", """
        operation: receiveOrders
        server: {name: nats}
        subscription:
          consume: {amount: 5, for: {milliseconds: 300}}
        """)
    assert await run(path) == []


async def test_foreach_runs_tasks_and_transforms_each_message(place: Place) -> None:
    require("amqp")
    await place.publish_orders("rabbit", [5, 6, 7, 8])
    path = place.workflow("foreach", """
        - receive:
            call: asyncapi
            with:
              document: {endpoint: "file://asyncapi-3.0.yaml"}
              operation: receiveOrders
              server: {name: rabbit}
              subscription:
                consume:
                  until: '${ ($context.seen | length) == 3 }'
                foreach:
                  item: order
                  at: i
                  do:
                    - double:
                        set:
                          n: '${ $order.payload.n * 2 }'
                          at: '${ $i }'
                  output:
                    as: '${ "\\(.at):\\(.n)" }'
                  export:
                    as: '${ $context + {seen: (($context.seen // []) + [.])} }'
        - report:
            set:
              items: '${ . }'
              seen: '${ $context.seen }'
        """)
    assert await run(path, {}) == {"items": ["0:10", "1:12", "2:14"],
                                   "seen": ["0:10", "1:12", "2:14"]}


# The document ------------------------------------------------------------------------------

async def test_asyncapi_2_6_channel_from_a_file_next_to_the_workflow(place: Place) -> None:
    require("amqp")
    channel = place.address("v2")
    publish = place.call("publish", f"""
        channel: {channel}
        message:
          payload: {{text: hello}}
        """, document="asyncapi-2.6.yaml")
    receive = place.call("receive", f"""
        channel: {channel}
        server: {{name: rabbit, variables: {{port: '5672'}}}}
        subscription:
          consume: {{amount: 1}}
        """, document="asyncapi-2.6.yaml")
    assert (await run(publish))["payload"] == {"text": "hello"}
    assert await run(receive) == [{"payload": {"text": "hello"}, "headers": {}}]


@pytest.mark.parametrize("server", ["natsDown", "rabbitDown", "mosquittoDown"])
@pytest.mark.parametrize("direction", ["publish", "subscribe"])
async def test_broker_down_is_a_communication_error(place: Place, server: str,
                                                    direction: str) -> None:
    arguments = ("message: {payload: {n: 1}}" if direction == "publish"
                 else "subscription: {consume: {amount: 1}}")
    operation = "sendOrder" if direction == "publish" else "receiveOrders"
    path = place.call("talk", f"""
        operation: {operation}
        server: {{name: {server}}}
        {arguments}
        """)
    with pytest.raises(WorkflowError) as caught:
        await run(path)
    assert caught.value.type == COMMUNICATION
    assert caught.value.instance == "/do/0/talk"
    assert "127.0.0.1:1" in (caught.value.detail or "")


async def test_unsupported_protocol_is_named(place: Place) -> None:
    path = place.call("talk", """
        operation: sendOrder
        server: {name: kafka}
        message: {payload: {n: 1}}
        """)
    with pytest.raises(WorkflowError) as caught:
        await run(path)
    assert caught.value.type == RUNTIME
    assert "'kafka'" in (caught.value.detail or "")
    assert caught.value.instance == "/do/0/talk"


async def test_unknown_operation_and_missing_server_are_configuration_errors(
    place: Place,
) -> None:
    for arguments, expected in [
        ("operation: nowhere\nmessage: {payload: {}}", "has no operation 'nowhere'"),
        ("operation: sendOrder\nserver: {name: nope}\nmessage: {payload: {}}",
         "has no server 'nope'"),
        ("channel: orders\nmessage: {payload: {}}", "name an 'operation'"),
    ]:
        with pytest.raises(WorkflowError) as caught:
            await run(place.call("talk", arguments))
        assert caught.value.type == CONFIGURATION
        assert expected in (caught.value.detail or "")


async def test_published_amqp_message_is_readable_by_other_clients(place: Place) -> None:
    require("amqp")
    await place.publish_orders("rabbit", [9])
    connection = await aio_pika.connect("amqp://guest:guest@127.0.0.1:5672/")
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(place.address("orders"), durable=False)
        message = await queue.get(timeout=5)
        assert message is not None
        await message.ack()
    assert json.loads(message.body) == {"n": 9}
    assert message.content_type == "application/json"
    assert message.correlation_id == "o-9"


async def test_basic_authentication_gives_the_broker_credentials(place: Place) -> None:
    require("amqp")
    arguments = """
        operation: sendOrder
        server: {name: rabbit}
        message: {payload: {n: 1}}
        authentication:
          basic: {username: guest, password: '${ .password }'}
        """
    assert (await run(place.call("publish", arguments), {"password": "guest"}))["payload"] == {
        "n": 1
    }
    with pytest.raises(WorkflowError) as caught:
        await run(place.call("publish", arguments), {"password": "wrong"})
    assert caught.value.type == COMMUNICATION
    assert caught.value.instance == "/do/0/publish"


# Durability --------------------------------------------------------------------------------

async def test_a_resumed_subscription_replays_recorded_messages_then_consumes_live_ones(
    place: Place, tmp_path: Path
) -> None:
    require("amqp")
    await place.publish_orders("rabbit", [0, 1, 2])
    # A worker loads the definition from the store, where it has no file to be
    # relative to: the document is named by an absolute URI.
    document = (place.root / "asyncapi-3.0.yaml").as_uri()
    definition = load(place.workflow("durable", f"""
        - receive:
            call: asyncapi
            with:
              document: {{endpoint: '{document}'}}
              operation: receiveOrders
              server: {{name: rabbit}}
              subscription:
                consume: {{amount: 3}}
                foreach:
                  do:
                    - pause:
                        if: '${{ $index == 1 }}'
                        wait: {{milliseconds: 800}}
                    - seen:
                        set: {{n: '${{ $item.payload.n }}', at: '${{ $index }}'}}
        """))
    url = f"sqlite:///{tmp_path / 'podium.db'}"
    async with runtime_on(url, "first") as runtime:
        handle = await runtime.start(definition)
        # Message 1 is recorded (and acknowledged); its foreach is waiting.
        assert runtime.store is not None
        await journaled(runtime.store, handle.id, "task.completed", "/do/0/receive#message[1]")
        handle.release()
        await handle.result()
    async with runtime_on(url, "second") as runtime, working(runtime):
        assert runtime.store is not None
        record = await ended(runtime.store, handle.id)
    assert record.status == "completed", record.error
    assert record.output == [{"n": 0, "at": 0}, {"n": 1, "at": 1}, {"n": 2, "at": 2}]
