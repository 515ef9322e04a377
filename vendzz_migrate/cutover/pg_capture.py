"""Change capture on PostgreSQL, so that a rollback knows every write made after the switch.

One ``AFTER INSERT OR UPDATE OR DELETE`` row trigger per copied table, installed while the
service is still frozen (before the switch lifts the freeze), appends (table, key, operation)
to ``<state>.pg_changes`` under a monotonic ``bigserial`` sequence; a ``TRUNCATE`` statement
trigger logs the whole table as changed, and so does every write statement on a table without
a primary key (whose rows cannot be addressed one by one). The key is the primary key's
values as a jsonb object (``{"id": 42}``); an update that changes the key logs the old key
and the new one. A session that sets ``vendzz.capture = 'off'`` is not captured.

Why triggers rather than logical decoding: decoding needs ``wal_level=logical`` (a server
restart on most managed services), a replication slot that retains WAL for as long as the watch
window lasts (a forgotten slot fills the disk) and replication privileges; triggers need none of
this, are transactional with the write they record (a rolled-back write logs nothing), and
cost one small insert per write. Sequence numbers are allocated at insert time, not at commit,
so a reader only has a complete picture once writes are drained: the rollback reads them after
its freeze, never while the service writes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vendzz_migrate.pg import ident, qualified

if TYPE_CHECKING:
    import psycopg

TRIGGER = "vendzz_capture"
TRUNCATE_TRIGGER = "vendzz_capture_truncate"
FUNCTION = "vendzz_capture"
LOG = "pg_changes"


@dataclass(frozen=True, slots=True)
class CapturedTable:
    """A PostgreSQL table to capture and its primary key columns (PostgreSQL names); a table
    without a key is captured per statement, as a whole (like a TRUNCATE)."""

    name: str
    key: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Change:
    """One captured write: ``key`` is None for a TRUNCATE (the whole table changed)."""

    seq: int
    table: str
    key: dict[str, Any] | None
    op: str  # I | U | D | T


@dataclass(frozen=True, slots=True)
class ChangedKeys:
    """The distinct keys changed per table after a sequence number, up to ``high``."""

    since: int
    high: int
    keys: dict[str, list[dict[str, Any]]]
    truncated: frozenset[str]
    xmin: int = 0  # the oldest transaction still running when read (see changed_keys)

    def counts(self) -> dict[str, int]:
        return {table: len(keys) for table, keys in self.keys.items()}

    @property
    def total(self) -> int:
        return sum(len(keys) for keys in self.keys.values())


def _function_sql(state: str) -> str:
    s = ident(state)
    return f"""
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.{LOG} (
    seq        bigserial PRIMARY KEY,
    table_name text NOT NULL,
    key        jsonb,
    op         char(1) NOT NULL,
    at         timestamptz NOT NULL DEFAULT clock_timestamp()
);
ALTER TABLE {s}.{LOG} ADD COLUMN IF NOT EXISTS
    xid bigint NOT NULL DEFAULT pg_current_xact_id()::text::bigint;
CREATE OR REPLACE FUNCTION {s}.{FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    new_key jsonb := '{{}}';
    old_key jsonb := '{{}}';
    col text;
BEGIN
    IF coalesce(current_setting('vendzz.capture', true), '') = 'off' THEN
        RETURN NULL;
    END IF;
    IF TG_LEVEL = 'STATEMENT' THEN  -- a TRUNCATE, or any write to a table without a key
        INSERT INTO {s}.{LOG} (table_name, key, op) VALUES (TG_TABLE_NAME, NULL, 'T');
        RETURN NULL;
    END IF;
    FOREACH col IN ARRAY TG_ARGV LOOP
        IF TG_OP <> 'DELETE' THEN
            new_key := new_key || jsonb_build_object(col, to_jsonb(NEW) -> col);
        END IF;
        IF TG_OP <> 'INSERT' THEN
            old_key := old_key || jsonb_build_object(col, to_jsonb(OLD) -> col);
        END IF;
    END LOOP;
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND old_key IS DISTINCT FROM new_key) THEN
        INSERT INTO {s}.{LOG} (table_name, key, op) VALUES (TG_TABLE_NAME, old_key, 'D');
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO {s}.{LOG} (table_name, key, op) VALUES (TG_TABLE_NAME, new_key, left(TG_OP, 1));
    END IF;
    RETURN NULL;
