"""The SQLite side: one read transaction, rows in key order, canonical row hashes, segments.

SQLite has no hash function, so rows are hashed here, in Python, from the reference
conversions; the reads themselves are key-ordered range scans that SQLite serves from the
primary key (text keys compare by bytes, BINARY, as PostgreSQL's COLLATE "C").
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vendzz_migrate.errors import SourceError
from vendzz_migrate.source import open_readonly, qi, source_error
from vendzz_migrate.typemap.convert import Reject
from vendzz_migrate.typemap.values import Raw
from vendzz_migrate.verify.canon import row_bytes
from vendzz_migrate.verify.spec import Key, Spec, identity

_KINDS = {b"null": "null", b"integer": "integer", b"real": "real", b"text": "text",
          b"blob": "blob"}
UNCONVERTIBLE = b"\xff verify: this row cannot be converted \xff"


@dataclass(frozen=True, slots=True)
class SrcRow:
    key: Key | None  # canonical key; None when a key value does not convert (e.g. NULL)
    raw_key: tuple[Raw, ...]
    digest: bytes  # md5 of the canonical row
    rowid: int | None
    identity: str | None  # set when the row sits in the rejects table (quarantined)
    failure: str | None  # "column: reason" when a value does not convert

    @property
    def h64(self) -> int:
        return int.from_bytes(self.digest[:8], "big", signed=True)


Bound = tuple[Key, tuple[Raw, ...]]  # canonical key (for PostgreSQL) and raw key (for SQLite)


def open_source(path: Path) -> sqlite3.Connection:
    """Open read-only and start ONE read transaction: every read sees the same instant."""
    conn = open_readonly(path)
    conn.text_factory = bytes
    try:
        conn.execute("BEGIN")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        conn.close()
        raise source_error(path, exc) from None
    return conn


def _bind(raw: Raw) -> tuple[str, Any]:
    return ("CAST(? AS TEXT)", raw.value) if raw.kind == "text" else ("?", raw.value)


def _range(spec: Spec, lo: tuple[Raw, ...] | None, hi: tuple[Raw, ...] | None
           ) -> tuple[str, list[Any]]:
    cols = "(" + ", ".join(qi(c) for c in spec.key_columns) + ")"
    parts: list[str] = ["1"]
    params: list[Any] = []
    for bound, op in ((lo, ">="), (hi, "<")):
        if bound is not None:
            binds = [_bind(r) for r in bound]
            parts.append(f"{cols} {op} ({', '.join(b[0] for b in binds)})")
            params.extend(b[1] for b in binds)
    return " AND ".join(parts), params


def _select(spec: Spec, where: str) -> str:
    cols = ", ".join(f"typeof({qi(c.source)}), {qi(c.source)}" for c in spec.columns) or "NULL"
    rowid = "rowid, " if spec.has_rowid else "NULL, "
    order = ", ".join(qi(c) for c in spec.key_columns) or ("rowid" if spec.has_rowid else "1")
    return f"SELECT {rowid}{cols} FROM {qi(spec.name)} WHERE {where} ORDER BY {order}"


def rows(conn: sqlite3.Connection, spec: Spec, lo: tuple[Raw, ...] | None = None,
         hi: tuple[Raw, ...] | None = None) -> Iterator[SrcRow]:
    """Every row of [lo, hi) in key order, hashed canonically."""
    where, params = _range(spec, lo, hi) if spec.key_pos else ("1", [])
    try:
        cursor = conn.execute(_select(spec, where), params)
        for row in cursor:
            yield _row(spec, row)
    except sqlite3.Error as exc:
        raise SourceError(f"reading {spec.name}: {exc}") from None


def _raws(row: Sequence[Any], width: int) -> list[Raw]:
    return [Raw(_KINDS[row[1 + 2 * i]], row[2 + 2 * i]) for i in range(width)]


def _row(spec: Spec, row: Sequence[Any]) -> SrcRow:
    raws = _raws(row, len(spec.columns))
    rowid = row[0]
    raw_key = tuple(raws[i] for i in spec.key_pos)
    quarantined = identity(spec, raws, rowid) if spec.rejects else None
    if quarantined is not None and quarantined not in spec.rejects:
        quarantined = None
    values, failure = canonical(spec, raws)
    key = _key(spec, values, raws)
    data = UNCONVERTIBLE if failure else row_bytes(values)
    return SrcRow(key, raw_key, hashlib.md5(data).digest(), rowid, quarantined, failure)


def canonical(spec: Spec, raws: list[Raw]) -> tuple[list[str | None], str | None]:
    """Canonical values of a row, and the first value that does not convert."""
    values: list[str | None] = []
    for canon, col, raw in zip(spec.canons, spec.columns, raws, strict=True):
        try:
            values.append(canon(raw))
        except Reject as rej:
            return values, f"{col.target}: {rej.reason}"
    return values, None


def _key(spec: Spec, values: list[str | None], raws: list[Raw]) -> Key | None:
    key: list[str] = []
    for pos in spec.key_pos:
        value = values[pos] if pos < len(values) else _canon_one(spec, pos, raws[pos])
        if value is None:
            return None
        key.append(value)
    return tuple(key)


def _canon_one(spec: Spec, pos: int, raw: Raw) -> str | None:
    try:
        return spec.canons[pos](raw)
    except Reject:
        return None


def bounds(conn: sqlite3.Connection, spec: Spec, every: int) -> list[Bound]:
    """The first key of every ``every``-th row (key order): segment starts after the first."""
    keys = ", ".join(qi(c) for c in spec.key_columns)
    typed = ", ".join(f"typeof({qi(c)}), {qi(c)}" for c in spec.key_columns)
    present = " AND ".join(f"{qi(c)} IS NOT NULL" for c in spec.key_columns)
    sql = (f"SELECT {typed} FROM (SELECT {keys}, row_number() OVER (ORDER BY {keys}) AS vz_rn"
           f" FROM {qi(spec.name)} WHERE {present}) WHERE vz_rn % ? = 1 AND vz_rn > 1"
           f" ORDER BY {keys}")
    out: list[Bound] = []
    for row in conn.execute(sql, (every,)):
        raw = tuple(Raw(_KINDS[row[2 * i]], row[2 * i + 1]) for i in range(len(spec.key_pos)))
        canon = [_canon_one(spec, p, r) for p, r in zip(spec.key_pos, raw, strict=True)]
        if all(v is not None for v in canon):
            out.append((tuple(v for v in canon if v is not None), raw))
    return out


def row_values(conn: sqlite3.Connection, spec: Spec, raw_key: tuple[Raw, ...] | None,
               rowid: int | None) -> tuple[list[Raw], list[str | None], str | None] | None:
    """One row's raw and canonical values, by key (or rowid); None when it is gone."""
    if raw_key:
        binds = [_bind(r) for r in raw_key]
        cols = ", ".join(qi(c) for c in spec.key_columns)
        where, params = f"({cols}) = ({', '.join(b[0] for b in binds)})", [b[1] for b in binds]
    else:
        where, params = "rowid = ?", [rowid]
    found = conn.execute(_select(spec, where), params).fetchone()
    if found is None:
        return None
    raws = _raws(found, len(spec.columns))
    values, failure = canonical(spec, raws)
    return raws, values, failure


def count(conn: sqlite3.Connection, spec: Spec) -> int:
    return int(conn.execute(f"SELECT count(*) FROM {qi(spec.name)}").fetchone()[0])
