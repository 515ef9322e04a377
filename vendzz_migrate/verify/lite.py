"""The SQLite side: one read transaction, rows in key order, canonical row hashes, segments.

SQLite has no hash function, so rows are hashed here, in Python, from the reference
conversions; the reads themselves are key-ordered range scans that SQLite serves from the
primary key (text keys compare by bytes, BINARY, as PostgreSQL's COLLATE "C").
"""

from __future__ import annotations

import hashlib
import sqlite3
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vendzz_migrate.errors import SourceError
from vendzz_migrate.source import open_readonly, pieces, qi, source_error
from vendzz_migrate.source.reader import key_clause, range_clause
from vendzz_migrate.typemap.convert import Kind, Reject, kind_for
from vendzz_migrate.typemap.values import Raw
from vendzz_migrate.verify import blobs, fast, large, litesql
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
    conn = pieces.bound(open_readonly(path))  # values over LARGE_BYTES: see _scan
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
    order = ", ".join(qi(c) for c in spec.key_columns) or (spec.rowid if spec.has_rowid else "1")
    order_by = f" ORDER BY {order}" if ordered else ""
    return f"{_head(spec, streamed=streamed)} WHERE {where}{order_by}"


def _head(spec: Spec, *, streamed: bool) -> str:
    pairs = [blobs.pair_sql(spec, pos, streamed=streamed) for pos in range(len(spec.columns))]
    cols = ", ".join(pairs) or "NULL"
    rowid = f"{spec.rowid}, " if spec.has_rowid else "NULL, "
    return f"SELECT {rowid}{cols} FROM {qi(spec.name)}"


Position = Callable[[Sequence[Any]], Any]  # where a row read by a scan is: rowid, or raw key


def _scan(
    conn: sqlite3.Connection,
    spec: Spec,
    head: str,
    where: str,
    params: Sequence[Any],
    *,
    by_rowid: bool,
    at: Position,
    aside: list[Sequence[Any]] | None = None,
    after: Any = None,
) -> Iterator[Sequence[Any]]:
    """The rows of ``head WHERE where`` in rowid order (``by_rowid``) or key order, whatever
    their values' sizes, on a bound reader (:func:`open_source`): a statement that meets a
    value over ``pieces.LARGE_BYTES`` stops before loading it; that row (the next one after
    the last read, ``at`` says where each is) is then read column by column, its large
    values as markers (``large.read_row``, ``_select``'s layout): yielded in its place or,
    with ``aside``, put there; and the scan goes on after it. ``after``: begin after that
    position."""
    order = spec.rowid if by_rowid else ", ".join(qi(c) for c in spec.key_columns)
    typed = ", ".join(f"typeof({qi(c)}), {qi(c)}" for c in spec.key_columns)
    ident = f"{spec.rowid if spec.has_rowid else 'NULL'}{', ' + typed if typed else ''}"
    last: Any = after

    def rest() -> tuple[str, list[Any]]:  # the rows after ``last``
        if last is None:
            return where, list(params)
        after, more = (
            (f"{spec.rowid} > ?", [last])
            if by_rowid
            else range_clause(spec.key_columns, last, None)
        )
        return f"({where}) AND {after}", [*params, *more]

    while True:
        w, p = rest()
        try:
            for row in conn.execute(f"{head} WHERE {w}{' ORDER BY ' + order if order else ''}", p):
                last = at(row)
                yield row
            return
        except sqlite3.DataError as exc:
            if not pieces.too_big(exc):
                raise
        w, p = rest()  # (the cursor reads a row ahead: the refused value is the next row's or
        # the one after: the next row is read column by column, the scan goes on after it)
        if not order:
            raise SourceError(
                f"{spec.name}: a value over {pieces.LARGE_BYTES} bytes in a table without"
                " rowids whose key verify does not compare"
            )
        sql = f"SELECT {ident} FROM {qi(spec.name)} WHERE {w} ORDER BY {order} LIMIT 1"
        found = conn.execute(sql, p).fetchone()
        if found is None:  # (the refused value was not a row's: say so)
            raise SourceError(f"reading {spec.name}: a value over the length limit")
        key = tuple(
            Raw(_KINDS[found[1 + 2 * i]], found[2 + 2 * i]) for i in range(len(spec.key_pos))
        )
        if found[0] is not None:
            place = pieces.Row(spec.name, f"{spec.rowid} = ?", [found[0]], found[0])
        else:
            kw, kp = key_clause(spec.key_columns, key)
            place = pieces.Row(spec.name, kw, kp, None)
        read = large.read_row(conn, spec, place)
        if read is None:
            raise SourceError(f"{spec.name}: a row vanished inside one read transaction")
        if aside is None:
            yield read
        else:
            aside.append(read)
        last = found[0] if by_rowid else key


