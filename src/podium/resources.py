"""External resources (dsl-reference "External Resource"): documents a workflow
points at (OpenAPI/AsyncAPI documents, protos, scripts, schemas, catalogs).

An endpoint is a URI (``http(s)://``, ``file://``) or, from an expression, a
path. A file is relative to the workflow file when it has one (``file://app/x``
names the relative path ``app/x``, as the spec's gRPC example does), and may be
read only where the egress policy allows (``podium.egress``). HTTP endpoints may
carry an authentication policy.

A definition deployed to a store carries the texts of its file resources, read
when it was deployed (``podium.deployment``): an instance reads those, so a
worker on another host, or in another directory, runs exactly what was deployed.
HTTP resources are fetched at run time. Texts read at run time are cached per
runtime for its lifetime: a document is read once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import httpx
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from podium import egress
from podium.dsl import Definition
from podium.dsl import model as m
from podium.engine.errors import WorkflowError
from podium.engine.state import TaskRun
from podium.payloads import parse_json

if TYPE_CHECKING:
    from podium.engine.services import Services

_HTTP = ("http", "https")


async def endpoint_uri(endpoint: str | m.EndpointConfig, run: TaskRun) -> str:
    uri = endpoint if isinstance(endpoint, str) else endpoint.uri
    value = await run.template(uri)
    if not isinstance(value, str):
        raise WorkflowError.expression(
            f"the resource endpoint gave {type(value).__name__}, not a URI", run.reference
        )
    return value


async def read_text(resource: m.ExternalResource, run: TaskRun) -> tuple[str, str]:
    """The resource's text and its resolved location (for relative references)."""
    uri = await endpoint_uri(resource.endpoint, run)
    instance = run.instance
    headers: dict[str, str] = {}
    endpoint = resource.endpoint
    if (
        is_http(uri) and uri not in instance.services.resource_cache
        and uri not in instance.definition.resources
        and isinstance(endpoint, m.EndpointConfig) and endpoint.authentication is not None
    ):
        from podium.auth import authorize

        headers["Authorization"] = (await authorize(endpoint.authentication, run)).header
    text = await fetch(uri, instance.definition, instance.services, run.reference, headers)
    return text, uri


async def fetch(
    uri: str,
    definition: Definition,
    services: Services,
    where: str | None,
    headers: Mapping[str, str] | None = None,
) -> str:
    """The text at ``uri`` for an instance of ``definition``: as deployed, else
    read now (a file, where the egress policy allows it; HTTP)."""
    deployed = definition.resources.get(uri)
    if deployed is not None:
        return deployed
    cache = services.resource_cache
    if is_http(uri):
        if uri not in cache:
            cache[uri] = await _get(uri, services.http, dict(headers or {}), where)
        return cache[uri]
    path = egress.readable_file(file_path(uri, where), definition.source, services.settings,
                                where)
    # Keyed by the file itself: two workflows may name different files alike.
    key = path.as_uri()
    if key not in cache:
        cache[key] = await read_file(path, uri, where)
    return cache[key]


def is_http(uri: str) -> bool:
    return urlparse(uri).scheme in _HTTP


def is_file(uri: str) -> bool:
    return urlparse(uri).scheme == "file"


def file_path(uri: str, where: str | None = None) -> Path:
    """The path a file URI (or a plain path) names. ``file://app/greet.proto`` (the
    spec's own example) is the relative path ``app/greet.proto``; only
    ``file:///...`` and ``file://localhost/...`` are absolute."""
    parsed = urlparse(uri)
    if parsed.scheme == "":
        return Path(uri)
    if parsed.scheme != "file":
        raise WorkflowError.configuration(
            f"resource {uri}: the scheme '{parsed.scheme}' is not supported (http, https, "
            "file)", where,
        )
    if parsed.netloc in ("", "localhost"):
        return Path(parsed.path)
    return Path(parsed.netloc + parsed.path)


async def read_file(path: Path, uri: str, where: str | None) -> str:
    try:
        return await asyncio.to_thread(path.read_text, encoding="utf-8")
    except OSError as exc:
        raise WorkflowError.configuration(
            f"cannot read resource {uri}: {exc.strerror or exc}", where
        ) from None
    except UnicodeDecodeError as exc:
        raise WorkflowError.configuration(
            f"cannot read resource {uri}: not UTF-8 text ({exc.reason})", where
        ) from None


async def _get(
    uri: str, client: httpx.AsyncClient, headers: dict[str, str], where: str | None
) -> str:
    try:
        response = await client.get(uri, headers=headers, follow_redirects=True)
    except httpx.HTTPError as exc:
        raise WorkflowError.communication(
            f"cannot read resource {uri}: {exc or type(exc).__name__}", instance=where
        ) from None
    if response.status_code >= 400:
        raise WorkflowError.communication(
            f"GET {uri} answered {response.status_code} {response.reason_phrase}",
            status=response.status_code, instance=where,
        )
    return response.text


async def read_document(resource: m.ExternalResource, run: TaskRun) -> tuple[Any, str]:
    """A JSON or YAML resource, parsed."""
    text, uri = await read_text(resource, run)
    return parse_document(text, uri, run.reference), uri


def parse_document(text: str, uri: str, where: str | None) -> Any:
    """JSON (within the payload limits) or else YAML."""
    try:
        return parse_json(text, f"resource {uri}", where)
    except ValueError:
        pass
    try:
        return YAML(typ="safe", pure=True).load(text)
    except YAMLError as exc:
        raise WorkflowError.configuration(
            f"resource {uri} is neither JSON nor YAML: {exc}", where
        ) from None
    except RecursionError:
        raise WorkflowError.configuration(
            f"resource {uri} nests too deeply to be read", where
        ) from None

