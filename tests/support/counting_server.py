"""A small HTTP service that counts calls per ``Idempotency-Key``, for durability tests.

Workflows call it with ``call: http``; the tests then check that every effect
reached it exactly once (or, for a call in flight when a worker died, again
with the same key) and when each arrived.

    GET /ok/<name>               200 {"name": ..., "key": <Idempotency-Key>}
    GET /ok/<name>?delay=2.5     the same, answered 2.5 s later (a kill window)
    GET /flaky/<name>?fail=2     503 for the first two requests to this name, then 200

A delayed answer watches its connection: when the client goes away (a worker
killed mid-call) the request is recorded as ``abandoned`` and never answered.
It is stdlib only (a threading server), so it can outlive worker processes
that call it and needs no event loop.

    with CountingServer() as server:
        ...  # workflows use server.url
        assert server.received(f"{instance_id}:/do/1/charge") == 1
        assert server.named("charge")[0].headers["x-api-key"] == ...  # headers as received
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlsplit


@dataclass
class Hit:
    """One request as the server saw it."""

    name: str
    key: str | None
    received_at: float  # time.time()
    status: int = 0  # 0 while pending or when abandoned
    abandoned: bool = False  # the client went away before the answer
    headers: dict[str, str] = field(default_factory=dict)  # names lower-cased


class CountingServer:
    """A context manager serving on 127.0.0.1 with an ephemeral port."""

    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self._failures: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        server = self
        self._http = _Server(("127.0.0.1", 0), _handler(server))
        port = self._http.server_address[1]
        self.url = f"http://127.0.0.1:{port}"
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.05},
            name="counting-server", daemon=True,
        )

    def __enter__(self) -> CountingServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(5)

    # what the tests ask ---------------------------------------------------------------

    def received(self, key: str) -> int:
        """How many requests carried this idempotency key."""
        with self._lock:
            return sum(1 for hit in self.hits if hit.key == key)

    def by_key(self) -> Counter[str | None]:
        with self._lock:
            return Counter(hit.key for hit in self.hits)

    def named(self, name: str) -> list[Hit]:
        with self._lock:
            return [hit for hit in self.hits if hit.name == name]

    def wait_for(self, name: str, count: int = 1, timeout: float = 10.0) -> list[Hit]:
        """Block until ``count`` requests for ``name`` arrived (call it in a thread
        from async code, or poll ``named``)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [hit for hit in self.hits if hit.name == name]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{count} request(s) for {name!r} did not arrive: {found}")
                self._changed.wait(left)

    # serving ----------------------------------------------------------------------------

    def _record(self, hit: Hit) -> None:
        with self._changed:
            self.hits.append(hit)
            self._changed.notify_all()

    def _should_fail(self, name: str, failures: int) -> bool:
        with self._lock:
            self._failures[name] += 1
            return self._failures[name] <= failures


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that dies mid-answer (a killed worker) is expected here.
        pass


def _handler(server: CountingServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            self._serve()

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            kind, _, name = parts.path.strip("/").partition("/")
            hit = Hit(name=name, key=self.headers.get("Idempotency-Key"),
                      received_at=time.time(),
                      headers={k.lower(): v for k, v in self.headers.items()})
            server._record(hit)
            if kind not in ("ok", "flaky") or not name:
                self._answer(hit, 404, {"error": f"no route {parts.path}"})
                return
            delay = float(query.get("delay", 0))
            if delay and not self._client_stays(delay):
                hit.abandoned = True
                return
            if kind == "flaky" and server._should_fail(name, int(query.get("fail", 1))):
                self._answer(hit, 503, {"error": "try again"})
                return
            self._answer(hit, 200, {"name": name, "key": hit.key})

        def _client_stays(self, seconds: float) -> bool:
            """Wait ``seconds``; False as soon as the client closes its connection."""
            deadline = time.monotonic() + seconds
            connection: socket.socket = self.connection
            while (left := deadline - time.monotonic()) > 0:
                readable, _, _ = select.select([connection], [], [], min(left, 0.05))
                if readable:
                    try:
                        if not connection.recv(1, socket.MSG_PEEK):
                            return False
                    except OSError:
                        return False
            return True

        def _answer(self, hit: Hit, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()
            except OSError:
                hit.abandoned = True
                return
            hit.status = status

    return Handler
