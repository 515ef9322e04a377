"""PostgreSQL side of warm-cache: check a cache's query, count it, stream it.

PostgreSQL renders every cache entry as a ready-to-send RESP command (key, value, TTL with
jitter, byte lengths): the work happens in C on the server and Python only joins and forwards
bytes, which is what keeps warm-cache close to ``redis-cli --pipe`` speed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from vendzz_migrate import pg
from vendzz_migrate.cache.spec import CacheDef, CacheSpec, KeyTemplate, parse_template
from vendzz_migrate.errors import ConfigError, ConnectionFailed, PermissionDenied, TargetError
from vendzz_migrate.settings import Settings
from vendzz_migrate.urls import mask

if TYPE_CHECKING:
    import psycopg
    from psycopg import sql

    PgConn = psycopg.Connection[Any]

T = TypeVar("T")
SAMPLE_ROWS = 1000
CRLF = "\r\n"
_BOOL, _JSON, _JSONB, _DATE, _TIMESTAMP, _TIMESTAMPTZ = 16, 114, 3802, 1082, 1114, 1184


@dataclass(frozen=True)
class Column:
    name: str
    type_oid: int


@dataclass(frozen=True)
class Estimate:
    rows: int  # rows the query returns
    keys: int  # rows with a key and a positive TTL
    avg_bytes: float  # average size of one RESP command
    sample_keys: list[str]


def connect(settings: Settings, *, raw: bool = False) -> PgConn:
    """A read-only session on the target, search_path set to the Vendzz schema.

    ``raw``: text comes back as ``bytes``, the UTF-8 PostgreSQL sent (client_encoding
    SQL_ASCII, so nothing is decoded and encoded again); queries must then be sent as bytes.
    """
    url = settings.database_url
    if not url:
        raise ConfigError("no PostgreSQL URL: pass --target or set DATABASE_URL")
    try:
        conn = pg.connect(url, command="warm-cache", timeout_s=settings.connect_timeout_s)
    except ConnectionFailed as exc:
        reason = str(exc.data["reason"]).removeprefix("connection failed: ")
        raise ConnectionFailed(f"cannot connect to PostgreSQL at {mask(url)}: {reason}") from None
    conn.read_only = True
    conn.autocommit = True
    encoding = conn.execute("SHOW server_encoding").fetchone()
    if not encoding or encoding[0] != "UTF8":
        raise ConfigError(f"PostgreSQL database encoding is {encoding}; warm-cache needs UTF8")
    conn.execute("SELECT set_config('search_path', %s, false)", [pg.ident(settings.schema_name)])
    conn.execute("SET TimeZone TO 'UTC'")
    if raw:
        conn.execute("SET client_encoding TO 'SQL_ASCII'")
    conn.autocommit = False
    return conn


def missing_tables(conn: PgConn, schema: str, tables: list[str]) -> list[str]:
    """Tables from ``requires`` that do not exist in ``schema``."""
    missing = []
    for table in tables:
        row = conn.execute(
            "SELECT to_regclass(format('%%I.%%I', %s::text, %s::text)) IS NULL", [schema, table]
        ).fetchone()
        conn.rollback()
        if row and row[0]:
            missing.append(table)
    return missing


def guard(cache: CacheDef, conn: PgConn, fn: Callable[[], T]) -> T:
    """Run a query of ``cache``; map PostgreSQL errors to one-line VendzzErrors."""
    import psycopg

    try:
        return fn()
    except psycopg.Error as exc:
        with contextlib.suppress(psycopg.Error):
            conn.rollback()
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        state = getattr(exc, "sqlstate", None) or ""
        where = f"cache {cache.name!r}: query failed: {first}"
        if state == "42501":
            raise PermissionDenied(where) from None
        if state[:2] in {"42", "22", "25", "0A", "21"}:
            raise ConfigError(f"{where} (SQLSTATE {state})") from None
        if isinstance(exc, psycopg.OperationalError):
            raise ConnectionFailed(
                f"cache {cache.name!r}: PostgreSQL connection lost: {first}"
            ) from None
        raise TargetError(f"{where} (SQLSTATE {state or 'none'})") from None


def probe(conn: PgConn, cache: CacheDef) -> list[Column]:
    """The columns the cache's query returns (runs it with LIMIT 0); checks the template."""
    from psycopg import sql

    query = sql.SQL("SELECT * FROM ({}) AS q LIMIT 0").format(base_query(cache))

    def run() -> list[Column]:
        with conn.cursor() as cur:
            cur.execute(query)
            desc = cur.description or []
            conn.rollback()
            return [Column(d.name, d.type_code) for d in desc]

    columns = guard(cache, conn, run)
    check_columns(cache, parse_template(cache.key), columns)
    return columns


