"""`call: <function>`: custom functions (dsl-reference "Call"; dsl.md "Catalogs",
"Creating a Custom Function", "Using a Custom Function").

A function is a task definition, found in one of three places:

- ``use.functions.<name>`` of the workflow;
- a catalog, called ``{name}:{version}@{catalog}``: the document
  ``{endpoint}/functions/{name}/{version}/function.yaml`` of
  ``use.catalogs.<catalog>``, or of the runtime's default catalog
  (``PODIUM_DEFAULT_CATALOG``) for ``@default`` unless the workflow defines one;
- a URI (``call: https://.../function.yaml``); a URI that does not end in
  ``.yaml``, ``.yml`` or ``.json`` names a function directory.

GitHub and GitLab page URLs are read from their raw form (dsl.md "File
Structure"). The function runs as a task: through the whole data flow (its
``input.schema``, ``output.as``, ...), with the call's ``with`` arguments,
evaluated, as its input (without ``with``, the call's transformed input). Its
output is the call's raw output; its own ``then`` is ignored.

It runs with the calling task's reference (``$task.reference`` and errors'
``instance`` name the calling task, as the catalog's ``log`` function expects)
and at the journal position ``{call position}/function``. It sees none of the
caller's local variables (``$item``, ``$error``): a function is defined outside
of them. Extensions, which already applied to the call, do not apply again.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pydantic import TypeAdapter, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from podium.dsl import model as m
from podium.engine.errors import WorkflowError
from podium.engine.runner import EXTENDING, run_task
from podium.engine.state import TaskRun
from podium.expressions import is_expression
from podium.resources import endpoint_uri, read_text

# Functions calling functions: deeper than this is taken for a cycle.
MAX_DEPTH = 16
_DEPTH = "\x00function-depth"
_CATALOGED = re.compile(r"^(?P<name>[^:@/]+):(?P<version>[^:@/]+)@(?P<catalog>[^:@/]+)$")
_DOCUMENT_SUFFIXES = (".yaml", ".yml", ".json")
_TASK: TypeAdapter[Any] = TypeAdapter(m.Task)


async def execute(task: m.CallFunction, run: TaskRun) -> Any:
    depth = int(run.locals.get(_DEPTH, 0)) + 1
    if depth > MAX_DEPTH:
        raise WorkflowError.configuration(
            f"function '{task.call}' is called through more than {MAX_DEPTH} nested functions "
            f"(do functions call each other in a cycle?)", run.reference,
        )
    function = await resolve(task.call, run)
    data = await run.template(task.with_) if task.with_ is not None else run.input
    output, _ = await run_task(
        run.instance, run.name, function, run.reference, f"{run.position}/function", data,
        {EXTENDING: True, _DEPTH: depth},
    )
    return output


async def resolve(name: str, run: TaskRun) -> Any:
    """The task definition a function call names."""
    use = run.instance.definition.model.use
    functions = (use and use.functions) or {}
    if name in functions:
        return functions[name]
    if "://" in name:
        return await _load(_document_uri(name), None, run)
    cataloged = _CATALOGED.match(name)
    if cataloged is None:
        if "@" in name:
            raise WorkflowError.configuration(
                f"'{name}' is not a cataloged function reference: expected "
                f"{{name}}:{{version}}@{{catalog}}", run.reference,
            )
        raise WorkflowError.configuration(
            f"unknown function '{name}': not defined in use.functions", run.reference
        )
    catalogs = (use and use.catalogs) or {}
    catalog_name = cataloged["catalog"]
    endpoint: m.Endpoint
    if catalog_name in catalogs:
        endpoint = catalogs[catalog_name].endpoint
    elif catalog_name == "default":
        default = run.instance.services.settings.default_catalog
        if not default:
            raise WorkflowError.configuration(
                f"'{name}' needs the default catalog, and none is configured "
                f"(set PODIUM_DEFAULT_CATALOG to a directory or URL)", run.reference,
            )
        endpoint = default if urlparse(default).scheme else _directory_uri(default)
    else:
        raise WorkflowError.configuration(
            f"catalog '{catalog_name}' of '{name}' is not defined in use.catalogs",
            run.reference,
        )
    uri = _catalog_document(await endpoint_uri(endpoint, run), cataloged["name"],
                            cataloged["version"])
    authentication = endpoint.authentication if isinstance(endpoint, m.EndpointConfig) else None
    return await _load(uri, authentication, run)


async def _load(
    uri: str, authentication: m.ReferenceableAuthenticationPolicy | None, run: TaskRun
) -> Any:
    endpoint: m.Endpoint = (
        uri if authentication is None
        else m.EndpointConfig(uri=uri, authentication=authentication)
    )
    text, location = await read_text(m.ExternalResource(endpoint=endpoint), run)
    try:
        return _parse(text)
    except YAMLError as exc:
        raise WorkflowError.configuration(
            f"function {location} is not YAML or JSON: {exc}", run.reference
        ) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "/".join(str(part) for part in first["loc"])
        raise WorkflowError.configuration(
            f"function {location} is not a valid task definition: {first['msg']}"
            + (f" (at {where})" if where else ""),
            run.reference,
        ) from None


@lru_cache(maxsize=256)
def _parse(text: str) -> Any:
    # Keyed by the text: a document read again after it changed is parsed again.
    return _TASK.validate_python(YAML(typ="safe", pure=True).load(text))


def _catalog_document(root: str, name: str, version: str) -> str:
    return _raw(f"{root.rstrip('/')}/functions/{name}/{version}/function.yaml")


def document_uri(name: str, use: m.Use | None) -> str | None:
    """The function document a call names that is known without running anything:
    by URI, or in a catalog of the workflow whose endpoint is a literal URI (for
    deploying it with the workflow). None for ``use.functions``, the default
    catalog, and endpoints that are expressions."""
    if use is not None and use.functions and name in use.functions:
        return None
    if "://" in name:
        return _document_uri(name)
    cataloged = _CATALOGED.match(name)
    catalogs = (use and use.catalogs) or {}
    if cataloged is None or cataloged["catalog"] not in catalogs:
        return None
    endpoint = catalogs[cataloged["catalog"]].endpoint
    root = endpoint if isinstance(endpoint, str) else endpoint.uri
    if is_expression(root):
        return None
    return _catalog_document(root, cataloged["name"], cataloged["version"])


def _directory_uri(path: str) -> str:
    # A plain path (the default catalog setting) is a directory of this machine.
    return Path(path).absolute().as_uri()


def _document_uri(uri: str) -> str:
    path = urlparse(uri).path
    if not path.endswith(_DOCUMENT_SUFFIXES):
        uri = uri.rstrip("/") + "/function.yaml"
    return _raw(uri)


def _raw(uri: str) -> str:
    """The raw document behind a GitHub or GitLab page URL (dsl.md "File Structure").

    ``github.com/o/r/tree/<ref>/p`` (or ``blob``, ``raw``) becomes
    ``raw.githubusercontent.com/o/r/<ref>/p``, which serves branches, tags and
    commits alike; a repository URL without a ref reads its default branch
    (``HEAD``). GitLab's ``/-/tree/`` and ``/-/blob/`` become ``/-/raw/``.
    """
    parsed = urlparse(uri)
    if parsed.scheme not in ("http", "https"):
        return uri
    if parsed.netloc.lower() in ("github.com", "www.github.com"):
        parts = parsed.path.strip("/").split("/")
        if len(parts) < 3:
            return uri
        owner, repository, rest = parts[0], parts[1], parts[2:]
        has_ref = rest[0] in ("tree", "blob", "raw") and len(rest) > 1
        rest = rest[1:] if has_ref else ["HEAD", *rest]
        return f"https://raw.githubusercontent.com/{owner}/{repository}/{'/'.join(rest)}"
    for page in ("/-/tree/", "/-/blob/"):
        if page in parsed.path:
            return uri.replace(page, "/-/raw/", 1)
    return uri
