"""Atomic file writes: temp file in the same directory, fsync, rename."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def unwritable(path: Path, *, directory: bool = False) -> str | None:
    """Why ``path`` (a file, or with ``directory`` a folder to write into) cannot be written,
    or None: checked before long work so that its report is not lost at the end."""
    path = Path(path)
    if path.exists():
        if path.is_dir() != directory:
            return "is a directory" if path.is_dir() else "is not a directory"
        return None if os.access(path if directory else path.parent, os.W_OK) else "not writable"
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"{parent} is not a directory"
    return None if os.access(parent, os.W_OK) else f"{parent} is not writable"