def check_columns(cache: CacheDef, template: KeyTemplate, columns: list[Column]) -> None:
    names = [c.name for c in columns]
    wanted = [("key template", c) for c in template.columns]
    wanted += [("fields", c) for c in cache.fields or []]
    wanted += [("ttl_column", cache.ttl_column)] if cache.ttl_column else []
    for where, column in wanted:
        if column not in names:
            raise ConfigError(
                f"cache {cache.name!r}: {where} names column {column!r} that the query does not "
                f"return (it returns: {', '.join(names) or 'nothing'})"
            )
    if len(set(names)) != len(names):
        raise ConfigError(f"cache {cache.name!r}: the query returns a column name twice")


def base_query(
    cache: CacheDef, tiebreak: sql.Composable | None = None, *, ordered: bool = True
) -> sql.Composed:
    """The cache's rows (``order_by``, ``max_keys``). ``tiebreak`` (the key) makes the order
    total when ``max_keys`` cuts it: ties go to the smaller key, and every stream of a split
    cache cuts the same rows. ``ordered=False``: every row of the query, in no order (no sort:
    for counting)."""
    from psycopg import sql

    text = (cache.query or "").strip().rstrip(";").strip()
    parts = [sql.SQL("SELECT * FROM ({}\n) AS q").format(sql.SQL(text))]
    if not ordered:
        return parts[0]
    order: list[sql.Composable] = [sql.SQL(cache.order_by)] if cache.order_by else []
    if cache.max_keys and tiebreak is not None:
        order.append(sql.SQL('({}) COLLATE "C"').format(tiebreak))
    if order:
        parts.append(sql.SQL("ORDER BY {}").format(sql.SQL(", ").join(order)))
    if cache.max_keys:
        parts.append(sql.SQL("LIMIT {}").format(sql.Literal(cache.max_keys)))
    return sql.SQL(" ").join(parts)


def _stage1(
    spec: CacheSpec,
    cache: CacheDef,
    columns: list[Column],
    values: bool,
    part: tuple[int, int] | None = None,
    *,
    ordered: bool = True,
) -> sql.Composed:
    """Key, TTL and (when ``values``) the value expressions, one row per base row; with
    ``part`` (i, n) only the rows whose key hashes to i mod n, chosen before values render;
    ``ordered``: see :func:`base_query`."""
    from psycopg import sql

    template = parse_template(cache.key)
    pieces: list[sql.Composable] = []
    for literal, field in template.parts:
        if literal:
            pieces.append(sql.Literal(literal))
        if field is not None:
            pieces.append(sql.SQL("({})::text").format(sql.Identifier("q", field)))
    key = sql.SQL(" || ").join(pieces)
    ttl, jitter = spec.ttl_of(cache)
    if cache.ttl_column:
        ttl_sql = sql.SQL("({})::bigint").format(sql.Identifier("q", cache.ttl_column))
    else:
        ttl_sql = sql.SQL("({} + floor(random() * {})::int)").format(
            sql.Literal(ttl - jitter), sql.Literal(2 * jitter + 1)
        )
    select: list[sql.Composable] = [
        sql.SQL("{} AS k").format(key),
        sql.SQL("{} AS t").format(ttl_sql),
    ]
    source = sql.SQL("({}) AS q").format(base_query(cache, key, ordered=ordered))
    if part is not None:
        source = sql.SQL("(SELECT * FROM {} WHERE abs(hashtext({}) % {}) = {}) AS q").format(
            source, key, sql.Literal(part[1]), sql.Literal(part[0])
        )
    if values:
        value_cols = value_columns(cache, columns)
        whole_row = cache.encoding == "json" and value_cols == columns
        select += (
            [sql.SQL("row_to_json(q)::text AS v")] if whole_row else _value_exprs(cache, value_cols)
        )
        if cache.encoding == "json" and not whole_row:
            lateral = sql.SQL(", ").join(sql.Identifier("q", c.name) for c in value_cols)
            source = sql.SQL("{}, LATERAL (SELECT {}) AS x").format(source, lateral)
    return sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(select), source)


def value_columns(cache: CacheDef, columns: list[Column]) -> list[Column]:
    if cache.fields is not None:
        by_name = {c.name: c for c in columns}
        return [by_name[f] for f in cache.fields]
    drop = set(cache.exclude) | ({cache.ttl_column} if cache.ttl_column else set())
    return [c for c in columns if c.name not in drop]


def _value_exprs(cache: CacheDef, value_cols: list[Column]) -> list[sql.Composable]:
    from psycopg import sql

    if cache.encoding == "json":
        return [sql.SQL("row_to_json(x)::text AS v")]
    if cache.encoding == "text":
        return [sql.SQL("{} AS v").format(_as_text(value_cols[0]))]
    return [
        sql.SQL("{} AS {}").format(_as_text(c), sql.Identifier(f"f{i}"))
        for i, c in enumerate(value_cols)
    ]


