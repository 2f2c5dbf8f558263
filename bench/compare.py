"""Side by side: ``python -m bench compare [--store URL] [--baseline REV] [--runs 3]``.

The machine is shared and noisy: absolute numbers move by a third from one hour
to the next, but two builds measured in the same sitting, interleaved, keep
their ratio. This runs W1, W2 and W3 (``--workloads``) ``--runs`` times, each
run of each workload once per build, alternating builds, every run in a fresh
process (``python -m bench WORKLOAD --json``), and prints the median with
min-max of each, and the ratio of this working tree to the baseline.

- Without ``--baseline``, only this working tree is measured.
- ``--baseline REV`` checks REV out into a temporary directory (``git worktree``)
  and runs it in a temporary venv of its own that takes the packages installed
  in this one (a ``.pth`` file: REV's ``src`` first, then this venv's
  site-packages), so a baseline costs seconds, not an install.
- ``--json`` prints one JSON object; ``--save`` also writes it to
  ``bench/results/<date>-<commit>-<store>.json``, the history the README's tables come from.

Each run gets a fresh SQLite file (the default) or the same ``--store`` database.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"

# What each workload is judged by, and whether more is better.
METRICS = {
    "W1": ("latency_ms_median", False),
    "W2": ("workflows_per_s", True),
    "W3": ("latency_ms_median", False),
}


@dataclass(frozen=True)
class Build:
    """Something to measure: a name, the interpreter and the directory to run in."""

    name: str
    python: str
    directory: Path
    commit: str


def _git(*args: str, cwd: Path = REPO) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


def current_commit() -> str:
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return commit + ("+dirty" if dirty else "")


@contextmanager
def baseline(revision: str) -> Iterator[Build]:
    """``revision`` in a temporary worktree, with a venv that sees its ``src``
    before this venv's packages."""
    commit = _git("rev-parse", "--short", revision)
    with tempfile.TemporaryDirectory(prefix="podium-baseline-") as temporary:
        tree = Path(temporary) / "tree"
        _git("worktree", "add", "--detach", str(tree), commit)
        try:
            venv = Path(temporary) / "venv"
            subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)],
                           check=True)
            python = venv / "bin" / "python"
            site = subprocess.run(
                [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                check=True, capture_output=True, text=True).stdout.strip()
            ours = sysconfig.get_path("purelib")
            Path(site, "00-podium-baseline.pth").write_text(f"{tree / 'src'}\n{ours}\n")
            yield Build(f"baseline {commit}", str(python), tree, commit)
        finally:
            _git("worktree", "remove", "--force", str(tree))


def run_once(
    build: Build, workload: str, store: str | None, extra: Sequence[str]
) -> dict[str, Any]:
    command = [build.python, "-m", "bench", workload, "--json", *extra]
    if store:
        command += ["--store", store]
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(command, cwd=build.directory, capture_output=True, text=True,
                          env=environment, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"{build.name} {workload} failed:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def summary(values: Sequence[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "max": round(max(values), 3)}


def measure(builds: Sequence[Build], workloads: Sequence[str], runs: int, store: str | None,
            extra: Sequence[str]) -> dict[str, Any]:
    collected: dict[str, dict[str, list[dict[str, Any]]]] = {
        b.name: {w: [] for w in workloads} for b in builds}
    for run in range(runs):
        for workload in workloads:
            # Alternate which build goes first, so neither always gets the warmer cache.
            order = builds if run % 2 == 0 else list(reversed(builds))
            for build in order:
                result = run_once(build, workload, store, extra)
                collected[build.name][workload].append(result)
                metric, _ = METRICS[workload]
                print(f"run {run + 1}/{runs} {workload} {build.name}: {metric} {result[metric]}",
                      file=sys.stderr, flush=True)
    report: dict[str, Any] = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_average": list(os.getloadavg())},
        "store": collected[builds[0].name][workloads[0]][0]["store"] if store else "sqlite (temp)",
        "runs": runs,
        "builds": {},
    }
    for build in builds:
        entry: dict[str, Any] = {"commit": build.commit, "workloads": {}}
        for workload in workloads:
            results = collected[build.name][workload]
            metric, _ = METRICS[workload]
            entry["workloads"][workload] = {
                "metric": metric,
                **summary([r[metric] for r in results]),
                "peak_rss_mb": summary([r.get("peak_rss_mb", 0.0) for r in results]),
                **({"worker_cpu_ms_per_workflow": summary(
                    [statistics.mean(r["worker_cpu_ms_per_workflow"]) for r in results])}
                   if results[0].get("worker_cpu_ms_per_workflow") else {}),
                "durability": results[0]["durability"],
            }
        report["builds"][build.name] = entry
    if len(builds) == 2:
        base, ours = (report["builds"][b.name]["workloads"] for b in builds)
        report["ratio"] = {w: round(ours[w]["median"] / base[w]["median"], 3) for w in workloads}
    return report


def table(report: dict[str, Any]) -> str:
    names = list(report["builds"])
    workloads = list(report["builds"][names[0]]["workloads"])
    header = ["workload", "metric", *names] + (["ratio (this / baseline)"] if "ratio" in report
                                                else [])
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for workload in workloads:
        cells = [workload, METRICS[workload][0]]
        for name in names:
            m = report["builds"][name]["workloads"][workload]
            cells.append(f"{m['median']:,} [{m['min']:,} - {m['max']:,}]")
        if "ratio" in report:
            better = METRICS[workload][1] == (report["ratio"][workload] >= 1)
            cells.append(f"{report['ratio'][workload]}x ({'better' if better else 'worse'})")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", help="store URL (default: a new SQLite file per run)")
    parser.add_argument("--baseline", metavar="REV", help="a git revision to measure beside"
                        " this working tree")
    parser.add_argument("--runs", type=int, default=3, help="runs of each workload per build"
                        " (default: 3)")
    parser.add_argument("--workloads", default="W1,W2,W3", help="comma-separated (default:"
                        " W1,W2,W3)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--save", action="store_true", help="also write the JSON to"
                        " bench/results/<date>-<commit>-<store>.json")
    args, extra = parser.parse_known_args(argv)  # the rest goes to each run (--workers 2)
    workloads = [w.strip().upper() for w in args.workloads.split(",") if w.strip()]
    unknown = sorted(set(workloads) - set(METRICS))
    if unknown or args.runs < 1:
        parser.error(f"unknown workloads {unknown}" if unknown else "--runs must be >= 1")
    ours = Build("this tree", sys.executable, REPO, current_commit())
    if args.baseline:
        with baseline(args.baseline) as base:
            report = measure([base, ours], workloads, args.runs, args.store, extra)
    else:
        report = measure([ours], workloads, args.runs, args.store, extra)
    report["arguments"] = extra
    if args.save:
        RESULTS.mkdir(exist_ok=True)
        store = "postgresql" if (args.store or "").startswith("postgres") else "sqlite"
        suffix = "".join(extra).replace("--", "-").replace(" ", "")
        path = RESULTS / f"{time.strftime('%Y-%m-%d')}-{ours.commit}-{store}{suffix}.json"
        path.write_text(json.dumps(report, indent=2) + "\n")
        print(f"saved {path.relative_to(REPO)}", file=sys.stderr)
    print(json.dumps(report) if args.json else table(report), flush=True)
