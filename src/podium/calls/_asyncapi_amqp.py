"""AsyncAPI over AMQP 0.9.1 (aio-pika), following the channel's ``amqp`` binding.

- ``is: queue`` (the default): the queue is ``queue.name`` or the channel
  address; it is declared (durable unless the binding says otherwise), messages
  go through the default exchange with the queue name as routing key, and a
  subscription consumes the queue.
- ``is: routingKey``: messages go to ``exchange.name`` with the channel address
  as routing key; a subscription binds a private, server-named queue to it.

A consumed message is acknowledged once the call has used it (recorded it and
run its ``foreach``); what is left unacknowledged returns to the queue.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractIncomingMessage
from aio_pika.exceptions import AMQPError

from podium.calls._asyncapi_document import Destination
from podium.calls._asyncapi_wire import Deliveries, Delivery, Outbound, broker_error

_ERRORS = (AMQPError, OSError)


def _binding(destination: Destination, key: str) -> dict[str, Any]:
    found = destination.channel_bindings.get(key)
    return found if isinstance(found, dict) else {}


def _is_exchange(destination: Destination) -> bool:
    return destination.channel_bindings.get("is") == "routingKey"


def _virtual_host(destination: Destination) -> str:
    kind = "exchange" if _is_exchange(destination) else "queue"
    given = _binding(destination, kind).get("vhost") or destination.path.lstrip("/")
    return str(given) or "/"


@asynccontextmanager
async def _channel(destination: Destination, action: str) -> AsyncIterator[AbstractChannel]:
    login, password = destination.username, destination.password
    if destination.token:  # RabbitMQ's OAuth 2 plugin takes the token as the password
        login, password = login or "", destination.token
    try:
        connection = await aio_pika.connect(
            host=destination.host, port=destination.port,
            login=login if login is not None else "guest",
            password=password if password is not None else "guest",
            virtualhost=_virtual_host(destination), timeout=5,
        )
    except (TimeoutError, *_ERRORS) as exc:
        raise broker_error(destination, f"connect to {action}", exc) from None
    try:
        async with connection:
            yield await connection.channel()
    except _ERRORS as exc:
        raise broker_error(destination, action, exc) from None


async def _exchange(channel: AbstractChannel, destination: Destination) -> AbstractExchange:
    spec = _binding(destination, "exchange")
    name = str(spec.get("name") or "")
    if not name:
        return channel.default_exchange
    if name.startswith("amq."):  # predeclared by the broker, redeclaring is refused
        return await channel.get_exchange(name, ensure=False)
    return await channel.declare_exchange(
        name, type=str(spec.get("type") or "topic"),
        durable=bool(spec.get("durable", True)), auto_delete=bool(spec.get("autoDelete", False)),
    )


async def _declare_queue(channel: AbstractChannel, destination: Destination) -> str:
    spec = _binding(destination, "queue")
    name = str(spec.get("name") or destination.address)
    await channel.declare_queue(
        name, durable=bool(spec.get("durable", True)),
        exclusive=bool(spec.get("exclusive", False)),
        auto_delete=bool(spec.get("autoDelete", False)),
    )
    return name


class AMQPConnector:
    async def publish(self, destination: Destination, message: Outbound) -> None:
        mode = destination.operation_bindings.get("deliveryMode")
        outgoing = aio_pika.Message(
            message.body, headers=message.headers or None, content_type=message.content_type,
            correlation_id=message.correlation_id,
            delivery_mode=(aio_pika.DeliveryMode.NOT_PERSISTENT if mode == 1
                           else aio_pika.DeliveryMode.PERSISTENT),
        )
        async with _channel(destination, "publish to") as channel:
            if _is_exchange(destination):
                exchange = await _exchange(channel, destination)
                # Pub/sub: an exchange with no queue bound drops the message.
                await exchange.publish(outgoing, destination.address, mandatory=False)
            else:
                queue = await _declare_queue(channel, destination)
                await channel.default_exchange.publish(outgoing, queue)

    @asynccontextmanager
    async def subscribe(self, destination: Destination) -> AsyncIterator[Deliveries]:
        async with _channel(destination, "subscribe to") as channel:
            # One message in flight: the rest stay in the queue for the next consumer.
            await channel.set_qos(prefetch_count=1)
            if _is_exchange(destination):
                exchange = await _exchange(channel, destination)
                queue = await channel.declare_queue(exclusive=True, auto_delete=True)
                await queue.bind(exchange, destination.address)
            else:
                queue = await channel.get_queue(
                    await _declare_queue(channel, destination), ensure=False
                )
            async with queue.iterator() as messages:
                yield _deliveries(messages)


async def _deliveries(messages: AsyncIterator[AbstractIncomingMessage]
) -> Deliveries:
    async for message in messages:
        yield Delivery(
            body=message.body,
            headers={str(k): _plain(v) for k, v in (message.headers or {}).items()},
            correlation_id=message.correlation_id,
            settle=message.ack,
        )


def _plain(value: Any) -> Any:
    """AMQP field values (bytes, decimals, timestamps) as JSON values."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)
