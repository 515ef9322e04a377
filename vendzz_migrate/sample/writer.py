"""A stand-in for the live Node service: keeps writing quiz_responses into a WAL-mode file."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from vendzz_migrate.errors import SourceError
from vendzz_migrate.sample.core import metadata_json, responses_json
from vendzz_migrate.sample.fake import END_S, Fake

INSERT = (
    "INSERT INTO quiz_responses (id, quizId, responses, metadata, submittedAt, country, "
    "phoneCountryCode) VALUES (?, ?, ?, ?, ?, 'BR', '+55')"
)
COMPLETE = (
    "UPDATE quiz_responses SET metadata = json_set(metadata, '$.isComplete', json('true'), "
    "'$.isPartial', json('false'), '$.completionPercentage', 100) WHERE id = ?"
)


def _open(path: Path) -> sqlite3.Connection:
    """Open the file the way ``server/db-sqlite.ts`` does (WAL, NORMAL, busy_timeout 30 s)."""
    if not path.is_file():
        raise SourceError(f"{path}: no such SQLite file")
    conn = sqlite3.connect(path, isolation_level=None, timeout=30.0)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA busy_timeout = 30000")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise SourceError(f"{path}: {exc}") from exc
    return conn


def live_writer(
    path: Path,
    *,
    stop: threading.Event | None = None,
    max_rows: int = 10_000,
    seed: int = 7,
) -> int:
    """Insert quiz_responses rows, one small committed transaction each, until ``stop`` is set
    or ``max_rows`` rows were inserted. Every other transaction also completes (UPDATEs in
    place) one of the partial sessions it wrote earlier, as the service does.

    Returns the number of rows inserted: ``count(*)`` grows by exactly that much.
    """
    conn = _open(Path(path))
    try:
        return _write(conn, stop, max_rows, seed)
    except sqlite3.DatabaseError as exc:
        raise SourceError(f"{path}: {exc}") from exc
    finally:
        conn.close()


def _write(conn: sqlite3.Connection, stop: threading.Event | None, max_rows: int, seed: int) -> int:
    quiz_ids = [row[0] for row in conn.execute("SELECT id FROM quizzes ORDER BY rowid LIMIT 100")]
    if not quiz_ids:
        raise SourceError("the file has no quizzes to answer")
    top = conn.execute("SELECT coalesce(max(rowid), 0) FROM quiz_responses").fetchone()[0]
    f = Fake(f"vendzz-live:{seed}:{top}")  # new ids on every run against a growing file
    partial: list[str] = []
    written = 0
    while written < max_rows and not (stop is not None and stop.is_set()):
        submitted = END_S + written
        rid = f.nanoid()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            INSERT,
            (
                rid,
                f.pick(quiz_ids),
                responses_json(f, submitted),
                metadata_json(f, submitted),
                submitted,
            ),
        )
        if partial and written % 2:
            conn.execute(COMPLETE, (partial.pop(0),))
        conn.execute("COMMIT")
        partial.append(rid)
        written += 1
    return written
