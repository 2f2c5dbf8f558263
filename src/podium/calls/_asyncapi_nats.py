"""AsyncAPI over NATS (nats-py): the channel address is the subject; an
operation binding's ``queue`` joins a queue group."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import nats
from nats.aio.client import Client
from nats.errors import Error as NATSError
from nats.errors import NoServersError

from podium.calls._asyncapi_document import Destination
from podium.calls._asyncapi_wire import Deliveries, Delivery, Outbound, broker_error, header_text

_ERRORS = (NATSError, OSError)


async def _connect(destination: Destination) -> Client:
    options: dict[str, Any] = {}
    if destination.token:
        options["token"] = destination.token
    elif destination.username is not None:
        options["user"] = destination.username
        options["password"] = destination.password or ""
    failures: list[Exception] = []

    async def failed(exc: Exception) -> None:
        # Failures surface as exceptions of the calls; the default callback
        # would only log them a second time.
        failures.append(exc)

    try:
        # One attempt: nats-py gives up on a server after max_reconnect_attempts
        # retries only when that number is positive, so 1 means two tries.
        return await nats.connect(
            f"nats://{destination.host}:{destination.port}",
            allow_reconnect=False, max_reconnect_attempts=1, reconnect_time_wait=0,
            connect_timeout=5, error_cb=failed, **options,
        )
    except _ERRORS as exc:
        cause = failures[0] if isinstance(exc, NoServersError) and failures else exc
        raise broker_error(destination, "connect to publish or subscribe on", cause) from None


class NATSConnector:
    async def publish(self, destination: Destination, message: Outbound) -> None:
        client = await _connect(destination)
        try:
            headers = {k: header_text(v) for k, v in message.headers.items()} or None
            await client.publish(destination.address, message.body, headers=headers)
            await client.flush()
        except _ERRORS as exc:
            raise broker_error(destination, "publish to", exc) from None
        finally:
            await client.close()

    @asynccontextmanager
    async def subscribe(self, destination: Destination) -> AsyncIterator[Deliveries]:
        client = await _connect(destination)
        try:
            queue = str(destination.operation_bindings.get("queue") or "")
            try:
                subscription = await client.subscribe(destination.address, queue=queue)
                # The server knows of the subscription once the flush returns.
                await client.flush()
            except _ERRORS as exc:
                raise broker_error(destination, "subscribe to", exc) from None
            yield _deliveries(destination, subscription.messages)
        finally:
            await client.close()


async def _deliveries(destination: Destination, messages: AsyncIterator[Any]
) -> Deliveries:
    try:
        async for message in messages:
            yield Delivery(body=message.data, headers=dict(message.headers or {}))
    except _ERRORS as exc:
        raise broker_error(destination, "receive from", exc) from None
