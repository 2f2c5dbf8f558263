"""`call: openapi` (dsl-reference "OpenAPI Call").

The operation named by ``operationId`` is looked up in the document (Swagger
2.0 or OpenAPI 3.x, JSON or YAML, internal ``$ref``s resolved), its
``parameters`` are placed where the operation declares them (path, query,
header, cookie, body), and the request goes through ``call: http``'s
``perform`` (http's) so authentication, ``output`` and ``redirect`` behave the same.

Decisions where the spec is silent:

- The body: a parameter named like the body (Swagger 2 ``in: body`` name;
  OpenAPI 3 ``x-codegen-request-body-name``, else ``body``) is the body;
  otherwise the parameters no other location took form it.
- Parameters the operation does not declare are ignored when there is no body.
- The server: Swagger 2 ``schemes`` (the document's own scheme when listed,
  else https, else the first) + ``host`` (the document's host when missing) +
  ``basePath``; OpenAPI 3 the first of the operation's, path's or document's
  ``servers`` with its variables' defaults, relative to the document URI.
- Values are serialized per ``collectionFormat`` (Swagger 2) or
  ``style``/``explode`` (OpenAPI 3); query strings are built here, in the URI.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlencode, urljoin, urlparse

from podium.calls.http import HttpRequest, perform
from podium.dsl import model as m
from podium.engine.errors import WorkflowError
from podium.engine.state import TaskRun
from podium.resources import read_document

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_MAX_REF_DEPTH = 32
_LISTED_OPERATIONS = 10


@dataclass
class Operation:
    """An operation of the document, with its ``$ref``s resolved."""

    method: str
    path: str
    definition: dict[str, Any]
    parameters: list[dict[str, Any]]
    server: str
    swagger2: bool
    consumes: list[str] = field(default_factory=list)
    produces: list[str] = field(default_factory=list)
    body: dict[str, Any] | None = None  # OpenAPI 3 requestBody


async def execute(task: m.CallOpenAPI, run: TaskRun) -> Any:
    args = task.with_
    document, uri = await read_document(args.document, run)
    operation = find_operation(document, uri, args.operation_id, run.reference)
    values = await run.template(args.parameters) if args.parameters is not None else {}
    if not isinstance(values, dict):
        raise WorkflowError.expression(
            f"'parameters' must give an object, not {type(values).__name__}", run.reference
        )
    request = _Request(operation, values, run)
    return await perform(
        HttpRequest(
            method=operation.method,
            uri=request.uri(),
            headers=dict(request.headers),
            body=request.body,
            authentication=args.authentication,
            output=args.output,
            redirect=args.redirect,
        ),
        run,
    )


# --- the document ---------------------------------------------------------------


def find_operation(document: Any, uri: str, operation_id: str, where: str) -> Operation:
    if not isinstance(document, dict) or not (
        "swagger" in document or "openapi" in document
    ):
        raise WorkflowError.configuration(
            f"{uri} is not an OpenAPI document (no 'swagger' or 'openapi' version)", where
        )
    swagger2 = str(document.get("swagger", "")).startswith("2")
    if not swagger2 and not str(document.get("openapi", "")).startswith("3"):
        version = document.get("openapi", document.get("swagger"))
        raise WorkflowError.configuration(
            f"{uri}: OpenAPI version {version!r} is not supported (Swagger 2.0 and OpenAPI "
            f"3.x are)", where,
        )
    resolver = _Resolver(document, uri, where)
    known: list[str] = []
    for path, raw_item in _mapping(document.get("paths")).items():
        item = _mapping(resolver.resolve(raw_item))
        for method in _METHODS:
            definition = resolver.resolve(item.get(method))
            if not isinstance(definition, dict):
                continue
            found = definition.get("operationId")
            if found != operation_id:
                if isinstance(found, str):
                    known.append(found)
                continue
            parameters = _merge_parameters(
                [resolver.resolve(p) for p in _sequence(item.get("parameters"))],
                [resolver.resolve(p) for p in _sequence(definition.get("parameters"))],
            )
            if swagger2:
                return Operation(
                    method, str(path), definition, parameters,
                    _swagger_server(document, uri, where), True,
                    consumes=_strings(definition.get("consumes", document.get("consumes"))),
                    produces=_strings(definition.get("produces", document.get("produces"))),
                )
            body = resolver.resolve(definition.get("requestBody"))
            servers = (definition.get("servers") or item.get("servers")
                       or document.get("servers"))
            return Operation(
                method, str(path), definition, parameters,
                _openapi_server(servers, uri, where), False,
                produces=_response_media(definition, resolver),
                body=body if isinstance(body, dict) else None,
            )
    listed = ", ".join(sorted(known)[:_LISTED_OPERATIONS])
    more = len(known) - _LISTED_OPERATIONS
    raise WorkflowError.configuration(
        f"operation '{operation_id}' is not in {uri}"
        + (f" (it has {listed}" + (f" and {more} more" if more > 0 else "") + ")"
           if known else " (it has no operations)"),
        where,
    )


class _Resolver:
    """Internal ``$ref``s (``#/definitions/Pet``, ``#/components/parameters/x``)."""

    def __init__(self, document: dict[str, Any], uri: str, where: str) -> None:
        self.document, self.uri, self.where = document, uri, where

    def resolve(self, value: Any) -> Any:
        for _ in range(_MAX_REF_DEPTH):
            if not (isinstance(value, dict) and isinstance(value.get("$ref"), str)):
                return value
            value = self._target(value["$ref"])
        raise WorkflowError.configuration(
            f"{self.uri}: $ref chain deeper than {_MAX_REF_DEPTH} (a cycle?)", self.where
        )

    def _target(self, ref: str) -> Any:
        if not ref.startswith("#"):
            raise WorkflowError.configuration(
                f"{self.uri}: external $ref '{ref}' is not supported (only '#/...' references "
                f"within the document are)", self.where,
            )
        node: Any = self.document
        for token in unquote(ref[1:]).split("/")[1:]:
            key = token.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and key in node:
                node = node[key]
            elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
                node = node[int(key)]
            else:
                raise WorkflowError.configuration(
                    f"{self.uri}: $ref '{ref}' points at nothing", self.where
                )
        return node


def _merge_parameters(
    path_level: list[Any], operation_level: list[Any]
) -> list[dict[str, Any]]:
    # An operation's parameter overrides the path item's one of the same name and location.
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for parameter in [*path_level, *operation_level]:
        if isinstance(parameter, dict) and isinstance(parameter.get("name"), str):
            merged[(parameter["name"], str(parameter.get("in")))] = parameter
    return list(merged.values())


def _swagger_server(document: dict[str, Any], uri: str, where: str) -> str:
    own = urlparse(uri)
    schemes = _strings(document.get("schemes"))
    if not schemes:  # Swagger 2: default to the scheme the document was read with
        scheme = own.scheme if own.scheme in ("http", "https") else "https"
    elif own.scheme in schemes:
        scheme = own.scheme
    else:
        scheme = "https" if "https" in schemes else schemes[0]
    host = document.get("host") or (own.netloc if own.scheme in ("http", "https") else None)
    if not host:
        raise WorkflowError.configuration(
            f"{uri} names no 'host', and a document read from a file has no host to default "
            f"to", where,
        )
    base = str(document.get("basePath") or "/")
    return f"{scheme}://{host}/{base.strip('/')}".rstrip("/")


def _openapi_server(servers: Any, uri: str, where: str) -> str:
    server = _mapping(servers[0]) if isinstance(servers, list) and servers else {}
    url = str(server.get("url") or "/")
    for name, variable in _mapping(server.get("variables")).items():
        default = _mapping(variable).get("default")
        if default is None:
            raise WorkflowError.configuration(
                f"{uri}: server variable '{name}' has no default", where
            )
        url = url.replace("{" + str(name) + "}", str(default))
    if not urlparse(url).scheme:
        if urlparse(uri).scheme not in ("http", "https"):
            raise WorkflowError.configuration(
                f"{uri}: the server URL '{url}' is relative, and a document read from a file "
                f"gives it no base", where,
            )
        url = urljoin(uri, url)
    return url.rstrip("/")


def _response_media(definition: dict[str, Any], resolver: _Resolver) -> list[str]:
    media: list[str] = []
    for status, response in _mapping(definition.get("responses")).items():
        if str(status).startswith("2") or status == "default":
            for name in _mapping(_mapping(resolver.resolve(response)).get("content")):
                if name not in media:
                    media.append(str(name))
    return media


# --- the request ----------------------------------------------------------------


class _Request:
    """Where each parameter goes, serialized."""

    def __init__(self, operation: Operation, values: dict[str, Any], run: TaskRun) -> None:
        self.operation = operation
        self.where = run.reference
        self.path = operation.path
        self.query: list[tuple[str, str]] = []
        self.headers: dict[str, str] = {}
        self.body: Any = None
        cookies: list[str] = []
        used: set[str] = set()
        body_parameter: dict[str, Any] | None = None
        form: dict[str, Any] = {}
        for parameter in operation.parameters:
            name, location = parameter["name"], parameter.get("in")
            if location == "body":
                body_parameter = parameter
                continue
            value = values.get(name)
            if value is None:
                if parameter.get("required") or location == "path":
                    raise self._missing(name, str(location))
                continue
            used.add(name)
            if location == "path":
                self.path = self.path.replace("{" + name + "}", self._path_value(parameter, value))
            elif location == "query":
                self.query.extend(self._query_pairs(parameter, value))
            elif location == "header":
                self.headers[name] = self._joined(parameter, value, "simple")
            elif location == "cookie":
                cookies.append(f"{name}={quote(self._joined(parameter, value, 'form'))}")
            elif location == "formData":
                form[name] = value
        if cookies:
            self.headers["Cookie"] = "; ".join(cookies)
        unused = {k: v for k, v in values.items() if k not in used}
        if operation.swagger2:
            self._swagger_body(body_parameter, form, unused)
        else:
            self._openapi_body(unused)
        accept = _preferred(operation.produces)
        if accept:
            self.headers.setdefault("Accept", accept)

    def uri(self) -> str:
        if "{" in self.path:
            raise WorkflowError.configuration(
                f"path '{self.path}' of operation '{self.operation.definition.get('operationId')}'"
                f" has a placeholder no path parameter declares", self.where,
            )
        uri = self.operation.server + self.path
        return uri + ("?" + urlencode(self.query) if self.query else "")

    def _missing(self, name: str, location: str) -> WorkflowError:
        return WorkflowError.validation(
            f"operation '{self.operation.definition.get('operationId')}' requires the {location} "
            f"parameter '{name}'", self.where,
        )

    def _swagger_body(
        self, parameter: dict[str, Any] | None, form: dict[str, Any], unused: dict[str, Any]
    ) -> None:
        consumes = self.operation.consumes
        if parameter is not None:
            name = parameter["name"]
            if name in unused:
                self.body = unused[name]
            elif unused:
                self.body = unused
            elif parameter.get("required"):
                raise self._missing(name, "body")
            if self.body is not None:
                self._content_type(_preferred(consumes) or "application/json")
        elif form:
            if any(media.startswith("multipart/") for media in consumes) and not any(
                "x-www-form-urlencoded" in media for media in consumes
            ):
                raise WorkflowError.configuration(
                    "multipart/form-data request bodies are not supported by call: openapi",
                    self.where,
                )
            self.body = {k: _scalar(v) for k, v in form.items()}
            self._content_type("application/x-www-form-urlencoded")

    def _openapi_body(self, unused: dict[str, Any]) -> None:
        request_body = self.operation.body
        if request_body is None:
            return
        name = str(request_body.get("x-codegen-request-body-name") or "body")
        if name in unused:
            self.body = unused[name]
        elif unused:
            self.body = unused
        elif request_body.get("required"):
            raise self._missing(name, "body")
        if self.body is None:
            return
        media = _preferred([str(k) for k in _mapping(request_body.get("content"))])
        if media.startswith("multipart/"):
            raise WorkflowError.configuration(
                "multipart/form-data request bodies are not supported by call: openapi",
                self.where,
            )
        if "x-www-form-urlencoded" in media and isinstance(self.body, dict):
            self.body = {k: _scalar(v) for k, v in self.body.items()}
        self._content_type(media or "application/json")

    def _content_type(self, media: str) -> None:
        if not any(k.lower() == "content-type" for k in self.headers):
            self.headers["Content-Type"] = media

    # Serialization: Swagger 2 collectionFormat, OpenAPI 3 style/explode.

    def _style(self, parameter: dict[str, Any], default: str) -> tuple[str, bool]:
        if self.operation.swagger2:
            fmt = str(parameter.get("collectionFormat", "csv"))
            return fmt, fmt == "multi"
        style = str(parameter.get("style", default))
        return style, bool(parameter.get("explode", style == "form"))

    def _path_value(self, parameter: dict[str, Any], value: Any) -> str:
        style, explode = self._style(parameter, "simple")
        name = parameter["name"]
        if style == "label":
            return "." + _join(value, "." if explode else ",", explode, encode=True)
        if style == "matrix":
            if isinstance(value, list) and explode:
                return "".join(f";{name}={quote(_scalar(v), safe='')}" for v in value)
            if isinstance(value, dict) and explode:
                return "".join(f";{k}={quote(_scalar(v), safe='')}" for k, v in value.items())
            return f";{name}=" + _join(value, ",", False, encode=True)
        return _join(value, _SEPARATORS.get(style, ","), explode, encode=True)

    def _joined(self, parameter: dict[str, Any], value: Any, default: str) -> str:
        style, explode = self._style(parameter, default)
        return _join(value, _SEPARATORS.get(style, ","), explode and style != "form")

    def _query_pairs(self, parameter: dict[str, Any], value: Any) -> list[tuple[str, str]]:
        style, explode = self._style(parameter, "form")
        name = parameter["name"]
        if isinstance(value, list):
            if explode:
                return [(name, _scalar(v)) for v in value]
            return [(name, _SEPARATORS.get(style, ",").join(_scalar(v) for v in value))]
        if isinstance(value, dict):
            if style == "deepObject":
                return [(f"{name}[{k}]", _scalar(v)) for k, v in value.items()]
            if explode:
                return [(str(k), _scalar(v)) for k, v in value.items()]
            return [(name, ",".join(f"{k},{_scalar(v)}" for k, v in value.items()))]
        return [(name, _scalar(value))]


_SEPARATORS = {
    "csv": ",", "ssv": " ", "tsv": "\t", "pipes": "|", "simple": ",", "form": ",",
    "spaceDelimited": " ", "pipeDelimited": "|",
}


def _join(value: Any, separator: str, explode: bool, encode: bool = False) -> str:
    def text(item: Any) -> str:
        return quote(_scalar(item), safe="") if encode else _scalar(item)

    if isinstance(value, list):
        return separator.join(text(v) for v in value)
    if isinstance(value, dict):
        if explode:
            return separator.join(f"{k}={text(v)}" for k, v in value.items())
        return separator.join(f"{k}{separator}{text(v)}" for k, v in value.items())
    return text(value)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _preferred(media: list[str]) -> str:
    """JSON when offered, else the first media type."""
    for name in media:
        base = name.split(";")[0].strip().lower()
        if base == "application/json" or base.endswith("+json"):
            return name
    return media[0] if media else ""


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _sequence(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []
