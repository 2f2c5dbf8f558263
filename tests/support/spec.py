"""Where the specification lives: ``shared/spec`` beside the repository
(as in CI's clean clone), or wherever ``PODIUM_SPEC_DIR`` points."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SPEC_DIR = Path(os.environ.get("PODIUM_SPEC_DIR", REPO.parent / "shared" / "spec"))
