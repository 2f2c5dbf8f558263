"""The typed, frozen model of a Serverless Workflow DSL 1.0.3 document.

Hand-written after ``schema/workflow.yaml``: it accepts and refuses what the
official schema does. A task is told apart by its key (``call``, ``do``, ...),
and a call by its ``call`` value, through callable discriminators, so a typo
inside a task yields one error for that task kind, not one per kind.

Python names that clash with keywords carry a trailing underscore and an
alias with the DSL spelling (``if_`` <-> ``if``).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

# The marker that tags a branch of a discriminated union; loader errors drop
# path elements that start with it, so pointers match the document.
TAG = "\u27e8"

SEMVER = (
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
NAME = r"^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$"
ISO_DURATION = re.compile(
    r"^P(?!$)(\d+(?:\.\d+)?Y)?(\d+(?:\.\d+)?M)?(\d+(?:\.\d+)?W)?(\d+(?:\.\d+)?D)?"
    r"(T(?=\d)(\d+(?:\.\d+)?H)?(\d+(?:\.\d+)?M)?(\d+(?:\.\d+)?S)?)?$"
)
# Tells an expression from text at run time; a multi-line `${ }` is one too.
RUNTIME_EXPRESSION = re.compile(r"^\s*\$\{.+\}\s*$", re.DOTALL)
# The schema's `runtimeExpression` pattern, where a value *must* be an expression
# (endpoints, durations, ...): like the schema, `.` stops at a line break.
SCHEMA_EXPRESSION = re.compile(r"^\s*\$\{.+\}\s*$")
URI = re.compile(r"^[A-Za-z][A-Za-z0-9+\-.]*://.*")


def _expression(value: str) -> str:
    if SCHEMA_EXPRESSION.match(value):
        return value
    raise ValueError(f"'{value}' is not a runtime expression (${{ ... }})")


def _matching(pattern: str, what: str) -> AfterValidator:
    # Python's `re`, as the schema's validators use, rather than pydantic's own
    # regex engine: `$` and `\d` then mean the same on both sides.
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if compiled.match(value):
            return value
        raise ValueError(f"'{value}' is not {what}")

    return AfterValidator(check)


RuntimeExpression = Annotated[str, AfterValidator(_expression)]
SemVer = Annotated[str, _matching(SEMVER, "a semantic version (e.g. 1.0.0)")]
Name = Annotated[
    str,
    _matching(NAME, "a valid name (1 to 63 letters, digits or '-', starting and ending with a "
                    "letter or digit)"),
]

# Where the schema allows "a string or an object", the branch is picked by the
# JSON type, as tasks are picked by their key: a wrong value gives one error
# in the words of the DSL, not one per branch.
STRING = Tag(TAG + "string")
OBJECT = Tag(TAG + "object")


def _json_type(value: Any) -> str | None:
    if isinstance(value, str):
        return TAG + "string"
    if isinstance(value, dict | BaseModel):
        return TAG + "object"
    return None


def _string_or_object(what: str) -> Discriminator:
    return Discriminator(
        _json_type, custom_error_type="type", custom_error_message=f"must be {what}"
    )


ExpressionOrObject = Annotated[
    Annotated[str, STRING] | Annotated[dict[str, Any], OBJECT],
    _string_or_object("a runtime expression (a string) or an object"),
]


def _integral(value: Any) -> Any:
    # JSON Schema counts 3.0 as an integer; strict pydantic would not.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Integer = Annotated[int, BeforeValidator(_integral)]

# Strict: the schema does not coerce ("400" is no integer, "true" no boolean).
_CONFIG = ConfigDict(frozen=True, populate_by_name=True, strict=True)


class _Base(BaseModel):
    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: Any, info: ValidationInfo) -> Any:
        # An optional property may be left out, never set to null: the schema
        # types no property as null, except the untyped ones (`Any` here).
        if (
            value is None
            and info.field_name is not None
            and cls.model_fields[info.field_name].annotation is not Any
        ):
            raise ValueError("must not be null (leave the property out instead)")
        return value


class Model(_Base):
    model_config = ConfigDict(**_CONFIG, extra="forbid")


class OpenModel(_Base):
    """An object whose additional properties the schema allows."""

    model_config = ConfigDict(**_CONFIG, extra="allow")


def _one_of(model: BaseModel, names: tuple[str, ...], what: str) -> None:
    present = [n for n in names if getattr(model, n) is not None]
    if len(present) != 1:
        keys = ", ".join(f"'{n.rstrip('_')}'" for n in names)
        found = ", ".join(f"'{n.rstrip('_')}'" for n in present) or "none"
        raise ValueError(f"{what} must set exactly one of {keys} (found {found})")


# --- durations, endpoints, resources -------------------------------------------


class DurationInline(Model):
    days: Integer | None = None
    hours: Integer | None = None
    minutes: Integer | None = None
    seconds: Integer | None = None
    milliseconds: Integer | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> DurationInline:
        if all(v is None for v in self.model_dump().values()):
            raise ValueError("a duration needs at least one of days, hours, minutes, seconds, "
                             "milliseconds")
        return self


def _duration_string(value: str) -> str:
    if ISO_DURATION.match(value) or SCHEMA_EXPRESSION.match(value):
        return value
    raise ValueError(f"'{value}' is neither an ISO 8601 duration (e.g. PT30S) nor an expression")


Duration = Annotated[
    Annotated[DurationInline, OBJECT] | Annotated[str, AfterValidator(_duration_string), STRING],
    _string_or_object("an ISO 8601 duration (e.g. PT30S), a runtime expression, or an object "
                      "of days, hours, minutes, seconds, milliseconds"),
]


class Timeout(Model):
    after: Duration


TimeoutOrName = Annotated[
    Annotated[Timeout, OBJECT] | Annotated[str, STRING],
    _string_or_object("a timeout (an object with 'after') or the name of one in use.timeouts"),
]


def _uri_or_expression(value: str) -> str:
    if URI.match(value) or SCHEMA_EXPRESSION.match(value):
        return value
    raise ValueError(f"'{value}' is not an absolute URI (scheme://...) nor a runtime expression")


def _uri(value: str) -> str:
    if URI.match(value):
        return value
    raise ValueError(f"'{value}' is not an absolute URI (scheme://...)")


class BasicAuth(Model):
    username: str | None = None
    password: str | None = None
    use: Annotated[str, Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _shape(self) -> BasicAuth:
        if self.use is not None:
            if self.username is not None or self.password is not None:
                raise ValueError("set either 'use' or 'username' and 'password'")
        elif self.username is None or self.password is None:
            raise ValueError("'username' and 'password' are required (or 'use' a secret)")
        return self


class BearerAuth(Model):
    token: str | None = None
    use: Annotated[str, Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _shape(self) -> BearerAuth:
        _one_of(self, ("token", "use"), "bearer authentication")
        return self


class OAuth2Client(Model):
    id: str | None = None
    secret: str | None = None
    assertion: str | None = None
    authentication: (
        Literal["client_secret_basic", "client_secret_post", "client_secret_jwt",
                "private_key_jwt", "none"]
        | None
    ) = None


class OAuth2Request(OpenModel):
    encoding: Literal["application/x-www-form-urlencoded", "application/json"] | None = None


class OAuth2Token(Model):
    token: str
    type: str


class OAuth2Endpoints(OpenModel):
    token: str | None = None
    revocation: str | None = None
    introspection: str | None = None


class OAuth2Auth(Model):
    authority: str | None = None
    grant: (
        Literal["authorization_code", "client_credentials", "password", "refresh_token",
                "urn:ietf:params:oauth:grant-type:token-exchange"]
        | None
    ) = None
    client: OAuth2Client | None = None
    request: OAuth2Request | None = None
    issuers: list[str] | None = None
    scopes: list[str] | None = None
    audiences: list[str] | None = None
    username: str | None = None
    password: str | None = None
    subject: OAuth2Token | None = None
    actor: OAuth2Token | None = None
    endpoints: OAuth2Endpoints | None = None
    use: Annotated[str, Field(min_length=1)] | None = None

    @field_validator("authority")
    @classmethod
    def _authority(cls, value: str | None) -> str | None:
        # The schema's `uriTemplate`: unlike endpoints, no runtime expression.
        return None if value is None else _uri(value)

    @model_validator(mode="after")
    def _shape(self) -> OAuth2Auth:
        if self.use is not None and any(
            getattr(self, f) is not None for f in type(self).model_fields if f != "use"
        ):
            raise ValueError("set either 'use' (a secret) or the OAuth2 properties")
        return self


class OidcAuth(OAuth2Auth):
    @model_validator(mode="after")
    def _no_endpoints(self) -> OidcAuth:
        if self.endpoints is not None:
            raise ValueError("'endpoints' is not a property of oidc (it is discovered)")
        return self


class AuthenticationPolicy(OpenModel):
    """An entry of ``use.authentications``: the schema closes this object only
    where it is referenceable (an endpoint's ``authentication``)."""

    basic: BasicAuth | None = None
    bearer: BearerAuth | None = None
    digest: BasicAuth | None = None
    oauth2: OAuth2Auth | None = None
    oidc: OidcAuth | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> AuthenticationPolicy:
        _one_of(self, ("basic", "bearer", "digest", "oauth2", "oidc"), "an authentication policy")
        return self


class ReferenceableAuthenticationPolicy(AuthenticationPolicy):
    model_config = ConfigDict(extra="forbid")

    use: Annotated[str, Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ReferenceableAuthenticationPolicy:
        _one_of(self, ("use", "basic", "bearer", "digest", "oauth2", "oidc"),
                "an authentication")
        return self


class EndpointConfig(Model):
    uri: Annotated[str, AfterValidator(_uri_or_expression)]
    authentication: ReferenceableAuthenticationPolicy | None = None


Endpoint = Annotated[
    Annotated[str, AfterValidator(_uri_or_expression), STRING] | Annotated[EndpointConfig, OBJECT],
    _string_or_object("a URI, a runtime expression, or an object with 'uri'"),
]


class ExternalResource(Model):
    name: str | None = None
    endpoint: Endpoint


class Schema(Model):
    format: str = "json"
    document: Any = None
    resource: ExternalResource | None = None

    @model_validator(mode="after")
    def _shape(self) -> Schema:
        # `document: null` is an (empty) inline document: test presence.
        if ("document" in self.model_fields_set) == (self.resource is not None):
            raise ValueError("a schema sets exactly one of 'document' and 'resource'")
        return self


class Input(Model):
    schema_: Schema | None = Field(default=None, alias="schema")
    from_: ExpressionOrObject | None = Field(default=None, alias="from")


class Output(Model):
    schema_: Schema | None = Field(default=None, alias="schema")
    as_: ExpressionOrObject | None = Field(default=None, alias="as")


class Export(Model):
    schema_: Schema | None = Field(default=None, alias="schema")
    as_: ExpressionOrObject | None = Field(default=None, alias="as")


class Error(Model):
    type: str
    status: Integer
    instance: str | None = None
    title: str | None = None
    detail: str | None = None

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        return _uri_or_expression(value)


class ErrorFilter(OpenModel):
    type: str | None = None
    status: Integer | None = None
    instance: str | None = None
    title: str | None = None
    details: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _not_empty(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data:
            raise ValueError("an error filter needs at least one property")
        return data


class Backoff(Model):
    constant: dict[str, Any] | None = None
    exponential: dict[str, Any] | None = None
    linear: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Backoff:
        _one_of(self, ("constant", "exponential", "linear"), "a backoff")
        return self


class RetryAttemptLimit(Model):
    count: Integer | None = None
    duration: Duration | None = None


class RetryLimit(Model):
    attempt: RetryAttemptLimit | None = None
    duration: Duration | None = None


class Jitter(Model):
    from_: Duration = Field(alias="from")
    to: Duration


class RetryPolicy(Model):
    when: str | None = None
    except_when: str | None = Field(default=None, alias="exceptWhen")
    delay: Duration | None = None
    backoff: Backoff | None = None
    limit: RetryLimit | None = None
    jitter: Jitter | None = None


class Catalog(Model):
    endpoint: Endpoint


# --- events ---------------------------------------------------------------------


class EventProperties(OpenModel):
    id: str | None = None
    source: str | None = None
    type: str | None = None
    time: str | None = None
    subject: str | None = None
    datacontenttype: str | None = None
    dataschema: str | None = None
    data: Any = None

    @field_validator("source", "dataschema")
    @classmethod
    def _uri(cls, value: str | None) -> str | None:
        return None if value is None else _uri_or_expression(value)


class Correlation(OpenModel):
    from_: str = Field(alias="from")
    expect: str | None = None


class EventFilter(Model):
    with_: EventProperties = Field(alias="with")
    correlate: dict[str, Correlation] | None = None

    @field_validator("with_", mode="before")
    @classmethod
    def _not_empty(cls, value: Any) -> Any:
        if isinstance(value, dict) and not value:
            raise ValueError("an event filter needs at least one property in 'with'")
        return value


class EventConsumptionStrategy(Model):
    all: list[EventFilter] | None = None
    any: list[EventFilter] | None = None
    one: EventFilter | None = None
    until: (
        Annotated[
            Annotated[str, STRING] | Annotated[UntilStrategy, OBJECT],
            _string_or_object("a runtime expression or an event consumption strategy"),
        ]
        | None
    ) = None

    @model_validator(mode="after")
    def _shape(self) -> EventConsumptionStrategy:
        _one_of(self, ("all", "any", "one"), "an event consumption strategy")
        if self.until is not None and self.any is None:
            raise ValueError("'until' is only allowed with 'any'")
        return self


class UntilStrategy(EventConsumptionStrategy):
    """The events that end an ``any`` listener: a strategy without its own ``until``."""

    @field_validator("until", mode="before")
    @classmethod
    def _no_until(cls, value: Any) -> Any:
        raise ValueError("a strategy nested in 'until' cannot have its own 'until'")


class SubscriptionIterator(Model):
    item: str = "item"
    at: str = "index"
    do: TaskList | None = None
    output: Output | None = None
    export: Export | None = None


# --- tasks ----------------------------------------------------------------------


class TaskBase(Model):
    if_: str | None = Field(default=None, alias="if")
    input: Input | None = None
    output: Output | None = None
    export: Export | None = None
    timeout: TimeoutOrName | None = None
    then: str | None = None
    metadata: dict[str, Any] | None = None


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


class DoTask(TaskBase):
    do: TaskList


class ForkConfig(Model):
    branches: TaskList
    compete: bool = False


class ForkTask(TaskBase):
    fork: ForkConfig


class EmitEvent(OpenModel):
    with_: EventProperties | None = Field(default=None, alias="with")

    @field_validator("with_")
    @classmethod
    def _required(cls, value: EventProperties | None) -> EventProperties | None:
        if value is not None and (value.source is None or value.type is None):
            raise ValueError("an emitted event needs 'source' and 'type'")
        return value


class EmitConfig(Model):
    event: EmitEvent


class EmitTask(TaskBase):
    emit: EmitConfig


class ForConfig(Model):
    each: str = "item"
    in_: str = Field(alias="in")
    at: str = "index"


class ForTask(TaskBase):
    for_: ForConfig = Field(alias="for")
    while_: str | None = Field(default=None, alias="while")
    do: TaskList


class ListenConfig(Model):
    to: EventConsumptionStrategy
    read: Literal["data", "envelope", "raw"] = "data"


class ListenTask(TaskBase):
    listen: ListenConfig
    foreach: SubscriptionIterator | None = None


class RaiseConfig(Model):
    error: Annotated[
        Annotated[Error, OBJECT] | Annotated[str, STRING],
        _string_or_object("an error (an object with 'type' and 'status') or the name of one "
                          "in use.errors"),
    ]


class RaiseTask(TaskBase):
    raise_: RaiseConfig = Field(alias="raise")


class ContainerLifetime(Model):
    cleanup: Literal["always", "never", "eventually"]
    after: Duration | None = None

    @model_validator(mode="after")
    def _after(self) -> ContainerLifetime:
        if (self.cleanup == "eventually") != (self.after is not None):
            raise ValueError("'after' is required with cleanup 'eventually', and only then")
        return self


class ContainerProcess(Model):
    image: str
    name: str | None = None
    command: str | None = None
    ports: dict[str, Any] | None = None
    volumes: dict[str, Any] | None = None
    environment: dict[str, Any] | None = None
    stdin: str | None = None
    arguments: list[str] | None = None
    lifetime: ContainerLifetime | None = None
    pull_policy: Literal["ifNotPresent", "always", "never"] | None = Field(
        default=None, alias="pullPolicy"
    )


class ScriptProcess(Model):
    language: str
    code: str | None = None
    source: ExternalResource | None = None
    stdin: str | None = None
    arguments: list[str] | None = None
    environment: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _shape(self) -> ScriptProcess:
        _one_of(self, ("code", "source"), "a script")
        return self


class ShellProcess(Model):
    command: str
    stdin: str | None = None
    arguments: list[str] | None = None
    environment: dict[str, Any] | None = None


class WorkflowProcess(Model):
    namespace: str
    name: str
    # The schema requires it even though it documents a default of "latest".
    version: str
    input: dict[str, Any] | None = None


class RunConfig(Model):
    await_: bool = Field(default=True, alias="await")
    return_: Literal["stdout", "stderr", "code", "all", "none"] = Field(
        default="stdout", alias="return"
    )
    container: ContainerProcess | None = None
    script: ScriptProcess | None = None
    shell: ShellProcess | None = None
    workflow: WorkflowProcess | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> RunConfig:
        _one_of(self, ("container", "script", "shell", "workflow"), "a run task")
        return self


class RunTask(TaskBase):
    run: RunConfig


class SetTask(TaskBase):
    set: Annotated[
        Annotated[dict[str, Any], Field(min_length=1), OBJECT] | Annotated[str, STRING],
        _string_or_object("a non-empty object or a runtime expression"),
    ]


class SwitchCase(Model):
    when: str | None = None
    then: str


def _one_named(what: str) -> BeforeValidator:
    """An item of a list of named things (tasks, cases, extensions) is a mapping
    with exactly one key; the error points at the item."""

    def check(value: Any) -> Any:
        if isinstance(value, dict) and not value:
            raise ValueError(f"a list item must name one {what} (found none)")
        if isinstance(value, dict) and len(value) > 1:
            found = ", ".join(repr(k) for k in value)
            raise ValueError(
                f"a list item holds exactly one named {what}, found {len(value)} ({found}): "
                f"start each {what} with its own '-'"
            )
        return value

    return BeforeValidator(check)


class SwitchTask(TaskBase):
    switch: Annotated[
        list[Annotated[dict[str, SwitchCase], _one_named("case")]], Field(min_length=1)
    ]


class CatchErrors(OpenModel):
    with_: ErrorFilter | None = Field(default=None, alias="with")


class Catch(Model):
    errors: CatchErrors | None = None
    as_: str | None = Field(default=None, alias="as")
    when: str | None = None
    except_when: str | None = Field(default=None, alias="exceptWhen")
    retry: (
        Annotated[
            Annotated[RetryPolicy, OBJECT] | Annotated[str, STRING],
            _string_or_object("a retry policy or the name of one in use.retries"),
        ]
        | None
    ) = None
    do: TaskList | None = None


class TryTask(TaskBase):
    try_: TaskList = Field(alias="try")
    catch: Catch


class WaitTask(TaskBase):
    wait: Duration


# The order matters where keys overlap: a `for` task also has `do`, and a
# `listen` task may have `foreach`.
TASK_KEYS = ("call", "for", "fork", "emit", "listen", "raise", "run", "set", "switch", "try",
             "wait", "do")


def _task_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        for key in TASK_KEYS:
            if key in value:
                return TAG + key
        return None
    kind = TASK_CLASSES_KIND.get(type(value))
    return None if kind is None else TAG + kind


Task = Annotated[
    Annotated[CallTask, Tag(TAG + "call")]
    | Annotated[DoTask, Tag(TAG + "do")]
    | Annotated[ForkTask, Tag(TAG + "fork")]
    | Annotated[EmitTask, Tag(TAG + "emit")]
    | Annotated[ForTask, Tag(TAG + "for")]
    | Annotated[ListenTask, Tag(TAG + "listen")]
    | Annotated[RaiseTask, Tag(TAG + "raise")]
    | Annotated[RunTask, Tag(TAG + "run")]
    | Annotated[SetTask, Tag(TAG + "set")]
    | Annotated[SwitchTask, Tag(TAG + "switch")]
    | Annotated[TryTask, Tag(TAG + "try")]
    | Annotated[WaitTask, Tag(TAG + "wait")],
    Discriminator(
        _task_kind,
        custom_error_type="task",
        custom_error_message="not a task: expected one of the keys " + ", ".join(TASK_KEYS),
    ),
]

TASK_CLASSES_KIND: dict[type, str] = {
    CallHTTP: "call", CallOpenAPI: "call", CallGRPC: "call", CallAsyncAPI: "call",
    CallA2A: "call", CallMCP: "call", CallFunction: "call", DoTask: "do", ForkTask: "fork",
    EmitTask: "emit", ForTask: "for", ListenTask: "listen", RaiseTask: "raise", RunTask: "run",
    SetTask: "set", SwitchTask: "switch", TryTask: "try", WaitTask: "wait",
}

AnyTask = (
    CallHTTP | CallOpenAPI | CallGRPC | CallAsyncAPI | CallA2A | CallMCP | CallFunction | DoTask
    | ForkTask | EmitTask | ForTask | ListenTask | RaiseTask | RunTask | SetTask | SwitchTask
    | TryTask | WaitTask
)


TaskList = list[Annotated[dict[str, Task], _one_named("task")]]


# --- the workflow -----------------------------------------------------------------


class Document(Model):
    dsl: SemVer
    namespace: Name
    name: Name
    version: SemVer
    title: str | None = None
    summary: str | None = None
    tags: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


class Extension(Model):
    extend: Literal["call", "composite", "emit", "for", "listen", "raise", "run", "set", "switch",
                    "try", "wait", "all"]
    when: str | None = None
    before: TaskList | None = None
    after: TaskList | None = None


class Use(Model):
    authentications: dict[str, AuthenticationPolicy] | None = None
    errors: dict[str, Error] | None = None
    extensions: list[Annotated[dict[str, Extension], _one_named("extension")]] | None = None
    functions: dict[str, Task] | None = None
    retries: dict[str, RetryPolicy] | None = None
    secrets: list[str] | None = None
    timeouts: dict[str, Timeout] | None = None
    catalogs: dict[str, Catalog] | None = None


class Schedule(Model):
    every: Duration | None = None
    cron: str | None = None
    after: Duration | None = None
    on: EventConsumptionStrategy | None = None


class Evaluate(Model):
    language: str = "jq"
    mode: Literal["strict", "loose"] = "strict"


class Workflow(OpenModel):
    document: Document
    input: Input | None = None
    use: Use | None = None
    do: TaskList
    timeout: TimeoutOrName | None = None
    output: Output | None = None
    schedule: Schedule | None = None
    evaluate: Evaluate | None = None


for _model in (SubscriptionIterator, EventConsumptionStrategy, UntilStrategy, DoTask, ForkConfig,
               ForTask, ListenTask, Catch, TryTask, Extension, Use, Workflow):
    _model.model_rebuild()
