"""``podium store check``: ``ok`` (exit 0) or the problems (exit 2), never a change
to the store and never a traceback."""

from __future__ import annotations

from pathlib import Path

from podium.store.migrations import migrations
from tests.cli.support import EXAMPLES, corrupt, invoke, ok, podium
from tests.support.postgres import PostgresServer


def populate(store: str) -> None:
    for _ in range(3):
        invoke("run", EXAMPLES / "hello.yaml", "--store", store)
    ok("start", EXAMPLES / "hello.yaml", "--store", store)


def test_a_healthy_store_is_ok(store: str) -> None:
    populate(store)
    code, stdout, stderr = invoke("store", "check", "--store", store)
    assert (code, stdout) == (0, "ok\n"), stderr
    # Every migration there is, in order (1, 2, 3, ...).
    assert f"migrations {', '.join(str(m.number) for m in migrations())};" in stderr
    assert (
        "1 definitions, 4 instances, 6 journal entries, 0 resources, 0 events,"
        " 0 subscriptions, 0 deliveries, 0 schedules, 0 leases"
    ) in stderr


def test_garbage_in_a_sqlite_file_is_reported(sqlite: str) -> None:
    populate(sqlite)
    corrupt(sqlite, "podium_journal")
    before = Path(sqlite.removeprefix("sqlite:///")).read_bytes()
    result = podium("store", "check", "--store", sqlite)
    assert result.returncode == 2, result.stderr
    problems = result.stdout.splitlines()
    assert problems and "ok" not in problems
    assert any("page" in line.lower() or "malformed" in line for line in problems), problems
    assert "Traceback" not in result.stderr
    # Only read: the file is exactly as it was.
    assert Path(sqlite.removeprefix("sqlite:///")).read_bytes() == before


def test_a_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.db"
    code, stdout, _ = invoke("store", "check", "--store", f"sqlite:///{path}")
    assert (code, stdout) == (2, f"no database file at {path}\n")
    assert not path.exists()


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("shopping list\n" * 500)
    code, stdout, _ = invoke("store", "check", "--store", f"sqlite:///{path}")
    assert code == 2
    assert "not a database" in stdout


def test_a_postgresql_database_without_podium_tables(postgres: PostgresServer) -> None:
    code, stdout, _ = invoke("store", "check", "--store", postgres.create_database())
    assert (code, stdout) == (
        2, "no podium tables: podium creates them when it first opens a store\n"
    )


def test_an_unreachable_postgresql_server_never_shows_the_password() -> None:
    url = "postgresql://podium:s3cret-pass@127.0.0.1:9/podium"
    code, stdout, stderr = invoke("store", "check", "--store", url)
    assert code == 2
    assert stdout.startswith("cannot connect:")
    assert "s3cret-pass" not in stdout + stderr
