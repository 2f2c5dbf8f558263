"""The definitions registry: deploy by namespace/name/version, resolve later.

An instance is pinned to the exact definition it started with: deploying
1.0.1 never changes a running 1.0.0 instance. Backed by the store when there
is one, by memory otherwise.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from podium import semver
from podium.dsl import Definition, load
from podium.engine.errors import WorkflowError
from podium.store.base import DefinitionRecord, Store


class Registry:
    def __init__(self, store: Store | None) -> None:
        self._store = store
        self._memory: dict[tuple[str, str, str], Definition] = {}
        self._parsed: dict[tuple[str, str, str], Definition] = {}
        self._deployed: dict[tuple[str, str, str], DefinitionRecord] = {}
        self._loading: dict[tuple[str, str, str], asyncio.Future[DefinitionRecord | None]] = {}

    async def deploy(self, definition: Definition) -> DefinitionRecord:
        key = (definition.namespace, definition.name, definition.version)
        known = self._deployed.get(key)
        if known is not None and known.document == definition.raw:
            return known  # already stored by this process: no write per start
        record = DefinitionRecord(
            namespace=definition.namespace,
            name=definition.name,
            version=definition.version,
            document=definition.raw,
            source=json.dumps(definition.raw, indent=2),
            created_at=datetime.now(UTC),
        )
        if self._store is None:
            existing = self._memory.get(key)
            if existing is not None and existing.raw != definition.raw:
                raise WorkflowError.configuration(
                    f"{definition.qualified_name} is already deployed with other content; "
                    "deploy a new version instead"
                )
            self._memory[key] = definition
        else:
            await self._store.put_definition(record)
        self._parsed[key] = definition
        self._deployed[key] = record
        return record

    async def get(self, namespace: str, name: str, version: str | None = None) -> Definition:
        """A deployed definition; ``None``/``latest`` picks the highest version."""
        if version is not None and version != "latest":
            cached = self._parsed.get((namespace, name, version))
            if cached is not None:
                return cached
        if self._store is None:
            versions = [k for k in self._memory if k[:2] == (namespace, name)]
            if version not in (None, "latest"):
                versions = [k for k in versions if k[2] == version]
            if not versions:
                raise _missing(namespace, name, version)
            return self._memory[max(versions, key=lambda k: semver.key(k[2]))]
        if version is not None and version != "latest":
            # Many instances of one version resume together: one store read.
            key = (namespace, name, version)
            pending = self._loading.get(key)
            if pending is None:
                pending = asyncio.ensure_future(self._store.get_definition(*key))
                self._loading[key] = pending
                pending.add_done_callback(lambda _: self._loading.pop(key, None))
            record = await asyncio.shield(pending)
        else:
            record = await self._store.get_definition(namespace, name, None)
        if record is None:
            raise _missing(namespace, name, version)
        key = (record.namespace, record.name, record.version)
        definition = self._parsed.get(key)
        if definition is None:
            definition = load(record.document, name=f"{name}.{namespace}:{record.version}")
            self._parsed[key] = definition
        return definition


def _missing(namespace: str, name: str, version: str | None) -> WorkflowError:
    return WorkflowError.configuration(
        f"workflow {namespace}/{name}:{version or 'latest'} is not deployed"
    )
