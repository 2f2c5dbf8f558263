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
    StringConstraints,
    Tag,
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
RUNTIME_EXPRESSION = re.compile(r"^\s*\$\{.+\}\s*$", re.DOTALL)
URI = re.compile(r"^[A-Za-z][A-Za-z0-9+\-.]*://.*")

RuntimeExpression = Annotated[str, StringConstraints(pattern=RUNTIME_EXPRESSION.pattern)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class OpenModel(BaseModel):
    """An object whose additional properties the schema allows."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)


def _one_of(model: BaseModel, names: tuple[str, ...], what: str) -> None:
    present = [n for n in names if getattr(model, n) is not None]
    if len(present) != 1:
        keys = ", ".join(f"'{n.rstrip('_')}'" for n in names)
        found = ", ".join(f"'{n.rstrip('_')}'" for n in present) or "none"
        raise ValueError(f"{what} must set exactly one of {keys} (found {found})")


# --- durations, endpoints, resources -------------------------------------------


class DurationInline(Model):
    days: int | None = None
    hours: int | None = None
    minutes: int | None = None
    seconds: int | None = None
    milliseconds: int | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> DurationInline:
        if all(v is None for v in self.model_dump().values()):
            raise ValueError("a duration needs at least one of days, hours, minutes, seconds, "
                             "milliseconds")
        return self


def _duration_string(value: str) -> str:
    if ISO_DURATION.match(value) or RUNTIME_EXPRESSION.match(value):
        return value
    raise ValueError(f"'{value}' is neither an ISO 8601 duration (e.g. PT30S) nor an expression")


def _duration(value: Any) -> Any:
    return _duration_string(value) if isinstance(value, str) else value


Duration = Annotated[DurationInline | str, AfterValidator(_duration)]


class Timeout(Model):
    after: Duration


def _uri_or_expression(value: str) -> str:
    if URI.match(value) or RUNTIME_EXPRESSION.match(value):
        return value
    raise ValueError(f"'{value}' is not an absolute URI (scheme://...) nor a runtime expression")


class SecretRef(Model):
    use: Annotated[str, Field(min_length=1)]


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
        return None if value is None else _uri_or_expression(value)

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


class AuthenticationPolicy(Model):
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
    use: Annotated[str, Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ReferenceableAuthenticationPolicy:
        _one_of(self, ("use", "basic", "bearer", "digest", "oauth2", "oidc"),
                "an authentication")
        return self


class EndpointConfig(Model):
    uri: Annotated[str, AfterValidator(_uri_or_expression)]
    authentication: ReferenceableAuthenticationPolicy | None = None


def _endpoint(value: Any) -> Any:
    return _uri_or_expression(value) if isinstance(value, str) else value


Endpoint = Annotated[str | EndpointConfig, AfterValidator(_endpoint)]


class ExternalResource(Model):
    name: str | None = None
    endpoint: Endpoint


class Schema(Model):
    format: str = "json"
    document: Any = None
    resource: ExternalResource | None = None

    @model_validator(mode="after")
    def _shape(self) -> Schema:
        if (self.document is None) == (self.resource is None):
            raise ValueError("a schema sets exactly one of 'document' and 'resource'")
        return self


class Input(Model):
    schema_: Schema | None = Field(default=None, alias="schema")
    from_: str | dict[str, Any] | None = Field(default=None, alias="from")


class Output(Model):
    schema_: Schema | None = Field(default=None, alias="schema")
    as_: str | dict[str, Any] | None = Field(default=None, alias="as")


class Export(Model):
    schema_: Schema | None = Field(default=None, alias="schema")
    as_: str | dict[str, Any] | None = Field(default=None, alias="as")


class Error(Model):
    type: str
    status: int
    instance: str | None = None
    title: str | None = None
    detail: str | None = None

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        return _uri_or_expression(value)


class ErrorFilter(OpenModel):
    type: str | None = None
    status: int | None = None
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
    count: int | None = None
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
    until: str | EventConsumptionStrategy | None = None

    @model_validator(mode="after")
    def _shape(self) -> EventConsumptionStrategy:
        _one_of(self, ("all", "any", "one"), "an event consumption strategy")
        if self.until is not None:
            if self.any is None:
                raise ValueError("'until' is only allowed with 'any'")
            if isinstance(self.until, EventConsumptionStrategy) and self.until.until is not None:
                raise ValueError("a nested 'until' strategy cannot have its own 'until'")
        return self


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
    timeout: Timeout | str | None = None
    then: str | None = None
    metadata: dict[str, Any] | None = None


class HTTPArguments(Model):
    method: str
    endpoint: Endpoint
    headers: dict[str, str] | RuntimeExpression | None = None
    body: Any = None
    query: dict[str, Any] | RuntimeExpression | None = None
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
    host: Annotated[str, Field(pattern=r"^[a-zA-Z0-9](?:[a-zA-Z0-9-.]{0,61}[a-zA-Z0-9])?$")]
    port: Annotated[int, Field(ge=0, le=65535)] | None = None
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
    amount: int | None = None
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
    parameters: Annotated[dict[str, Any], Field(min_length=1)] | str | None = None


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
    version: str


class MCPArguments(OpenModel):
    protocol_version: str = Field(default="2025-06-18", alias="protocolVersion")
    method: Literal[
        "tools/list", "tools/call", "prompts/list", "prompts/get", "resources/list",
        "resources/read", "resources/templates/list",
    ]
    parameters: dict[str, Any] | str | None = None
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
    if isinstance(value, dict):
        call = value.get("call")
    else:
        call = getattr(value, "call", None)
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
    error: Error | str


class RaiseTask(TaskBase):
    raise_: RaiseConfig = Field(alias="raise")


class ContainerLifetime(Model):
    cleanup: Literal["always", "never", "eventually"] = "never"
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
    version: str = "latest"
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
    set: Annotated[dict[str, Any], Field(min_length=1)] | str


class SwitchCase(Model):
    when: str | None = None
    then: str


class SwitchTask(TaskBase):
    switch: Annotated[list[dict[str, SwitchCase]], Field(min_length=1)]

    @field_validator("switch")
    @classmethod
    def _one_case_per_item(cls, value: list[dict[str, SwitchCase]]) -> list[dict[str, SwitchCase]]:
        for item in value:
            if len(item) != 1:
                raise ValueError("each switch item holds exactly one named case")
        return value


class CatchErrors(OpenModel):
    with_: ErrorFilter | None = Field(default=None, alias="with")


class Catch(Model):
    errors: CatchErrors | None = None
    as_: str | None = Field(default=None, alias="as")
    when: str | None = None
    except_when: str | None = Field(default=None, alias="exceptWhen")
    retry: RetryPolicy | str | None = None
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


def _task_items(value: Any) -> Any:
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict) and len(item) != 1:
                names = ", ".join(repr(k) for k in item)
                raise ValueError(
                    f"each item of a task list holds exactly one named task (found {names})"
                )
    return value


TaskList = Annotated[list[dict[str, Task]], BeforeValidator(_task_items)]


# --- the workflow -----------------------------------------------------------------


class Document(Model):
    dsl: Annotated[str, Field(pattern=SEMVER)]
    namespace: Annotated[str, Field(pattern=NAME)]
    name: Annotated[str, Field(pattern=NAME)]
    version: Annotated[str, Field(pattern=SEMVER)]
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
    extensions: list[dict[str, Extension]] | None = None
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
    timeout: Timeout | str | None = None
    output: Output | None = None
    schedule: Schedule | None = None
    evaluate: Evaluate | None = None


for _model in (SubscriptionIterator, EventConsumptionStrategy, DoTask, ForkConfig, ForTask,
               ListenTask, Catch, TryTask, Extension, Use, Workflow):
    _model.model_rebuild()
