"""Container engines for the tests, always explicit (../shared/containers.md):
never "whatever happens to be on PATH".

- ``absent_container_engine``: an engine path that does not exist, for the
  configuration errors a runtime without an engine gives.
- ``container_engine``: Debian's podman with runc (cgroupfs, no default
  ulimits) and a local image, ``localhost/podium-test/busybox:1``, imported from
  a busybox-static root filesystem: no registry is needed (every test run uses
  ``--pull never``). Each container a test starts is removed after it.

A machine without podman, runc or busybox-static fails these tests with what
to install (``.ci/run`` installs them); they never skip.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

IMAGE = "localhost/podium-test/busybox:1"
# The image's default command, for workflows that give none (the spec's
# examples run `hello-world` so).
GREETING = "Hello from Podium"
INSTALL = "apt-get install -y podman runc busybox-static"
APPLETS = ("sh", "echo", "cat", "ls", "sleep", "env", "printf", "true", "false", "test")
# crun (podman's default runtime on Debian) fails on these machines: cgroups in
# hybrid mode, and setrlimit is refused. runc with cgroupfs and no ulimits works.
CONTAINERS_CONF = """\
[containers]
default_ulimits = []

[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
"""
TIMEOUT = 120  # seconds for an engine command (an import, a first run)


@dataclass(frozen=True)
class Engine:
    """A working podman: its CLI, its configuration, and the test image."""

    path: str
    conf: Path
    image: str = IMAGE

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``podman ARGS...`` with this engine's configuration."""
        return subprocess.run(
            [self.path, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL,
            env={"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                 "CONTAINERS_CONF": str(self.conf)},
            timeout=TIMEOUT, check=False,
        )

    def containers(self) -> dict[str, str]:
        """The containers of the test image, running or not: id -> name."""
        listed = self("ps", "--all", "--filter", f"ancestor={self.image}",
                      "--format", "{{.ID}} {{.Names}}")
        pairs = (line.split(maxsplit=1) for line in listed.stdout.splitlines() if line.strip())
        return {pair[0]: pair[-1] for pair in pairs}

    def remove(self, ids: list[str]) -> None:
        if ids:
            # At once: a shell or `sleep` as PID 1 ignores the SIGTERM of a stop.
            self("rm", "--force", "--time", "0", *ids)


def _required(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.fail(f"real containers need {program}: install podman, runc and busybox-static "
                    f"({INSTALL}; ../shared/containers.md)", pytrace=False)
    return path


def _import_image(engine: Engine, busybox: str, directory: Path) -> None:
    root = directory / "rootfs"
    (root / "bin").mkdir(parents=True)
    shutil.copy2(busybox, root / "bin" / "busybox")
    for applet in APPLETS:
        (root / "bin" / applet).symlink_to("busybox")
    archive = directory / "rootfs.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(root, arcname=".")
    imported = engine("import", "--change", f'CMD ["/bin/echo", "{GREETING}"]',
                      str(archive), engine.image)
    if imported.returncode != 0:
        pytest.fail(f"podman import of the test image failed: {imported.stderr.strip()}",
                    pytrace=False)


def _probe(engine: Engine) -> subprocess.CompletedProcess[str]:
    """Run the test image: ``ok`` when it has every applet the tests use."""
    script = " && ".join(f"test -e /bin/{applet}" for applet in APPLETS) + " && echo ok"
    return engine("run", "--rm", "--pull", "never", engine.image, "/bin/sh", "-c", script)


@pytest.fixture(scope="session")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """podman configured for these machines, with the test image imported."""
    path = _required("podman")
    _required("runc")
    busybox = _required("busybox")
    directory = tmp_path_factory.mktemp("containers")
    conf = directory / "containers.conf"
    conf.write_text(CONTAINERS_CONF, encoding="utf-8")
    engine = Engine(path, conf)
    probe = _probe(engine)
    if probe.returncode != 0:
        # Missing, or left by an older version of this file: (re)import it.
        engine("image", "rm", "--force", engine.image)
        _import_image(engine, busybox, directory)
        probe = _probe(engine)
    if (probe.returncode, probe.stdout) != (0, "ok\n"):
        pytest.fail(f"podman cannot run the test image ({probe.stderr.strip()}): see "
                    "../shared/containers.md (busybox must be busybox-static)", pytrace=False)
    # The runtime hands CONTAINERS_* variables on to the engine's CLI.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CONTAINERS_CONF", str(conf))
        yield engine


@pytest.fixture
def container_engine(podman: Engine) -> Iterator[Engine]:
    """The working engine; the containers started meanwhile are removed after."""
    before = set(podman.containers())
    yield podman
    podman.remove([key for key in podman.containers() if key not in before])


@pytest.fixture
def absent_container_engine(tmp_path: Path) -> str:
    """An engine path that does not exist: the runtime has no engine."""
    return str(tmp_path / "no-such-engine" / "podman")
