"""What a definition needs beside its document, read when it is deployed.

A stored definition has no file location: a worker on another host (or in
another directory) could not resolve ``file://protos/greet.proto`` against the
workflow file it never saw. So when a definition is deployed to a store, every
external resource it names by a ``file://`` URI is read, relative to the
workflow file, under the egress policy: AsyncAPI, OpenAPI and A2A documents,
protos, JSON schema ``resource``s, script ``source``s, and function documents
named by URI or in a catalog of the workflow. The texts travel with the
definition (``Definition.resources``, stored content-addressed); an instance
reads those instead of the disk.

A proto's imports are read too (recursively; the well-known types ship with
the compiler), from beside the proto as protoc resolves them, and kept under
their own file URI (``file://protos/common.proto`` for ``import "common.proto"``
in ``file://protos/greet.proto``).

Not read at deploy: endpoints that are runtime expressions (known only when the
task runs), HTTP resources (fetched at run time), the operator's default
catalog, and files a function document names in its turn.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from podium import egress
from podium.config import Settings
from podium.dsl import Definition, InvalidWorkflowError, Problem
from podium.dsl import model as m
from podium.dsl.loader import Pointer, read_source, to_pointer
from podium.engine.errors import WorkflowError
from podium.expressions import is_expression
from podium.resources import file_path, is_file


@dataclass(frozen=True)
class Reference:
    """A file resource as the document writes it, and where it writes it."""

    uri: str
    path: Pointer


def file_references(definition: Definition) -> list[Reference]:
    """Every ``file://`` resource the definition names, in document order."""
    found: list[Reference] = []
    _walk(definition.model, (), definition.model.use, found)
    return found


def _walk(node: Any, path: Pointer, use: m.Use | None, found: list[Reference]) -> None:
    if isinstance(node, m.ExternalResource):
        endpoint = node.endpoint
        if isinstance(endpoint, str):
            _add(endpoint, (*path, "endpoint"), found)
        else:
            _add(endpoint.uri, (*path, "endpoint", "uri"), found)
        return
    if isinstance(node, m.CallFunction):
        from podium.calls.function import document_uri  # it imports the engine

        uri = document_uri(node.call, use)
        if uri is not None:
            _add(uri, (*path, "call"), found)
    if isinstance(node, BaseModel):
        for name, info in type(node).model_fields.items():
            value = getattr(node, name)
            if value is not None:
                _walk(value, (*path, info.alias or name), use, found)
    elif isinstance(node, dict):
        for key, value in node.items():
            _walk(value, (*path, str(key)), use, found)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _walk(value, (*path, index), use, found)


def _add(uri: str, path: Pointer, found: list[Reference]) -> None:
    if not is_expression(uri) and is_file(uri):
        found.append(Reference(uri, path))


async def with_file_resources(definition: Definition, settings: Settings) -> Definition:
    """``definition`` with the texts of its file resources (those it does not hold
    yet), read now; ``InvalidWorkflowError`` names each one that cannot be read
    (missing, not UTF-8, refused by the egress policy) and where the document
    names it."""
    texts = dict(definition.resources)
    problems: list[tuple[Pointer, str]] = []
    # (reference, the proto whose directory its imports resolve in, the importer)
    pending = [(reference, reference.uri, "") for reference in file_references(definition)]
    while pending:
        reference, root, importer = pending.pop(0)
        if reference.uri in texts:
            continue
        what = f"resource '{reference.uri}'" + (f" (imported by {importer})" if importer else "")
        try:
            path = egress.readable_file(file_path(reference.uri), definition.source, settings)
            text = texts[reference.uri] = await asyncio.to_thread(path.read_text,
                                                                  encoding="utf-8")
        except WorkflowError as exc:  # refused by the egress policy
            problems.append((reference.path, str(exc.detail)))
            continue
        except OSError as exc:
            problems.append((reference.path, f"cannot read {what}: {exc.strerror or exc}"))
            continue
        except UnicodeDecodeError as exc:
            problems.append((reference.path, f"cannot read {what}: not UTF-8 text "
                                             f"({exc.reason})"))
            continue
        if reference.uri.endswith(".proto"):
            pending.extend(
                (Reference(import_uri(root, name), reference.path), root, reference.uri)
                for name in proto_imports(text)
            )
    if problems:
        raise InvalidWorkflowError(_located(definition, problems))
    return replace(definition, resources=texts) if texts != definition.resources else definition


_IMPORT = re.compile(r'^\s*import\s+(?:public\s+|weak\s+)?"([^"]+)"\s*;', re.MULTILINE)


def proto_imports(text: str) -> list[str]:
    """The files a proto imports, but the well-known types (the compiler has them)."""
    return [name for name in _IMPORT.findall(text) if not name.startswith("google/protobuf/")]


def import_uri(proto_uri: str, name: str) -> str:
    """The file URI of ``import "name"`` for the proto at ``proto_uri``: protoc
    resolves every import of the compilation (nested ones too) in that proto's
    directory. Written in the same relative or absolute form."""
    path = file_path(proto_uri).parent / name
    return path.as_uri() if path.is_absolute() else f"file://{path.as_posix()}"


def deployed_imports(proto_uri: str, text: str, resources: Mapping[str, str]) -> dict[str, str]:
    """The imports of a deployed proto (recursively, by import name) as deployed
    with it; ``{}`` for a proto read from disk, whose imports protoc finds there."""
    found: dict[str, str] = {}
    pending = [text]
    while pending:
        for name in proto_imports(pending.pop()):
            imported = resources.get(import_uri(proto_uri, name))
            if imported is not None and name not in found:
                found[name] = imported
                pending.append(imported)
    return found


def _located(definition: Definition, problems: list[tuple[Pointer, str]]) -> list[Problem]:
    """Problems with the line and column of what they point at, when the
    definition came from a file that can be read again."""
    source = None
    if Path(definition.source).is_file():
        try:
            source = read_source(Path(definition.source))
        except InvalidWorkflowError:
            source = None
    return [
        source.problem(path, message) if source is not None
        else Problem(definition.source, 1, 1, to_pointer(path), message)
        for path, message in problems
    ]
