"""Where an AsyncAPI call goes: the server, channel address and bindings an
AsyncAPI 2.6 or 3.0 document gives for a channel or operation (dsl-reference
"AsyncAPI Call", "AsyncAPI Server").

Only local references (``#/...``) are followed: a reference into another
document is a configuration error naming it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlparse

from podium.engine.errors import WorkflowError

_VARIABLE = re.compile(r"\{([^{}]+)\}")
# Protocols a connector exists for; the other names of dsl-reference "AsyncAPI
# Call" are refused by name.
SUPPORTED = ("amqp", "mqtt", "mqtt5", "nats")
_DEFAULT_PORTS = {"amqp": 5672, "mqtt": 1883, "mqtt5": 1883, "nats": 4222}


@dataclass(frozen=True)
class Destination:
    """A resolved server and channel, with the protocol's bindings."""

    protocol: str
    host: str
    port: int
    path: str  # the server's path (an AMQP virtual host)
    address: str  # the channel's address: NATS subject, MQTT topic, AMQP queue or routing key
    where: str  # the task's JSON pointer, for errors
    server_bindings: dict[str, Any] = field(default_factory=dict)
    channel_bindings: dict[str, Any] = field(default_factory=dict)
    operation_bindings: dict[str, Any] = field(default_factory=dict)
    # AsyncAPI "Correlation ID Object" location, e.g. ``$message.header#/id``.
    correlation: str | None = None
    username: str | None = None
    password: str | None = None
    token: str | None = None


def resolve(
    document: Any,
    uri: str,
    *,
    channel: str | None,
    operation: str | None,
    server: str | None,
    variables: dict[str, Any],
    protocol: str | None,
    where: str,
) -> Destination:
    """The destination of ``channel`` (2.6) or ``operation`` (3.0) in ``document``."""
    if not isinstance(document, dict):
        raise WorkflowError.configuration(f"AsyncAPI document {uri} is not an object", where)
    resolver = _Resolver(document, uri, where)
    version = str(document.get("asyncapi", ""))
    if version.startswith("2."):
        if channel is None:
            raise resolver.error("is an AsyncAPI 2.x document: name a 'channel', not an "
                                 "'operation'")
        return resolver.v2(channel, server, variables, protocol)
    if version.startswith("3."):
        if operation is None:
            raise resolver.error("is an AsyncAPI 3.x document: name an 'operation', not a "
                                 "'channel'")
        return resolver.v3(operation, server, variables, protocol)
    raise resolver.error(f"has AsyncAPI version '{version}'; supported: 2.x, 3.x")


