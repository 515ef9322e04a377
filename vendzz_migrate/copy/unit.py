"""Copy one unit (a key range of one table) in one PostgreSQL transaction.

The unit's rows, its rejects and the "unit done" mark commit together, so a crash at any
moment leaves nothing half-done: a rerun copies the unit again from scratch, or skips it.

A value PostgreSQL refuses (COPY reports the line) costs only its own row: the row is
recorded as a reject and the unit is sent again without it, inside a savepoint.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vendzz_migrate.copy import large
from vendzz_migrate.errors import TargetError
from vendzz_migrate.pg import qualified
from vendzz_migrate.source import pieces, reader
from vendzz_migrate.source.reader import KeyTuple, TablePlan
from vendzz_migrate.state.store import RejectRow, Store, Unit
from vendzz_migrate.typemap.convert import Conversion, OnError, Reject, copy_escape
from vendzz_migrate.typemap.values import Raw, encode_raw

if TYPE_CHECKING:
    import psycopg

FLUSH_BYTES = 1 << 20
_WHERE = re.compile(r", line (\d+)(?:, column (.*?): .*)?$", re.S)


@dataclass
class UnitResult:
    table: str
    source_rows: int = 0
    copied: int = 0
    rejected: int = 0
    converted: int = 0
    seconds: float = 0.0
    skipped: bool = False


@dataclass
class _Attempt:
    keys: list[Any] = field(default_factory=list)  # what reader.unit_rows yields, per line
    rejects: list[tuple[KeyTuple, str | None, Raw | None, str]] = field(default_factory=list)
    converted: int = 0


Loaded = Callable[[str], bool]  # whether a target table (a foreign key's parent) is all loaded


def copy_unit(
    pg: psycopg.Connection,
    lite: sqlite3.Connection,
    store: Store,
    run_id: str,
    plan: TablePlan,
    unit: Unit,
    copy_sql: bytes,
    loaded: Loaded | None = None,
) -> UnitResult:
    """Copy ``unit`` unless it is already done; returns its counts. ``loaded`` tells whether a
    parent table is fully loaded, so a row refused by a foreign key to it is a true orphan."""
    started = time.monotonic()
    result = UnitResult(plan.table.name)
    lo, hi = reader.decode_key(unit.lo), reader.decode_key(unit.hi)
    with pg.transaction():
        if store.unit_done(run_id, unit, lock=True):
            result.skipped = True
            return result
        excluded: list[KeyTuple] = []
        failed: list[tuple[KeyTuple, str | None, Raw | None, str]] = []
        while True:
            where, params = reader.range_clause(plan.keys, lo, hi, excluded)
            bad = _try_copy(pg, lite, plan, where, params, copy_sql, loaded)
            if isinstance(bad, _Attempt):
                break
            _confirm(pg, lite, plan, bad[0], copy_sql, loaded)
            excluded.append(bad[0])
            failed.append(bad)
        attempt = bad
        where, params = reader.range_clause(plan.keys, lo, hi)
        result.source_rows = reader.count(lite, plan, where, params)
        all_rejects = failed + attempt.rejects
        result.rejected = len(all_rejects)
        result.copied = len(attempt.keys)
        result.converted = attempt.converted
        if result.copied + result.rejected != result.source_rows:  # never lose a row silently
            raise AssertionError(
                f"{plan.table.name}: unit {unit.seq} accounts for {result.copied}+"
                f"{result.rejected} of {result.source_rows} rows"
            )
        # a rejected row is recorded whole, its values over pieces.LARGE_BYTES in pieces
        store.add_rejects(run_id, [_reject_row(lite, plan, r) for r in all_rejects])
        result.seconds = time.monotonic() - started
        store.finish_unit(
            run_id,
            unit,
            source_rows=result.source_rows,
            copied=result.copied,
            rejected=result.rejected,
            converted=result.converted,
            seconds=result.seconds,
        )
    return result


def _try_copy(
    pg: psycopg.Connection,
    lite: sqlite3.Connection,
    plan: TablePlan,
    where: str,
    params: list[object],
    copy_sql: bytes,
    loaded: Loaded | None = None,
    *,
    row_by_row: bool = False,
) -> _Attempt | tuple[KeyTuple, str | None, Raw | None, str]:
    """One COPY of the range inside a savepoint: the attempt, or the row PostgreSQL refused.
    A value too large to be built in memory (see :mod:`large`) sends the range again, row by
    row, that value streamed."""
    import psycopg

    attempt = _Attempt()
    try:
        with pg.transaction(), pg.cursor() as cur, cur.copy(copy_sql) as copy:
            rows = (
                large.unit_rows(lite, plan, where, params)
                if row_by_row
                else reader.unit_rows(lite, plan, where, params)
            )
            _send(copy.write, lite, plan, rows, attempt)
    except (psycopg.errors.DataError, psycopg.errors.IntegrityError) as exc:
        if isinstance(exc, psycopg.errors.ForeignKeyViolation) and loaded is not None:
            orphan = _orphan(pg, lite, plan, exc, where, params, loaded)
            if orphan is not None:
                return orphan
        return _refused(exc, attempt, plan)
    except sqlite3.DataError as exc:
        if row_by_row or not large.too_big(exc):
            raise
        return _try_copy(pg, lite, plan, where, params, copy_sql, loaded, row_by_row=True)
    return attempt


def _send(
    write: large.Write,
    lite: sqlite3.Connection,
    plan: TablePlan,
    rows: Iterable[tuple[Any, bytes | list[large.Field] | large.Refused | None]],
    attempt: _Attempt,
) -> None:
    """Write the rows as COPY lines, in batches of about FLUSH_BYTES; the rows the fast path
    left to Python last."""
    buf: list[bytes] = []
    size = 0
    slow_keys: list[KeyTuple] = []
    for key, line in rows:
        if isinstance(line, bytes):  # the common row first: one test per row
            attempt.keys.append(key)
            buf.append(line)
            size += len(line)
            if size >= FLUSH_BYTES:
                write(b"\n".join(buf) + b"\n")
                buf, size = [], 0
        elif line is None:
            slow_keys.append(reader.to_key(key))
        elif isinstance(line, large.Refused):
            attempt.rejects.append((reader.to_key(key), line.column, None, line.reason))
        else:  # a row holding a large value: streamed
            attempt.keys.append(key)
            if buf:
                write(b"\n".join(buf) + b"\n")
                buf, size = [], 0
            large.write_row(write, line)
    for key in slow_keys:
        values = large.slow_row(lite, plan, key)
        if isinstance(values, large.LargeRow):  # a large value the fast query did not load
            if isinstance(values.fields, large.Refused):
                attempt.rejects.append((key, values.fields.column, None, values.fields.reason))
                continue
            attempt.keys.append(key)
            if buf:
                write(b"\n".join(buf) + b"\n")
                buf, size = [], 0
            large.write_row(write, values.fields)
            continue
        slow = _slow_line(plan, key, values, attempt)
        del values
        if slow is not None:
            attempt.keys.append(key)
            buf.append(slow)
            size += len(slow)
    if buf:
        write(b"\n".join(buf) + b"\n")


def _slow_line(
    plan: TablePlan, key: KeyTuple, values: list[Raw], attempt: _Attempt
) -> bytes | None:
    """The COPY line of a row the fast path left to Python, or None when it is rejected."""
    fields: list[str] = []
    converted = 0
    for col, raw in zip(plan.columns, values, strict=True):
        try:
            text, changed = slow_field(plan, col.source, col.conversion, raw)
        except Reject as rej:
            # a value too large to keep is read again, in pieces, for the reject's record
            kept = None if _large(raw) else raw
            attempt.rejects.append((key, col.source, kept, rej.reason))
            return None
        fields.append(text)
        converted += changed
    attempt.converted += converted
    return "\t".join(fields).encode("utf-8")


def _large(raw: Raw) -> bool:
    return isinstance(raw.value, bytes) and len(raw.value) > pieces.LARGE_BYTES


def slow_field(plan: TablePlan, column: str, conv: Conversion, raw: Raw) -> tuple[str, bool]:
    """(escaped COPY field, whether its form changed); applies the column's on_error policy."""
    if raw.kind == "null":
        if conv.not_null:
            in_key = column in plan.table.primary_key
            raise Reject(
                "NULL primary key (PostgreSQL keys cannot be NULL)"
                if in_key
                else "NULL in a NOT NULL column"
            )
        return "\\N", False
    try:
        text = conv.convert(raw)
    except Reject as rej:
        if conv.on_error is OnError.NULL:
            return "\\N", True
        if conv.on_error is OnError.WRAP and raw.kind == "text":
            return copy_escape(json.dumps(_text_or_reject(raw, rej))), True
        raise
    return copy_escape(text), conv.changed_form(raw, text)