def _rows_read(
    conn: sqlite3.Connection,
    spec: Spec,
    where: str,
    params: Sequence[Any],
    *,
    by_rowid: bool,
) -> Iterator[Sequence[Any]]:
    """:func:`_scan` of whole rows in ``_select``'s layout (``streamed``)."""
    return _scan(
        conn,
        spec,
        _head(spec, streamed=True),
        where,
        params,
        by_rowid=by_rowid,
        at=_select_at(spec, by_rowid=by_rowid),
    )


def _select_at(spec: Spec, *, by_rowid: bool) -> Position:
    """Where a row in ``_select``'s layout is (see :func:`_scan`)."""
    if by_rowid:
        return lambda row: row[0]
    slots = [1 + 2 * p for p in spec.key_pos]
    return lambda row: tuple(Raw(_KINDS[row[s]], row[s + 1]) for s in slots)


def _plan_at(plan: litesql.RowPlan, *, by_rowid: bool) -> Position:
    """Where a row of a row plan is (see :func:`_scan`)."""
    if by_rowid:
        return lambda row: row[0]
    slots = plan.key_slots
    return lambda row: tuple(Raw(_KINDS[row[s]], row[s + 1]) for s in slots)


def _one(conn: sqlite3.Connection, spec: Spec, where: str, params: Sequence[Any]) -> Any:
    """One row in ``_select``'s layout (``streamed``), its large values as markers; None:
    gone."""
    try:
        return conn.execute(_select(spec, where, streamed=True), params).fetchone()
    except sqlite3.DataError as exc:
        if not pieces.too_big(exc):
            raise
    return large.read_row(conn, spec, pieces.Row(spec.name, where, list(params), None))


def _whole(conn: sqlite3.Connection, spec: Spec, row: Sequence[Any]) -> Sequence[Any]:
    """A row read whole again (the limit lifted), for a large value :mod:`large` cannot
    settle in pieces (see ``large.Unsure``): as before, exactly."""
    at = large.locate(spec, row)
    with pieces.unbounded(conn):
        found = conn.execute(_select(spec, at.where, streamed=True), at.params).fetchone()
    if found is None:
        raise SourceError(f"{spec.name}: a row vanished inside one read transaction")
    return found  # type: ignore[no-any-return]


def rows(
    conn: sqlite3.Connection,
    spec: Spec,
    lo: tuple[Raw, ...] | None = None,
    hi: tuple[Raw, ...] | None = None,
) -> Iterator[SrcRow]:
    """Every row of [lo, hi) in key order, hashed canonically (the reference); of a keyed
    table, only the rows whose key has no NULL (the others are set aside by the sums)."""
    where, params = (
        range_clause(spec.key_columns, lo, hi, from_lo=True) if spec.key_pos else ("1", [])
    )
    if spec.key_pos:  # (rows without a key are set aside by the sums: not needed here)
        where += "".join(f" AND {qi(c)} IS NOT NULL" for c in spec.key_columns)
    by_rowid = spec.has_rowid and not spec.key_pos
    try:
        for row in _rows_read(conn, spec, where, params, by_rowid=by_rowid):
            yield _row(conn, spec, row)
    except sqlite3.Error as exc:
        raise SourceError(f"reading {spec.name}: {exc}") from None


def _raws(row: Sequence[Any], width: int) -> list[Raw]:
    return [Raw(_KINDS[row[1 + 2 * i]], row[2 + 2 * i]) for i in range(width)]


