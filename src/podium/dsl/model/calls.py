"""Call tasks (``http``, ``openapi``, ``grpc``, ``asyncapi``, ``a2a``, ``mcp``
and functions) and their arguments."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from podium.dsl.model.auth import ReferenceableAuthenticationPolicy
from podium.dsl.model.base import (
    OBJECT,
    STRING,
    TAG,
    Duration,
    ExpressionOrObject,
    Integer,
    Model,
    OpenModel,
    RuntimeExpression,
    _matching,
    _one_of,
    _string_or_object,
)
from podium.dsl.model.dataflow import TaskBase
from podium.dsl.model.events import SubscriptionIterator
from podium.dsl.model.resources import Endpoint, ExternalResource

StringMapOrExpression = Annotated[
    Annotated[dict[str, str], OBJECT] | Annotated[RuntimeExpression, STRING],
    _string_or_object("an object of strings or a runtime expression"),
]


class HTTPArguments(Model):
    method: str
    endpoint: Endpoint
    headers: StringMapOrExpression | None = None
    body: Any = None
    query: StringMapOrExpression | None = None
    output: Literal["raw", "content", "response"] = "content"
    redirect: bool = False


class CallHTTP(TaskBase):
    call: Literal["http"]
    with_: HTTPArguments = Field(alias="with")


class OpenAPIArguments(Model):
    document: ExternalResource
    operation_id: str = Field(alias="operationId")
    parameters: dict[str, Any] | None = None
    authentication: ReferenceableAuthenticationPolicy | None = None
    output: Literal["raw", "content", "response"] = "content"
    redirect: bool = False


class CallOpenAPI(TaskBase):
    call: Literal["openapi"]
    with_: OpenAPIArguments = Field(alias="with")


class GRPCService(Model):
    name: str
    host: Annotated[
        str, _matching(r"^[a-zA-Z0-9](?:[a-zA-Z0-9-.]{0,61}[a-zA-Z0-9])?$", "a valid host name")
    ]
    port: Annotated[Integer, Field(ge=0, le=65535)] | None = None
    authentication: ReferenceableAuthenticationPolicy | None = None


class GRPCArguments(Model):
    proto: ExternalResource
    service: GRPCService
    method: str
    arguments: dict[str, Any] | None = None


class CallGRPC(TaskBase):
    call: Literal["grpc"]
    with_: GRPCArguments = Field(alias="with")


class AsyncAPIServer(Model):
    name: str
    variables: dict[str, Any] | None = None


class AsyncAPIMessage(Model):
    payload: dict[str, Any] | None = None
    headers: dict[str, Any] | None = None


class AsyncAPIConsumption(Model):
    for_: Duration | None = Field(default=None, alias="for")
    amount: Integer | None = None
    while_: RuntimeExpression | None = Field(default=None, alias="while")
    until: RuntimeExpression | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> AsyncAPIConsumption:
        _one_of(self, ("amount", "while_", "until"), "a consumption policy")
        return self


class AsyncAPISubscription(Model):
    filter: RuntimeExpression | None = None
    consume: AsyncAPIConsumption
    foreach: SubscriptionIterator | None = None


AsyncAPIProtocol = Literal[
    "amqp", "amqp1", "anypointmq", "googlepubsub", "http", "ibmmq", "jms", "kafka", "mercure",
    "mqtt", "mqtt5", "nats", "pulsar", "redis", "sns", "solace", "sqs", "stomp", "ws",
]


class AsyncAPIArguments(Model):
    document: ExternalResource
    channel: str | None = None
    operation: str | None = None
    server: AsyncAPIServer | None = None
    protocol: AsyncAPIProtocol | None = None
    message: AsyncAPIMessage | None = None
    subscription: AsyncAPISubscription | None = None
    authentication: ReferenceableAuthenticationPolicy | None = None

    @model_validator(mode="after")
    def _shape(self) -> AsyncAPIArguments:
        _one_of(self, ("channel", "operation"), "an AsyncAPI call")
        _one_of(self, ("message", "subscription"), "an AsyncAPI call")
        return self


class CallAsyncAPI(TaskBase):
    call: Literal["asyncapi"]
    with_: AsyncAPIArguments = Field(alias="with")


A2AMethod = Literal[
    "message/send", "message/stream", "tasks/get", "tasks/list", "tasks/cancel",
    "tasks/resubscribe", "tasks/pushNotificationConfig/set", "tasks/pushNotificationConfig/get",
    "tasks/pushNotificationConfig/list", "tasks/pushNotificationConfig/delete",
    "agent/getAuthenticatedExtendedCard",
]


class A2AArguments(Model):
    agent_card: ExternalResource | None = Field(default=None, alias="agentCard")
    server: Endpoint | None = None
    method: A2AMethod
    parameters: (
        Annotated[
            Annotated[dict[str, Any], Field(min_length=1), OBJECT] | Annotated[str, STRING],
            _string_or_object("a non-empty object or a runtime expression"),
        ]
        | None
    ) = None


class CallA2A(TaskBase):
    call: Literal["a2a"]
    with_: A2AArguments = Field(alias="with")


class MCPHttpTransport(OpenModel):
    endpoint: Endpoint
    headers: dict[str, str] | None = None


class MCPStdioTransport(OpenModel):
    command: str
    arguments: list[str] | None = None
    environment: dict[str, str] | None = None


class MCPTransport(OpenModel):
    http: MCPHttpTransport | None = None
    stdio: MCPStdioTransport | None = None
    options: dict[str, str] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> MCPTransport:
        _one_of(self, ("http", "stdio"), "an MCP transport")
        return self


class MCPClient(OpenModel):
    name: str
    # The schema requires `version` but types `description` instead (a slip in
    # 1.0.3); we check what it checks.
    version: Any
    description: str | None = None


class MCPArguments(OpenModel):
    protocol_version: str = Field(default="2025-06-18", alias="protocolVersion")
    method: Literal[
        "tools/list", "tools/call", "prompts/list", "prompts/get", "resources/list",
        "resources/read", "resources/templates/list",
    ]
    parameters: ExpressionOrObject | None = None
    timeout: Duration | None = None
    transport: MCPTransport
    client: MCPClient | None = None


class CallMCP(TaskBase):
    call: Literal["mcp"]
    with_: MCPArguments = Field(alias="with")


RESERVED_CALLS = ("asyncapi", "grpc", "http", "openapi", "a2a", "mcp")


class CallFunction(TaskBase):
    call: str
    with_: dict[str, Any] | None = Field(default=None, alias="with")

    @field_validator("call")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in RESERVED_CALLS:  # pragma: no cover - routed to its own model
            raise ValueError(f"'{value}' is a built-in call")
        return value


def _call_kind(value: Any) -> str | None:
    call = value.get("call") if isinstance(value, dict) else getattr(value, "call", None)
    if not isinstance(call, str):
        return None
    return TAG + "call:" + (call if call in RESERVED_CALLS else "function")


CallTask = Annotated[
    Annotated[CallHTTP, Tag(TAG + "call:http")]
    | Annotated[CallOpenAPI, Tag(TAG + "call:openapi")]
    | Annotated[CallGRPC, Tag(TAG + "call:grpc")]
    | Annotated[CallAsyncAPI, Tag(TAG + "call:asyncapi")]
    | Annotated[CallA2A, Tag(TAG + "call:a2a")]
    | Annotated[CallMCP, Tag(TAG + "call:mcp")]
    | Annotated[CallFunction, Tag(TAG + "call:function")],
    Discriminator(
        _call_kind,
        custom_error_type="call",
        custom_error_message="'call' must be a string naming a function or protocol",
    ),
]

