"""Custom functions: `use.functions`, catalogs (named and default), by URI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from podium import Runtime, WorkflowError
from podium.calls.function import _raw
from podium.config import Settings
from podium.store import open_store
from tests.support.egress import TMP_FILES
from tests.support.fake_services import FakeServices

GREET = """\
input:
  schema:
    document:
      type: object
      required: [name]
set:
  greeting: ${ "Hello, " + .name + "!" }
  reference: ${ $task.reference }
output:
  as: '${ . + {version: "1.0.0"} }'
"""


async def run(doc: str, data: Any = None, **options: Any) -> Any:
    options.setdefault("settings", TMP_FILES)  # resource files in tmp_path
    async with Runtime(**options) as runtime:
        return await runtime.run(doc, data)


def workflow(call: str, with_: str = "", use: str = "", extra: str = "") -> str:
    return f"""
document: {{dsl: '1.0.3', namespace: test, name: fn, version: '1.0.0'}}
{use}
do:
  - greet:
      call: {call}
{with_}
{extra}
"""


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    function = tmp_path / "catalog" / "functions" / "greet" / "1.0.0"
    function.mkdir(parents=True)
    (function / "function.yaml").write_text(GREET)
    return tmp_path / "catalog"


INLINE = """
use:
  functions:
    greet:
      input:
        schema:
          document: {type: object, required: [name]}
      set:
        greeting: ${ "Hi " + .name }
"""


async def test_inline_function_gets_the_evaluated_with_arguments() -> None:
    doc = workflow("greet", "      with:\n        name: ${ .who }", INLINE)
    assert await run(doc, {"who": "Ada"}) == {"greeting": "Hi Ada"}


async def test_inline_function_without_with_gets_the_transformed_input() -> None:
    doc = workflow("greet", "      input:\n        from: '${ {name: .who} }'", INLINE)
    assert await run(doc, {"who": "Bob"}) == {"greeting": "Hi Bob"}


async def test_call_output_as_applies_to_the_function_output() -> None:
    doc = workflow("greet", "      with: {name: Cy}\n      output:\n        as: .greeting", INLINE)
    assert await run(doc) == "Hi Cy"


async def test_function_input_schema_is_checked_and_the_error_names_the_call() -> None:
    doc = workflow("greet", "      with: {nobody: 1}", INLINE)
    with pytest.raises(WorkflowError) as caught:
        await run(doc)
    assert caught.value.type.endswith("/errors/validation")
    assert caught.value.instance == "/do/0/greet"


async def test_inline_http_function(fake_services: FakeServices) -> None:
    use = f"""
use:
  functions:
    getPet:
      call: http
      with:
        method: get
        endpoint: {fake_services.petstore_url}/pet/{{petId}}