class _Resolver:
    def __init__(self, document: dict[str, Any], uri: str, where: str) -> None:
        self.document = document
        self.uri = uri
        self.where = where

    def error(self, detail: str) -> WorkflowError:
        return WorkflowError.configuration(f"AsyncAPI document {self.uri} {detail}", self.where)

    def deref(self, node: Any) -> Any:
        seen: set[str] = set()
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            ref: str = node["$ref"]
            if not ref.startswith("#/"):
                raise self.error(f"refers to '{ref}': only references inside the document "
                                 f"(#/...) are supported")
            if ref in seen:
                raise self.error(f"has a reference cycle through '{ref}'")
            seen.add(ref)
            node = self.document
            for part in ref[2:].split("/"):
                key = unquote(part).replace("~1", "/").replace("~0", "~")
                if not isinstance(node, dict) or key not in node:
                    raise self.error(f"has no '{ref}'")
                node = node[key]
        return node

    def obj(self, node: Any) -> dict[str, Any]:
        found = self.deref(node)
        return found if isinstance(found, dict) else {}

    # AsyncAPI 2.6 ------------------------------------------------------------------------

    def v2(self, name: str, server: str | None, variables: dict[str, Any],
           protocol: str | None) -> Destination:
        channels = self.obj(self.document.get("channels"))
        if name not in channels:
            raise self.error(f"has no channel '{name}'")
        item = self.obj(channels[name])
        allowed = item.get("servers") if isinstance(item.get("servers"), list) else None
        chosen_name, chosen = self.server(server, protocol, allowed)
        operations = [self.obj(item[k]) for k in ("publish", "subscribe") if k in item]
        return self.destination(
            chosen_name, chosen, variables,
            address=self.fill_parameters(name, self.obj(item.get("parameters"))),
            channel_bindings=self.obj(item.get("bindings")),
            operation_bindings=self.obj(operations[0].get("bindings")) if operations else {},
            messages=[self.obj(op.get("message")) for op in operations],
            url_key="url",
        )

    # AsyncAPI 3.0 ------------------------------------------------------------------------

    def v3(self, operation_id: str, server: str | None, variables: dict[str, Any],
           protocol: str | None) -> Destination:
        operations = self.obj(self.document.get("operations"))
        if operation_id not in operations:
            raise self.error(f"has no operation '{operation_id}'")
        operation = self.obj(operations[operation_id])
        channel_ref = operation.get("channel")
        item = self.obj(channel_ref)
        if not item:
            raise self.error(f"gives operation '{operation_id}' no channel")
        key = channel_ref["$ref"].rsplit("/", 1)[-1] if isinstance(channel_ref, dict) and (
            isinstance(channel_ref.get("$ref"), str)) else operation_id
        allowed = None
        if isinstance(item.get("servers"), list):
            allowed = [str(s.get("$ref", "")).rsplit("/", 1)[-1] for s in item["servers"]
                       if isinstance(s, dict)]
        chosen_name, chosen = self.server(server, protocol, allowed)
        address = item.get("address")
        # A null address is "unknown or dynamic": the channel's key stands in.
        address = key if address is None else str(address)
        messages = [self.obj(msg) for msg in operation.get("messages") or []]
        if not messages:
            messages = [self.obj(msg) for msg in self.obj(item.get("messages")).values()]
        return self.destination(
            chosen_name, chosen, variables,
            address=self.fill_parameters(address, self.obj(item.get("parameters"))),
            channel_bindings=self.obj(item.get("bindings")),
            operation_bindings=self.obj(operation.get("bindings")),
            messages=messages,
            url_key="host",
        )

    # Shared ------------------------------------------------------------------------------

    def server(self, name: str | None, protocol: str | None,
               allowed: list[str] | None) -> tuple[str, dict[str, Any]]:
        servers = self.obj(self.document.get("servers"))
        if name is not None:
            if name not in servers:
                raise self.error(f"has no server '{name}'")
            return name, self.obj(servers[name])
        candidates = [(k, self.obj(v)) for k, v in servers.items()
                      if allowed is None or k in allowed]
        if protocol is not None:
            candidates = [(k, v) for k, v in candidates if v.get("protocol") == protocol]
        if not candidates:
            wanted = f" with protocol '{protocol}'" if protocol else ""
            raise self.error(f"has no server{wanted} for this channel")
        return candidates[0]

    def destination(self, name: str, server: dict[str, Any], variables: dict[str, Any], *,
                    address: str, channel_bindings: dict[str, Any],
                    operation_bindings: dict[str, Any], messages: list[dict[str, Any]],
                    url_key: str) -> Destination:
        protocol = str(server.get("protocol", ""))
        if protocol not in SUPPORTED:
            raise WorkflowError.runtime(
                f"AsyncAPI server '{name}' uses protocol '{protocol}', which this Podium "
                f"version does not support (supported: {', '.join(SUPPORTED)})",
                self.where,
            )
        location = self.fill_variables(name, str(server.get(url_key, "")),
                                       self.obj(server.get("variables")), variables)
        if url_key == "host":
            location += self.fill_variables(name, str(server.get("pathname") or ""),
                                            self.obj(server.get("variables")), variables)
        parsed = urlparse(location if "://" in location else f"{protocol}://{location}")
        try:
            port = parsed.port or _DEFAULT_PORTS[protocol]
        except ValueError:
            raise self.error(f"gives server '{name}' an invalid port: {location}") from None
        if not parsed.hostname:
            raise self.error(f"gives server '{name}' no host")
        correlation = None
        for message in messages:
            for candidate in [message, *(self.obj(m) for m in message.get("oneOf") or [])]:
                found = self.obj(candidate.get("correlationId")).get("location")
                if isinstance(found, str) and correlation is None:
                    correlation = found

        def bindings(node: dict[str, Any]) -> dict[str, Any]:
            mqtt = node.get("mqtt5") if protocol == "mqtt5" and "mqtt5" in node else None
            return self.obj(mqtt if mqtt is not None else node.get(protocol.removesuffix("5")))

        return Destination(
            protocol=protocol,
            host=parsed.hostname,
            port=port,
            path=unquote(parsed.path),
            address=address,
            where=self.where,
            server_bindings=bindings(self.obj(server.get("bindings"))),
            channel_bindings=bindings(channel_bindings),
            operation_bindings=bindings(operation_bindings),
            correlation=correlation,
            username=unquote(parsed.username) if parsed.username else None,
            password=unquote(parsed.password) if parsed.password else None,
        )

    def fill_variables(self, server: str, text: str, declared: dict[str, Any],
                       given: dict[str, Any]) -> str:
        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in given and given[name] is not None:
                return str(given[name])
            default = self.obj(declared.get(name)).get("default")
            if default is None:
                raise self.error(f"server '{server}' needs variable '{name}': set it in "
                                 f"'with.server.variables'")
            return str(default)

        return _VARIABLE.sub(value, text)

    def fill_parameters(self, address: str, declared: dict[str, Any]) -> str:
        # The DSL has no place for channel parameters: only their defaults apply.
        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            parameter = self.obj(declared.get(name))
            default = parameter.get("default", self.obj(parameter.get("schema")).get("default"))
            if default is None:
                raise self.error(f"channel '{address}' needs parameter '{name}', which has no "
                                 f"default (the DSL cannot set channel parameters)")
            return str(default)

        return _VARIABLE.sub(value, address)
