"""Validating data against `schema` blocks (input, output, export) with jsonschema-rs.

Each schema is compiled once per definition and kept; an external schema
(``resource``) is read once, from a file or over HTTP.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import jsonschema_rs
from ruamel.yaml import YAML

from podium.dsl.model import Schema
from podium.engine.errors import WorkflowError


class SchemaCache:
    """Compiled validators of one definition, keyed by the schema block."""

    def __init__(self, base: str | None) -> None:
        self._base = base
        self._validators: dict[int, tuple[Schema, Any]] = {}

    async def validate(self, schema: Schema, value: Any, what: str, instance: str) -> None:
        entry = self._validators.get(id(schema))
        if entry is None:
            document = await self._document(schema, instance)
            try:
                validator = jsonschema_rs.validator_for(document)
            except (ValueError, jsonschema_rs.ValidationError) as exc:
                raise WorkflowError.configuration(
                    f"the {what} schema is not a valid JSON Schema: {exc}", instance
                ) from None
            entry = (schema, validator)
            self._validators[id(schema)] = entry
        errors = list(entry[1].iter_errors(value))
        if errors:
            details = "; ".join(
                f"{_pointer(e.instance_path)}: {e.message}" for e in errors[:5]
            )
            raise WorkflowError.validation(f"{what} does not match its schema: {details}",
                                           instance)

    async def _document(self, schema: Schema, instance: str) -> Any:
        if schema.format not in ("json", "jsonschema") and not schema.format.startswith("json"):
            raise WorkflowError.configuration(
                f"schema format '{schema.format}' is not supported (only 'json')", instance
            )
        if schema.resource is None:
            return schema.document
        endpoint = schema.resource.endpoint
        uri = endpoint if isinstance(endpoint, str) else endpoint.uri
        try:
            text = await self._read(uri)
        except (OSError, httpx.HTTPError) as exc:
            raise WorkflowError.configuration(
                f"cannot read schema resource '{uri}': {exc}", instance
            ) from None
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return YAML(typ="safe", pure=True).load(text)

    async def _read(self, uri: str) -> str:
        parsed = urlparse(uri)
        if parsed.scheme in ("http", "https"):
            async with httpx.AsyncClient(timeout=30) as client:
                response = await client.get(uri)
                response.raise_for_status()
                return response.text
        path = Path(parsed.path if parsed.scheme == "file" else uri)
        if not path.is_absolute() and self._base:
            path = Path(self._base).parent / path
        return path.read_text(encoding="utf-8")


def _pointer(path: Any) -> str:
    parts = list(path)
    return "/" + "/".join(str(p) for p in parts) if parts else "/"
