"""Image processing needs no network stand-in: the work is done by the two
scripts the workflow runs (``scripts/thumbnail.py``, ``scripts/metadata.py``,
with Pillow: ``pip install -e '.[use-cases]'``). What this module provides are
the sample uploads the README's events name, made with Pillow:

- ``/tmp/podium-images/photo.jpg``: a 1024 x 768 photo stand-in (a gradient);
- ``/tmp/podium-images/broken.png``: a PNG cut off after its header, which
  Pillow can identify (format, size) but not decode.

``python -m examples.use_cases image-processing`` writes them (``reset``) and
waits; the tests write their own with ``make_samples(directory)``.
"""

from __future__ import annotations

from pathlib import Path

from examples.use_cases import StandIn, say
from PIL import Image

SAMPLES = Path("/tmp/podium-images")
PHOTO_SIZE = (1024, 768)
THUMBNAIL_SIZES = (128, 256, 512)

STANDINS: list[StandIn] = []


def photo(path: Path, size: tuple[int, int] = PHOTO_SIZE) -> Path:
    """A JPEG of ``size`` pixels: a colour gradient."""
    width, height = size
    image = Image.new("RGB", size)
    image.putdata([(255 * x // width, 255 * y // height, 128)
                   for y in range(height) for x in range(width)])
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="JPEG", quality=85)
    return path


def truncated_png(path: Path, size: tuple[int, int] = (640, 480)) -> Path:
    """A PNG cut off in its pixel data: the header is intact, the image is not."""
    full = path.with_suffix(".full.png")
    Image.new("RGB", size, (200, 30, 30)).save(full, format="PNG")
    content = full.read_bytes()
    full.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content[: len(content) // 2])
    return path


def make_samples(directory: Path = SAMPLES) -> dict[str, Path]:
    return {"photo": photo(directory / "photo.jpg"),
            "broken": truncated_png(directory / "broken.png")}


def reset() -> None:
    for name, path in make_samples().items():
        say(f"sample {name}: {path}")
