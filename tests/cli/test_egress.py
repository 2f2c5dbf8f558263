"""`--allow-hosts` and `--allow-files` on the command line, over PODIUM_ALLOW_HOSTS
and PODIUM_ALLOW_FILES; a bad pattern is a usage error (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.support import invoke, workflow
from tests.support.fake_services import FakeServices

AUTHORIZATION = "https://serverlessworkflow.io/spec/1.0.0/errors/authorization"


@pytest.fixture(autouse=True)
def no_policy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PODIUM_ALLOW_HOSTS", "PODIUM_ALLOW_FILES"):
        monkeypatch.delenv(name, raising=False)


def call(tmp_path: Path, url: str) -> Path:
    return workflow(tmp_path, "reach", f"""\
  - reach:
      call: http
      with: {{method: get, endpoint: '{url}'}}
      output: {{as: '${{ {{reached: true}} }}'}}
""")


def problem(stderr: str) -> dict[str, object]:
    found: dict[str, object] = json.loads(stderr.strip().splitlines()[-1])
    return found


def test_the_metadata_address_is_refused_by_default(tmp_path: Path) -> None:
    code, stdout, stderr = invoke("run", call(tmp_path, "http://169.254.169.254/latest/"))
    assert (code, stdout) == (1, "")
    error = problem(stderr)
    assert (error["type"], error["status"], error["instance"]) == (AUTHORIZATION, 403,
                                                                   "/do/0/reach")
    assert "allow it with --allow-hosts" in str(error["detail"])


def test_allow_hosts_over_the_environment(tmp_path: Path, fake_services: FakeServices) -> None:
    path = call(tmp_path, f"{fake_services.url}/httpbin/anything")
    assert invoke("run", path)[0] == 0
    code, _, stderr = invoke("run", path, "--allow-hosts", "*.example.com")
    assert code == 1 and "not allowed by the egress policy (*.example.com)" in stderr
    code, _, stderr = invoke("run", path, env={"PODIUM_ALLOW_HOSTS": "*.example.com"})
    assert code == 1 and "not allowed" in stderr
    code, stdout, _ = invoke("run", path, "--allow-hosts", "127.0.0.0/8",
                             env={"PODIUM_ALLOW_HOSTS": "*.example.com"})
    assert (code, json.loads(stdout)) == (0, {"reached": True})
    # An empty flag is the default policy again, whatever the environment says.
    code, _, _ = invoke("run", path, "--allow-hosts", "", env={"PODIUM_ALLOW_HOSTS": "x.org"})
    assert code == 0


@pytest.mark.parametrize("command", ["run", "worker"])
def test_bad_patterns_are_usage_errors(tmp_path: Path, command: str) -> None:
    target = [call(tmp_path, "http://127.0.0.1:1/")] if command == "run" else [
        "--store", f"sqlite:///{tmp_path / 'podium.db'}"]
    code, _, stderr = invoke(command, *target, "--allow-hosts", "http://example.com")
    assert code == 2
    assert "error: --allow-hosts: 'http://example.com' is not a host name" in stderr
    code, _, stderr = invoke(command, *target, env={"PODIUM_ALLOW_HOSTS": "a b"})
    assert code == 2 and "PODIUM_ALLOW_HOSTS: 'a b' is not a host name" in stderr


def test_allow_files_opens_a_directory_outside_the_workflow(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "schema.json").write_text('{"type": "object"}')
    flows = tmp_path / "flows"
    flows.mkdir()
    path = workflow(flows, "schema", """\
  - check:
      input:
        schema:
          format: json
          resource: {endpoint: 'file://../shared/schema.json'}
      set: {ok: true}
""")
    code, _, stderr = invoke("run", path)
    assert code == 1 and "is outside the workflow's directory" in stderr
    assert problem(stderr)["type"] == AUTHORIZATION
    code, stdout, _ = invoke("run", path, "--allow-files", str(shared))
    assert (code, json.loads(stdout)) == (0, {"ok": True})
    code, _, _ = invoke("run", path, env={"PODIUM_ALLOW_FILES": f"/nowhere,{shared}"})
    assert code == 0
