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
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vendzz_migrate.errors import SourceError
from vendzz_migrate.source import open_readonly, qi, source_error
from vendzz_migrate.source.reader import key_clause, range_clause
from vendzz_migrate.typemap.convert import LARGE_BLOB, Kind, Reject
from vendzz_migrate.typemap.values import Raw
from vendzz_migrate.verify import fast, litesql
from vendzz_migrate.verify.canon import NULL, VALUE, row_bytes
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


def _select(spec: Spec, where: str, *, ordered: bool = True) -> str:
    cols = ", ".join(f"typeof({qi(c.source)}), {qi(c.source)}" for c in spec.columns) or "NULL"
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
    """Every row of [lo, hi) in key order, hashed canonically."""
    where, params = (
        range_clause(spec.key_columns, lo, hi, from_lo=True) if spec.key_pos else ("1", [])
    )
    try:
        cursor = conn.execute(_select(spec, where), params)
        for row in cursor:
            yield _row(spec, row)
    except sqlite3.Error as exc:
        raise SourceError(f"reading {spec.name}: {exc}") from None


def _raws(row: Sequence[Any], width: int) -> list[Raw]:
    return [Raw(_KINDS[row[1 + 2 * i]], row[2 + 2 * i]) for i in range(width)]


def _row(spec: Spec, row: Sequence[Any]) -> SrcRow:
    rowid = row[0]
    raw_key = tuple(Raw(_KINDS[row[1 + 2 * i]], row[2 + 2 * i]) for i in spec.key_pos)
    quarantined = None
    if spec.rejects:
        quarantined = identity(spec, _raws(row, len(spec.columns)), rowid)
        if quarantined not in spec.rejects:
            quarantined = None
    large = _large_blobs(spec, row)
    if large:  # canonicalised below as an empty blob, hashed from the value piece by piece
        row = list(row)
        for pos in large:
            row[2 + 2 * pos] = b""
    values, failure = canonical(spec, row)
    key = _key(spec, values, row)
    digest = hashlib.md5(UNCONVERTIBLE).digest() if failure else row_digest(values, large)
    return SrcRow(key, raw_key, digest, rowid, quarantined, failure)


def _large_blobs(spec: Spec, row: Sequence[Any]) -> dict[int, bytes]:
    """Positions and values of the large blobs of bytea columns (see :func:`row_digest`)."""
    found: dict[int, bytes] = {}
    for pos, col in enumerate(spec.columns):
        kind, value = row[1 + 2 * pos], row[2 + 2 * pos]
        if (
            kind == b"blob"
            and len(value) > LARGE_BLOB
            and col.conversion.kind is Kind.BYTES
            and spec.pg_types[pos] == "bytea"
            and pos not in spec.key_pos
        ):
            found[pos] = value
    return found


def row_digest(values: list[bytes | None], large: dict[int, bytes] | None = None) -> bytes:
    """md5 of :func:`row_bytes` without joining them (a large value is not copied again);
    ``large`` blobs (their canonical value, lowercase hex, stands empty in ``values``) are
    hashed from their bytes, a piece at a time."""
    md5 = hashlib.md5()
    for pos, value in enumerate(values):
        if value is None:
            md5.update(NULL)
            continue
        md5.update(VALUE)
        blob = large.get(pos) if large else None
        if blob is None:
            md5.update(value)
            continue
        view = memoryview(blob)
        for start in range(0, len(view), LARGE_BLOB):
            md5.update(binascii.hexlify(view[start : start + LARGE_BLOB]))
    return md5.digest()


_RANK = {b"integer": 1, b"real": 1, b"text": 2, b"blob": 3}


def order_key(pairs: Sequence[tuple[bytes, Any]]) -> tuple[tuple[int, Any], ...]:
    """A non-NULL key as read, in SQLite's BINARY order: numbers, then text by bytes (which is
    PostgreSQL's COLLATE "C"), then blobs."""
    return tuple((_RANK[kind], value) for kind, value in pairs)


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


def _in_range(spec: Spec, sql: str, rowids: tuple[int, int] | None) -> tuple[str, tuple[int, ...]]:
    if rowids is None:
        return sql, ()
    return f"{sql} WHERE {spec.rowid} >= ? AND {spec.rowid} < ?", rowids


