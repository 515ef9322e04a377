"""The SQLite source: readings (:class:`SqliteFacts`) and their checks. The file is only read.

It is opened ``mode=ro`` with ``PRAGMA query_only``: preflight never writes to the source.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from functools import partial
from pathlib import Path

from pydantic import BaseModel

from vendzz_migrate.preflight.model import Area, Check, Status, human_bytes, make_check, on_miss
from vendzz_migrate.preflight.profile import SqliteProfile
from vendzz_migrate.source import open_readonly, qi, source_error
from vendzz_migrate.source.introspect import affinity

#: storage classes a column may hold without disagreeing with its declared type (by affinity)
_ALLOWED = {
    "INTEGER": {"integer", "null"},
    "REAL": {"real", "integer", "null"},
    "TEXT": {"text", "null"},
    "NUMERIC": {"integer", "real", "null"},
    "BLOB": {"integer", "real", "text", "blob", "null"},
}
#: NUMERIC-affinity declarations that legitimately hold text (dates, JSON)
_TEXTUAL_NUMERIC = ("DATE", "TIME", "JSON")


class Disagreement(BaseModel):
    table: str
    column: str
    declared: str
    count: int
    kinds: str


class SqliteFacts(BaseModel):
    path: str
    size_bytes: int
    wal_bytes: int
    journal_mode: str
    integrity_mode: str
    integrity: list[str]
    orphans: dict[str, int]
    disagreements: list[Disagreement]
    tables: int | None = None  # user tables (None: not read)


def read_sqlite_facts(path: Path, profile: SqliteProfile) -> SqliteFacts:
    conn = open_readonly(path)
    try:
        size = path.stat().st_size
        wal = Path(f"{path}-wal")
        big = size > profile.quick_check_above_mb * 1024**2
        mode = "quick_check" if big else "integrity_check"
        return SqliteFacts(
            path=str(path),
            size_bytes=size,
            wal_bytes=wal.stat().st_size if wal.exists() else 0,
            journal_mode=str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower(),
            integrity_mode=mode,
            integrity=[str(r[0]) for r in conn.execute(f"PRAGMA {mode}(20)").fetchall()],
            orphans=_orphans(conn),
            disagreements=_census(conn, profile.census_rows),
            tables=len(_tables(conn)),
        )
    except sqlite3.Error as exc:
        raise source_error(path, exc) from None
    finally:
        conn.close()


def _orphans(conn: sqlite3.Connection) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for table, _rowid, _parent, _fkid in conn.execute("PRAGMA foreign_key_check"):
        counts[str(table)] += 1
    return dict(sorted(counts.items()))


def _tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name"
    )
    return [str(r[0]) for r in rows]


def _census(conn: sqlite3.Connection, limit: int) -> list[Disagreement]:
    found: list[Disagreement] = []
    for table in _tables(conn):
        cols = [
            (str(c[1]), str(c[2] or "")) for c in conn.execute(f"PRAGMA table_info({qi(table)})")
        ]
        cols = [(name, decl) for name, decl in cols if affinity(decl) != "BLOB"]
        if cols:
            found += _census_table(conn, table, cols, limit)
    return found


def _allowed(declared: str) -> set[str]:
    kind = affinity(declared)
    allowed = set(_ALLOWED[kind])
    if kind == "NUMERIC" and any(w in declared.upper() for w in _TEXTUAL_NUMERIC):
        allowed.add("text")
    return allowed


def _census_table(
    conn: sqlite3.Connection, table: str, cols: list[tuple[str, str]], limit: int
) -> list[Disagreement]:
    """One scan per table (first ``limit`` rows): count values whose storage class is unexpected."""
    parts = []
    for name, decl in cols:
        allowed = ", ".join(f"'{k}'" for k in sorted(_allowed(decl)))
        parts.append(f"sum(typeof({qi(name)}) NOT IN ({allowed}))")
        parts.append(
            f"group_concat(DISTINCT CASE WHEN typeof({qi(name)}) NOT IN ({allowed}) "
            f"THEN typeof({qi(name)}) END)"
        )
    names = ", ".join(qi(n) for n, _ in cols)
    sql = f"SELECT {', '.join(parts)} FROM (SELECT {names} FROM {qi(table)} LIMIT {int(limit)})"
    row = conn.execute(sql).fetchone()
    found = []
    for i, (name, decl) in enumerate(cols):
        count = row[2 * i] or 0
        if count:
            found.append(
                Disagreement(
                    table=table,
                    column=name,
                    declared=decl,
                    count=int(count),
                    kinds=str(row[2 * i + 1]),
                )
            )
    return found


_check = partial(make_check, Area.SQLITE)


def sqlite_checks(facts: SqliteFacts, profile: SqliteProfile) -> list[Check]:
    checks = [_integrity(facts, profile), _size(facts, profile)]
    if facts.tables is not None:
        checks.append(_tables_check(facts))
    if profile.wal != "off":
        checks.insert(0, _wal(facts, profile))
    if profile.orphans != "off":
        checks.append(_orphan_check(facts, profile))
    if profile.census != "off":
        checks.append(_census_check(facts, profile))
    return checks


def _wal(facts: SqliteFacts, profile: SqliteProfile) -> Check:
    ok = facts.journal_mode == "wal"
    return _check(
        "journal_mode",
        "journal mode",
        Status.PASS if ok else on_miss(profile.wal),
        f"journal_mode={facts.journal_mode}",
        "journal_mode=wal (readers never block the writer)",
        "have the app run PRAGMA journal_mode=WAL once (it persists in the file)",
    )


def _integrity(facts: SqliteFacts, profile: SqliteProfile) -> Check:
    ok = facts.integrity == ["ok"]
    measured = "ok" if ok else f"{len(facts.integrity)} problem(s), first: {facts.integrity[0]}"
    return _check(
        "integrity",
        f"PRAGMA {facts.integrity_mode}",
        Status.PASS if ok else on_miss(profile.integrity),
        measured,
        "ok",
        "restore the file from a backup, or .recover it with the sqlite3 shell",
    )


def _tables_check(facts: SqliteFacts) -> Check:
    """A file without any table (a zero-byte file, the wrong path) is not the database."""
    return _check(
        "tables",
        "user tables",
        Status.PASS if facts.tables else Status.FAIL,
        f"{facts.tables} table(s)",
        "at least one table",
        "point --source at the service's database file (an empty or zero-byte file has none)",
    )


def _size(facts: SqliteFacts, profile: SqliteProfile) -> Check:
    big_wal = facts.wal_bytes > profile.wal_warn_mb * 1024**2
    return _check(
        "size",
        "file and -wal size",
        Status.WARN if big_wal else Status.PASS,
        f"{human_bytes(facts.size_bytes)}, -wal {human_bytes(facts.wal_bytes)}",
        f"-wal <= {profile.wal_warn_mb:g} MiB",
        "a large -wal means checkpoints are starved: stop long readers, PRAGMA wal_checkpoint",
    )


def _orphan_check(facts: SqliteFacts, profile: SqliteProfile) -> Check:
    total = sum(facts.orphans.values())
    per_table = ", ".join(f"{t} {n}" for t, n in facts.orphans.items())
    return _check(
        "orphans",
        "foreign_key_check",
        Status.PASS if total == 0 else on_miss(profile.orphans),
        f"{total} orphan row(s)" + (f": {per_table}" if total else ""),
        "0 orphan rows",
        "delete or re-parent the orphans (PRAGMA foreign_key_check lists them) before the copy",
    )


def _census_check(facts: SqliteFacts, profile: SqliteProfile) -> Check:
    items = facts.disagreements
    shown = "; ".join(f"{d.table}.{d.column} {d.declared}: {d.count} {d.kinds}" for d in items[:5])
    more = f" (+{len(items) - 5} more)" if len(items) > 5 else ""
    return _check(
        "typeof",
        "values vs declared types (typeof census)",
        Status.PASS if not items else on_miss(profile.census),
        f"{len(items)} column(s) disagree" + (f": {shown}{more}" if items else ""),
        "every value's storage class matches its column's declared type",
        "review these columns in the mapping (schema infer) before the copy",
    )
