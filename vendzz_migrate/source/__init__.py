"""The SQLite side: opening files safely, consistent snapshots, introspection, reading."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from vendzz_migrate.errors import SourceError


def qi(name: str) -> str:
    """Quote a SQLite identifier (any name: quotes, semicolons, spaces, keywords)."""
    return '"' + name.replace('"', '""') + '"'


def source_error(path: Path, exc: sqlite3.Error) -> SourceError:
    """Turn a sqlite3 error into a one-line, actionable SourceError."""
    text = str(exc)
    if "file is not a database" in text:
        return SourceError(f"{path} is not a SQLite database (or is encrypted)")
    if "malformed" in text or "corrupt" in text:
        return SourceError(f"{path} is corrupt or truncated ({text}); restore it from a backup")
    if "locked" in text or "busy" in text:
        return SourceError(f"{path} is locked by another process ({text}); retry in a moment")
    if "unable to open" in text:
        return SourceError(
            f"cannot open {path} or its -wal/-shm files ({text}); check they are readable"
        )
    if ("readonly" in text or "read-only" in text) and _hot_journal(path):
        return SourceError(
            f"{path} has a hot rollback journal ({path.name}-journal, left by a writer that "
            "was killed mid-transaction): it must be rolled back by a connection that may "
            f"write: stop the service, run `sqlite3 {path} 'PRAGMA integrity_check'` as the "
            "file's owner (or start the service once), then rerun; never delete the journal"
        )
    if "readonly" in text or "read-only" in text:
        return SourceError(f"{path}: {text}")
    return SourceError(f"{path}: {text}")


def _hot_journal(path: Path) -> bool:
    journal = Path(f"{path}-journal")
    try:
        return journal.is_file() and journal.stat().st_size > 0
    except OSError:
        return False


def open_readonly(
    path: Path, *, immutable: bool = False, busy_timeout_ms: int = 5000
) -> sqlite3.Connection:
    """Open ``path`` read-only (never a write, never a journal). Raises SourceError."""
    path = Path(path)
    if not path.exists():
        raise SourceError(f"no such file: {path}")
    if not path.is_file():
        raise SourceError(f"not a file: {path}")
    mode = "ro&immutable=1" if immutable else "ro"
    try:
        conn = sqlite3.connect(
            f"file:{_uri_path(path)}?mode={mode}",
            uri=True,
            check_same_thread=False,
            timeout=busy_timeout_ms / 1000,
        )
        conn.execute("PRAGMA query_only = ON")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        from vendzz_migrate.source.collations import register_unknown

        register_unknown(conn)  # a custom COLLATE (Anki's unicase) must not stop a read
    except sqlite3.Error as exc:
        raise source_error(path, exc) from None
    return conn


def _uri_path(path: Path) -> str:
    from urllib.parse import quote

    return quote(str(path.resolve()))
