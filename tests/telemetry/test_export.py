"""Spans leave the process as the operator says: over OTLP/HTTP to the endpoint
of the standard ``OTEL_EXPORTER_OTLP_ENDPOINT`` variable (here a local stand-in
of a collector), or to stderr with ``--traces console``."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.cli.support import COMMAND, EXAMPLES, environment
from tests.support.threaded_server import ThreadedServer


class Collector:
    """Receives OTLP/HTTP protobuf exports at /v1/traces."""

    def __init__(self) -> None:
        self.exports: list[ExportTraceServiceRequest] = []

        async def traces(request: Request) -> Response:
            export = ExportTraceServiceRequest()
            export.ParseFromString(await request.body())
            self.exports.append(export)
            return Response(ExportTraceServiceResponse().SerializeToString(),
                            media_type="application/x-protobuf")

        self.app = Starlette(routes=[Route("/v1/traces", traces, methods=["POST"])])

    def spans(self) -> dict[str, dict[str, str]]:
        """Span name: its string attributes, and the resource's service.name."""
        found = {}
        for export in self.exports:
            for resource in export.resource_spans:
                service = {a.key: a.value.string_value for a in resource.resource.attributes}
                for scope in resource.scope_spans:
                    for span in scope.spans:
                        found[span.name] = {
                            **{a.key: a.value.string_value for a in span.attributes},
                            "service.name": service["service.name"],
                        }
        return found


@pytest.fixture
def collector() -> Iterator[tuple[Collector, str]]:
    receiver = Collector()
    with ThreadedServer(receiver.app) as server:
        yield receiver, f"http://127.0.0.1:{server.port}"


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in environment(env).items()
               if not k.startswith("OTEL_") or k in env}
    return subprocess.run([*COMMAND, "run", str(EXAMPLES / "hello.yaml"), *args],
                          capture_output=True, text=True, env=environ, timeout=60)


def test_the_otlp_endpoint_variable_exports_the_spans(collector: tuple[Collector, str]) -> None:
    receiver, url = collector
    done = run("--input", '{"name": "Ada"}', env={"OTEL_EXPORTER_OTLP_ENDPOINT": url,
                                                 "OTEL_SERVICE_NAME": "billing"})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"greeting": "Hello, Ada!"}
    spans = receiver.spans()
    assert set(spans) == {"workflow examples/hello", "/do/0/greet"}
    assert spans["/do/0/greet"]["podium.task.kind"] == "set"
    assert spans["workflow examples/hello"]["service.name"] == "billing"


def test_console_spans_go_to_stderr_and_stdout_keeps_the_output() -> None:
    done = run("--traces", "console", env={})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"greeting": "Hello, world!"}
    assert '"name": "workflow examples/hello"' in done.stderr


def test_without_an_exporter_no_tracing_library_is_loaded() -> None:
    probe = ("import sys, asyncio; from podium.cli import main; sys.argv = ['podium', 'run', "
             f"{str(EXAMPLES / 'hello.yaml')!r}]\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'opentelemetry', "
             "'prometheus_client'}), file=sys.stderr)")
    environ = {k: v for k, v in environment().items() if not k.startswith("OTEL_")}
    done = subprocess.run([COMMAND[0], "-c", probe], capture_output=True, text=True,
                          env=environ, timeout=60)
    assert done.stderr.strip().splitlines()[-1] == "[]", done.stderr