def _as_text(column: Column) -> sql.Composable:
    """How a column becomes a hash field value (documented in the README)."""
    from psycopg import sql

    ident = sql.Identifier("q", column.name)
    if column.type_oid == _BOOL:
        return sql.SQL("CASE WHEN {0} THEN 'true' WHEN NOT {0} THEN 'false' END").format(ident)
    if column.type_oid in {_DATE, _TIMESTAMP, _TIMESTAMPTZ}:
        return sql.SQL("to_json({}) #>> '{{}}'").format(ident)
    return sql.SQL("({})::text").format(ident)


def _bulk(expr: sql.Composable) -> sql.Composed:
    """RESP bulk string of a text expression: $<bytes>\\r\\n<text>\\r\\n."""
    from psycopg import sql

    crlf = sql.Literal(CRLF)
    return sql.SQL("'$' || octet_length({0}) || {1} || {0} || {1}").format(expr, crlf)


def _literal_bulk(text: str) -> str:
    return f"${len(text.encode())}{CRLF}{text}{CRLF}"


def frame_query(
    spec: CacheSpec,
    cache: CacheDef,
    columns: list[Column],
    script_sha: str,
    part: tuple[int, int] | None = None,
) -> sql.Composed:
    """``(key, RESP command)`` for every row with a key and a positive TTL (of ``part``)."""
    from psycopg import sql

    k, t = sql.SQL("s.k"), sql.SQL("(s.t)::text")
    if cache.encoding in {"json", "text"}:
        head = sql.Literal(f"*5{CRLF}{_literal_bulk('SET')}")
        frame = sql.SQL("{} || {} || {} || {} || {}").format(
            head, _bulk(k), _bulk(sql.SQL("s.v")), sql.Literal(_literal_bulk("EX")), _bulk(t)
        )
    else:
        frame = _hash_frame(value_columns(cache, columns), script_sha, k, t)
    where: sql.Composable = sql.SQL("s.k IS NOT NULL AND s.t > 0")
    if cache.encoding == "text":
        where = sql.SQL("{} AND s.v IS NOT NULL").format(where)
    return sql.SQL("SELECT s.k, {} FROM ({}) AS s WHERE {}").format(
        frame, _stage1(spec, cache, columns, values=True, part=part), where
    )


def _hash_frame(
    value_cols: list[Column], script_sha: str, k: sql.Composable, t: sql.Composable
) -> sql.Composed:
    """EVALSHA <replace-hash script> 1 key ttl field value ...; NULL fields are left out."""
    from psycopg import sql

    fields = [sql.Identifier("s", f"f{i}") for i in range(len(value_cols))]
    present = sql.SQL(" + ").join(sql.SQL("({} IS NOT NULL)::int").format(f) for f in fields)
    head = _literal_bulk("EVALSHA") + _literal_bulk(script_sha) + _literal_bulk("1")
    pairs = [
        sql.SQL("coalesce({} || {}, '')").format(sql.Literal(_literal_bulk(c.name)), _bulk(f))
        for c, f in zip(value_cols, fields, strict=True)
    ]
    return sql.SQL("'*' || (5 + 2 * ({})) || {} || {} || {} || {}").format(
        present or sql.SQL("0"),
        sql.Literal(CRLF + head),
        _bulk(k),
        _bulk(t),
        sql.SQL(" || ").join(pairs) if pairs else sql.Literal(""),
    )


def estimate(
    conn: PgConn,
    spec: CacheSpec,
    cache: CacheDef,
    columns: list[Column],
    script_sha: str,
) -> Estimate:
    """Row count (exact) and command size (averaged over the first rows).

    Counted without ``order_by``'s sort (a sort of every row, to disk for wide rows); only when
    there are more rows than ``max_keys``, which rows the cut keeps matters: counted again,
    sorted and cut."""
    from psycopg import sql

    def counts(ordered: bool) -> sql.Composed:
        return sql.SQL(
            "SELECT count(*), count(*) FILTER (WHERE s.k IS NOT NULL AND s.t > 0) FROM ({}) AS s"
        ).format(_stage1(spec, cache, columns, values=False, ordered=ordered))

    sample = sql.SQL("SELECT f.k, octet_length(f.frame) FROM ({}) AS f(k, frame) LIMIT {}").format(
        frame_query(spec, cache, columns, script_sha), sql.Literal(SAMPLE_ROWS)
    )

    def run() -> Estimate:
        total = conn.execute(counts(ordered=False)).fetchone() or (0, 0)
        if cache.max_keys and total[0] > cache.max_keys:
            total = conn.execute(counts(ordered=True)).fetchone() or (0, 0)
        rows = conn.execute(sample).fetchall()
        conn.rollback()
        sizes = [int(n) for _, n in rows]
        avg = sum(sizes) / len(sizes) if sizes else 0.0
        return Estimate(int(total[0]), int(total[1]), avg, [str(k) for k, _ in rows[:3]])

    return guard(cache, conn, run)
