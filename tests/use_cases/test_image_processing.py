"""Use case image-processing (examples/use-cases/image-processing/), as its README
runs it: `podium worker --allow-run script` on a SQLite store, `podium deploy`
(the `schedule.on` subscribes the workflow to uploads), then `podium events
publish` of an upload. The images are made with Pillow by the case's services.py.

A real image → three thumbnails of the right sizes on disk and a completion event
carrying the metadata; a corrupt image → the workflow completes with a report that
names the failed branch and Pillow's error, and still carries the metadata."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from examples import use_cases
from PIL import Image

from tests.cli.support import eventually, history
from tests.use_cases._ops import (
    deploy,
    ended,
    events_of_type,
    instances_of,
    publish,
    worker,
)

pytestmark = pytest.mark.xdist_group("use-case-image-processing")

CASE = "image-processing"
DIRECTORY = use_cases.directory(CASE)
WORKFLOW = "media/image-processing"
PROCESSED = "com.example.image.processed"
THUMBNAILS = DIRECTORY / "scripts"
SIZES = {128: (128, 96), 256: (256, 192), 512: (512, 384)}  # of a 1024 x 768 photo


@pytest.fixture(autouse=True)
def _no_operator_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PODIUM_ALLOW_RUN", "PODIUM_STORE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'podium.db'}"


@pytest.fixture
def samples(tmp_path: Path) -> dict[str, Path]:
    made: dict[str, Path] = use_cases.load(CASE).make_samples(tmp_path / "uploads")
    return made


def upload(sample: str, image: Path, output_dir: Path) -> dict[str, Any]:
    """The README's sample upload event, pointing at files under the test's directory."""
    event: dict[str, Any] = json.loads(
        (DIRECTORY / "events" / sample).read_text(encoding="utf-8"))
    event["data"] = {**event["data"], "path": str(image), "outputDir": str(output_dir)}
    return event


def processed(store: str, event: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Deployed already: publish the upload; the instance it started, once ended."""
    publish(store, event)
    instance_id: str = eventually(
        lambda: next((item["id"] for item in instances_of(store, WORKFLOW)
                      if item["input"][0]["id"] == event["id"]), None),
        30, "the upload to start an instance")
    return instance_id, ended(store, instance_id)



def test_an_upload_gets_three_thumbnails_and_a_completion_event_with_its_metadata(
    store: str, samples: dict[str, Path], tmp_path: Path
) -> None:
    output_dir = tmp_path / "thumbnails"
    with worker(store, "--allow-run", "script"):
        deploy(store, DIRECTORY / "image-processing.yaml")
        instance_id, shown = processed(
            store, upload("uploaded-photo.json", samples["photo"], output_dir))

    assert shown["status"] == "completed", shown["error"]
    report = shown["output"]
    assert (report["imageId"], report["status"], report["failures"]) == (
        "photo-1", "completed", [])
    assert [t["size"] for t in report["thumbnails"]] == list(SIZES)
    for thumbnail in report["thumbnails"]:
        path = Path(thumbnail["path"])
        assert path == output_dir / f"photo-{thumbnail['size']}.png"
        with Image.open(path) as image:
            assert (image.format, image.size) == ("PNG", SIZES[thumbnail["size"]])
        assert (thumbnail["width"], thumbnail["height"]) == SIZES[thumbnail["size"]]
    assert sorted(p.name for p in output_dir.iterdir()) == [
        "photo-128.png", "photo-256.png", "photo-512.png"]
    metadata = report["metadata"]
    assert {k: metadata[k] for k in ("format", "width", "height", "mode")} == {
        "format": "JPEG", "width": 1024, "height": 768, "mode": "RGB"}
    assert metadata["bytes"] == samples["photo"].stat().st_size

    # One completion event, carrying the report (with the metadata).
    (announced,) = events_of_type(store, PROCESSED)
    assert announced["source"] == "https://images.example/processor"
    assert announced["subject"] == "photo-1"
    assert announced["event"]["data"] == report
    entries = history(store, instance_id)
    assert [e["kind"] for e in entries].count("event.emitted") == 1
    # The three sizes ran as three branches of one fork, beside the metadata branch.
    branches = {e["position"].rsplit("/", 1)[1] for e in entries
                if e["kind"] == "task.completed" and "/fork/branches/" in e["position"]}
    assert {"small", "medium", "large", "makeThumbnails", "extractMetadata"} <= branches


def test_a_corrupt_image_is_reported_with_the_failed_branch_and_the_error(
    store: str, samples: dict[str, Path], tmp_path: Path
) -> None:
    output_dir = tmp_path / "thumbnails"
    broken = samples["broken"]
    with worker(store, "--allow-run", "script"):
        deploy(store, DIRECTORY / "image-processing.yaml")
        instance_id, shown = processed(
            store, upload("uploaded-broken.json", broken, output_dir))

    assert shown["status"] == "completed", shown["error"]
    report = shown["output"]
    assert (report["imageId"], report["status"], report["thumbnails"]) == (
        "broken-1", "failed", [])
    (failure,) = report["failures"]
    assert failure["branch"] == "makeThumbnails"
    assert failure["error"]["title"] == "Runtime Error"
    assert re.fullmatch(
        rf"the python script exited with code 1: cannot make a (128|256|512)px thumbnail "
        rf"of {re.escape(str(broken))}: image file is truncated", failure["error"]["detail"])
    assert re.fullmatch(r"/do/1/processImage/fork/branches/0/makeThumbnails/try/0/"
                        r"resizeInParallel/fork/branches/\d/(small|medium|large)",
                        failure["error"]["task"])
    # The header was readable: the metadata branch still reports it.
    assert report["metadata"]["format"] == "PNG"
    assert (report["metadata"]["width"], report["metadata"]["height"]) == (640, 480)
    assert not output_dir.exists() or list(output_dir.iterdir()) == []

    (announced,) = events_of_type(store, PROCESSED)
    assert announced["event"]["data"]["status"] == "failed"
    assert announced["event"]["data"]["failures"] == report["failures"]
    faults = [e for e in history(store, instance_id) if e["kind"] == "task.faulted"]
    assert faults and all("image file is truncated" in e["data"]["error"]["detail"]
                          for e in faults)
