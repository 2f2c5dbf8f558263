"""AsyncAPI over MQTT 5 (aiomqtt): the channel address is the topic. QoS is the
operation binding's ``qos`` (default 1), ``retain`` its retain flag; headers
travel as user properties, and the correlation id as correlation data."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from podium.calls._asyncapi_document import Destination
from podium.calls._asyncapi_wire import Deliveries, Delivery, Outbound, broker_error, header_text

_ERRORS = (aiomqtt.MqttError, OSError)


def _client(destination: Destination) -> aiomqtt.Client:
    username, password = destination.username, destination.password
    if destination.token:
        username, password = username or "", destination.token
    client_id = destination.server_bindings.get("clientId")
    return aiomqtt.Client(
        destination.host, destination.port, username=username, password=password,
        identifier=str(client_id) if client_id else f"podium-{uuid.uuid4().hex}",
        protocol=aiomqtt.ProtocolVersion.V5, timeout=5,
    )


def _qos(destination: Destination) -> int:
    qos = destination.operation_bindings.get("qos", 1)
    return qos if qos in (0, 1, 2) else 1


class MQTTConnector:
    async def publish(self, destination: Destination, message: Outbound) -> None:
        properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        if message.headers:
            properties.UserProperty = [(k, header_text(v)) for k, v in message.headers.items()]
        if message.content_type:
            properties.ContentType = message.content_type
        if message.correlation_id:
            properties.CorrelationData = message.correlation_id.encode()
        try:
            async with _client(destination) as client:
                await client.publish(
                    destination.address, message.body, qos=_qos(destination),
                    retain=bool(destination.operation_bindings.get("retain", False)),
                    properties=properties,
                )
        except _ERRORS as exc:
            raise broker_error(destination, "publish to", exc) from None

    @asynccontextmanager
    async def subscribe(self, destination: Destination) -> AsyncIterator[Deliveries]:
        try:
            async with _client(destination) as client:
                await client.subscribe(destination.address, qos=_qos(destination))
                yield _deliveries(client)
        except _ERRORS as exc:
            raise broker_error(destination, "subscribe to", exc) from None


async def _deliveries(client: aiomqtt.Client) -> Deliveries:
    async for message in client.messages:
        yield Delivery(body=_bytes(message.payload), **_properties(message.properties))


def _bytes(payload: Any) -> bytes:
    if payload is None:
        return b""
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    return str(payload).encode()


def _properties(properties: Properties | None) -> dict[str, Any]:
    found: dict[str, Any] = {"headers": {}}
    if properties is None:
        return found
    for key, value in getattr(properties, "UserProperty", None) or []:
        found["headers"][key] = value
    correlation = getattr(properties, "CorrelationData", None)
    if correlation:
        found["correlation_id"] = bytes(correlation).decode("utf-8", "replace")
    return found
