"""`call: grpc` (dsl-reference "gRPC Call").

The proto (an external resource) is compiled at run time into descriptors
(``_grpc_proto``); ``arguments`` become the request message through the proto3
JSON mapping, and the response comes back through the same mapping: field names
as declared in the proto, enums by name, fields without presence included with
their default values, and 64-bit integers as strings (proto3 JSON writes them so
because JSON numbers lose precision beyond 2^53).

Only unary methods are called; streaming methods are refused by name. The
spec gives no TLS setting: port 443 uses TLS with the system's roots, any other
port is plaintext. Without a port, 50051 (gRPC's customary port) is used.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import grpc
from google.protobuf import json_format

from podium import egress
from podium.auth import authorize
from podium.calls._grpc_proto import Method, Proto, ProtoError, compile_proto
from podium.deployment import deployed_imports
from podium.dsl import model as m
from podium.engine.errors import WorkflowError
from podium.engine.state import TaskRun
from podium.resources import file_path, read_text

DEFAULT_PORT = 50051
TLS_PORT = 443
IDEMPOTENCY_METADATA = "idempotency-key"

# gRPC status → the HTTP status of the communication error (the mapping of
# grpc-gateway, narrowed to what a workflow is likely to branch on).
_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.UNAVAILABLE: 503,
}

# Channels are bound to the event loop that created them, hence one set per
# loop; a loop that goes away takes its set with it. Bounded: the least recently
# used channel is closed when a loop talks to too many services.
_MAX_CHANNELS = 32
_channels: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, OrderedDict[str, grpc.aio.Channel]
] = weakref.WeakKeyDictionary()
_closing: set[asyncio.Task[None]] = set()


async def execute(task: m.CallGRPC, run: TaskRun) -> Any:
    args = task.with_
    where = run.reference
    method = await _method(args, run)
    if method.kind != "unary":
        raise WorkflowError.configuration(
            f"'{method.path}' is a {method.kind} method: only unary gRPC methods can be "
            "called", where,
        )

    arguments = await run.template(args.arguments) if args.arguments is not None else {}
    if not isinstance(arguments, dict):
        raise WorkflowError.expression(
            f"'arguments' must give an object, not {type(arguments).__name__}", where
        )
    try:
        request = json_format.ParseDict(arguments, method.request())
    except json_format.ParseError as exc:
        raise WorkflowError.validation(
            f"the arguments do not fit {method.descriptor.input_type.full_name}: {exc}", where
        ) from None

    metadata: list[tuple[str, str]] = []
    if args.service.authentication is not None:
        authorization = await authorize(args.service.authentication, run)
        run.authorization = authorization.descriptor()
        metadata.append(("authorization", authorization.header))
    if run.instance.journal.enabled:
        # A call in flight when a process died runs again after recovery
        # (at-least-once); the key lets the service recognise the repeat.
        metadata.append((IDEMPOTENCY_METADATA, f"{run.instance.id}:{run.position}"))

    port = args.service.port if args.service.port is not None else DEFAULT_PORT
    target = f"{args.service.host}:{port}"
    await egress.check_host(args.service.host, port, run.instance.services.settings, where)
    call = _channel(target, secure=port == TLS_PORT).unary_unary(
        method.path,
        request_serializer=_serialize,
        response_deserializer=method.response.FromString,
    )
    try:
        response = await call(request, metadata=metadata)
    except grpc.aio.AioRpcError as exc:
        raise _error(exc, method.path, target, where) from None
    return json_format.MessageToDict(
        response, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


async def _method(args: m.GRPCArguments, run: TaskRun) -> Method:
    text, uri = await read_text(args.proto, run)
    definition = run.instance.definition
    # A deployed proto brings its imports along; one read from disk finds them there.
    imports = deployed_imports(uri, text, definition.resources) if (
        uri in definition.resources) else {}
    try:
        proto = await asyncio.to_thread(_compile, text, uri, definition.source, imports)
        return proto.method(args.service.name, args.method)
    except ProtoError as exc:
        raise WorkflowError.configuration(f"proto {uri}: {exc}", run.reference) from None


def _compile(text: str, uri: str, workflow_source: str | None,
             imports: dict[str, str]) -> Proto:
    parsed = urlparse(uri)
    name = Path(parsed.path).name
    include = None
    if parsed.scheme in ("", "file") and not imports:
        # Imports of a proto read from disk resolve next to it, as with protoc
        # (file://protos/x.proto names the relative path protos/x.proto).
        path = egress.workflow_directory(workflow_source) / file_path(uri)
        if path.is_file():
            include = str(path.parent.resolve())
    return compile_proto(text, name if name.endswith(".proto") else "service.proto", include,
                         imports)


def _serialize(message: Any) -> bytes:
    data: bytes = message.SerializeToString()
    return data


def _channel(target: str, secure: bool) -> grpc.aio.Channel:
    channels = _channels.setdefault(asyncio.get_running_loop(), OrderedDict())
    key = f"{'tls' if secure else 'plain'}:{target}"
    channel = channels.get(key)
    if channel is not None:
        channels.move_to_end(key)
        return channel
    channel = (
        grpc.aio.secure_channel(target, grpc.ssl_channel_credentials())
        if secure
        else grpc.aio.insecure_channel(target)
    )
    channels[key] = channel
    if len(channels) > _MAX_CHANNELS:
        _, evicted = channels.popitem(last=False)
        # Calls still in flight on it get a grace period to finish.
        closing = asyncio.create_task(evicted.close(grace=30))
        _closing.add(closing)
        closing.add_done_callback(_closing.discard)
    return channel


def _error(exc: grpc.aio.AioRpcError, path: str, target: str, where: str) -> WorkflowError:
    code = exc.code()
    details = exc.details() or code.name
    detail = f"{path} on {target} answered {code.name}: {details}"
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return WorkflowError.timeout(detail, where)
    return WorkflowError.communication(
        detail, status=_STATUS.get(code, 500), title=_title(code), instance=where
    )


def _title(code: grpc.StatusCode) -> str:
    return code.name.replace("_", " ").title()
