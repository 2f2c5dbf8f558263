"""One thumbnail: python thumbnail.py IMAGE OUTPUT_DIR SIZE.

Fits the image into SIZE x SIZE pixels (keeping its proportions), writes it as
OUTPUT_DIR/<image name>-<SIZE>.png and prints one JSON line: {size, path, width,
height}. An image Pillow cannot decode (corrupt, truncated, not an image) exits 1
with one line on stderr saying which image and why."""

import json
import sys
from pathlib import Path

from PIL import Image

source, output_dir, size = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
try:
    with Image.open(source) as image:
        image.thumbnail((size, size))
        thumbnail = image.convert("RGB")
except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
    sys.exit(f"cannot make a {size}px thumbnail of {source}: {error}")
output_dir.mkdir(parents=True, exist_ok=True)
target = output_dir / f"{source.stem}-{size}.png"
thumbnail.save(target, format="PNG")
print(json.dumps({"size": size, "path": str(target), "width": thumbnail.width,
                  "height": thumbnail.height}))
