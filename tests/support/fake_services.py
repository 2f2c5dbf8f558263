"""Local stand-ins for petstore.swagger.io and httpbin.org.

The test machines have no internet, yet the official CTK calls both hosts. This
module serves just enough of each, faithfully enough that a workflow cannot tell
the difference: the Swagger petstore under ``/petstore/v2`` (described by OpenAPI 3
at ``/petstore/v3/openapi.yaml`` too) and httpbin under ``/httpbin``, from one
uvicorn server on 127.0.0.1 with an ephemeral port.

    with FakeServices() as services:
        httpx.get(f"{services.url}/petstore/v2/pet/1")
        assert services.hits["/petstore/v2/pet/1"] == 1
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import random
import socket
import threading
import time
from collections import Counter
from types import TracebackType
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

PETSTORE_BASE_PATH = "/petstore/v2"
HTTPBIN_BASE_PATH = "/httpbin"
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class RecordedRequest(NamedTuple):
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names, as ASGI delivers them


# --- petstore --------------------------------------------------------------------

PET_STATUSES = ("available", "pending", "sold")


def _pet(pet_id: int) -> dict[str, Any]:
    # Odd ids are available so that ``findByStatus?status=available`` always has
    # several answers; the rest alternate between pending and sold.
    status = "available" if pet_id % 2 else PET_STATUSES[1 + (pet_id // 2) % 2]
    return {
        "id": pet_id,
        "category": {"id": 1, "name": "Dogs"},
        "name": f"doggie-{pet_id}",
        "photoUrls": [f"https://example.com/photos/{pet_id}.png"],
        "tags": [{"id": pet_id, "name": f"tag-{pet_id}"}],
        "status": status,
    }


PETS = {pet_id: _pet(pet_id) for pet_id in range(1, 11)}


def _petstore_error(status: int, message: str, code: int | None = None) -> JSONResponse:
    # The real petstore answers errors with its ApiResponse shape.
    body = {"code": code if code is not None else status, "type": "unknown", "message": message}
    return JSONResponse(body, status_code=status)


async def find_pets_by_status(request: Request) -> Response:
    # Swagger declares ``status`` as ``collectionFormat: multi``; clients also send
    # comma-separated values, which the real server accepts too.
    wanted = {
        status
        for value in request.query_params.getlist("status")
        for status in value.split(",")
        if status
    }
    return JSONResponse([pet for pet in PETS.values() if pet["status"] in wanted])


async def get_pet_by_id(request: Request) -> Response:
    raw = request.path_params["petId"]
    try:
        pet_id = int(raw)
    except ValueError:
        # The real server fails to bind the path parameter and answers 404.
        return _petstore_error(404, f'java.lang.NumberFormatException: For input string: "{raw}"')
    pet = PETS.get(pet_id)
    if pet is None:
        return JSONResponse({"code": 1, "type": "error", "message": "Pet not found"}, 404)
    return JSONResponse(pet)


async def add_pet(request: Request) -> Response:
    try:
        pet = json.loads(await request.body())
    except ValueError:
        pet = None
    if not isinstance(pet, dict):
        return _petstore_error(405, "Invalid input")
    # Echo only: creating never changes what later reads see, so tests sharing
    # the session-scoped server stay independent.
    return JSONResponse({"id": max(PETS) + 1, **pet})


def swagger_document(host: str) -> dict[str, Any]:
    """A small Swagger 2.0 description of the operations served here."""
    pet_ref = {"$ref": "#/definitions/Pet"}
    return {
        "swagger": "2.0",
        "info": {"title": "Swagger Petstore", "version": "1.0.7"},
        "host": host,
        "basePath": PETSTORE_BASE_PATH,
        "schemes": ["http"],
        "tags": [{"name": "pet", "description": "Everything about your Pets"}],
        "paths": {
            "/pet": {
                "post": {
                    "tags": ["pet"],
                    "summary": "Add a new pet to the store",
                    "operationId": "addPet",
                    "consumes": ["application/json"],
                    "produces": ["application/json"],
                    "parameters": [
                        {"in": "body", "name": "body", "required": True, "schema": pet_ref}
                    ],
                    "responses": {
                        "200": {"description": "successful operation", "schema": pet_ref},
                        "405": {"description": "Invalid input"},
                    },
                }
            },
            "/pet/findByStatus": {
                "get": {
                    "tags": ["pet"],
                    "summary": "Finds Pets by status",
                    "operationId": "findPetsByStatus",
                    "produces": ["application/json"],
                    "parameters": [
                        {
                            "name": "status",
                            "in": "query",
                            "required": True,
                            "type": "array",
                            "items": {
                                "type": "string",
                                "enum": list(PET_STATUSES),
                                "default": "available",
                            },
                            "collectionFormat": "multi",
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "successful operation",
                            "schema": {"type": "array", "items": pet_ref},
                        },
                        "400": {"description": "Invalid status value"},
                    },
                }
            },
            "/pet/{petId}": {
                "get": {
                    "tags": ["pet"],
                    "summary": "Find pet by ID",
                    "operationId": "getPetById",
                    "produces": ["application/json"],
                    "parameters": [
                        {
                            "name": "petId",
                            "in": "path",
                            "required": True,
                            "type": "integer",
                            "format": "int64",
                        }
                    ],
                    "responses": {
                        "200": {"description": "successful operation", "schema": pet_ref},
                        "400": {"description": "Invalid ID supplied"},
                        "404": {"description": "Pet not found"},
                    },
                }
            },
        },
        "definitions": {
            "Category": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer", "format": "int64"},
                    "name": {"type": "string"},
                },
            },
            "Tag": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer", "format": "int64"},
                    "name": {"type": "string"},
                },
            },
            "Pet": {
                "type": "object",
                "required": ["name", "photoUrls"],
                "properties": {
                    "id": {"type": "integer", "format": "int64"},
                    "category": {"$ref": "#/definitions/Category"},
                    "name": {"type": "string", "example": "doggie"},
                    "photoUrls": {"type": "array", "items": {"type": "string"}},
                    "tags": {"type": "array", "items": {"$ref": "#/definitions/Tag"}},
                    "status": {
                        "type": "string",
                        "description": "pet status in the store",
                        "enum": list(PET_STATUSES),
                    },
                },
            },
        },
    }


async def swagger_json(request: Request) -> Response:
    # The host comes from the request so a client building URLs from the
    # document lands back on this server, whatever port it got.
    host = request.headers.get("host", f"{request.url.hostname}:{request.url.port}")
    return JSONResponse(swagger_document(host))


# The same petstore described by OpenAPI 3 (YAML), with a relative server URL
# (resolved against the document's own URI) and an operation served by httpbin.
OPENAPI3_BASE_PATH = "/petstore/v3"
OPENAPI3_DOCUMENT = """\
openapi: 3.0.3
info: {title: Swagger Petstore (OpenAPI 3), version: 1.0.7}
servers:
  - url: '{base}/v2'
    variables:
      base: {default: ../../petstore}
