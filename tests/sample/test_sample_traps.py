"""Clean files are clean; dirty files hold every trap kind, and every recorded trap is real."""

from __future__ import annotations

import json
import math
import re
import sqlite3
from collections.abc import Callable
from typing import Any

from tests.verify.helpers import is_utf8
from vendzz_migrate.sample import TRAP_KINDS, SampleStats, Trap

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SQL_DATETIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
JSON_COLUMNS = {
    "users": ["twoFactorBackupCodes"],
    "quizzes": ["structure", "settings", "trackingPixels"],
    "quiz_templates": ["structure"],
    "quiz_responses": ["responses", "metadata"],
    "response_variables": ["variableValue"],
    "quiz_analytics": ["metadata"],
    "sms_campaigns": ["phones", "conditionalRules"],
    "email_campaigns": ["variables"],
    "email_logs": ["leadData"],
    "email_automations": ["conditions", "sequence"],
    "whatsapp_campaigns": ["message", "phones", "extension_settings"],
    "stripe_subscriptions": ["metadata"],
    "subscription_plans": ["features", "limits"],
    "credit_transactions": ["metadata"],
}


def columns(conn: sqlite3.Connection, table: str) -> list[tuple[str, str, int]]:
    """(name, declared type, pk position) of each column."""
    rows = conn.execute(f'PRAGMA table_info("{table}")').fetchall()
    return [(r[1].decode(), r[2].decode().upper(), r[5]) for r in rows]


def expected_types(declared: str) -> set[bytes]:
    if declared == "INTEGER":
        return {b"integer", b"null"}
    if declared == "REAL":
        return {b"real", b"null"}
    return {b"text", b"null"}  # TEXT, VARCHAR(n), DATETIME (text by design), SERIAL (empty)


def check_clean_column(conn: sqlite3.Connection, table: str, name: str, declared: str) -> None:
    col = f'"{name}"'
    found = {r[0] for r in conn.execute(f'SELECT DISTINCT typeof({col}) FROM "{table}"')}
    assert found <= expected_types(declared), (table, name, found)
    for (value,) in conn.execute(f'SELECT {col} FROM "{table}" WHERE {col} IS NOT NULL'):
        if isinstance(value, float):
            assert math.isfinite(value), (table, name)
        if not isinstance(value, bytes):
            continue
        text = value.decode("utf-8")  # raises on invalid UTF-8
        assert "\x00" not in text, (table, name)
        assert text != "", (table, name)
        if declared.startswith("VARCHAR("):
            assert len(text) <= int(declared[8:-1]), (table, name, text)
        if declared == "DATETIME":
            assert ISO.match(text), (table, name, text)


def check_clean_timestamps(conn: sqlite3.Connection, table: str, name: str) -> None:
    """Integer timestamps: one unit (seconds or milliseconds) per column."""
    low, high = conn.execute(f'SELECT min("{name}"), max("{name}") FROM "{table}"').fetchone()
    if low is not None:
        assert (low < 10**11) == (high < 10**11), (table, name, low, high)


def test_clean_values_fit_their_declared_types(clean: SampleStats, open_db: Any) -> None:
    assert clean.traps == []
    conn = open_db(clean.path)
    for table in clean.tables:
        for name, declared, pk in columns(conn, table):
            check_clean_column(conn, table, name, declared)
            if declared == "INTEGER" and re.search(r"(At|_at|Date)$", name):
                check_clean_timestamps(conn, table, name)
            if pk:
                nulls = conn.execute(f'SELECT count(*) FROM "{table}" WHERE "{name}" IS NULL')
                assert nulls.fetchone()[0] == 0, (table, name)


def test_clean_json_is_single_encoded_containers(clean: SampleStats, open_db: Any) -> None:
    conn = open_db(clean.path)
    for table, names in JSON_COLUMNS.items():
        for name in names:
            for (value,) in conn.execute(f'SELECT "{name}" FROM "{table}" WHERE "{name}" NOT NULL'):
                assert isinstance(json.loads(value), dict | list), (table, name, value[:80])
    sizes = conn.execute("SELECT max(length(structure)) FROM quizzes").fetchone()[0]
    assert sizes < 1_000_000


def test_clean_has_no_orphans_nor_duplicates(clean: SampleStats, open_db: Any) -> None:
    conn = open_db(clean.path)
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    dupes = conn.execute(
        "SELECT count(*) FROM (SELECT 1 FROM extension_pings GROUP BY "
        "user_id, version, status, pending_count, created_at HAVING count(*) > 1)"
    )
    assert dupes.fetchone()[0] == 0


def test_dirty_has_every_trap_kind_even_small(dirty: SampleStats) -> None:
    assert set(TRAP_KINDS) == dirty.trap_kinds()
    assert len({(t.table, t.key, t.column, t.kind) for t in dirty.traps}) == len(dirty.traps)


def test_dirty_traps_stay_a_minority(tmp_path: Any) -> None:
    from vendzz_migrate.sample import generate

    stats = generate(tmp_path / "m.db", rows=40_000, seed=5)
    assert set(TRAP_KINDS) == stats.trap_kinds()
    assert len(stats.traps) < 0.01 * stats.total_rows