END
$fn$;
"""


def install(
    conn: psycopg.Connection[Any],
    tables: Sequence[CapturedTable],
    *,
    schema: str = "public",
    state_schema: str = "vendzz_migrate",
) -> int:
    """Install capture on ``tables`` (idempotent: triggers are replaced) in one transaction;
    returns the current high-water sequence number, from which the changes count."""
    with conn.transaction():
        conn.execute(_function_sql(state_schema).encode())
        fn = f"{ident(state_schema)}.{FUNCTION}"
        for table in tables:
            target = qualified(schema, table.name)
            args = ", ".join("'" + c.replace("'", "''") + "'" for c in table.key)
            level = "ROW" if table.key else "STATEMENT"  # keyless: the whole table changed
            conn.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON {target}".encode())
            conn.execute(f"DROP TRIGGER IF EXISTS {TRUNCATE_TRIGGER} ON {target}".encode())
            conn.execute(
                f"CREATE TRIGGER {TRIGGER} AFTER INSERT OR UPDATE OR DELETE ON {target}"
                f" FOR EACH {level} EXECUTE FUNCTION {fn}({args})".encode()
            )
            conn.execute(
                f"CREATE TRIGGER {TRUNCATE_TRIGGER} AFTER TRUNCATE ON {target}"
                f" FOR EACH STATEMENT EXECUTE FUNCTION {fn}()".encode()
            )
        return high_water(conn, state_schema)


def remove(
    conn: psycopg.Connection[Any],
    *,
    schema: str = "public",
    state_schema: str = "vendzz_migrate",
    keep_log: bool = False,
) -> list[str]:
    """Remove the capture triggers from every table of ``schema`` that has them, the function
    and (unless ``keep_log``) the change log; returns the tables it was removed from."""
    with conn.transaction():
        tables = installed(conn, schema=schema)
        for name in tables:
            target = qualified(schema, name)
            conn.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON {target}".encode())
            conn.execute(f"DROP TRIGGER IF EXISTS {TRUNCATE_TRIGGER} ON {target}".encode())
        if not _has_schema(conn, state_schema):
            return tables
        conn.execute(f"DROP FUNCTION IF EXISTS {ident(state_schema)}.{FUNCTION}()".encode())
        if not keep_log:
            conn.execute(f"DROP TABLE IF EXISTS {ident(state_schema)}.{LOG}".encode())
    return tables


def _has_schema(conn: psycopg.Connection[Any], name: str) -> bool:
    row = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (name,)).fetchone()
    return row is not None


def installed(conn: psycopg.Connection[Any], *, schema: str = "public") -> list[str]:
    """Tables of ``schema`` that carry the capture trigger."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE t.tgname = %s AND n.nspname = %s ORDER BY 1",
        (TRIGGER, schema),
    ).fetchall()
    return [str(r[0]) for r in rows]


def high_water(conn: psycopg.Connection[Any], state_schema: str = "vendzz_migrate") -> int:
    """The last sequence number logged (0 when none, or no log)."""
    if not _log_exists(conn, state_schema):
        return 0
    row = conn.execute(
        f"SELECT coalesce(max(seq), 0) FROM {ident(state_schema)}.{LOG}".encode()
    ).fetchone()
    return int(row[0]) if row else 0


def _log_exists(conn: psycopg.Connection[Any], state_schema: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s)", (f"{ident(state_schema)}.{LOG}",)).fetchone()
    return row is not None and row[0] is not None


def changes(
    conn: psycopg.Connection[Any],
    since: int = 0,
    *,
    state_schema: str = "vendzz_migrate",
    limit: int | None = None,
) -> list[Change]:
    """The captured writes after sequence ``since``, in sequence order."""
    if not _log_exists(conn, state_schema):
        return []
    sql = (
        f"SELECT seq, table_name, key, op FROM {ident(state_schema)}.{LOG} WHERE seq > %s"
        f" ORDER BY seq" + (f" LIMIT {int(limit)}" if limit else "")
    )
    return [
        Change(int(s), str(t), k, str(o))
        for s, t, k, o in conn.execute(sql.encode(), (since,)).fetchall()
    ]


