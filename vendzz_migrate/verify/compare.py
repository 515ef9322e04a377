"""Comparing one table: counts, key-ordered segment checksums with bisection, every row, or
(for tables without a key) multisets of row hashes.

checksum: the source is cut into segments of ``segment_rows`` rows in key order; PostgreSQL
computes (rows, sum of row hashes) for the same key ranges in one scan. A segment that differs
is split into ``fanout`` sub-segments (checksums again, on both sides) until it holds at most
``leaf_rows`` rows, whose (key, md5) pairs are then compared one by one. Rows left unmatched in
one range are reconciled by key across the whole table, so an ordering quirk can cost time but
never a false mismatch.
"""

from __future__ import annotations

import functools
import sqlite3
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from vendzz_migrate.verify import lite, pgside
from vendzz_migrate.verify.lite import Bound, SrcRow
from vendzz_migrate.verify.model import Difference, DiffKind, Mode, TableResult
from vendzz_migrate.verify.spec import Key, Spec, identity_dict

if TYPE_CHECKING:
    import psycopg

DETAILED = 200  # changed rows whose differing columns are looked up, per table


@dataclass
class Ctx:
    lite: sqlite3.Connection
    pg: psycopg.Connection
    schema: str
    show_values: bool = False
    segment_rows: int = 10_000
    leaf_rows: int = 256
    fanout: int = 16


@dataclass
class Tally:
    """Per-table findings before reconciliation."""

    src_only: dict[Key, SrcRow] = field(default_factory=dict)
    pg_only: dict[Key, bytes] = field(default_factory=dict)
    changed: dict[Key, SrcRow] = field(default_factory=dict)
    duplicates: list[Key] = field(default_factory=list)
    unlocated: list[int] = field(default_factory=list)  # segments that differ, no row found

    def size(self) -> int:
        return len(self.src_only) + len(self.pg_only) + len(self.changed) + len(self.duplicates)


Digests = Callable[[], Iterable[lite.Digest]]  # the source's row digests, computed elsewhere


def compare_table(
    ctx: Ctx, spec: Spec, mode: Mode, split: Split | None = None, digests: Digests | None = None
) -> TableResult:
    """One table's result; ``split`` (checksum mode) and ``digests`` (full mode): the source
    side computed elsewhere (by worker processes, over rowid ranges) for a keyed table."""
    started = time.monotonic()
    result = TableResult(table=spec.name, target=spec.target)
    if mode == "counts":
        _counts(ctx, spec, result)
    elif not spec.key_pos:
        result.note = "no primary key: compared as a multiset of row hashes"
        _keyless(ctx, spec, result, full=mode == "full")
    else:
        tally = Tally()
        if mode == "full":
            _full(ctx, spec, result, tally, digests)
        else:
            _segments(ctx, spec, result, tally, split)
        _report(ctx, spec, result, tally)
    result.settle()
    result.seconds = time.monotonic() - started
    return result


# -- counts -----------------------------------------------------------------------------------


def _counts(ctx: Ctx, spec: Spec, result: TableResult) -> None:
    result.source_rows = lite.count(ctx.lite, spec)
    result.target_rows = pgside.count(ctx.pg, spec, ctx.schema)
    result.quarantined = len(spec.rejects)
    expected = result.source_rows - result.quarantined
    result.missing = max(0, expected - result.target_rows)
    result.extra = max(0, result.target_rows - expected)


# -- checksum ---------------------------------------------------------------------------------


def _set_aside(row: SrcRow, result: TableResult) -> bool:
    """Quarantined rows and rows without a usable key are settled here, not in segments."""
    if row.identity is not None:
        result.add(
            Difference(
                kind=DiffKind.QUARANTINED,
                key=identity_dict(row.identity),
                reason="recorded in the rejects table",
            )
        )
        return True
    if row.key is None:
        ident = {"rowid": row.rowid} if row.rowid is not None else {}
        result.add(
            Difference(
                kind=DiffKind.MISSING, key=ident, reason=row.failure or "its key does not convert"
            )
        )
        return True
    return False


SourceSums = lite.Sums  # see lite.segment_sums
Split = tuple[list[Bound], Callable[[], SourceSums]]  # segment starts, the source's sums


def _segments(
    ctx: Ctx, spec: Spec, result: TableResult, tally: Tally, split: Split | None = None
) -> None:
    """``split``: the segment starts and the source sums computed elsewhere (by worker
    processes, over rowid ranges); by default both are computed here."""
    if split is not None:
        starts, source = split
    else:
        starts = lite.bounds(ctx.lite, spec, ctx.segment_rows)
        source = functools.partial(lite.segment_sums, ctx.lite, spec, starts)
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(pgside.segment_sums, ctx.pg, spec, ctx.schema, [k for k, _ in starts])
        src, aside, result.source_rows = source()
        tgt = future.result()
    for row in aside:
        _set_aside(row, result)
    result.segments = len(src)
    result.target_rows = sum(n for n, _ in tgt.values())
    for seg, sums in enumerate(src):
        if sums != tgt.get(seg, (0, 0)):
            result.mismatched_segments += 1
            lo = starts[seg - 1] if seg else None
            hi = starts[seg] if seg < len(starts) else None
            found = tally.size()
            _drill(ctx, spec, tally, lo, hi)
            if tally.size() == found:
                tally.unlocated.append(seg)