def fetch(conn: sqlite3.Connection, trap: Trap) -> Cell:
    """(typeof, value, raw bytes) of the trap's cell; the row found by key or rowid."""
    pk = [name for name, _, pos in columns(conn, trap.table) if pos]
    by_rowid = not pk or trap.kind in ("null_pk", "duplicate_row")
    where = "rowid = ?" if by_rowid else f'"{pk[0]}" = ?'
    key: Any = int(trap.key) if by_rowid else trap.key
    column = "rowid" if trap.column == "*" else f'"{trap.column}"'
    row = conn.execute(
        f"SELECT typeof({column}), {column}, CAST({column} AS BLOB) "
        f'FROM "{trap.table}" WHERE {where}',
        (key,),
    ).fetchone()
    assert row is not None, trap
    return (row[0].decode(), row[1], row[2])


def parent_exists(conn: sqlite3.Connection, trap: Trap, value: bytes) -> bool:
    for fk in conn.execute(f'PRAGMA foreign_key_list("{trap.table}")').fetchall():
        if fk[3].decode() == trap.column:
            parent, column = fk[2].decode(), fk[4].decode()
            sql = f'SELECT count(*) FROM "{parent}" WHERE "{column}" = ?'
            return bool(conn.execute(sql, (value,)).fetchone()[0])
    raise AssertionError(f"{trap.table}.{trap.column} declares no foreign key")


def is_duplicate(conn: sqlite3.Connection, trap: Trap) -> bool:
    names = [name for name, _, _ in columns(conn, trap.table)]
    same = " AND ".join(f'a."{n}" IS b."{n}"' for n in names)
    sql = (
        f'SELECT count(*) FROM "{trap.table}" a JOIN "{trap.table}" b ON {same} '
        "AND a.rowid <> b.rowid WHERE a.rowid = ?"
    )
    return bool(conn.execute(sql, (int(trap.key),)).fetchone()[0])


def declared_length(conn: sqlite3.Connection, trap: Trap) -> int:
    declared = {name: kind for name, kind, _ in columns(conn, trap.table)}[trap.column]
    return int(re.fullmatch(r"VARCHAR\((\d+)\)", declared).group(1))  # type: ignore[union-attr]


def parses(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except ValueError:
        return False
    return True


Cell = tuple[str, Any, bytes]  # typeof, value, CAST(value AS BLOB)
CHECKS: dict[str, Callable[[sqlite3.Connection, Trap, Cell], bool]] = {
    "mixed_epoch_ms": lambda _c, _t, cell: cell[0] == "integer" and 10**11 <= cell[1] < 10**14,
    "iso_text_in_integer": lambda _c, _t, cell: (
        cell[0] == "text" and bool(ISO.match(cell[2].decode()))
    ),
    "sql_datetime_text": lambda _c, _t, cell: bool(SQL_DATETIME.match(cell[1].decode())),
    "text_in_integer": lambda _c, _t, cell: (
        cell[0] == "text" and not re.fullmatch(rb"[-+\d. eE]+", cell[2])
    ),
    "infinity": lambda _c, _t, cell: (
        (cell[0] == "real" and math.isinf(cell[1]))
        or cell[2] in (b"Infinity", b"-Infinity", b"NaN")
    ),
    "int8_beyond_int4": lambda _c, _t, cell: cell[0] == "integer" and cell[1] > 2**31 - 1,
    "nul_byte": lambda _c, _t, cell: cell[0] == "text" and b"\x00" in cell[2],
    "invalid_utf8": lambda _c, _t, cell: cell[0] == "text" and not is_utf8(cell[2]),
    "varchar_overflow": lambda c, t, cell: len(cell[2].decode()) > declared_length(c, t),
    "double_encoded_json": lambda _c, _t, cell: (
        isinstance(inner := json.loads(cell[2]), str) and isinstance(json.loads(inner), list | dict)
    ),
    "invalid_json": lambda _c, _t, cell: not parses(cell[2]),
    "json_scalar": lambda _c, _t, cell: not isinstance(json.loads(cell[2]), list | dict),
    "fat_json": lambda _c, _t, cell: (
        len(cell[2]) >= 1_000_000 and isinstance(json.loads(cell[2]), dict)
    ),
    "empty_vs_null": lambda _c, _t, cell: cell[0] == "text" and cell[2] == b"",
    "null_pk": lambda _c, _t, cell: cell[0] == "null",
    "orphan": lambda c, t, cell: not parent_exists(c, t, cell[1]),
    "duplicate_row": lambda c, t, _cell: is_duplicate(c, t),
}


def test_every_kind_has_a_check() -> None:
    assert set(CHECKS) == set(TRAP_KINDS)


def test_every_recorded_trap_is_in_the_file(dirty: SampleStats, open_db: Any) -> None:
    conn = open_db(dirty.path)
    for trap in dirty.traps:
        assert CHECKS[trap.kind](conn, trap, fetch(conn, trap)), trap


def test_dirty_matches_the_data_model_habits(dirty: SampleStats, open_db: Any) -> None:
    conn = open_db(dirty.path)
    checkout_nulls = conn.execute("SELECT count(*) FROM checkout_products WHERE id IS NULL")
    assert checkout_nulls.fetchone()[0] == 4
    subs = conn.execute("SELECT DISTINCT typeof(trialStartDate) FROM stripe_subscriptions")
    assert subs.fetchall() == [(b"text",)]
    scalars = conn.execute("SELECT count(*) FROM quizzes WHERE structure = '\"invalid\"'")
    assert scalars.fetchone()[0] == 3
    mixed = conn.execute("SELECT DISTINCT typeof(created_at) FROM stripe_plans").fetchall()
    assert mixed == [(b"text",)]
    assert conn.execute("PRAGMA foreign_key_check").fetchall() != []
