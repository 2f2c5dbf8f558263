"""Where secret values come from (dsl.md "Secret"), and keeping them out of records.

A runtime's secrets come from three sources, the first that knows a name wins:

1. the mapping given to ``Runtime(secrets=...)``;
2. environment variables named ``{secrets_env_prefix}{NAME}``: the secret ``db``
   is ``PODIUM_SECRET_DB`` with the prefix ``PODIUM_SECRET_`` (the name as
   written, else upper-cased with every character outside ``A-Z0-9`` as ``_``);
3. ``secrets_path``: a YAML/JSON file mapping names to values, or a directory
   holding one file per secret (``db``, or ``db.json``/``db.yaml``/``db.yml``).

Text that is a JSON object or array (an environment variable, a file without a
YAML extension) becomes that object; anything else stays text, a trailing
newline removed (mounted secrets usually end with one).

Values are read when asked for, so a rotated file is seen by the next instance.
Every value handed out is remembered by the ``Redactor`` that keeps it out of
journals, lifecycle events and errors.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from podium.config import Settings

if TYPE_CHECKING:
    from podium.errors import WorkflowError

REDACTED = "***"
# Shorter values would mangle unrelated text ("on", "id", "1") for no protection.
MIN_REDACTED_LENGTH = 4
_YAML_SUFFIXES = (".yaml", ".yml")
_FILE_SUFFIXES = ("", ".json", *_YAML_SUFFIXES)


class SecretsError(Exception):
    """A secret source that cannot be read (a malformed file)."""


def _parse_yaml(text: str, where: str) -> Any:
    try:
        return YAML(typ="safe", pure=True).load(io.StringIO(text))
    except YAMLError as exc:
        raise SecretsError(f"cannot parse secrets in {where}: {exc}") from None


def _text_value(text: str) -> Any:
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            return json.loads(stripped)
        except ValueError:
            pass
    return text[:-1] if text.endswith("\n") else text


def _env_names(prefix: str, name: str) -> list[str]:
    return [prefix + name, prefix + re.sub(r"[^A-Z0-9]", "_", name.upper())]


class SecretStore(Mapping[str, Any]):
    """The secrets a runtime can give its instances (``services.secrets``)."""

    def __init__(
        self,
        given: Mapping[str, Any] | None = None,
        settings: Settings | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        settings = settings or Settings()
        self._given = dict(given or {})
        self._prefix = settings.secrets_env_prefix
        self._environ = os.environ if environ is None else environ
        self._path = settings.secrets_path
        self.redactor = Redactor()

    def get(self, name: str, default: Any = None) -> Any:
        value = self._lookup(name)
        return default if value is None else value

    def __getitem__(self, name: str) -> Any:
        value = self._lookup(name)
        if value is None:
            raise KeyError(name)
        return value

    def __iter__(self) -> Iterator[str]:
        names = dict.fromkeys(self._given)
        if self._prefix:
            names.update(dict.fromkeys(
                key[len(self._prefix):].lower() for key in self._environ
                if key.startswith(self._prefix) and len(key) > len(self._prefix)
            ))
        if self._path is not None and self._path.is_dir():
            names.update(dict.fromkeys(
                p.stem if p.suffix in _FILE_SUFFIXES else p.name
                for p in sorted(self._path.iterdir()) if p.is_file()
                and not p.name.startswith(".")
            ))
        elif self._path is not None and self._path.is_file():
            names.update(dict.fromkeys(self._file_mapping()))
        return iter(names)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def _lookup(self, name: str) -> Any:
        if name in self._given:
            return self._given[name]
        if self._prefix:
            for key in _env_names(self._prefix, name):
                if key in self._environ:
                    return _text_value(self._environ[key])
        if self._path is None:
            return None
        if self._path.is_dir():
            return self._directory_value(name)
        if self._path.is_file():
            return self._file_mapping().get(name)
        return None

    def _file_mapping(self) -> dict[str, Any]:
        assert self._path is not None
        data = _parse_yaml(self._path.read_text(encoding="utf-8"), str(self._path))
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise SecretsError(f"{self._path} must map secret names to values")
        return {str(k): v for k, v in data.items()}

    def _directory_value(self, name: str) -> Any:
        assert self._path is not None
        if "/" in name or "\\" in name or name.startswith("."):
            return None  # never a path out of the directory
        for suffix in _FILE_SUFFIXES:
            candidate = self._path / f"{name}{suffix}"
            if candidate.is_file():
                text = candidate.read_text(encoding="utf-8")
                if suffix in _YAML_SUFFIXES:
                    return _parse_yaml(text, str(candidate))
                return _text_value(text)
        return None


class Redactor:
    """Replaces known secret values with ``***`` wherever they occur in text."""

    __slots__ = ("_pattern", "_values")

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def __bool__(self) -> bool:
        return bool(self._values)

    def add(self, value: Any) -> None:
        """Remember a secret: a string, or every string leaf of an object."""
        before = len(self._values)
        for text in _leaves(value):
            if len(text) >= MIN_REDACTED_LENGTH:
                # The percent-encoded spelling is what a URI carries.
                self._values.update({text, quote(text, safe="")})
        if len(self._values) != before:
            ordered = sorted(self._values, key=len, reverse=True)  # longest first
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def redact(self, data: Any) -> Any:
        """A copy of ``data`` (JSON-like) with every secret value replaced."""
        if self._pattern is None:
            return data
        return _redact(data, self._pattern)

    def redact_error(self, error: WorkflowError) -> WorkflowError:
        """Redact an error's texts in place (it leaves the instance)."""
        if self._pattern is not None:
            error.title = _redact(error.title, self._pattern)
            error.detail = _redact(error.detail, self._pattern)
        return error


# Properties of an authentication secret that describe it rather than hold a
# credential: redacting their values ("password" as a grant type, a token type
# URN) would mangle unrelated data everywhere.
_DESCRIPTIVE_KEYS = frozenset({
    "grant", "authority", "encoding", "authentication", "type", "scopes", "audiences",
    "issuers", "endpoints",
})


def _leaves(value: Any) -> Iterator[str]:
    for _, text in secret_leaves(value):
        yield text


def secret_leaves(
    value: Any, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every string of a secret that holds a credential, with its path in the
    secret (``()`` for a secret that is a string)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if key not in _DESCRIPTIVE_KEYS:
                yield from secret_leaves(item, (*path, str(key)))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from secret_leaves(item, (*path, index))


def _redact(data: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(data, str):
        return pattern.sub(REDACTED, data)
    if isinstance(data, Mapping):
        return {_redact(k, pattern): _redact(v, pattern) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_redact(item, pattern) for item in data]
    return data


def redacting(
    listener: Callable[[dict[str, Any]], None], redactor: Redactor
) -> Callable[[dict[str, Any]], None]:
    """A lifecycle listener that only ever sees events with secrets redacted."""

    def listen(event: dict[str, Any]) -> None:
        listener(redactor.redact(event))

    return listen
