"""Proto text → descriptors and message classes, compiled in-process.

``grpc_tools.protoc`` writes a ``FileDescriptorSet`` (with its imports, the
well-known types included) that is loaded into a private ``DescriptorPool`` per
proto: two workflows may use different protos that declare the same names, so
nothing goes into protobuf's default pool and no code is generated. Compiled
protos are cached by text, bounded.
"""

from __future__ import annotations

import hashlib
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from grpc_tools import _protoc_compiler, protoc

_WELL_KNOWN = str(resources.files("grpc_tools") / "_proto")
_CACHE_SIZE = 64
_cache: OrderedDict[tuple[str, str, str | None], Proto] = OrderedDict()
# protoc keeps no state between runs, but its Python binding is not documented
# as thread-safe, and compiling is rare (once per proto text).
_lock = threading.Lock()


class ProtoError(Exception):
    """The proto does not compile, or does not declare what is asked for."""


@dataclass(frozen=True)
class Method:
    path: str  # "/package.Service/Method", the HTTP/2 path of the call
    descriptor: MethodDescriptor
    request: type[Any]
    response: type[Any]

    @property
    def kind(self) -> str:
        client, server = self.descriptor.client_streaming, self.descriptor.server_streaming
        if client and server:
            return "bidirectional streaming"
        if client:
            return "client streaming"
        if server:
            return "server streaming"
        return "unary"


@dataclass(frozen=True)
class Proto:
    pool: descriptor_pool.DescriptorPool
    files: tuple[str, ...]  # the files compiled from the text (not its imports)

    def service(self, name: str) -> ServiceDescriptor:
        """A service by its full name (``package.Service``), or by its simple name
        when only one service has it."""
        try:
            return self.pool.FindServiceByName(name)
        except KeyError:
            pass
        found = [
            service
            for file in self.files
            for service in self.pool.FindFileByName(file).services_by_name.values()
            if service.name == name
        ]
        if len(found) == 1:
            return found[0]
        known = sorted(
            service.full_name
            for file in self.files
            for service in self.pool.FindFileByName(file).services_by_name.values()
        )
        raise ProtoError(
            f"the proto declares no service '{name}'"
            + (f" (it declares {', '.join(known)})" if known else " (it declares none)")
        )

    def method(self, service_name: str, method_name: str) -> Method:
        service = self.service(service_name)
        descriptor = service.methods_by_name.get(method_name)
        if descriptor is None:
            known = ", ".join(sorted(service.methods_by_name)) or "none"
            raise ProtoError(
                f"service '{service.full_name}' has no method '{method_name}' "
                f"(it has {known})"
            )
        return Method(
            path=f"/{service.full_name}/{descriptor.name}",
            descriptor=descriptor,
            request=message_factory.GetMessageClass(descriptor.input_type),
            response=message_factory.GetMessageClass(descriptor.output_type),
        )


def compile_proto(
    text: str, filename: str = "service.proto", include: str | None = None,
    imports: Mapping[str, str] | None = None,
) -> Proto:
    """Compile ``text`` as ``filename``; ``include`` is a directory its imports
    may come from (besides the well-known types), ``imports`` the texts of
    imports by name (those deployed with a definition). Blocking: call it in a
    thread."""
    given = sorted((imports or {}).items())
    digest = hashlib.sha256(text.encode())
    for name, imported in given:
        digest.update(f"\0{name}\0{imported}".encode())
    key = (digest.hexdigest(), filename, include)
    with _lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
            return cached
        proto = _compile(text, filename, include, dict(given))
        _cache[key] = proto
        if len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
        return proto


def _compile(text: str, filename: str, include: str | None, imports: dict[str, str]) -> Proto:
    with tempfile.TemporaryDirectory(prefix="podium-proto-") as tmp:
        for name, imported in imports.items():
            target = Path(tmp) / name
            if not target.resolve().is_relative_to(Path(tmp).resolve()):
                raise ProtoError(f"import {name!r} leaves the proto's directory")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(imported, encoding="utf-8")
        (Path(tmp) / filename).write_text(text, encoding="utf-8")
        out = Path(tmp) / "descriptors.pb"
        paths = [tmp, *([include] if include else []), _WELL_KNOWN]
        status = protoc.main([
            "protoc",
            *(f"--proto_path={path}" for path in paths),
            "--include_imports",
            f"--descriptor_set_out={out}",
            filename,
        ])
        if status != 0:
            raise ProtoError(_diagnose(filename, paths))
        descriptors = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    # --include_imports lists dependencies before the files that import them.
    for file in descriptors.file:
        pool.Add(file)
    return Proto(pool, (filename,))


def _diagnose(filename: str, paths: list[str]) -> str:
    """protoc's messages. ``protoc.main`` prints them on the process's stderr,
    out of reach; the code generator entry point of the same compiler raises
    them instead, so a failed compilation is run again through it."""
    try:
        _protoc_compiler.get_protos(filename.encode(), [path.encode() for path in paths])
    except _protoc_compiler.ProtocErrors as exc:
        messages = []
        for error in exc.errors():
            where = error.filename.decode(errors="replace")
            if error.line >= 0:  # zero-based; protoc's own output counts from 1
                where += f":{error.line + 1}:{error.column + 1}"
            messages.append(f"{where}: {error.message.decode(errors='replace')}")
        if messages:
            return "; ".join(messages)
    return f"protoc could not compile {filename}"
