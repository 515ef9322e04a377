"""The PostgreSQL side: canonical row hashes and segment checksums computed by the server.

Every query is read-only. Segments are assigned with ``width_bucket`` over the source's segment
starts, with text keys compared under COLLATE "C" (byte order, as SQLite's BINARY), so one scan
gives every segment's count and sum of row hashes.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from vendzz_migrate.pg import LOAD_SESSION, TIMEOUT_S, classify, connect, qualified
from vendzz_migrate.verify import pgcanon
from vendzz_migrate.verify.spec import Key, Spec

if TYPE_CHECKING:
    import psycopg

FETCH = 20_000


def open_target(url: str, timeout_s: int = TIMEOUT_S) -> psycopg.Connection:
    conn = connect(
        url, command="verify", autocommit=True, timeout_s=timeout_s, session=LOAD_SESSION
    )
    conn.execute("SET default_transaction_read_only = on")
    conn.execute("SET client_encoding = 'UTF8'")  # textsend() gives UTF-8 (see pgcanon)
    # verify already runs one query per worker process on every core: parallel query workers
    # would only add processes fighting for the same cores
    conn.execute("SET max_parallel_workers_per_gather = 0")
    return conn


def _row(spec: Spec) -> str:
    return pgcanon.row_sql(
        [(c.target, t) for c, t in zip(spec.columns, spec.pg_types, strict=True)]
    )


def _keys(spec: Spec) -> list[str]:
    return [pgcanon.key_sql(c, t) for c, t in zip(spec.key_targets, spec.pg_key_types, strict=True)]


def _param(spec: Spec, key: Key) -> list[Any]:
    return [int(v) if spec.integer_key(i) else v for i, v in enumerate(key)]


def _placeholders(spec: Spec) -> str:
    return ", ".join(
        "%s::bigint" if spec.integer_key(i) else "%s::text" for i in range(len(spec.key_pos))
    )


def _range(spec: Spec, lo: Key | None, hi: Key | None) -> tuple[str, list[Any]]:
    cols = "(" + ", ".join(_keys(spec)) + ")"
    parts: list[str] = ["true"]
    params: list[Any] = []
    for bound, op in ((lo, ">="), (hi, "<")):
        if bound is not None:
            parts.append(f"{cols} {op} ({_placeholders(spec)})")
            params.extend(_param(spec, bound))
    return " AND ".join(parts), params


def _run(
    conn: psycopg.Connection, sql: str, params: Sequence[Any] = (), *, hashed: bool = False
) -> list[tuple[Any, ...]]:
    """``hashed``: a GROUP BY whose groups the planner cannot count (it guesses one per row,
    then sorts every row, spilling to disk) is aggregated in a hash table instead."""
    import psycopg

    try:
        if not hashed:
            return conn.execute(sql.encode(), params).fetchall()
        with conn.transaction():
            conn.execute("SET LOCAL enable_sort = off")
            return conn.execute(sql.encode(), params).fetchall()
    except psycopg.Error as exc:
        raise classify(exc) from None


def table_types(conn: psycopg.Connection, schema: str, table: str) -> dict[str, str]:
    rows = _run(
        conn,
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a"
        " WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped"
        " ORDER BY a.attnum",
        (qualified(schema, table),),
    )
    return {str(n): str(t) for n, t in rows}


def totals(conn: psycopg.Connection, spec: Spec, schema: str) -> tuple[int, int]:
    h = pgcanon.hash64_sql(_row(spec))
    rows = _run(
        conn, f"SELECT count(*), coalesce(sum({h}), 0) FROM {qualified(schema, spec.target)}"
    )
    return int(rows[0][0]), int(rows[0][1])


def count(conn: psycopg.Connection, spec: Spec, schema: str) -> int:
    return int(_run(conn, f"SELECT count(*) FROM {qualified(schema, spec.target)}")[0][0])


def segment_sums(
    conn: psycopg.Connection,
    spec: Spec,
    schema: str,
    starts: list[Key],
    *,
    lo: Key | None = None,
    hi: Key | None = None,
) -> dict[int, tuple[int, int]]:
    """{segment: (rows, sum of row hashes)} for the segments that begin at ``starts``."""
    h = pgcanon.hash64_sql(_row(spec))
    where, params = _range(spec, lo, hi)
    table = qualified(schema, spec.target)
    if len(spec.key_pos) == 1:
        array = "bigint[]" if spec.integer_key(0) else "text[]"
        sql = (
            f"SELECT width_bucket({_keys(spec)[0]}, %s::{array}), count(*), sum({h})"
            f" FROM {table} WHERE {where} GROUP BY 1"
        )
        values = [_param(spec, s)[0] for s in starts]
        return {
            int(b): (int(n), int(s)) for b, n, s in _run(conn, sql, [values, *params], hashed=True)
        }
    # composite keys: the server hashes, segments are assigned here in the same byte order
    sql = f"SELECT {', '.join(_keys(spec))}, {h} FROM {table} WHERE {where}"
    order = [_order(spec, s) for s in starts]
    out: dict[int, tuple[int, int]] = {}
    width = len(spec.key_pos)
    for row in _run(conn, sql, params):
        seg = bisect.bisect_right(order, _order(spec, tuple(row[:width])))
        n, s = out.get(seg, (0, 0))
        out[seg] = (n + 1, s + int(row[width]))
    return out


def _order(spec: Spec, key: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(
        int(v) if spec.integer_key(i) else str(v).encode("utf-8") for i, v in enumerate(key)
    )


def range_rows(
    conn: psycopg.Connection, spec: Spec, schema: str, lo: Key | None = None, hi: Key | None = None
) -> dict[Key, list[bytes]]:
    """{key: [md5 of the canonical row, ...]} (more than one only if the key is duplicated)."""
    import psycopg

    where, params = _range(spec, lo, hi)
    sql = (
        f"SELECT {', '.join(f'({k})::text' for k in _keys(spec))}, decode(md5({_row(spec)}),"
        f" 'hex') FROM {qualified(schema, spec.target)} WHERE {where}"
    )
    width = len(spec.key_pos)
    out: dict[Key, list[bytes]] = {}
    try:
        with conn.cursor() as cur:
            cur.execute(sql.encode(), params)
            while batch := cur.fetchmany(FETCH):
                for row in batch:
                    out.setdefault(tuple(row[:width]), []).append(bytes(row[width]))
    except psycopg.Error as exc:
        raise classify(exc) from None
    return out


def _shown(spec: Spec) -> list[str]:
    return [
        pgcanon.shown_sql(c.target, t) for c, t in zip(spec.columns, spec.pg_types, strict=True)
    ]


def values_for(
    conn: psycopg.Connection, spec: Spec, schema: str, keys: list[Key]
) -> dict[Key, list[str | None]]:
    """Canonical values of the rows with these keys (a large bytea value as its size and md5:
    see ``pgcanon.shown_sql``)."""
    if not keys:
        return {}
    exprs = _shown(spec)
    cols = "(" + ", ".join(_keys(spec)) + ")"
    width = len(spec.key_pos)
    out: dict[Key, list[str | None]] = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        rows_sql = ", ".join(f"({_placeholders(spec)})" for _ in chunk)
        sql = (
            f"SELECT {', '.join(f'({k})::text' for k in _keys(spec))}, {', '.join(exprs)}"
            f" FROM {qualified(schema, spec.target)} WHERE {cols} IN ({rows_sql})"
        )
        params = [p for key in chunk for p in _param(spec, key)]
        for row in _run(conn, sql, params):
            out[tuple(row[:width])] = list(row[width:])
    return out


def multiset(
    conn: psycopg.Connection, spec: Spec, schema: str
) -> dict[bytes, tuple[int, list[str]]]:
    """Keyless tables: {row md5: (how many rows, up to 5 ctids)}."""
    sql = (
        f"SELECT decode(md5({_row(spec)}), 'hex') AS h, count(*),"
        f" (array_agg(ctid::text ORDER BY ctid))[1:5] FROM {qualified(schema, spec.target)}"
        f" GROUP BY 1"
    )
    return {bytes(h): (int(n), list(c)) for h, n, c in _run(conn, sql)}


def ctid_values(
    conn: psycopg.Connection, spec: Spec, schema: str, ctid: str
) -> list[str | None] | None:
    exprs = _shown(spec)
    rows = _run(
        conn,
        f"SELECT {', '.join(exprs) or 'NULL'} FROM"
        f" {qualified(schema, spec.target)} WHERE ctid = %s::tid",
        (ctid,),
    )
    return list(rows[0]) if rows else None
