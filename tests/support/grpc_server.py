"""A real gRPC server for ``call: grpc`` tests: ``podium.test.Greeter`` of
``protos/greeter.proto``, served from descriptors compiled at test time (no
generated code)."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

import grpc
from google.protobuf import json_format

from podium.calls._grpc_proto import compile_proto

PROTO = Path(__file__).parent / "protos" / "greeter.proto"
SERVICE = "podium.test.Greeter"


class GreeterServer:
    """``async with GreeterServer() as server``: listening on 127.0.0.1:``port``;
    ``calls`` holds each request (proto3 JSON) with its metadata."""

    def __init__(self) -> None:
        proto = compile_proto(PROTO.read_text(), PROTO.name)
        self._hello = proto.method(SERVICE, "SayHello")
        self.port = 0
        self.calls: list[tuple[dict[str, Any], dict[str, str]]] = []
        self._server: grpc.aio.Server | None = None

    async def __aenter__(self) -> GreeterServer:
        server = grpc.aio.server()
        handler: grpc.RpcMethodHandler[Any, Any] = grpc.unary_unary_rpc_method_handler(
            self._say_hello,
            request_deserializer=self._hello.request.FromString,
            response_serializer=lambda message: message.SerializeToString(),
        )
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(SERVICE, {"SayHello": handler}),)
        )
        self.port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        self._server = server
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            await self._server.stop(grace=None)

    async def _say_hello(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        metadata = {str(k): str(v) for k, v in context.invocation_metadata() or ()}
        self.calls.append((json_format.MessageToDict(request, preserving_proto_field_name=True),
                           metadata))
        if request.name == "nobody":
            await context.abort(grpc.StatusCode.NOT_FOUND, "no person named nobody")
        greeting = self._hello.response()
        greeting.message = f"Hello, {request.name}!"
        greeting.id = request.id * 2
        greeting.tags.extend(sorted(request.tags))
        greeting.mood = request.mood
        greeting.address.CopyFrom(request.address)
        greeting.authorization = metadata.get("authorization", "")
        return greeting