paths:
  /pet:
    post:
      operationId: addPet
      requestBody: {$ref: '#/components/requestBodies/Pet'}
      responses:
        '200':
          description: successful operation
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Pet'}
  /pet/findByStatus:
    get:
      operationId: findPetsByStatus
      parameters:
        - name: status
          in: query
          required: true
          schema: {type: array, items: {type: string}}
      responses:
        '200': {description: successful operation, content: {application/json: {}}}
  /pet/{petId}:
    parameters:
      - $ref: '#/components/parameters/petId'
    get:
      operationId: getPetById
      responses:
        '200': {description: successful operation, content: {application/json: {}}}
  /anything/{path}:
    servers:
      - url: /httpbin
    post:
      operationId: echo
      parameters:
        - {name: path, in: path, required: true, schema: {type: array}}
        - {name: tags, in: query, explode: false, schema: {type: array}}
        - {name: filter, in: query, style: deepObject, schema: {type: object}}
        - {name: X-Trace, in: header, schema: {type: string}}
        - {name: session, in: cookie, schema: {type: string}}
      requestBody:
        content:
          application/json: {}
      responses:
        '200': {description: the request, echoed, content: {application/json: {}}}
  /bearer:
    servers:
      - url: /httpbin
    get:
      operationId: whoAmI
      responses:
        '200': {description: the token, content: {application/json: {}}}
