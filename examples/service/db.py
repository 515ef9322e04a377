"""The database side: one SQLAlchemy Core code path for SQLite (WAL, busy timeout) and
PostgreSQL (the spec's pool: 10 kept, 50 at most, idle 30 s, connect timeout 10 s)."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url

from examples.service import codec, schema
from examples.service.config import ServiceConfig
from vendzz_migrate.errors import ConfigError
from vendzz_migrate.typemap.convert import Kind
from vendzz_migrate.typemap.mapping import Mapping
from vendzz_migrate.urls import mask

NANOID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-"


def nanoid(size: int = 21) -> str:
    """A nanoid-style id (21 characters of [A-Za-z0-9_-]), as Vendzz makes them."""
    return "".join(secrets.choice(NANOID_ALPHABET) for _ in range(size))


class DatabaseDown(Exception):
    """The database cannot be reached or answered with a connection error."""


class QuizNotFound(Exception):
    pass


def sa_url(url: str) -> str:
    """The SQLAlchemy URL: ``postgresql://`` means psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(cfg: ServiceConfig) -> sa.Engine:
    url = make_url(sa_url(cfg.database_url))
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(cfg, url)
    if url.get_backend_name() != "postgresql":
        raise ConfigError(f"unsupported database {url.get_backend_name()!r}")
    engine = sa.create_engine(
        url,
        pool_size=min(cfg.pool_min, cfg.pool_max) or 1,
        max_overflow=max(cfg.pool_max - cfg.pool_min, 0),
        pool_timeout=cfg.connect_timeout_s,
        pool_pre_ping=True,
        connect_args={"connect_timeout": cfg.connect_timeout_s},
    )
    idle_s = cfg.pool_idle_s

    @event.listens_for(engine, "connect")
    def _utc(dbapi_conn: Any, _record: Any) -> None:
        with dbapi_conn.cursor() as cur:
            cur.execute("SET TimeZone TO 'UTC'")
        dbapi_conn.commit()

    @event.listens_for(engine, "checkin")
    def _idle_since(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _idle_limit(_dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is not None and time.monotonic() - since > idle_s:
            raise sa.exc.DisconnectionError("idle longer than the pool's idle timeout")

    return engine


def _sqlite_engine(cfg: ServiceConfig, url: sa.URL) -> sa.Engine:
    if not url.database or url.database == ":memory:":
        raise ConfigError("DATABASE_URL must name a SQLite file: sqlite:///vendzz.db")
    if not Path(url.database).is_file():
        raise ConfigError(f"no SQLite file at {url.database}")
    engine = sa.create_engine(
        url,
        pool_size=5,
        max_overflow=max(cfg.pool_max - 5, 0),
        pool_timeout=cfg.connect_timeout_s,
        connect_args={"timeout": cfg.sqlite_busy_timeout_ms / 1000, "check_same_thread": False},
    )
    busy = cfg.sqlite_busy_timeout_ms

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy's recipe: we emit BEGIN ourselves
        dbapi_conn.execute("PRAGMA journal_mode=WAL")
        dbapi_conn.execute(f"PRAGMA busy_timeout={int(busy)}")

    @event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        write = conn.get_execution_options().get("vendzz_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


@dataclass
class PoolStats:
    in_use: int
    idle: int
    max: int


class Database:
    """The four tables on one database; the schema is loaded once, at start or first use."""

    def __init__(self, cfg: ServiceConfig) -> None:
        self.cfg = cfg
        self.engine = make_engine(cfg)
        self.kind = "sqlite" if self.engine.dialect.name == "sqlite" else "postgresql"
        self.url = mask(cfg.database_url)
        self.schema_name = None if self.sqlite else schema.pg_schema(cfg.database_url, cfg.schema)
        self._tables: dict[str, schema.TableDef] | None = None
        self._lock = threading.Lock()

    @property
    def sqlite(self) -> bool:
        return self.kind == "sqlite"

    def tables(self) -> dict[str, schema.TableDef]:
        if self._tables is None:
            with self._lock, self.guard():
                if self._tables is None:
                    self._tables = self._load()
        return self._tables

    def _load(self) -> dict[str, schema.TableDef]:
        if self.sqlite:
            path = Path(make_url(self.cfg.database_url).database or "")
            mapping: Mapping | None = schema.sqlite_mapping(path, self.cfg.mapping_file)
        else:
            assert self.schema_name is not None
            mapping = schema.stored_mapping(
                self.engine, self.cfg.state_schema, self.schema_name, self.cfg.mapping_file
            )
        return schema.reflect(self.engine, self.schema_name, mapping)

    def guard(self) -> _Guard:
        return _Guard()

    def pool(self) -> PoolStats:
        pool: Any = self.engine.pool
        return PoolStats(int(pool.checkedout()), int(pool.checkedin()), self.cfg.pool_max)

    def ping(self) -> None:
        with self.guard(), self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    # -- reads ---------------------------------------------------------------------------
    def _decode(self, tdef: schema.TableDef, row: sa.RowMapping) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, col in tdef.cols.items():
            value = row[col.physical]
            out[name] = codec.from_sqlite(col, value) if self.sqlite else value
        return out

    def user_by_email(self, email: str) -> dict[str, Any] | None:
        users = self.tables()["users"]
        query = sa.select(users.table).where(users.c("email") == email).limit(1)
        with self.guard(), self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else self._decode(users, row)

    def quiz(self, quiz_id: str) -> dict[str, Any] | None:
        quizzes = self.tables()["quizzes"]
        query = sa.select(quizzes.table).where(quizzes.c("id") == quiz_id)
        with self.guard(), self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else self._decode(quizzes, row)

    def quiz_ids(self, limit: int, published_only: bool) -> list[str]:
        quizzes = self.tables()["quizzes"]
        query = sa.select(quizzes.c("id")).order_by(quizzes.c("id")).limit(limit)
        if published_only and quizzes.has("isPublished"):
            flag = quizzes.c("isPublished")
            native = quizzes.cols["isPublished"].kind is Kind.BOOLEAN and not self.sqlite
            query = query.where(flag.is_(True) if native else flag == 1)
        with self.guard(), self.engine.connect() as conn:
            return [str(r[0]) for r in conn.execute(query)]

    def count_responses(self, ids: list[str]) -> set[str]:
        """Which of ``ids`` exist in quiz_responses (used by tests and the writer's checks)."""
        responses = self.tables()["quiz_responses"]
        found: set[str] = set()
        with self.guard(), self.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                query = sa.select(responses.c("id")).where(responses.c("id").in_(chunk))
                found.update(str(r[0]) for r in conn.execute(query))
        return found

    # -- the write path --------------------------------------------------------------------
    def _values(self, tdef: schema.TableDef, values: dict[str, Any]) -> dict[str, Any]:
        return {
            tdef.cols[k].physical: codec.to_storage(tdef.cols[k], v, self.sqlite)
            for k, v in values.items()
            if tdef.has(k)
        }

    def submit(
        self,
        quiz_id: str,
        responses: Any,
        metadata: dict[str, Any] | None,
        variables: list[dict[str, Any]],
        extra: dict[str, Any],
    ) -> tuple[str, datetime]:
        """One transaction: the quiz_responses row and its response_variables rows."""
        tables = self.tables()
        quizzes, qr, rv = tables["quizzes"], tables["quiz_responses"], tables["response_variables"]
        now = datetime.now(UTC).replace(microsecond=0)
        response_id = nanoid()
        row = {
            "id": response_id,
            "quizId": quiz_id,
            "responses": responses,
            "metadata": metadata,
            "submittedAt": now,
            **extra,
        }
        var_rows = [
            self._values(
                rv,
                {
                    "id": nanoid(),
                    "responseId": response_id,
                    "quizId": quiz_id,
                    "createdAt": now,
                    **v,
                },
            )
            for v in variables
        ]
        engine = self.engine.execution_options(vendzz_write=True)
        with self.guard(), engine.begin() as conn:
            found = conn.execute(sa.select(quizzes.c("id")).where(quizzes.c("id") == quiz_id))
            if found.first() is None:
                raise QuizNotFound(quiz_id)
            conn.execute(sa.insert(qr.table), [self._values(qr, row)])
            if var_rows:
                conn.execute(sa.insert(rv.table), var_rows)
        return response_id, now

    def close(self) -> None:
        self.engine.dispose()


class _Guard:
    """Turns connection failures into :class:`DatabaseDown` (a 503, never a traceback)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, _tb: Any) -> None:
        if exc is None:
            return
        if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
            raise DatabaseDown(_first_line(exc)) from None
        if isinstance(exc, sa.exc.OperationalError | sa.exc.TimeoutError | sa.exc.InterfaceError):
            raise DatabaseDown(_first_line(exc)) from None


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return mask(text[0] if text else type(exc).__name__)
