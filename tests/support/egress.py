"""Operator settings for tests whose resource files live in a temporary directory
while their documents are text: the egress policy reads files only from the
workflow's own tree (for a text document, the current directory) and from
directories the operator allows."""

from __future__ import annotations

import tempfile
from pathlib import Path

from podium.config import Settings

TMP_FILES = Settings(allow_files=(Path(tempfile.gettempdir()),))