def _text_or_reject(raw: Raw, rej: Reject) -> str:
    assert isinstance(raw.value, bytes)
    try:
        text = raw.value.decode("utf-8")
    except UnicodeDecodeError:
        raise rej from None
    if "\x00" in text:
        raise rej
    return text


def _refused(
    exc: Exception, attempt: _Attempt, plan: TablePlan
) -> tuple[KeyTuple, str | None, Raw | None, str]:
    """Locate the row PostgreSQL refused from the COPY context ('COPY t, line N, column c').

    The context may hold other 'line N' (e.g. 'JSON data, line 1'), so only the line that
    starts with 'COPY <table>' is read.
    """
    diag = getattr(exc, "diag", None)
    context = (getattr(diag, "context", None) or "") if diag else ""
    prefix = f"COPY {plan.target}"
    found = [ln[len(prefix) :] for ln in context.splitlines() if ln.startswith(prefix)]
    match = _WHERE.match(found[-1]) if found else None
    if not match or not 0 < int(match.group(1)) <= len(attempt.keys):
        raise TargetError(
            f"{plan.table.name}: PostgreSQL refused a row it did not locate: "
            f"{(str(exc).splitlines() or [''])[0]}"
        ) from exc
    key = reader.to_key(attempt.keys[int(match.group(1)) - 1])
    target_col = match.group(2)
    source_col = next((c.source for c in plan.columns if c.target == target_col), None)
    reason = (getattr(diag, "message_primary", None) if diag else None) or str(exc)
    return key, source_col, None, f"PostgreSQL refused the value: {reason}"


