"""Change capture on the live SQLite file: triggers the tool installs, no change to the service.

Every copied table gets AFTER INSERT / UPDATE / DELETE triggers that append (table, operation,
key) to ``_vendzz_capture_log`` in the same file, in the same transaction as the change: a write
the service committed is captured, a rolled-back one is not. The key is the primary key, as
SQLite literals (``quote()``: type-exact, so 1 and '1' stay apart) joined by commas; it is only
ever read back by SQLite itself (``VALUES (<key>)``). An UPDATE that changes the key records both
the old and the new key. ``seq`` only grows (the log is never pruned while capturing), so
"everything after seq N" is a high-water mark; a snapshot of the file holds the log too, so its
``max(seq)`` is exactly the mark of the snapshot's instant.

``remove`` drops triggers and tables: the file is then as it was (no sqlite_sequence: the log
has no AUTOINCREMENT).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from vendzz_migrate.errors import ConfigError
from vendzz_migrate.source import introspect as insp
from vendzz_migrate.source import qi, source_error

LOG = "_vendzz_capture_log"
TABLES = "_vendzz_capture_tables"
_PREFIX = "_vendzz_capture_t"


@dataclass(frozen=True)
class Captured:
    table: str
    keys: tuple[str, ...]


def open_rw(source: Path, timeout_s: float = 10.0) -> sqlite3.Connection:
    """The live file, read-write, for installing and removing the capture."""
    if not Path(source).is_file():
        raise ConfigError(f"no such SQLite file: {source}")
    try:
        conn = sqlite3.connect(
            source, timeout=timeout_s, isolation_level=None, check_same_thread=False
        )
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        raise source_error(Path(source), exc) from None
    return conn


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _key_expr(row: str, keys: Iterable[str]) -> str:
    keys = tuple(keys)
    if not keys:
        return f"quote({row}.rowid)"
    return " || ',' || ".join(f"quote({row}.{qi(k)})" for k in keys)


def tables_to_capture(conn: sqlite3.Connection, skip: Iterable[str]) -> list[Captured]:
    """Every table the copy takes, with its primary key (rowid for a table without one: its
    changes are then only counted, and the delta copies that table whole)."""
    schema = insp.introspect(conn, tuple(skip))
    out = []
    for t in schema.tables:
        if t.primary_key:
            out.append(Captured(t.name, tuple(t.primary_key)))
        elif t.without_rowid:
            raise ConfigError(f"cutover: table {t.name!r} has neither a primary key nor a rowid")
        else:
            out.append(Captured(t.name, ()))
    return out


def triggers_sql(index: int, cap: Captured) -> list[str]:
    name, t = _lit(cap.table), qi(cap.table)
    new, old = _key_expr("NEW", cap.keys), _key_expr("OLD", cap.keys)
    base = f"{_PREFIX}{index}"
    ins = f"INSERT INTO {LOG} (tbl, op, k) VALUES ({name}"
    return [
        f"CREATE TRIGGER IF NOT EXISTS {qi(base + '_ins')} AFTER INSERT ON {t} BEGIN "
        f"{ins}, 'I', {new}); END",
        f"CREATE TRIGGER IF NOT EXISTS {qi(base + '_upd')} AFTER UPDATE ON {t} BEGIN "
        f"{ins}, 'U', {new}); "
        f"INSERT INTO {LOG} (tbl, op, k) SELECT {name}, 'K', {old} WHERE {old} IS NOT {new}; END",
        f"CREATE TRIGGER IF NOT EXISTS {qi(base + '_del')} AFTER DELETE ON {t} BEGIN "
        f"{ins}, 'D', {old}); END",
    ]


@contextmanager
def _writing(source: Path) -> Iterator[sqlite3.Connection]:
    """One write transaction on the live file (BEGIN IMMEDIATE), rolled back on an error,
    which becomes the source's one-line error."""
    conn = open_rw(source)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield conn
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise source_error(Path(source), exc) from None
    finally:
        conn.close()


def install(source: Path, skip: Iterable[str]) -> list[Captured]:
    """Create the log and the triggers in one write transaction (idempotent)."""
    with _writing(source) as conn:
        caps = tables_to_capture(conn, skip)
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {LOG} (seq INTEGER PRIMARY KEY, "
            "tbl TEXT NOT NULL, op TEXT NOT NULL, k TEXT NOT NULL)"
        )
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLES} (tbl TEXT PRIMARY KEY, keys TEXT NOT NULL)"
        )
        for i, cap in enumerate(caps):
            for sql in triggers_sql(i, cap):
                conn.execute(sql)
            conn.execute(
                f"INSERT OR REPLACE INTO {TABLES} VALUES (?, ?)", (cap.table, ",".join(cap.keys))
            )
    return caps


def remove(source: Path) -> int:
    """Drop every capture trigger and table; returns how many objects were dropped."""
    with _writing(source) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE ? ESCAPE '\\'",
                (_PREFIX.replace("_", "\\_") + "%",),
            )
        ]
        for name in names:
            conn.execute(f"DROP TRIGGER IF EXISTS {qi(name)}")
        dropped = len(names)
        for table in (LOG, TABLES):
            if _exists(conn, table):
                conn.execute(f"DROP TABLE {table}")
                dropped += 1
    return dropped


def _exists(conn: sqlite3.Connection, table: str) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
        is not None
    )


def installed(conn: sqlite3.Connection) -> bool:
    return _exists(conn, LOG)


def leftovers(conn: sqlite3.Connection) -> list[str]:
    """Names of capture objects still in the file (none after remove)."""
    return [
        str(r[0])
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE name LIKE '\\_vendzz\\_capture%' ESCAPE '\\'"
        )
    ]


def high_water(conn: sqlite3.Connection) -> int:
    """The last captured change's seq (0: none), as seen by ``conn``'s read."""
    return int(conn.execute(f"SELECT coalesce(max(seq), 0) FROM {LOG}").fetchone()[0])


def backlog(conn: sqlite3.Connection, after: int) -> int:
    return int(conn.execute(f"SELECT count(*) FROM {LOG} WHERE seq > ?", (after,)).fetchone()[0])


def captured(conn: sqlite3.Connection) -> list[Captured]:
    return [
        Captured(str(t), tuple(str(k).split(",")))
        for t, k in conn.execute(f"SELECT tbl, keys FROM {TABLES} ORDER BY tbl")
    ]


def changed_keys(conn: sqlite3.Connection, after: int, upto: int) -> dict[str, list[str]]:
    """{table: distinct key literals} of the changes in (after, upto]."""
    out: dict[str, list[str]] = {}
    for tbl, k in conn.execute(
        f"SELECT tbl, k FROM {LOG} WHERE seq > ? AND seq <= ?"
        " GROUP BY tbl, k ORDER BY tbl, min(seq)",
        (after, upto),
    ):
        out.setdefault(_text(tbl), []).append(_text(k))
    return out


def _text(value: str | bytes) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value