components:
  parameters:
    petId: {name: petId, in: path, required: true, schema: {type: integer}}
  requestBodies:
    Pet:
      required: true
      content:
        application/json:
          schema: {$ref: '#/components/schemas/Pet'}
  schemas:
    Pet:
      type: object
      required: [name, photoUrls]
      properties:
        id: {type: integer}
        name: {type: string}
        photoUrls: {type: array, items: {type: string}}
"""


async def openapi3_yaml(request: Request) -> Response:
    return Response(OPENAPI3_DOCUMENT, media_type="application/yaml")


OPENAPI3_ROUTES = [Route("/openapi.yaml", openapi3_yaml, methods=["GET"])]


PETSTORE_ROUTES = [
    Route("/swagger.json", swagger_json, methods=["GET"]),
    Route("/pet", add_pet, methods=["POST"]),
    # Declared before ``/pet/{petId}``, which would otherwise capture it.
    Route("/pet/findByStatus", find_pets_by_status, methods=["GET"]),
    Route("/pet/{petId}", get_pet_by_id, methods=["GET"]),
]


# --- httpbin ---------------------------------------------------------------------


def _title_case(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


def _headers(request: Request) -> dict[str, str]:
    # httpbin reports header names title-cased, as most clients send them.
    return {_title_case(name): value for name, value in request.headers.items()}


def _multi_dict(pairs: list[tuple[str, str]]) -> dict[str, str | list[str]]:
    # httpbin collapses a key seen once to a string and keeps repeats as a list.
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return {key: values[0] if len(values) == 1 else values for key, values in grouped.items()}


async def _echo(request: Request) -> dict[str, Any]:
    body = await request.body()
    form: dict[str, str | list[str]] = {}
    data = ""
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = _multi_dict(parse_qsl(body.decode("latin-1"), keep_blank_values=True))
    else:
        try:
            data = body.decode("utf-8")
        except UnicodeDecodeError:
            data = "data:application/octet-stream;base64," + base64.b64encode(body).decode()
    try:
        parsed = json.loads(data) if data else None
    except ValueError:
        parsed = None
    return {
        "args": _multi_dict(request.query_params.multi_items()),
        "data": data,
        "files": {},
        "form": form,
        "headers": _headers(request),
        "json": parsed,
        "method": request.method,
        "origin": request.client.host if request.client else "127.0.0.1",
        "url": str(request.url),
    }


async def anything(request: Request) -> Response:
    return JSONResponse(await _echo(request))


async def basic_auth(request: Request) -> Response:
    expected = f"{request.path_params['user']}:{request.path_params['passwd']}"
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    try:
        given = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        given = None
    if scheme.lower() != "basic" or given != expected:
        return Response(status_code=401, headers={"WWW-Authenticate": 'Basic realm="Fake Realm"'})
    return JSONResponse({"authenticated": True, "user": request.path_params["user"]})


async def bearer(request: Request) -> Response:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
    return JSONResponse({"authenticated": True, "token": token.strip()})


async def status(request: Request) -> Response:
    code = request.path_params["code"]
    # 1xx cannot be a final response; httpbin itself refuses anything unparsable.
    if not code.isdigit() or not 200 <= int(code) <= 599:
        return Response("Invalid status code", status_code=400, media_type="text/plain")
    return Response(status_code=int(code))


async def redirect_to(request: Request) -> Response:
    target = request.query_params.get("url")
    if target is None:
        return Response("Missing url", status_code=400, media_type="text/plain")
    raw_code = request.query_params.get("status_code", "302")
    code = int(raw_code) if raw_code.isdigit() and 300 <= int(raw_code) < 400 else 302
    return Response(status_code=code, headers={"Location": target})


async def headers(request: Request) -> Response:
    return JSONResponse({"headers": _headers(request)})


async def random_bytes(request: Request) -> Response:
    count = min(int(request.path_params["n"]), 100 * 1024)  # httpbin's own cap
    # Seeded so that a test can assert on the exact bytes; pass ?seed= to vary.
    generator = random.Random(int(request.query_params.get("seed", "0")))
    return Response(generator.randbytes(count), media_type="application/octet-stream")


HTML_PAGE = """<!DOCTYPE html>
<html>
  <head></head>
  <body>
      <h1>Herman Melville - Moby-Dick</h1>
      <div><p>Availing himself of the mild, summer-cool weather that now reigned in
      these latitudes, and in preparation for the peculiarly active pursuits shortly
      to be anticipated, Perth, the begrimed, blistered old blacksmith, had not
      removed his portable forge to the hold again.</p></div>
  </body>