_MISSING_KEY = re.compile(r"Key \((.*?)\)=\((.*)\) is not present in table (.*)\.", re.S)


def _orphan(
    pg: psycopg.Connection,
    lite: sqlite3.Connection,
    plan: TablePlan,
    exc: Exception,
    where: str,
    params: list[object],
    loaded: Loaded,
) -> tuple[KeyTuple, str | None, Raw | None, str] | None:
    """The row behind a foreign key violation (--data-only into tables whose foreign keys are
    enforced). PostgreSQL checks them after the COPY, so its context names no line; its detail
    names the missing key value and the constraint its columns. Only for a single-column key to
    a parent table that is fully loaded: a self-reference, or a parent of the same wave (a
    cycle), may point at a row still to come, which is no orphan (the run then stops)."""
    diag = getattr(exc, "diag", None)
    match = _MISSING_KEY.match(getattr(diag, "message_detail", None) or "")
    if diag is None or match is None or not diag.constraint_name or not diag.table_name:
        return None
    table = qualified(diag.schema_name or "public", diag.table_name)
    found = pg.execute(
        "SELECT a.attname, c.confrelid = c.conrelid, cardinality(c.conkey), p.relname"
        " FROM pg_constraint c JOIN pg_class p ON p.oid = c.confrelid"
        " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]"
        " WHERE c.conname = %s AND c.conrelid = to_regclass(%s)",
        (diag.constraint_name, table),
    ).fetchone()
    if found is None or found[1] or found[2] != 1 or not loaded(str(found[3])):
        return None
    source = next((c.source for c in plan.columns if c.target == found[0]), None)
    if source is None:
        return None
    key = reader.first_key(lite, plan, where, list(params), source, match.group(2))
    if key is None:
        return None
    return (
        key,
        source,
        None,
        (f"PostgreSQL refused the row: {diag.message_primary} ({match.group(0)})"),
    )


def _confirm(
    pg: psycopg.Connection,
    lite: sqlite3.Connection,
    plan: TablePlan,
    key: KeyTuple,
    copy_sql: bytes,
    loaded: Loaded | None = None,
) -> None:
    """Send the blamed row alone (rolled back): if PostgreSQL takes it, the blame was wrong,
    and rejecting a good row would be worse than stopping."""
    where, params = reader.key_clause(plan.keys, key)
    with pg.transaction(force_rollback=True):
        alone = _try_copy(pg, lite, plan, where, params, copy_sql, loaded)
    if isinstance(alone, _Attempt) and alone.keys:
        raise TargetError(
            f"{plan.table.name}: PostgreSQL refused a batch but accepts the row "
            f"it blamed ({reader.encode_key(key)}); stopping rather than "
            "rejecting a good row"
        )


def _reject_row(
    lite: sqlite3.Connection, plan: TablePlan, rej: tuple[KeyTuple, str | None, Raw | None, str]
) -> RejectRow:
    """The record of a rejected row. A value over ``pieces.LARGE_BYTES`` is not read whole: the
    store copies its bytes in pieces and records a reference (see :func:`large.raw_row`)."""
    key, column, raw, reason = rej
    row, big = large.raw_row(lite, plan, key)
    if column is None:  # e.g. invalid UTF-8: PostgreSQL names the line, not the column
        column = next((c for c, v in row.items() if v["type"] == "text" and "base64" in v), None)
    in_pieces = any(v.column == column for v in big)
    value: dict[str, Any] | None
    if raw is not None and not in_pieces:
        value = encode_raw(raw)
    else:
        value = row.get(column) if column else None
    with large.unbounded(lite):  # the key's columns only
        identity = reader.identity(lite, plan, key)
    return RejectRow(plan.table.name, identity, column, value, row, reason, big)
