"""External resources (dsl-reference "External Resource"): documents a workflow
points at (OpenAPI/AsyncAPI documents, protos, scripts, schemas, catalogs).

An endpoint is a URI (``http(s)://``, ``file://``) or a path, relative to the
workflow file when it has one. HTTP endpoints may carry an authentication
policy. Texts are cached per runtime for its lifetime: a document is read once.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from podium.dsl import model as m
from podium.engine.errors import WorkflowError
from podium.engine.state import TaskRun


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
    cache: dict[str, str] = run.instance.services.resource_cache
    if uri in cache:
        return cache[uri], uri
    parsed = urlparse(uri)
    try:
        if parsed.scheme in ("http", "https"):
            headers = {}
            if isinstance(resource.endpoint, m.EndpointConfig) and (
                resource.endpoint.authentication is not None
            ):
                from podium.auth import authorize

                authorization = await authorize(resource.endpoint.authentication, run)
                headers["Authorization"] = authorization.header
            response = await run.instance.services.http.get(
                uri, headers=headers, follow_redirects=True
            )
            if response.status_code >= 400:
                raise WorkflowError.communication(
                    f"GET {uri} answered {response.status_code} {response.reason_phrase}",
                    status=response.status_code, instance=run.reference,
                )
            text = response.text
        else:
            text = await asyncio.to_thread(
                _read_file, _file_location(uri), run.instance.definition.source
            )
    except httpx.HTTPError as exc:
        raise WorkflowError.communication(
            f"cannot read resource {uri}: {exc}", instance=run.reference
        ) from None
    except OSError as exc:
        raise WorkflowError.configuration(
            f"cannot read resource {uri}: {exc.strerror or exc}", run.reference
        ) from None
    cache[uri] = text
    return text, uri


def _file_location(uri: str) -> str:
    """A path from a file URI or a plain path. ``file://app/greet.proto`` (the
    spec's own example) names the relative path ``app/greet.proto``; only
    ``file:///...`` and ``file://localhost/...`` are absolute."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return uri
    if parsed.netloc in ("", "localhost"):
        return parsed.path
    return parsed.netloc + parsed.path


def _read_file(location: str, workflow_source: str | None) -> str:
    path = Path(location)
    if not path.is_absolute() and workflow_source and Path(workflow_source).is_file():
        path = Path(workflow_source).parent / path
    return path.read_text(encoding="utf-8")


async def read_document(resource: m.ExternalResource, run: TaskRun) -> tuple[Any, str]:
    """A JSON or YAML resource, parsed."""
    text, uri = await read_text(resource, run)
    try:
        return json.loads(text), uri
    except ValueError:
        pass
    try:
        return YAML(typ="safe", pure=True).load(text), uri
    except YAMLError as exc:
        raise WorkflowError.configuration(
            f"resource {uri} is neither JSON nor YAML: {exc}", run.reference
        ) from None