def _row(conn: sqlite3.Connection, spec: Spec, row: Sequence[Any]) -> SrcRow:
    """The reference: a row as read by ``_select`` (``streamed``), canonicalised value by
    value, its large values hashed a piece at a time (see :mod:`large`); read whole again
    when one of them cannot be (``large.Unsure``)."""
    try:
        return _settled(conn, spec, row)
    except large.Unsure:
        return _settled(conn, spec, _whole(conn, spec, row))


def _settled(conn: sqlite3.Connection, spec: Spec, row: Sequence[Any]) -> SrcRow:
    rowid = row[0]
    row, apart = large.set_apart(conn, spec, row)
    raw_key = tuple(Raw(_KINDS[row[1 + 2 * i]], row[2 + 2 * i]) for i in spec.key_pos)
    quarantined = None
    if spec.rejects:  # the identity holds key columns only: never a large value
        quarantined = identity(spec, _raws(row, len(spec.columns)), rowid)
        if quarantined not in spec.rejects:
            quarantined = None
    values, failure = canonical(spec, row)
    key = _key(spec, values, row)
    if quarantined is not None and apart:  # set aside by its identity: its values unread
        return SrcRow(key, raw_key, hashlib.md5(UNCONVERTIBLE).digest(), rowid, quarantined, None)
    if failure:
        for pos, value in apart.items():
            if pos < len(values):  # before the value that failed: it must convert first
                for _ in value.canonical():
                    pass
        digest = hashlib.md5(UNCONVERTIBLE).digest()
    else:
        digest = row_digest(values, apart)
    return SrcRow(key, raw_key, digest, rowid, quarantined, failure)


def row_digest(values: list[bytes | None], apart: dict[int, large.Value] | None = None) -> bytes:
    """md5 of :func:`canon.row_bytes` without joining them (a large value is not copied
    again); values set ``apart`` (their canonical value stands for a placeholder in
    ``values``) are hashed from their canonical bytes, a piece at a time (see :mod:`large`)."""
    md5 = hashlib.md5()
    for pos, value in enumerate(values):
        if value is None:
            md5.update(NULL)
            continue
        md5.update(VALUE)
        held = apart.get(pos) if apart else None
        if held is None:
            md5.update(value)
            continue
        for piece in held.canonical():
            md5.update(piece)
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
            for row in _rows_read(conn, spec, where, params, by_rowid=spec.has_rowid):
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
    aside: list[Sequence[Any]] = []
    try:
        found = _c_sums(conn.execute(sql, params), plan, spec, tally)
    except sqlite3.DataError as exc:
        if not pieces.too_big(exc):
            raise
        # a value over LARGE_BYTES (see _scan): the range again, that row set aside
        where, params = _rowid_where(spec, rowids)
        scan = _scan(
            conn,
            spec,
            plan.sql,
            where,
            params,
            by_rowid=spec.has_rowid,
            at=_plan_at(plan, by_rowid=spec.has_rowid),
            aside=aside,
        )
        found = _c_sums(scan, plan, spec, tally)
    counts, totals, deferred, read = found
    tally.counts, tally.totals, tally.read = counts, totals, read
    for row in deferred:
        tally.add(_full_row(conn, spec, row[0], litesql.raw_key(plan, row)))
    for row in aside:
        tally.add(_row(conn, spec, row))


def _c_sums(
    rows: Any, plan: litesql.RowPlan, spec: Spec, tally: _Tally
) -> tuple[list[int], list[int], list[Any], int]:
    return fast.c_sums(
        rows,
        plan.ops,
        plan.json,
        plan.width,
        plan.key_slots,
        tally.marks,
        spec.reject_rowids if spec.rejects else None,
        Reject,
        len(tally.counts),
    )


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
    found = _one(conn, spec, where, params)
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
        for row in _rows_read(conn, spec, "1", (), by_rowid=spec.has_rowid):
            yield None, b"", row
    except sqlite3.Error as exc:
        raise SourceError(f"reading {spec.name}: {exc}") from None


