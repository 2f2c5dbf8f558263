"""A store that cannot be used: one clear line on stderr, exit 2, no traceback,
and never the password."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.support import EXAMPLES, invoke, podium

UNREACHABLE = "postgresql://podium:s3cret-pw@127.0.0.1:1/podium"  # nothing listens on port 1

COMMANDS = [
    ("instances", "list"),
    ("instances", "get", "x"),
    ("instances", "history", "x"),
    ("instances", "cancel", "x"),
    ("instances", "purge", "--older-than", "1d"),
    ("workflows", "list"),
    ("deploy", str(EXAMPLES / "hello.yaml")),
    ("start", str(EXAMPLES / "hello.yaml")),
    ("run", str(EXAMPLES / "hello.yaml")),
    ("worker",),
]


def assert_refused(code: int, stdout: str, stderr: str, *expected: str) -> None:
    assert (code, stdout) == (2, "")
    [line] = stderr.splitlines()
    assert line.startswith("error: ")
    for text in expected:
        assert text in line
    assert "Traceback" not in stderr


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c[:2]) for c in COMMANDS])
def test_unreachable_postgresql(command: tuple[str, ...]) -> None:
    assert_refused(*invoke(*command, "--store", UNREACHABLE),
                   "postgresql://podium:***@127.0.0.1:1/podium", "Connection refused")
    assert "s3cret-pw" not in invoke(*command, "--store", UNREACHABLE)[2]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@localhost/podium", "unsupported store URL 'mysql://root@localhost/podium'"),
        ("podium.db", "unsupported store URL 'podium.db'"),
        ("sqlite://user:hunter2@host/podium.db", "not a SQLite URL"),
        ("sqlite:///podium.db?mode=fast", "unknown SQLite URL options"),
        ("postgresql://u@127.0.0.1:1/db?password=hunter2", "password=***"),
    ],
    ids=["unknown-scheme", "no-scheme", "sqlite-with-host", "sqlite-option", "password-option"],
)
def test_bad_store_urls(url: str, message: str) -> None:
    code, stdout, stderr = invoke("instances", "list", "--store", url)
    assert_refused(code, stdout, stderr, message)
    assert "hunter2" not in stderr


def test_sqlite_file_that_cannot_be_created(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'podium.db'}"
    assert_refused(*invoke("instances", "list", "--store", url), "cannot open")


def test_a_real_process_prints_no_traceback() -> None:
    result = podium("worker", "--store", UNREACHABLE)
    assert_refused(result.returncode, result.stdout, result.stderr, "127.0.0.1:1")
