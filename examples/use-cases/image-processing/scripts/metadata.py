"""The image's metadata: python metadata.py IMAGE.

Reads only the header (format, dimensions, colour mode) and hashes the file;
prints one JSON line. A file that is not an image exits 1 with the reason."""

import hashlib
import json
import sys
from pathlib import Path

from PIL import Image

source = Path(sys.argv[1])
try:
    with Image.open(source) as image:
        header = {"format": image.format, "width": image.width, "height": image.height,
                  "mode": image.mode}
except (OSError, SyntaxError, ValueError) as error:
    sys.exit(f"cannot read the metadata of {source}: {error}")
content = source.read_bytes()
print(json.dumps({**header, "bytes": len(content),
                  "sha256": hashlib.sha256(content).hexdigest()}))