</html>
"""


async def html(request: Request) -> Response:
    return HTMLResponse(HTML_PAGE)


async def delay(request: Request) -> Response:
    seconds = min(float(request.path_params["seconds"]), 10.0)  # httpbin's own cap
    await asyncio.sleep(max(seconds, 0.0))
    return JSONResponse(await _echo(request))


HTTPBIN_ROUTES = [
    Route("/anything", anything, methods=ALL_METHODS),
    Route("/anything/{path:path}", anything, methods=ALL_METHODS),
    Route("/basic-auth/{user}/{passwd}", basic_auth, methods=["GET"]),
    Route("/bearer", bearer, methods=["GET"]),
    Route("/status/{code}", status, methods=ALL_METHODS),
    Route("/redirect-to", redirect_to, methods=ALL_METHODS),
    Route("/headers", headers, methods=["GET"]),
    Route("/bytes/{n:int}", random_bytes, methods=["GET"]),
    Route("/html", html, methods=["GET"]),
    Route("/delay/{seconds}", delay, methods=ALL_METHODS),
]


# --- the server ------------------------------------------------------------------


async def _http_error(request: Request, exc: Exception) -> Response:
    # Unmatched paths (``/pet/getPetByName/Milou``) answer JSON like the petstore.
    assert isinstance(exc, HTTPException)
    return _petstore_error(exc.status_code, exc.detail)


async def _ready(request: Request) -> Response:
    return Response(status_code=204)


def create_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/_ready", _ready, methods=["GET"]),
            Mount(PETSTORE_BASE_PATH, routes=PETSTORE_ROUTES),
            Mount(HTTPBIN_BASE_PATH, routes=HTTPBIN_ROUTES),
            Mount(OPENAPI3_BASE_PATH, routes=OPENAPI3_ROUTES),
        ],
        exception_handlers={HTTPException: _http_error},
    )


class FakeServices:
    """Petstore and httpbin on a background uvicorn server; a context manager.

    ``hits`` counts requests per path (query string excluded, e.g.
    ``/petstore/v2/pet/findByStatus``) and ``requests`` lists them in arrival
    order; ``reset()`` clears both.
    """

    def __init__(self, startup_timeout: float = 10.0) -> None:
        self.hits: Counter[str] = Counter()
        self.requests: list[RecordedRequest] = []
        self.url = ""
        self._startup_timeout = startup_timeout
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def petstore_url(self) -> str:
        return self.url + PETSTORE_BASE_PATH

    @property
    def httpbin_url(self) -> str:
        return self.url + HTTPBIN_BASE_PATH

    def reset(self) -> None:
        with self._lock:
            self.hits.clear()
            self.requests.clear()

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("FakeServices is already running")
        # Binding here, not in uvicorn, gives us the port before the thread runs.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        host, port = sock.getsockname()
        config = uvicorn.Config(
            self._recording(create_app()),
            loop="asyncio",
            http="h11",
            ws="none",
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="fake-services", daemon=True
        )
        self._thread.start()
        self.url = f"http://{host}:{port}"
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            sock.close()  # uvicorn closes it on a normal shutdown, not a failed start
            raise
        self.reset()

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=self._startup_timeout)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeServices:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _wait_until_ready(self) -> None:
        assert self._server is not None and self._thread is not None
        deadline = time.monotonic() + self._startup_timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("fake services exited during startup")
            if time.monotonic() > deadline:
                raise TimeoutError("fake services did not start in time")
            time.sleep(0.01)
        response = httpx.get(f"{self.url}/_ready", timeout=self._startup_timeout)
        response.raise_for_status()

    def _recording(self, app: ASGIApp) -> ASGIApp:
        async def record(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                request_headers = {
                    name.decode("latin-1"): value.decode("latin-1")
                    for name, value in scope["headers"]
                }
                with self._lock:
                    self.hits[scope["path"]] += 1
                    self.requests.append(
                        RecordedRequest(scope["method"], scope["path"], request_headers)
                    )
            await app(scope, receive, send)

        return record