def segment_sums(
    conn: sqlite3.Connection, spec: Spec, starts: list[Bound], rowids: tuple[int, int] | None = None
) -> tuple[list[tuple[int, int]], list[SrcRow], int]:
    """One pass: (rows, sum of row hashes) per segment, the rows set aside (quarantined, or
    without a usable key) and the number of rows read; only rowids in [lo, hi) with
    ``rowids`` (see :func:`splittable`).

    The table is read in storage order (no index walk) and each row's segment is found by
    bisecting the segment starts in key order; SQLite builds the simple values' canonical
    pieces itself (see :mod:`litesql`)."""
    if spec.rejects and spec.reject_rowids is None:
        assert rowids is None, "rowid ranges need rejects told apart by rowid"
        return _python_segment_sums(conn, spec, starts)
    plan = litesql.row_plan(spec, ordered=False, utf8=litesql.utf8(conn))
    sql, params = _in_range(spec, plan.sql, rowids)
    marks = [order_key([(_KIND_OF[r.kind], r.value) for r in raw]) for _, raw in starts]
    if marks != sorted(marks):
        raise ValueError("segment starts must be in key order (see bounds())")
    counts, totals = [0] * (len(starts) + 1), [0] * (len(starts) + 1)
    aside: list[SrcRow] = []
    slots = plan.key_slots
    one = slots[0] if len(slots) == 1 else None
    texts = (
        [m[0][1] for m in marks] if one is not None and all(m[0][0] == 2 for m in marks) else None
    )
    rejected = spec.reject_rowids if spec.rejects else None
    md5, from_bytes, assemble, bisect = hashlib.md5, int.from_bytes, litesql.assemble, bisect_right
    read = 0
    try:
        rows: Iterable[Any] = conn.execute(sql, params)
        if texts is not None and one is not None and fast.has_sums:
            # the usual table (a text key): the loop below in C, but for the rows it defers
            counts, totals, rows, read = fast.c_sums(
                rows,
                plan.ops,
                plan.json,
                plan.width,
                one,
                texts,
                rejected or None,
                Reject,
                len(counts),
            )
        for row in rows:
            read += 1
            data = assemble(plan, row)
            if (
                data is None
                or (rejected and row[0] in rejected)
                or (
                    row[one + 1] is None
                    if one is not None
                    else any(row[s + 1] is None for s in slots)
                )
                or not _utf8_keys(plan, row)
            ):
                found = _full_row(conn, spec, row[0], litesql.raw_key(plan, row))
                if found.identity is not None or found.key is None:
                    aside.append(found)
                    continue
                h = found.h64
            else:
                h = from_bytes(md5(data).digest()[:8], "big", signed=True)
            if texts is not None and one is not None and row[one] == b"text":
                seg = bisect(texts, row[one + 1])
            else:
                seg = bisect(marks, order_key(litesql.raw_key(plan, row)))
            counts[seg] += 1
            totals[seg] += h
    except sqlite3.Error as exc:
        raise SourceError(f"reading {spec.name}: {exc}") from None
    return list(zip(counts, totals, strict=True)), aside, read


def _utf8_keys(plan: litesql.RowPlan, row: Sequence[Any]) -> bool:
    """Whether every text key value of the row is UTF-8: a key that is not does not convert,
    and its row must be set aside (the drill-down of a segment skips rows without a key)."""
    for slot in plan.key_slots:
        if row[slot] == b"text":
            try:
                row[slot + 1].decode("utf-8")
            except UnicodeDecodeError:
                return False
    return True


def _python_segment_sums(
    conn: sqlite3.Connection, spec: Spec, starts: list[Bound]
) -> tuple[list[tuple[int, int]], list[SrcRow], int]:
    """segment_sums in key order, every row through Python: for a table whose rejects cannot
    be told apart by rowid (WITHOUT ROWID), each row's identity is checked."""
    sums = [(0, 0)] * (len(starts) + 1)
    aside: list[SrcRow] = []
    read = 0
    for seg, rows in _segment_rows(conn, spec, starts):
        read += len(rows)
        _, n, total, found = hash_segment(spec, seg, rows)
        sums[seg] = (n, total)
        aside.extend(found)
    return sums, aside, read


def _full_row(
    conn: sqlite3.Connection, spec: Spec, rowid: int | None, raw: Sequence[Any]
) -> SrcRow:
    return _row(spec, _as_read(conn, spec, rowid, raw))


def _as_read(
    conn: sqlite3.Connection, spec: Spec, rowid: int | None, raw: Sequence[Any]
) -> Sequence[Any]:
    """One row in the layout of ``_select``, by rowid (or by key without one)."""
    key = None if rowid is not None else tuple(Raw(_KINDS[k], v) for k, v in raw)
    where, params = _row_where(spec, rowid, key)
    found = conn.execute(_select(spec, where), params).fetchone()
    if found is None:
        raise SourceError(f"{spec.name}: a row vanished inside one read transaction")
    return found  # type: ignore[no-any-return]


