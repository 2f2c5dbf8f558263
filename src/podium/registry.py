"""The definitions registry: deploy by namespace/name/version, resolve later.

An instance is pinned to the exact definition it started with: deploying
1.0.1 never changes a running 1.0.0 instance. Backed by the store when there
is one, by memory otherwise.

Deploying to a store also stores the file resources the definition names
(``podium.deployment``), content-addressed (sha256): the definition row maps
each reference as written to its digest, and a definition read back carries
the texts, so every worker runs the same thing wherever it runs.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from podium import semver
from podium.config import Settings
from podium.deployment import with_file_resources
from podium.dsl import Definition, load
from podium.engine.errors import WorkflowError
from podium.store.base import DefinitionRecord, Store


@dataclass(frozen=True)
class WorkflowName:
    """A deployed workflow named ``namespace/name[:version]`` (``podium start``, the
    HTTP API's start)."""

    namespace: str
    name: str
    version: str | None  # None: the highest deployed version

    @classmethod
    def parse(cls, text: str) -> WorkflowName | None:
        """``text`` as a name (``latest`` is the highest version), or None when it
        does not have that shape."""
        match = _WORKFLOW_NAME.match(text)
        if match is None:
            return None
        version = match["version"]
        return cls(match["namespace"], match["name"],
                   None if version in (None, "latest") else version)


_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"  # the DSL's name pattern
_WORKFLOW_NAME = re.compile(
    rf"^(?P<namespace>{_LABEL})/(?P<name>{_LABEL})(?::(?P<version>[0-9A-Za-z.+-]+))?$"
)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Registry:
    def __init__(self, store: Store | None, settings: Settings | None = None) -> None:
        self._store = store
        self._settings = settings or Settings()
        self._memory: dict[tuple[str, str, str], Definition] = {}
        self._parsed: dict[tuple[str, str, str], Definition] = {}
        self._deployed: dict[tuple[str, str, str], DefinitionRecord] = {}
        self._loading: dict[tuple[str, str, str], asyncio.Future[DefinitionRecord | None]] = {}

    async def deploy(self, definition: Definition) -> DefinitionRecord:
        key = (definition.namespace, definition.name, definition.version)
        known = self._deployed.get(key)
        if known is not None and known.document == definition.raw:
            return known  # already stored by this process: no write per start
        digests: dict[str, str] | None = None
        if self._store is not None:
            # Raises InvalidWorkflowError naming a resource that cannot be read.
            definition = await with_file_resources(definition, self._settings)
            digests = {ref: digest(text) for ref, text in definition.resources.items()}
        record = DefinitionRecord(
            namespace=definition.namespace,
            name=definition.name,
            version=definition.version,
            document=definition.raw,
            source=json.dumps(definition.raw, indent=2),
            created_at=datetime.now(UTC),
            resources=digests,
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
            # Texts first: a stored definition never names a missing resource.
            await self._store.put_resources(
                {digest(text): text for text in definition.resources.values()}
            )
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
            if record.resources:
                definition = replace(definition, resources=await self._texts(record))
            self._parsed[key] = definition
        return definition

    def definition(self, definition: Definition) -> Definition:
        """The deployed form of ``definition`` (with its resources) once this
        registry deployed it; ``definition`` itself otherwise."""
        key = (definition.namespace, definition.name, definition.version)
        return self._parsed.get(key, definition)

    async def _texts(self, record: DefinitionRecord) -> dict[str, str]:
        assert self._store is not None and record.resources is not None
        stored = await self._store.get_resources(list(record.resources.values()))
        missing = sorted(ref for ref, d in record.resources.items() if d not in stored)
        if missing:
            raise WorkflowError.configuration(
                f"workflow {record.namespace}/{record.name}:{record.version} names resources "
                f"missing from the store: {', '.join(missing)}"
            )
        return {ref: stored[d] for ref, d in record.resources.items()}


def _missing(namespace: str, name: str, version: str | None) -> WorkflowError:
    return WorkflowError.configuration(
        f"workflow {namespace}/{name}:{version or 'latest'} is not deployed"
    )
