"""Standard input as a seekable file: demuxers and the model need random access."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import BinaryIO

CHUNK = 1 << 20  # bytes per copy


def spool_stdin(stream: BinaryIO | None = None, suffix: str = ".media") -> Path:
    """Copy standard input to a temporary file and return its path; the caller deletes it."""
    src = stream if stream is not None else sys.stdin.buffer
    with tempfile.NamedTemporaryFile(prefix="stereofix-stdin-", suffix=suffix, delete=False) as tmp:
        shutil.copyfileobj(src, tmp, CHUNK)
    return Path(tmp.name)
