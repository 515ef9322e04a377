"""The SQLite side: one read transaction, rows in key order, canonical row hashes, segments.

SQLite has no hash function, so rows are hashed here, in Python, from the reference
conversions; the reads themselves are key-ordered range scans that SQLite serves from the
primary key (text keys compare by bytes, BINARY, as PostgreSQL's COLLATE "C").
"""

from __future__ import annotations

import binascii
import hashlib
import sqlite3
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vendzz_migrate.errors import SourceError
from vendzz_migrate.source import open_readonly, qi, source_error
from vendzz_migrate.source.reader import key_clause, range_clause
from vendzz_migrate.typemap.convert import Reject
from vendzz_migrate.typemap.values import Raw
from vendzz_migrate.verify import blobs, fast, litesql
from vendzz_migrate.verify.canon import NULL, VALUE
from vendzz_migrate.verify.spec import Key, Spec, identity

_KINDS = {b"null": "null", b"integer": "integer", b"real": "real", b"text": "text", b"blob": "blob"}
_KIND_OF = {v: k for k, v in _KINDS.items()}
# no PostgreSQL row hashes to this: its canonical bytes begin with 0xFF or 0xFE, never 0xFD
UNCONVERTIBLE = b"\xfd verify: this row cannot be converted"


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


def _row_where(spec: Spec, rowid: int | None, key: tuple[Raw, ...] | None) -> tuple[str, list[Any]]:
    """WHERE clause of one row: by key when given, else by rowid."""
    if key:
        return key_clause(spec.key_columns, key)
    return f"{spec.rowid} = ?", [rowid]


def _select(spec: Spec, where: str, *, ordered: bool = True, streamed: bool = False) -> str:
    """Whole rows: the rowid (NULL without one), then a typeof/value pair per column; with
    ``streamed`` (every read of verify's), a large bytea value as a marker (see
    :mod:`blobs`): such a row must go through :func:`_row` or :func:`row_values`."""
    pairs = [blobs.pair_sql(spec, pos, streamed=streamed) for pos in range(len(spec.columns))]
    cols = ", ".join(pairs) or "NULL"
    rowid = f"{spec.rowid}, " if spec.has_rowid else "NULL, "
    order = ", ".join(qi(c) for c in spec.key_columns) or (spec.rowid if spec.has_rowid else "1")
    order_by = f" ORDER BY {order}" if ordered else ""
    return f"SELECT {rowid}{cols} FROM {qi(spec.name)} WHERE {where}{order_by}"


def rows(
    conn: sqlite3.Connection,
    spec: Spec,
    lo: tuple[Raw, ...] | None = None,
    hi: tuple[Raw, ...] | None = None,
) -> Iterator[SrcRow]:
    """Every row of [lo, hi) in key order, hashed canonically (the reference)."""
    where, params = (
        range_clause(spec.key_columns, lo, hi, from_lo=True) if spec.key_pos else ("1", [])
    )
    try:
        cursor = conn.execute(_select(spec, where, streamed=True), params)
        for row in cursor:
            yield _row(conn, spec, row)
    except sqlite3.Error as exc:
        raise SourceError(f"reading {spec.name}: {exc}") from None


def _raws(row: Sequence[Any], width: int) -> list[Raw]:
    return [Raw(_KINDS[row[1 + 2 * i]], row[2 + 2 * i]) for i in range(width)]


def _row(conn: sqlite3.Connection, spec: Spec, row: Sequence[Any]) -> SrcRow:
    """The reference: a row as read by ``_select`` (``streamed``), canonicalised value by
    value, its large bytea values hashed from their bytes a piece at a time."""
    rowid = row[0]
    row, large = blobs.set_apart(conn, spec, row)
    raw_key = tuple(Raw(_KINDS[row[1 + 2 * i]], row[2 + 2 * i]) for i in spec.key_pos)
    quarantined = None
    if spec.rejects:  # the identity holds key columns only: never a large value
        quarantined = identity(spec, _raws(row, len(spec.columns)), rowid)
        if quarantined not in spec.rejects:
            quarantined = None
    values, failure = canonical(spec, row)
    key = _key(spec, values, row)
    digest = hashlib.md5(UNCONVERTIBLE).digest() if failure else row_digest(values, large)
    return SrcRow(key, raw_key, digest, rowid, quarantined, failure)


