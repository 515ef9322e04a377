"""Reading and writing the run state in the target's ``vendzz_migrate`` schema."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

from vendzz_migrate.pg import ident
from vendzz_migrate.state.records import (
    DocumentedNote,
    Note,
    OrphanRecord,
    Replacement,
    StateObject,
    Totals,
)
from vendzz_migrate.urls import mask

if TYPE_CHECKING:
    import psycopg


@dataclass(frozen=True)
class Run:
    run_id: str
    target_schema: str
    fingerprint: str
    source: str
    snapshot: str
    options: dict[str, Any]
    mapping: dict[str, Any]
    status: str


@dataclass(frozen=True)
class Unit:
    table: str
    seq: int
    lo: list[Any] | None
    hi: list[Any] | None


@dataclass(frozen=True)
class LargeValue:
    """A value of a rejected row too large to be read whole (over ``pieces.LARGE_BYTES``):
    ``pieces()`` gives its stored bytes a piece at a time. :meth:`Store.add_rejects` writes
    them to ``reject_pieces`` and puts a reference in the row's ``raw_row`` (and ``raw_value``
    when it is the rejected column)."""

    column: str
    kind: str  # 'text' | 'blob'
    pieces: Callable[[], Iterable[bytes]]
    encoding: str | None = None  # a text's stored encoding, when not UTF-8


@dataclass(frozen=True)
class RejectRow:
    table: str
    source_key: Any
    column: str | None
    raw_value: Any
    raw_row: Any
    reason: str
    large: tuple[LargeValue, ...] = ()


class Store:
    """State of runs, one object per connection (the caller owns the transaction)."""

    def __init__(self, conn: psycopg.Connection, schema: str = "vendzz_migrate") -> None:
        self.conn = conn
        self.schema = schema
        self.q = ident(schema)

    def ensure(self) -> None:
        """Create the state schema and tables if missing. Two first runs at once (into two
        schemas of a fresh database) would both try ``CREATE SCHEMA IF NOT EXISTS``, and the
        second to commit fail on pg_namespace's unique index: a transaction-level advisory
        lock makes the second wait, then find everything there."""
        text = resources.files("vendzz_migrate.state").joinpath("schema.sql").read_text()
        with self.conn.transaction():
            self.conn.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_ENSURE_LOCK, self.schema)
            )
            self.conn.execute(text.replace("{state}", self.q).encode())

    def exists(self) -> bool:
        row = self.conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL", (f"{self.q}.runs",)
        ).fetchone()
        return bool(row and row[0])

    def active_run(self, target_schema: str) -> Run | None:
        if not self.exists():
            return None
        row = self.conn.execute(
            f"SELECT run_id, target_schema, fingerprint, source, snapshot, options, mapping, status"
            f" FROM {self.q}.runs WHERE target_schema = %s ORDER BY started_at DESC LIMIT 1",
            (target_schema,),
        ).fetchone()
        return Run(*row) if row else None

    def create_run(
        self,
        *,
        target_schema: str,
        fingerprint: str,
        source: str,
        snapshot: str,
        options: dict[str, Any],
        mapping: dict[str, Any],
    ) -> str:
        run_id = uuid.uuid4().hex[:16]
        self.conn.execute(
            f"INSERT INTO {self.q}.runs (run_id, target_schema, fingerprint, source, snapshot,"
            f" options, mapping) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                run_id,
                target_schema,
                fingerprint,
                mask(source),
                snapshot,
                json.dumps(options),
                json.dumps(mapping),
            ),
        )
        return run_id

    def forget_runs(self, target_schema: str) -> None:
        """Delete every run of ``target_schema`` with its units, steps and rejects."""
        if not self.exists():
            return
        self.conn.execute(
            f"DELETE FROM {self.q}.rejects WHERE run_id IN"
            f" (SELECT run_id FROM {self.q}.runs WHERE target_schema = %s)",
            (target_schema,),
        )
        self.conn.execute(f"DELETE FROM {self.q}.runs WHERE target_schema = %s", (target_schema,))

    def snapshots(self, target_schema: str) -> list[str]:
        """The snapshot files of every run of ``target_schema``."""
        if not self.exists():
            return []
        rows = self.conn.execute(
            f"SELECT snapshot FROM {self.q}.runs WHERE target_schema = %s", (target_schema,)
        ).fetchall()
        return [str(r[0]) for r in rows]

    def loaded_rows(self, target_schema: str) -> dict[str, int]:
        """Per target table, the rows that --data-only runs of ``target_schema`` loaded into
        tables they did not create (their units committed, rejects excluded)."""
        if not self.exists():
            return {}
        rows = self.conn.execute(
            f"SELECT r.mapping, u.table_name, coalesce(sum(u.copied_rows), 0)"
            f" FROM {self.q}.runs r JOIN {self.q}.units u USING (run_id)"
            f" WHERE r.target_schema = %s AND (r.options->>'data_only')::boolean AND u.done"
            f" GROUP BY r.run_id, r.mapping, u.table_name",
            (target_schema,),
        ).fetchall()
        loaded: dict[str, int] = {}
        for mapping, table, count in rows:
            target = mapping.get("tables", {}).get(table, {}).get("rename") or table
            loaded[target] = loaded.get(target, 0) + int(count)
        return loaded

    def objects(self, target_schema: str) -> list[StateObject]:
        if not self.exists():
            return []
        rows = self.conn.execute(
            f"SELECT o.kind, o.name FROM {self.q}.objects o JOIN {self.q}.runs r USING (run_id)"
            f" WHERE r.target_schema = %s",
            (target_schema,),
        ).fetchall()
        return [StateObject(str(k), str(n)) for k, n in rows]

    def add_object(self, run_id: str, kind: str, name: str) -> None:
        self.conn.execute(
            f"INSERT INTO {self.q}.objects VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            (run_id, kind, name),
        )

    def step_done(self, run_id: str, step: str) -> bool:
        row = self.conn.execute(
            f"SELECT 1 FROM {self.q}.steps WHERE run_id = %s AND step = %s", (run_id, step)
        ).fetchone()
        return row is not None

    def mark_step(self, run_id: str, step: str, detail: Any = None) -> None:
        self.conn.execute(
            f"INSERT INTO {self.q}.steps (run_id, step, detail) VALUES (%s, %s, %s)"
            f" ON CONFLICT (run_id, step) DO UPDATE SET finished_at = now(),"
            f" detail = EXCLUDED.detail",
            (run_id, step, json.dumps(detail)),
        )

    def add_units(self, run_id: str, units: list[Unit]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {self.q}.units (run_id, table_name, seq, lo, hi)"
                f" VALUES (%s, %s, %s, %s, %s)",
                [(run_id, u.table, u.seq, _j(u.lo), _j(u.hi)) for u in units],
            )

    def units(self, run_id: str, *, pending_only: bool) -> list[Unit]:
        rows = self.conn.execute(
            f"SELECT table_name, seq, lo, hi FROM {self.q}.units WHERE run_id = %s"
            f"{' AND NOT done' if pending_only else ''} ORDER BY table_name, seq",
            (run_id,),
        ).fetchall()
        return [Unit(t, s, lo, hi) for t, s, lo, hi in rows]

    def table_loaded(self, run_id: str, table: str) -> bool:
        """Whether every unit of ``table`` (a source table of the run) is done."""
        row = self.conn.execute(
            f"SELECT NOT EXISTS (SELECT 1 FROM {self.q}.units WHERE run_id = %s"
            f" AND table_name = %s AND NOT done)",
            (run_id, table),
        ).fetchone()
        return bool(row and row[0])

    def unit_done(self, run_id: str, unit: Unit, *, lock: bool) -> bool:
        row = self.conn.execute(
            f"SELECT done FROM {self.q}.units WHERE run_id = %s AND table_name = %s AND seq = %s"
            f"{' FOR UPDATE' if lock else ''}",
            (run_id, unit.table, unit.seq),
        ).fetchone()
        return bool(row and row[0])

    def finish_unit(
        self,
        run_id: str,
        unit: Unit,
        *,
        source_rows: int,
        copied: int,
        rejected: int,
        converted: int,
        seconds: float,
    ) -> None:
        self.conn.execute(
            f"UPDATE {self.q}.units SET done = true, source_rows = %s, copied_rows = %s,"
            f" rejected_rows = %s, converted_values = %s, seconds = %s"
            f" WHERE run_id = %s AND table_name = %s AND seq = %s",
            (source_rows, copied, rejected, converted, seconds, run_id, unit.table, unit.seq),
        )

    def add_rejects(self, run_id: str, rejects: list[RejectRow]) -> None:
        """Record rejected rows, in order (ids ascending); one holding large values with its
        pieces (:meth:`_add_large_reject`)."""
        small: list[RejectRow] = []
        for r in rejects:
            if r.large:
                self._add_small_rejects(run_id, small)
                small = []
                self._add_large_reject(run_id, r)
            else:
                small.append(r)
        self._add_small_rejects(run_id, small)

    def _add_small_rejects(self, run_id: str, rejects: list[RejectRow]) -> None:
        if not rejects:
            return
        with self.conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {self.q}.rejects (run_id, table_name, source_key, column_name,"
                f" raw_value, raw_row, reason) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [
                    (
                        run_id,
                        r.table,
                        json.dumps(r.source_key),
                        r.column,
                        _j(r.raw_value),
                        json.dumps(r.raw_row),
                        r.reason,
                    )
                    for r in rejects
                ],
            )

    def _add_large_reject(self, run_id: str, r: RejectRow) -> None:
        """One reject holding large values: its row, then each value's bytes copied to
        ``reject_pieces`` a piece at a time, then its references completed (size and md5,
        known once the pieces are read) in place (``raw_row || refs``: top-level keys)."""
        name = f"{_name(self.schema)}.reject_pieces"
        raw_row = dict(r.raw_row)
        for value in r.large:  # until the pieces are read
            raw_row[value.column] = {"type": value.kind, "large": {"pieces": name}}
        in_pieces = r.column is not None and any(v.column == r.column for v in r.large)
        raw_value = raw_row[r.column] if in_pieces else r.raw_value
        row = self.conn.execute(
            f"INSERT INTO {self.q}.rejects (run_id, table_name, source_key, column_name,"
            f" raw_value, raw_row, reason) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (
                run_id,
                r.table,
                json.dumps(r.source_key),
                r.column,
                _j(raw_value),
                json.dumps(raw_row),
                r.reason,
            ),
        ).fetchone()
        assert row is not None
        reject_id = int(row[0])
        copy_sql = (
            f"COPY {self.q}.reject_pieces (reject_id, column_name, seq, piece)"
            " FROM STDIN (FORMAT BINARY)"
        )
        refs: dict[str, Any] = {}
        with self.conn.cursor() as cur:
            for value in r.large:
                digest, size = hashlib.md5(), 0
                with cur.copy(copy_sql.encode()) as copy:
                    copy.set_types(["int8", "text", "int4", "bytea"])
                    for seq, piece in enumerate(value.pieces()):
                        copy.write_row((reject_id, value.column, seq, piece))
                        digest.update(piece)
                        size += len(piece)
                large: dict[str, Any] = {"bytes": size, "md5": digest.hexdigest()}
                if value.encoding is not None:
                    large["encoding"] = value.encoding
                large["pieces"] = name
                refs[value.column] = {"type": value.kind, "large": large}
        self.conn.execute(
            f"UPDATE {self.q}.rejects SET raw_row = raw_row || %s::jsonb,"
            f" raw_value = coalesce(%s::jsonb, raw_value) WHERE id = %s",
            (json.dumps(refs), _j(refs.get(r.column)) if r.column else None, reject_id),
        )

    def table_totals(self, run_id: str) -> dict[str, Totals]:
        """Per source table, its totals over the run's units."""
        rows = self.conn.execute(
            f"SELECT table_name, coalesce(sum(source_rows),0), coalesce(sum(copied_rows),0),"
            f" coalesce(sum(rejected_rows),0), coalesce(sum(converted_values),0),"
            f" coalesce(sum(seconds),0) FROM {self.q}.units WHERE run_id = %s GROUP BY table_name",
            (run_id,),
        ).fetchall()
        return {
            str(r[0]): Totals(int(r[1]), int(r[2]), int(r[3]), int(r[4]), float(r[5])) for r in rows
        }

    def rejected_keys(self, run_id: str) -> list[tuple[str, Any]]:
        """(source table, source key as stored) of every row the run quarantined."""
        rows = self.conn.execute(
            f"SELECT table_name, source_key FROM {self.q}.rejects WHERE run_id = %s", (run_id,)
        ).fetchall()
        return [(str(t), _loaded(k)) for t, k in rows]

    def rejected_rows(self, run_id: str, table: str) -> int:
        """How many distinct rows of ``table`` (a source table) the run quarantined."""
        row = self.conn.execute(
            f"SELECT count(DISTINCT source_key) FROM {self.q}.rejects"
            f" WHERE run_id = %s AND table_name = %s",
            (run_id, table),
        ).fetchone()
        return int(row[0]) if row else 0

    def add_orphans(
        self,
        run_id: str,
        table: str,
        constraint: str,
        ref_table: str,
        count: int,
        sample: list[Any],
    ) -> None:
        self.conn.execute(
            f"INSERT INTO {self.q}.orphans VALUES (%s, %s, %s, %s, %s, %s)"
            f" ON CONFLICT (run_id, constraint_name) DO UPDATE"
            f" SET orphan_rows = EXCLUDED.orphan_rows,"
            f" sample = EXCLUDED.sample",
            (run_id, table, constraint, ref_table, count, json.dumps(sample, default=str)),
        )

    def orphan_rows(self, run_id: str) -> dict[str, int]:
        """Per foreign key left NOT VALID, its orphan rows."""
        rows = self.conn.execute(
            f"SELECT constraint_name, orphan_rows FROM {self.q}.orphans WHERE run_id = %s",
            (run_id,),
        ).fetchall()
        return {str(c): int(n) for c, n in rows}

    def orphans(self, run_id: str) -> list[OrphanRecord]:
        """Every foreign key left NOT VALID, with its orphans counted and sampled."""
        rows = self.conn.execute(
            f"SELECT table_name, constraint_name, ref_table, orphan_rows, sample"
            f" FROM {self.q}.orphans WHERE run_id = %s ORDER BY table_name",
            (run_id,),
        ).fetchall()
        return [
            OrphanRecord(str(t), str(c), str(r), int(n), list(_loaded(sample) or []))
            for t, c, r, n, sample in rows
        ]

    def add_note(
        self, run_id: str, obj: str, message: str, replacement: Replacement | None = None
    ) -> None:
        """A note for humans on ``obj``; with the typed record of the documented replacement
        it tells of, if it tells of one (what verify reads: never the message)."""
        self.conn.execute(
            f"INSERT INTO {self.q}.notes (run_id, object, message, replacement)"
            f" VALUES (%s, %s, %s, %s)",
            (run_id, obj, message, _j(replacement.to_json() if replacement else None)),
        )

    def notes(self, run_id: str) -> list[Note]:
        rows = self.conn.execute(
            f"SELECT object, message FROM {self.q}.notes WHERE run_id = %s", (run_id,)
        ).fetchall()
        return [Note(str(o), str(m)) for o, m in rows]

    def replacements(self, run_id: str) -> list[DocumentedNote]:
        """The run's notes that record a documented replacement, with their records."""
        # to_jsonb(n): no replacement for a note of a state schema older than the column
        rows = self.conn.execute(
            f"SELECT object, message, r FROM (SELECT object, message, to_jsonb(n) -> 'replacement'"
            f" AS r FROM {self.q}.notes n WHERE run_id = %s) AS x WHERE jsonb_typeof(r) = 'object'",
            (run_id,),
        ).fetchall()
        return [
            DocumentedNote(str(o), str(m), Replacement.from_json(_loaded(r))) for o, m, r in rows
        ]

    def finish_run(self, run_id: str) -> None:
        self.conn.execute(
            f"UPDATE {self.q}.runs SET status = 'done', finished_at = now() WHERE run_id = %s",
            (run_id,),
        )


_ENSURE_LOCK = 0x767A6D  # advisory lock class of Store.ensure ("vzm")


def _name(schema: str) -> str:
    """``schema`` as SQL names it: bare when it can be, else quoted."""
    return schema if re.fullmatch(r"[a-z_][a-z0-9_$]*", schema) else ident(schema)


def _j(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _loaded(value: Any) -> Any:
    """A jsonb value as psycopg returned it (already parsed, or text)."""
    return json.loads(value) if isinstance(value, str) else value