"""
    doc = workflow("getPet", "      with: {petId: 3}", use)
    assert (await run(doc))["id"] == 3


async def test_cataloged_function_from_a_directory(catalog: Path) -> None:
    use = f"use:\n  catalogs:\n    local:\n      endpoint: {catalog.as_uri()}\n"
    doc = workflow("greet:1.0.0@local", "      with: {name: Ada}", use)
    assert await run(doc) == {
        "greeting": "Hello, Ada!", "reference": "/do/0/greet", "version": "1.0.0"
    }


async def test_cataloged_function_from_a_file_uri(catalog: Path) -> None:
    use = f"use:\n  catalogs:\n    local:\n      endpoint:\n        uri: {catalog.as_uri()}/\n"
    doc = workflow("greet:1.0.0@local", "      with: {name: Bo}", use)
    assert (await run(doc))["greeting"] == "Hello, Bo!"


async def test_default_catalog_from_settings(catalog: Path) -> None:
    doc = workflow("greet:1.0.0@default", "      with: {name: Di}")
    out = await run(doc, settings=Settings(default_catalog=str(catalog)))
    assert out["greeting"] == "Hello, Di!"


async def test_default_catalog_unset_is_a_configuration_error() -> None:
    doc = workflow("greet:1.0.0@default", "      with: {name: Di}")
    with pytest.raises(WorkflowError) as caught:
        await run(doc)
    assert caught.value.type.endswith("/errors/configuration")
    assert "PODIUM_DEFAULT_CATALOG" in (caught.value.detail or "")
    assert caught.value.instance == "/do/0/greet"


async def test_missing_cataloged_version_is_a_configuration_error(catalog: Path) -> None:
    use = f"use:\n  catalogs:\n    local:\n      endpoint: {catalog.as_uri()}\n"
    doc = workflow("greet:9.9.9@local", "      with: {name: Ada}", use)
    with pytest.raises(WorkflowError) as caught:
        await run(doc)
    assert caught.value.type.endswith("/errors/configuration")
    assert "functions/greet/9.9.9/function.yaml" in (caught.value.detail or "")


async def test_invalid_function_document_is_a_configuration_error(catalog: Path) -> None:
    broken = catalog / "functions" / "broken" / "1.0.0"
    broken.mkdir(parents=True)
    (broken / "function.yaml").write_text("sett: {a: 1}\n")
    use = f"use:\n  catalogs:\n    local:\n      endpoint: {catalog.as_uri()}\n"
    with pytest.raises(WorkflowError) as caught:
        await run(workflow("broken:1.0.0@local", "", use))
    assert caught.value.type.endswith("/errors/configuration")
    assert "not a valid task definition" in (caught.value.detail or "")


async def test_function_by_file_uri_and_by_directory(catalog: Path) -> None:
    directory = catalog / "functions" / "greet" / "1.0.0"
    by_file = workflow((directory / "function.yaml").as_uri(), "      with: {name: Fi}")
    by_directory = workflow(directory.as_uri(), "      with: {name: Ed}")
    assert (await run(by_file))["greeting"] == "Hello, Fi!"
    assert (await run(by_directory))["greeting"] == "Hello, Ed!"


async def test_function_by_http_uri(fake_services: FakeServices, catalog: Path) -> None:
    # Any document served over HTTP will do: the OpenAPI one is not a task, the
    # error proves it was fetched and parsed.
    with pytest.raises(WorkflowError) as caught:
        await run(workflow(f"{fake_services.url}/petstore/v3/openapi.yaml", ""))
    assert "not a valid task definition" in (caught.value.detail or "")


async def test_functions_calling_each_other_in_a_cycle_are_stopped() -> None:
    use = """
use:
  functions:
    ping: {call: pong}
    pong: {call: ping}
"""
    with pytest.raises(WorkflowError) as caught:
        await run(workflow("ping", "", use))
    assert caught.value.type.endswith("/errors/configuration")
    assert "nested functions" in (caught.value.detail or "")


@pytest.mark.parametrize(
    ("page", "raw"),
    [
        (
            "https://github.com/serverlessworkflow/catalog/tree/main/functions/log/1.0.0/"
            "function.yaml",
            "https://raw.githubusercontent.com/serverlessworkflow/catalog/main/functions/log/"
            "1.0.0/function.yaml",
        ),
        (
            "https://github.com/o/r/blob/v2/functions/f/1.0.0/function.yaml",
            "https://raw.githubusercontent.com/o/r/v2/functions/f/1.0.0/function.yaml",
        ),
        (
            "https://github.com/o/r/functions/f/1.0.0/function.yaml",
            "https://raw.githubusercontent.com/o/r/HEAD/functions/f/1.0.0/function.yaml",
        ),
        (
            "https://gitlab.com/g/p/-/tree/main/functions/f/1.0.0/function.yaml",
            "https://gitlab.com/g/p/-/raw/main/functions/f/1.0.0/function.yaml",
        ),
        ("https://example.com/f/function.yaml", "https://example.com/f/function.yaml"),
    ],
    ids=["github-tree", "github-blob", "github-repository", "gitlab-tree", "other"],
)
def test_page_urls_become_raw_documents(page: str, raw: str) -> None:
    assert _raw(page) == raw


async def test_function_is_journaled_under_the_call(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'podium.db'}")
    await store.open()
    try:
        async with Runtime(store=store) as runtime:
            execution = await runtime.execute(
                workflow("greet", "      with: {name: Jo}", INLINE)
            )
        assert execution.output == {"greeting": "Hi Jo"}
        completed = {
            entry.position for entry in await store.read_journal(execution.id)
            if entry.kind == "task.completed"
        }
        assert {"/do/0/greet", "/do/0/greet/function"} <= completed
    finally:
        await store.close()