def row_digest(values: list[bytes | None], large: dict[int, blobs.Pieces] | None = None) -> bytes:
    """md5 of :func:`canon.row_bytes` without joining them (a large value is not copied
    again); ``large`` values (their canonical value, lowercase hex, stands empty in
    ``values``) are hashed from their bytes, a piece at a time (see :mod:`blobs`)."""
    md5 = hashlib.md5()
    for pos, value in enumerate(values):
        if value is None:
            md5.update(NULL)
            continue
        md5.update(VALUE)
        pieces = large.get(pos) if large else None
        if pieces is None:
            md5.update(value)
            continue
        for piece in pieces:
            md5.update(binascii.hexlify(piece))
    return md5.digest()


_RANK = {b"integer": 1, b"real": 1, b"text": 2, b"blob": 3}


def order_key(pairs: Sequence[tuple[bytes, Any]]) -> tuple[tuple[int, Any], ...]:
    """A non-NULL key as read, in SQLite's BINARY order: numbers, then text by bytes (which is
    PostgreSQL's COLLATE "C"), then blobs."""
    return tuple((_RANK[kind], value) for kind, value in pairs)


def _order(row: SrcRow) -> tuple[tuple[int, Any], ...]:
    return order_key([(_KIND_OF[r.kind], r.value) for r in row.raw_key])


def splittable(spec: Spec) -> bool:
    """Whether :func:`segment_sums` can work on rowid ranges of this table."""
    return (
        spec.has_rowid and bool(spec.key_pos) and not (spec.rejects and spec.reject_rowids is None)
    )