def merge(parts: Iterable[SourceSums]) -> SourceSums:
    """The source sums of a table from the sums of its rowid ranges."""
    sums: list[tuple[int, int]] = []
    aside: list[SrcRow] = []
    read = 0
    for part_sums, part_aside, part_read in parts:
        if not sums:
            sums = list(part_sums)
        else:
            sums = [(n + m, s + t) for (n, s), (m, t) in zip(sums, part_sums, strict=True)]
        aside.extend(part_aside)
        read += part_read
    return sums, aside, read


def _drill(ctx: Ctx, spec: Spec, tally: Tally, lo: Bound | None, hi: Bound | None) -> None:
    rows = [
        r
        for r in lite.rows(ctx.lite, spec, lo[1] if lo else None, hi[1] if hi else None)
        if r.identity is None and r.key is not None
    ]
    _bisect(ctx, spec, tally, rows, lo=lo[0] if lo else None, hi=hi[0] if hi else None)


def _bisect(
    ctx: Ctx, spec: Spec, tally: Tally, rows: list[SrcRow], *, lo: Key | None, hi: Key | None
) -> None:
    if len(rows) <= ctx.leaf_rows or len(spec.key_pos) != 1:
        _leaf(tally, rows, pgside.range_rows(ctx.pg, spec, ctx.schema, lo, hi))
        return
    step = -(-len(rows) // ctx.fanout)
    parts = [rows[i : i + step] for i in range(0, len(rows), step)]
    starts: list[Key] = [p[0].key for p in parts[1:] if p[0].key is not None]
    tgt = pgside.segment_sums(ctx.pg, spec, ctx.schema, starts, lo=lo, hi=hi)
    for i, part in enumerate(parts):
        if (len(part), sum(r.h64 for r in part)) != tgt.get(i, (0, 0)):
            _bisect(
                ctx,
                spec,
                tally,
                part,
                lo=starts[i - 1] if i else lo,
                hi=starts[i] if i < len(starts) else hi,
            )


def _leaf(tally: Tally, rows: Iterable[SrcRow], target: dict[Key, list[bytes]]) -> None:
    for row in rows:
        assert row.key is not None
        found = target.pop(row.key, None)
        if found is None:
            tally.src_only[row.key] = row
            continue
        if found[0] != row.digest:
            tally.changed[row.key] = row
        tally.duplicates.extend([row.key] * (len(found) - 1))
    for key, digests in target.items():
        tally.pg_only[key] = digests[0]
        tally.duplicates.extend([key] * (len(digests) - 1))


# -- full -------------------------------------------------------------------------------------


def _full(
    ctx: Ctx, spec: Spec, result: TableResult, tally: Tally, digests: Digests | None = None
) -> None:
    """Every row: the server's (key, md5) of all rows, matched against every source row."""
    target = pgside.range_rows(ctx.pg, spec, ctx.schema)
    result.target_rows = sum(len(v) for v in target.values())
    source = digests() if digests is not None else lite.digests(ctx.lite, spec)
    for key, digest, raw in source:
        result.source_rows += 1
        found = target.pop(key, None) if key is not None else None
        if found is not None and found[0] == digest and len(found) == 1:
            continue
        if key is None:
            assert not isinstance(raw, int)
            row = lite.row_of(ctx.lite, spec, raw)
        else:
            row = lite.fetch(ctx.lite, spec, raw)
        if key is None:
            if _set_aside(row, result):
                continue
            found = target.pop(row.key, None) if row.key is not None else None
        _leaf(tally, [row], {row.key: found} if found and row.key is not None else {})
    for key, found in target.items():
        tally.pg_only[key] = found[0]
        tally.duplicates.extend([key] * (len(found) - 1))


# -- reporting keyed differences ------------------------------------------------------------


def _reconcile(tally: Tally) -> None:
    for key in [k for k in tally.src_only if k in tally.pg_only]:
        row, digest = tally.src_only.pop(key), tally.pg_only.pop(key)
        if row.digest != digest:
            tally.changed[key] = row


UNLOCATED = (
    "checksums differ, but no differing row was located (the two sides hash some"
    " row differently: please report it)"
)


def _report(ctx: Ctx, spec: Spec, result: TableResult, tally: Tally) -> None:
    # a segment whose sums differ is never taken for a match, even when its drill-down finds
    # no row (the sums and the rows' hashes disagree: a bug, never "all good")
    for seg in tally.unlocated:
        result.add(Difference(kind=DiffKind.CHANGED, key={"segment": seg}, reason=UNLOCATED))
    _reconcile(tally)
    for key, row in sorted(tally.src_only.items()):
        diff = Difference(kind=DiffKind.MISSING, key=spec.key_dict(key), reason=row.failure)
        if ctx.show_values:
            found = lite.row_values(ctx.lite, spec, row.raw_key, row.rowid)
            diff.source = _named(spec, _texts(found[0])) if found else None
        result.add(diff)
    extra = sorted(tally.pg_only)
    shown = pgside.values_for(ctx.pg, spec, ctx.schema, extra[:DETAILED]) if ctx.show_values else {}
    for key in extra:
        result.add(
            Difference(
                kind=DiffKind.EXTRA,
                key=spec.key_dict(key),
                target=_named(spec, shown[key]) if key in shown else None,
            )
        )
    for key in tally.duplicates:
        result.add(
            Difference(
                kind=DiffKind.EXTRA, key=spec.key_dict(key), reason="duplicate key in the target"
            )
        )
    _changed(ctx, spec, result, tally)
    if not result.target_rows:
        result.target_rows = pgside.count(ctx.pg, spec, ctx.schema)


def _changed(ctx: Ctx, spec: Spec, result: TableResult, tally: Tally) -> None:
    keys = sorted(tally.changed)
    target = pgside.values_for(ctx.pg, spec, ctx.schema, keys[:DETAILED])
    for i, key in enumerate(keys):
        row = tally.changed[key]
        diff = Difference(kind=DiffKind.CHANGED, key=spec.key_dict(key), reason=row.failure)
        if i < DETAILED:
            found = lite.row_values(ctx.lite, spec, row.raw_key, row.rowid)
            _columns(ctx, spec, diff, found[0] if found else None, target.get(key))
        result.add(diff)


def _columns(
    ctx: Ctx,
    spec: Spec,
    diff: Difference,
    src: list[bytes | None] | None,
    tgt: list[str | None] | None,
) -> None:
    if src is None or tgt is None:
        return
    source = _texts(src)
    differing = [i for i, c in enumerate(spec.columns) if i >= len(source) or source[i] != tgt[i]]
    diff.columns = [spec.columns[i].target for i in differing]
    if ctx.show_values:
        diff.source = {
            spec.columns[i].target: source[i] if i < len(source) else None for i in differing
        }
        diff.target = {spec.columns[i].target: tgt[i] for i in differing}


def _texts(values: list[bytes | None]) -> list[str | None]:
    return [None if v is None else v.decode("utf-8", "replace") for v in values]


def _named(spec: Spec, values: list[str | None]) -> dict[str, str | None]:
    return {c.target: v for c, v in zip(spec.columns, values, strict=False)}


# -- tables without a key ---------------------------------------------------------------------


def _keyless(ctx: Ctx, spec: Spec, result: TableResult, full: bool) -> None:
    if not full:
        with ThreadPoolExecutor(max_workers=1) as pool:
            future = pool.submit(pgside.totals, ctx.pg, spec, ctx.schema)
            # one segment (no key): the storage-order sums, SQLite-built values and all
            sums, aside, _ = lite.segment_sums(ctx.lite, spec, [])
            for row in aside:
                _set_aside(row, result)
            count, total = sums[0]
            result.target_rows, tgt_sum = future.result()
        result.source_rows = count + result.quarantined + result.missing
        result.segments = 1
        if (count, total) == (result.target_rows, tgt_sum):
            return
        result.mismatched_segments = 1
        result.differences.clear()
        result.quarantined = result.missing = 0
    _multiset(ctx, spec, result)
    if result.mismatched_segments and not (result.missing or result.extra):
        result.add(Difference(kind=DiffKind.CHANGED, key={}, reason=UNLOCATED))


def _multiset(ctx: Ctx, spec: Spec, result: TableResult) -> None:
    src: dict[bytes, list[SrcRow]] = {}
    result.source_rows = 0
    for row in lite.rows(ctx.lite, spec):
        result.source_rows += 1
        if row.identity is not None:
            _set_aside(row, result)
        else:
            src.setdefault(row.digest, []).append(row)
    target = pgside.multiset(ctx.pg, spec, ctx.schema)
    result.target_rows = sum(n for n, _ in target.values())
    for digest, rows in src.items():
        have, ctids = target.pop(digest, (0, []))
        for row in rows[have:]:
            result.add(
                Difference(kind=DiffKind.MISSING, key={"rowid": row.rowid}, reason=row.failure)
            )
        if have > len(rows):
            _extra_rows(ctx, spec, result, have - len(rows), ctids)
    for count, ctids in target.values():
        _extra_rows(ctx, spec, result, count, ctids)


def _extra_rows(ctx: Ctx, spec: Spec, result: TableResult, count: int, ctids: list[str]) -> None:
    for i in range(count):
        ctid = ctids[-1 - i] if i < len(ctids) else None
        diff = Difference(
            kind=DiffKind.EXTRA,
            key={"ctid": ctid} if ctid else {},
            reason="no matching row in the source",
        )
        if ctx.show_values and ctid:
            values = pgside.ctid_values(ctx.pg, spec, ctx.schema, ctid)
            diff.target = _named(spec, values) if values else None
        result.add(diff)
