"""``podium start``: an instance id on stdout at once; the instance is pending."""

from __future__ import annotations

import re
from pathlib import Path

from tests.cli.support import EXAMPLES, as_json, instance, invoke, ok, workflow

ULID = re.compile(r"^[0-9a-z]{26}$")


def test_start_prints_the_id_of_a_pending_instance(store: str) -> None:
    stdout = ok("start", EXAMPLES / "hello.yaml", "--input", '{"name": "Ada"}', "--store", store)
    instance_id = stdout.strip()
    assert ULID.match(instance_id)
    record = instance(store, instance_id)
    assert record["status"] == "pending"
    assert record["input"] == {"name": "Ada"}
    assert record["workflow"] == {"namespace": "examples", "name": "hello", "version": "0.1.0"}


def test_start_with_the_same_key_prints_the_existing_instance(sqlite: str) -> None:
    first = ok("start", EXAMPLES / "hello.yaml", "--key", "order-42", "--store", sqlite)
    code, again, stderr = invoke("start", EXAMPLES / "hello.yaml", "--input", '{"name": "B"}',
                                 "--key", "order-42", "--store", sqlite)
    assert (code, again) == (0, first)
    assert "exists already" in stderr
    other = ok("start", EXAMPLES / "hello.yaml", "--key", "order-43", "--store", sqlite)
    assert other != first
    assert len(as_json("instances", "list", "--store", sqlite)) == 2


def test_start_by_deployed_name(tmp_path: Path, sqlite: str) -> None:
    for version in ("1.0.0", "1.10.0", "1.2.0"):
        ok("deploy", workflow(tmp_path, "named", "  - a:\n      set: {a: 1}\n", version),
           "--store", sqlite)
    pinned = ok("start", "test/named:1.2.0", "--store", sqlite).strip()
    latest = ok("start", "test/named", "--store", sqlite).strip()
    also_latest = ok("start", "test/named:latest", "--store", sqlite).strip()
    assert instance(sqlite, pinned)["workflow"]["version"] == "1.2.0"
    assert instance(sqlite, latest)["workflow"]["version"] == "1.10.0"
    assert instance(sqlite, also_latest)["workflow"]["version"] == "1.10.0"


def test_start_by_name_not_deployed(sqlite: str) -> None:
    code, stdout, stderr = invoke("start", "test/missing:1.0.0", "--store", sqlite)
    assert (code, stdout) == (1, "")
    assert "test/missing:1.0.0 is not deployed" in stderr


def test_start_refuses_an_invalid_file(tmp_path: Path, sqlite: str) -> None:
    path = workflow(tmp_path, "bad", "  - a:\n      sett: {}\n")
    code, stdout, stderr = invoke("start", path, "--store", sqlite)
    assert (code, stdout) == (2, "")
    assert stderr.startswith(f"{path}:")
    assert as_json("instances", "list", "--store", sqlite) == []


def test_start_of_an_edited_document_under_the_same_version(tmp_path: Path, sqlite: str) -> None:
    ok("start", workflow(tmp_path, "edit", "  - a:\n      set: {a: 1}\n"), "--store", sqlite)
    edited = workflow(tmp_path, "edit", "  - a:\n      set: {a: 2}\n")
    code, stdout, stderr = invoke("start", edited, "--store", sqlite)
    assert (code, stdout) == (1, "")
    assert "test/edit:0.1.0 is already deployed with another document" in stderr