def rowid_ranges(conn: sqlite3.Connection, spec: Spec, parts: int) -> list[tuple[int, int]]:
    """``parts`` half-open rowid ranges [lo, hi) covering every row of the table."""
    r = spec.rowid
    low, high = conn.execute(f"SELECT min({r}), max({r}) FROM {qi(spec.name)}").fetchone()
    if low is None:
        return [(0, 1)]
    step = max(1, -(-(high - low + 1) // max(parts, 1)))
    return [(lo, min(lo + step, high + 1)) for lo in range(low, high + 1, step)]


def _rowid_where(spec: Spec, rowids: tuple[int, int] | None) -> tuple[str, tuple[int, ...]]:
    if rowids is None:
        return "1", ()
    return f"{spec.rowid} >= ? AND {spec.rowid} < ?", rowids


def _in_range(spec: Spec, sql: str, rowids: tuple[int, int] | None) -> tuple[str, tuple[int, ...]]:
    where, params = _rowid_where(spec, rowids)
    return f"{sql} WHERE {where}", params


Sums = tuple[list[tuple[int, int]], list[SrcRow], int]


def segment_sums(
    conn: sqlite3.Connection, spec: Spec, starts: list[Bound], rowids: tuple[int, int] | None = None
) -> Sums:
    """One pass: (rows, sum of row hashes) per segment, the rows set aside (quarantined, or
    without a usable key) and the number of rows read; only rowids in [lo, hi) with
    ``rowids`` (see :func:`splittable`).

    The table is read in storage order (no index walk) and each row's segment is found by
    bisecting the segment starts in key order. Two tiers: the fast one (SQLite builds the
    simple values' canonical pieces, see :mod:`litesql`; the C row loop assembles, hashes
    and counts them, see ``_speed.c``), and the reference (:func:`_row`), which takes every
    row the fast tier is unsure of, and every row without the C extension or of a table
    whose rejects cannot be told apart by rowid (WITHOUT ROWID)."""
    marks = [order_key([(_KIND_OF[r.kind], r.value) for r in raw]) for _, raw in starts]
    if marks != sorted(marks):
        raise ValueError("segment starts must be in key order (see bounds())")
    tally = _Tally(marks)
    try:
        if fast.has_sums and not (spec.rejects and spec.reject_rowids is None):
            _fast_sums(conn, spec, rowids, tally)
        else:
            assert rowids is None or spec.has_rowid, "rowid ranges need rowids"
            where, params = _rowid_where(spec, rowids)
            for row in conn.execute(_select(spec, where, ordered=False, streamed=True), params):
                tally.add(_row(conn, spec, row))
    except sqlite3.Error as exc:
        raise SourceError(f"reading {spec.name}: {exc}") from None
    return list(zip(tally.counts, tally.totals, strict=True)), tally.aside, tally.read


class _Tally:
    """Rows and sums per segment (the segments begin at ``marks``), and the rows set aside."""

    def __init__(self, marks: list[tuple[tuple[int, Any], ...]]) -> None:
        self.marks = marks
        self.counts, self.totals = [0] * (len(marks) + 1), [0] * (len(marks) + 1)
        self.aside: list[SrcRow] = []
        self.read = 0

    def add(self, row: SrcRow) -> None:
        self.read += 1
        if row.identity is not None or row.key is None:
            self.aside.append(row)
            return
        seg = bisect_right(self.marks, _order(row)) if self.marks else 0
        self.counts[seg] += 1
        self.totals[seg] += row.h64


def _fast_sums(
    conn: sqlite3.Connection, spec: Spec, rowids: tuple[int, int] | None, tally: _Tally
) -> None:
    """The fast tier: the C row loop over SQLite's pieces; the rows it defers (a value it is
    unsure of, a NULL or non-UTF-8 key, a quarantined rowid) go to the reference, by rowid
    (or by key without one)."""
    plan = litesql.row_plan(spec, ordered=False, utf8=litesql.utf8(conn))
    sql, params = _in_range(spec, plan.sql, rowids)
    counts, totals, deferred, read = fast.c_sums(
        conn.execute(sql, params),
        plan.ops,
        plan.json,
        plan.width,
        plan.key_slots,
        tally.marks,
        spec.reject_rowids if spec.rejects else None,
        Reject,
        len(tally.counts),
    )
    tally.counts, tally.totals, tally.read = counts, totals, read
    for row in deferred:
        tally.add(_full_row(conn, spec, row[0], litesql.raw_key(plan, row)))


def _full_row(
    conn: sqlite3.Connection, spec: Spec, rowid: int | None, raw: Sequence[Any]
) -> SrcRow:
    return _row(conn, spec, _as_read(conn, spec, rowid, raw))


def _as_read(
    conn: sqlite3.Connection, spec: Spec, rowid: int | None, raw: Sequence[Any]
) -> Sequence[Any]:
    """One row in the layout of ``_select`` (``streamed``), by rowid (or by key without one)."""
    key = None if rowid is not None else tuple(Raw(_KINDS[k], v) for k, v in raw)
    where, params = _row_where(spec, rowid, key)
    found = conn.execute(_select(spec, where, streamed=True), params).fetchone()
    if found is None:
        raise SourceError(f"{spec.name}: a row vanished inside one read transaction")
    return found  # type: ignore[no-any-return]


RawPairs = tuple[tuple[bytes, Any], ...]  # the key as read: (typeof, value) per key column
# (canonical key, md5 of the canonical row, where to read the row again: its rowid, or its key
# as read in a WITHOUT ROWID table), or (None, b"", the row as read) for a closer look
Digest = tuple[Key | None, bytes, int | Sequence[Any] | RawPairs]


def digests(
    conn: sqlite3.Connection, spec: Spec, rowids: tuple[int, int] | None = None
) -> Iterator[Digest]:
    """Every row in storage order as a :data:`Digest`; a row that needs a closer look
    (quarantined, unconvertible: see :func:`row_of`) comes as read (``_select``,
    ``streamed``); only rowids in [lo, hi) with ``rowids``."""
    try:
        if not spec.rejects or spec.reject_rowids is not None:
            plan = litesql.row_plan(spec, ordered=False, utf8=litesql.utf8(conn))
            yield from _sql_digests(conn, spec, plan, rowids)
            return
        assert rowids is None, "rowid ranges need rejects told apart by rowid"
        # every row's identity is checked (WITHOUT ROWID rejects): each one as read
        for row in conn.execute(_select(spec, "1", ordered=False, streamed=True)):
            yield None, b"", row
    except sqlite3.Error as exc:
        raise SourceError(f"reading {spec.name}: {exc}") from None


def _sql_digests(
    conn: sqlite3.Connection, spec: Spec, plan: litesql.RowPlan, rowids: tuple[int, int] | None
) -> Iterator[Digest]:
    md5 = hashlib.md5
    rejected = spec.reject_rowids if spec.rejects else None
    sql, params = _in_range(spec, plan.sql, rowids)
    by_rowid = spec.has_rowid
    for row in conn.execute(sql, params):
        data = litesql.assemble(plan, row)
        key = litesql.key_of(plan, row) if data is not None else None
        if key is None or data is None or (rejected and row[0] in rejected):
            yield None, b"", _as_read(conn, spec, row[0], litesql.raw_key(plan, row))
            continue
        yield key, md5(data).digest(), row[0] if by_rowid else litesql.raw_key(plan, row)


def row_of(conn: sqlite3.Connection, spec: Spec, row: Sequence[Any]) -> SrcRow:
    """The full :class:`SrcRow` of a row as read (``_select``, ``streamed``), on the reader
    that read it (its large values are read again from it)."""
    return _row(conn, spec, row)


def fetch(conn: sqlite3.Connection, spec: Spec, where: int | Sequence[Any]) -> SrcRow:
    """The full :class:`SrcRow` of one row, by rowid or by its key as read (point query)."""
    if isinstance(where, int):
        return _full_row(conn, spec, where, ())
    return _full_row(conn, spec, None, where)


def canonical(spec: Spec, row: Sequence[Any]) -> tuple[list[bytes | None], str | None]:
    """Canonical values of a row as read by ``_select`` (rowid, then typeof/value pairs), and
    the first value that does not convert."""
    try:
        return [
            canon(kind, value)
            for canon, kind, value in zip(spec.canons, row[1::2], row[2::2], strict=True)
        ], None
    except Reject:
        pass
    values: list[bytes | None] = []
    for i, canon in enumerate(spec.canons):
        try:
            values.append(canon(row[1 + 2 * i], row[2 + 2 * i]))
        except Reject as rej:
            return values, f"{spec.columns[i].target}: {rej.reason}"
    return values, None


def _key(spec: Spec, values: list[bytes | None], row: Sequence[Any]) -> Key | None:
    key: list[str] = []
    for pos in spec.key_pos:
        value = (
            values[pos]
            if pos < len(values)
            else _canon_one(spec, pos, row[1 + 2 * pos], row[2 + 2 * pos])
        )
        if value is None:
            return None
        key.append(value.decode("utf-8"))
    return tuple(key)


def _canon_one(spec: Spec, pos: int, kind: bytes, value: Any) -> bytes | None:
    try:
        return spec.canons[pos](kind, value)
    except Reject:
        return None


SAMPLES_PER_SEGMENT = 16  # keys sampled per expected segment (see _sampled_keys)
SAMPLED_FROM = 8  # segments: a table with fewer has every key read (an exact walk)


def bounds(conn: sqlite3.Connection, spec: Spec, every: int) -> list[Bound]:
    """Segment starts after the first, in key order, about ``every`` rows apart: the first
    key of every ``every``-th row, or (a large rowid table) picked from a sample of the keys
    (:func:`_sampled_keys`). Any starts are correct, as both databases are cut at the same
    keys; only the cost of a drill-down depends on the segments' sizes."""
    keys = ", ".join(qi(c) for c in spec.key_columns)
    typed = ", ".join(f"typeof({qi(c)}), {qi(c)}" for c in spec.key_columns)
    present = " AND ".join(f"{qi(c)} IS NOT NULL" for c in spec.key_columns)
    found = _sampled_keys(conn, spec, every, typed, present) if spec.has_rowid else None
    if found is None:
        sql = (
            f"SELECT {typed} FROM (SELECT {keys}, row_number() OVER (ORDER BY {keys})"
            f" AS vz_rn FROM {qi(spec.name)} WHERE {present}) WHERE vz_rn % ? = 1"
            f" AND vz_rn > 1 ORDER BY {keys}"
        )
        found = list(conn.execute(sql, (every,)))
    out: list[Bound] = []
    for row in found:
        raw = tuple(Raw(_KINDS[row[2 * i]], row[2 * i + 1]) for i in range(len(spec.key_pos)))
        canon = [
            _canon_one(spec, p, row[2 * i], row[2 * i + 1]) for i, p in enumerate(spec.key_pos)
        ]
        if all(v is not None for v in canon):
            out.append((tuple(v.decode("utf-8") for v in canon if v is not None), raw))
    out.sort(key=lambda bound: order_key([(_KIND_OF[r.kind], r.value) for r in bound[1]]))
    return out


def _sampled_keys(
    conn: sqlite3.Connection, spec: Spec, every: int, typed: str, present: str
) -> list[Any] | None:
    """The segment starts of a large rowid table (as read: typeof/value pairs) from a sample
    of its keys: SAMPLES_PER_SEGMENT keys per expected segment, read at evenly spaced rowids
    (one rowid lookup each, instead of a walk of the whole key index); every
    SAMPLES_PER_SEGMENT-th sampled key, in key order, starts a segment, so segments come out
    ``every`` rows long give or take a quarter. None for a table too small to sample."""
    r = spec.rowid
    low, high = conn.execute(f"SELECT min({r}), max({r}) FROM {qi(spec.name)}").fetchone()
    if low is None or high - low + 1 < SAMPLED_FROM * every:
        return None
    step = max(1, every // SAMPLES_PER_SEGMENT)
    sql = (
        f"WITH RECURSIVE vz_s(vz_r) AS (SELECT ? UNION ALL SELECT vz_r + ? FROM vz_s"
        f" WHERE vz_r + ? <= ?) SELECT {typed} FROM vz_s CROSS JOIN {qi(spec.name)}"
        f" ON {qi(spec.name)}.{r} = vz_s.vz_r WHERE {present}"
    )
    width = len(spec.key_pos)
    sample = sorted(
        {tuple(row) for row in conn.execute(sql, (low, step, step, high))},
        key=lambda row: order_key([(row[2 * i], row[2 * i + 1]) for i in range(width)]),
    )
    segments = max(1, round(len(sample) * step / every))  # rows ~ sampled keys * step
    return [sample[i * len(sample) // segments] for i in range(1, segments)]


def row_values(
    conn: sqlite3.Connection, spec: Spec, raw_key: tuple[Raw, ...] | None, rowid: int | None
) -> tuple[list[bytes | None], str | None] | None:
    """One row's canonical values (a large bytea value as its size and md5: see
    :func:`blobs.shown`), by key (or rowid); None when it is gone."""
    where, params = _row_where(spec, rowid, raw_key)
    found = conn.execute(_select(spec, where, streamed=True), params).fetchone()
    if found is None:
        return None
    row, large = blobs.set_apart(conn, spec, found)
    values, failure = canonical(spec, row)
    for pos, pieces in large.items():
        if pos < len(values):  # not past the value that failed
            values[pos] = blobs.shown(pieces)
    return values, failure


def count(conn: sqlite3.Connection, spec: Spec) -> int:
    return count_rows(conn, spec.name)


def count_rows(conn: sqlite3.Connection, table: str) -> int:
    try:
        return int(conn.execute(f"SELECT count(*) FROM {qi(table)}").fetchone()[0])
    except sqlite3.Error as exc:
        raise SourceError(f"reading {table}: {exc}") from None