def changed_keys(
    conn: psycopg.Connection[Any],
    since: int = 0,
    *,
    state_schema: str = "vendzz_migrate",
    since_xmin: int | None = None,
) -> ChangedKeys:
    """The distinct keys changed after ``since`` per table (each once, in the order of its
    last change), and the tables truncated meanwhile.

    Read while the service writes, the log may still miss entries of transactions that took
    a lower ``seq`` but had not committed yet: the result's ``xmin`` is the oldest transaction
    still running at the read (same snapshot), and a later read with ``since=high`` and
    ``since_xmin=xmin`` also takes every entry written by such a transaction."""
    if not _log_exists(conn, state_schema):
        return ChangedKeys(since, since, {}, frozenset())
    extra = "" if since_xmin is None else " OR xid >= %s"
    params = (since,) if since_xmin is None else (since, since_xmin)
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        row = conn.execute(
            "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
        ).fetchone()
        rows = conn.execute(
            f"SELECT table_name, key, max(seq) AS last FROM {ident(state_schema)}.{LOG}"
            f" WHERE seq > %s{extra} GROUP BY table_name, key ORDER BY last".encode(),
            params,
        ).fetchall()
    keys: dict[str, list[dict[str, Any]]] = {}
    truncated: set[str] = set()
    high = since
    for table, key, last in rows:
        high = max(high, int(last))
        if key is None:
            truncated.add(str(table))
        else:
            keys.setdefault(str(table), []).append(key)
    return ChangedKeys(since, high, keys, frozenset(truncated), int(row[0]) if row else 0)


def backlog(
    conn: psycopg.Connection[Any], since: int = 0, *, state_schema: str = "vendzz_migrate"
) -> dict[str, int]:
    """Distinct changed keys per table after ``since`` (what a rollback would carry back; a
    TRUNCATE counts as one, see :attr:`ChangedKeys.truncated`)."""
    if not _log_exists(conn, state_schema):
        return {}
    rows = conn.execute(
        f"SELECT table_name, count(DISTINCT coalesce(key, 'null')) FROM {ident(state_schema)}.{LOG}"
        f" WHERE seq > %s GROUP BY 1 ORDER BY 1".encode(),
        (since,),
    ).fetchall()
    return {str(t): int(n) for t, n in rows}


def primary_keys(
    conn: psycopg.Connection[Any], schema: str, tables: Sequence[str] | None = None
) -> dict[str, tuple[str, ...]]:
    """Primary key columns of the tables of ``schema`` (all, or those named), from the
    catalog, in key order."""
    rows = conn.execute(
        "SELECT c.relname, array_agg(a.attname ORDER BY k.ord)"
        " FROM pg_constraint p JOIN pg_class c ON c.oid = p.conrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " CROSS JOIN LATERAL unnest(p.conkey) WITH ORDINALITY AS k(attnum, ord)"
        " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum"
        " WHERE p.contype = 'p' AND n.nspname = %s GROUP BY c.relname",
        (schema,),
    ).fetchall()
    found = {str(t): tuple(str(c) for c in cols) for t, cols in rows}
    return found if tables is None else {t: found[t] for t in tables if t in found}


def capture_all(
    conn: psycopg.Connection[Any],
    *,
    schema: str = "public",
    state_schema: str = "vendzz_migrate",
    keys: Mapping[str, Sequence[str]] | None = None,
) -> int:
    """Install capture on every table of ``schema`` with a primary key (or on the tables of
    ``keys``, with those key columns, none for a keyless table); returns the high-water
    sequence number."""
    found = keys if keys is not None else primary_keys(conn, schema)
    return install(
        conn,
        [CapturedTable(t, tuple(k)) for t, k in sorted(found.items())],
        schema=schema,
        state_schema=state_schema,
    )


def key_json(keys: Sequence[dict[str, Any]]) -> str:
    return json.dumps(list(keys), ensure_ascii=False)