def _segment_rows(
    conn: sqlite3.Connection, spec: Spec, starts: list[Bound]
) -> Iterator[tuple[int, list[Any]]]:
    marks = [tuple((_KIND_OF[r.kind], r.value) for r in raw) for _, raw in starts]
    cols = [(1 + 2 * p, 2 + 2 * p) for p in spec.key_pos]
    seg, rows = 0, list[Any]()
    try:
        for row in conn.execute(_select(spec, "1")):
            if seg < len(marks) and tuple((row[k], row[v]) for k, v in cols) == marks[seg]:
                yield seg, rows
                seg, rows = seg + 1, []
            rows.append(row)
    except sqlite3.Error as exc:
        raise SourceError(f"reading {spec.name}: {exc}") from None
    yield seg, rows


def hash_segment(spec: Spec, seg: int, rows: list[Any]) -> tuple[int, int, int, list[SrcRow]]:
    """(segment, rows, sum of row hashes, rows set aside) of one segment's rows as read."""
    aside: list[SrcRow] = []
    md5, from_bytes = hashlib.md5, int.from_bytes
    count = total = 0
    for row in rows:
        values, failure = canonical(spec, row)
        if failure or spec.rejects or any(values[p] is None for p in spec.key_pos):
            found = _row(spec, row)
            if found.identity is not None or found.key is None:
                aside.append(found)
                continue
        data = UNCONVERTIBLE if failure else row_bytes(values)
        count += 1
        total += from_bytes(md5(data).digest()[:8], "big", signed=True)
    return seg, count, total, aside


RawPairs = tuple[tuple[bytes, Any], ...]  # the key as read: (typeof, value) per key column
# (canonical key, md5 of the canonical row, where to read the row again: its rowid, or its key
# as read in a WITHOUT ROWID table), or (None, b"", the row as read) for a closer look
Digest = tuple[Key | None, bytes, int | Sequence[Any] | RawPairs]
BATCH = 10_000


def digests(
    conn: sqlite3.Connection, spec: Spec, rowids: tuple[int, int] | None = None
) -> Iterator[Digest]:
    """Every row in storage order as a :data:`Digest`; a row that needs a closer look
    (quarantined, unconvertible: see :func:`row_of`) comes whole; only rowids in [lo, hi)
    with ``rowids``."""
    try:
        if not spec.rejects or spec.reject_rowids is not None:
            plan = litesql.row_plan(spec, ordered=False, utf8=litesql.utf8(conn))
            yield from _sql_digests(conn, spec, plan, rowids)
            return
        assert rowids is None, "rowid ranges need rejects told apart by rowid"
        cursor = conn.execute(_select(spec, "1", ordered=False))
        while batch := cursor.fetchmany(BATCH):
            yield from digest_batch(spec, batch)
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


def digest_batch(spec: Spec, rows: list[Any]) -> list[Digest]:
    out: list[Digest] = []
    md5 = hashlib.md5
    for row in rows:
        values, failure = canonical(spec, row)
        if failure or spec.rejects or any(values[p] is None for p in spec.key_pos):
            out.append((None, b"", row))
            continue
        key = tuple(values[p].decode("utf-8") for p in spec.key_pos)  # type: ignore[union-attr]
        raw = tuple((row[1 + 2 * p], row[2 + 2 * p]) for p in spec.key_pos)
        out.append((key, md5(row_bytes(values)).digest(), raw))
    return out


def row_of(spec: Spec, row: Sequence[Any]) -> SrcRow:
    """The full :class:`SrcRow` of a row as read."""
    return _row(spec, row)


def fetch(conn: sqlite3.Connection, spec: Spec, where: int | Sequence[Any]) -> SrcRow:
    """The full :class:`SrcRow` of one row, by rowid or by its key as read (point query)."""
    if isinstance(where, int):
        return _row(spec, _as_read(conn, spec, where, ()))
    return _row(spec, _as_read(conn, spec, None, where))


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
) -> tuple[list[Raw], list[bytes | None], str | None] | None:
    """One row's raw and canonical values, by key (or rowid); None when it is gone."""
    where, params = _row_where(spec, rowid, raw_key)
    found = conn.execute(_select(spec, where), params).fetchone()
    if found is None:
        return None
    values, failure = canonical(spec, found)
    return _raws(found, len(spec.columns)), values, failure


def count(conn: sqlite3.Connection, spec: Spec) -> int:
    return count_rows(conn, spec.name)


def count_rows(conn: sqlite3.Connection, table: str) -> int:
    try:
        return int(conn.execute(f"SELECT count(*) FROM {qi(table)}").fetchone()[0])
    except sqlite3.Error as exc:
        raise SourceError(f"reading {table}: {exc}") from None
