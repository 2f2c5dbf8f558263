"""Validating data against `schema` blocks (input, output, export) with jsonschema-rs.

Each schema is compiled once per definition and kept; an external schema
(``resource``) is read once, by the host's resource reader (``podium.resources``:
as deployed, from a file the egress policy allows, or over HTTP).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import jsonschema_rs
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from podium.dsl.model import Schema
from podium.engine.errors import WorkflowError

# (uri, task pointer) -> the text; failures are WorkflowErrors.
Reader = Callable[[str, str], Awaitable[str]]


class SchemaCache:
    """Compiled validators of one definition, keyed by the schema block."""

    def __init__(self, read: Reader) -> None:
        self._read = read
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
        text = await self._read(uri, instance)
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            pass
        try:
            return YAML(typ="safe", pure=True).load(text)
        except (YAMLError, RecursionError) as exc:
            raise WorkflowError.configuration(
                f"schema resource '{uri}' is neither JSON nor YAML: {exc}", instance
            ) from None


def _pointer(path: Any) -> str:
    parts = list(path)
    return "/" + "/".join(str(p) for p in parts) if parts else "/"