def _sql_digests(
    conn: sqlite3.Connection, spec: Spec, plan: litesql.RowPlan, rowids: tuple[int, int] | None
) -> Iterator[Digest]:
    md5 = hashlib.md5
    rejected = spec.reject_rowids if spec.rejects else None
    where, params = _rowid_where(spec, rowids)
    by_rowid = spec.has_rowid
    aside: list[Sequence[Any]] = []  # rows holding a value over LARGE_BYTES (see _scan)
    at = _plan_at(plan, by_rowid=by_rowid)
    order = spec.rowid if by_rowid else ", ".join(qi(c) for c in spec.key_columns)
    sql = f"{plan.sql} WHERE {where}{' ORDER BY ' + order if order else ''}"
    scan: Iterable[Sequence[Any]] | None = None  # after a value over LARGE_BYTES: _scan's rows
    row: Sequence[Any] | None = None
    while True:  # the cursor itself (no per-row cost), then _scan
        try:
            for row in scan if scan is not None else conn.execute(sql, params):
                data = litesql.assemble(plan, row)
                key = litesql.key_of(plan, row) if data is not None else None
                if key is None or data is None or (rejected and row[0] in rejected):
                    yield None, b"", _as_read(conn, spec, row[0], litesql.raw_key(plan, row))
                    continue
                yield key, md5(data).digest(), row[0] if by_rowid else litesql.raw_key(plan, row)
            break
        except sqlite3.DataError as exc:
            if not pieces.too_big(exc) or scan is not None:
                raise
            scan = _scan(
                conn,
                spec,
                plan.sql,
                where,
                params,
                by_rowid=by_rowid,
                at=at,
                aside=aside,
                after=None if row is None else at(row),
            )
    for read in aside:
        src = _row(conn, spec, read)
        if src.key is None or src.identity is not None or (rejected and read[0] in rejected):
            yield None, b"", read
            continue
        yield src.key, src.digest, read[0] if by_rowid else _pairs(spec, read)


def _pairs(spec: Spec, row: Sequence[Any]) -> RawPairs:
    """The key as read (typeof, value per key column) of a row in ``_select``'s layout."""
    return tuple((row[1 + 2 * p], row[2 + 2 * p]) for p in spec.key_pos)


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
    found = _one(conn, spec, where, params)
    if found is None:
        return None
    return _shown_values(conn, spec, found)


def _shown_values(
    conn: sqlite3.Connection, spec: Spec, found: Sequence[Any]
) -> tuple[list[bytes | None], str | None]:
    """A row's values as a changed row's columns show them (``pgcanon.shown_sql``): a large
    bytea value as its size and md5, any other canonical text over ``pieces.LARGE_BYTES``
    likewise (see :func:`large.shown`)."""
    try:
        return _shown(conn, spec, found)
    except large.Unsure:
        return _shown(conn, spec, _whole(conn, spec, found))


def _shown(
    conn: sqlite3.Connection, spec: Spec, found: Sequence[Any]
) -> tuple[list[bytes | None], str | None]:
    row, apart = large.set_apart(conn, spec, found)
    values, failure = canonical(spec, row)
    for pos in range(len(values)):  # not past the value that failed
        if pos in apart:
            values[pos] = large.shown(apart[pos])
        elif kind_for(spec.pg_types[pos]) is not Kind.BYTES:
            values[pos] = large.shown_whole(values[pos])
    return values, failure


def shown_rows(
    conn: sqlite3.Connection, spec: Spec, where: str, params: Sequence[Any] = ()
) -> Iterator[tuple[list[bytes | None], str | None]]:
    """The rows of ``where``, each as :func:`row_values` gives it, on any reader (bound as
    verify's meanwhile): no value over ``pieces.LARGE_BYTES`` is read whole."""
    with pieces.bounded(conn):
        for row in _rows_read(conn, spec, where, params, by_rowid=spec.has_rowid):
            yield _shown_values(conn, spec, row)


def count(conn: sqlite3.Connection, spec: Spec) -> int:
    return count_rows(conn, spec.name)


def count_rows(conn: sqlite3.Connection, table: str) -> int:
    try:
        return int(conn.execute(f"SELECT count(*) FROM {qi(table)}").fetchone()[0])
    except sqlite3.Error as exc:
        raise SourceError(f"reading {table}: {exc}") from None
