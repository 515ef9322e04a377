"""PostgreSQL: readings from a live server (:class:`PgFacts`) and their checks.

The CREATE probe runs inside a transaction that is rolled back: preflight leaves nothing behind.
"""

from __future__ import annotations

import shutil
import statistics
import time
import uuid
from functools import partial
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel

from vendzz_migrate.errors import VendzzError
from vendzz_migrate.preflight.model import (
    Area,
    Check,
    Status,
    ceiling_status,
    ceiling_text,
    human_bytes,
    make_check,
    on_miss,
    skip_check,
)
from vendzz_migrate.preflight.profile import PostgresProfile
from vendzz_migrate.urls import mask_text

_UNIT_BYTES = {"B": 1, "kB": 1024, "8kB": 8192, "MB": 1024**2, "16MB": 16 * 1024**2, "GB": 1024**3}
LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1"}


class PgFacts(BaseModel):
    reachable: bool
    error: str = ""
    local: bool = False
    version_num: int = 0
    latency_ms: float = 0.0
    encoding: str = ""
    max_connections: int = 0
    reserved: int = 0
    shared_buffers: int = 0
    effective_cache_size: int = 0
    work_mem: int = 0
    data_directory: str | None = None
    free_disk_bytes: int | None = None
    can_create: bool = False
    create_error: str = ""


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    host = parts.hostname or ""
    return host in LOCAL_HOSTS or host.startswith("/") or "host=/" in parts.query


def read_pg_facts(url: str, schema: str, connect_timeout_s: int = 10) -> PgFacts:
    """Connect and read everything the checks need; unreachable is a fact, not an error."""
    from vendzz_migrate import pg

    try:
        conn = pg.connect(
            url, command="preflight", autocommit=True, timeout_s=connect_timeout_s, attempts=2
        )
    except VendzzError as exc:
        return PgFacts(reachable=False, error=str(exc.data["reason"]), local=is_local(url))
    with conn:
        facts = PgFacts(reachable=True, local=is_local(url), latency_ms=_latency(conn))
        facts = facts.model_copy(update=_settings(conn))
        facts.can_create, facts.create_error = _probe_create(conn, schema)
    if facts.local and facts.data_directory:
        facts.free_disk_bytes = _free_disk(facts.data_directory)
    return facts


def _one_line(exc: BaseException) -> str:
    return mask_text((str(exc).strip().splitlines() or [type(exc).__name__])[0])


def _latency(conn: Any, rounds: int = 5) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        conn.execute("SELECT 1").fetchone()
        samples.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(samples), 3)


def _settings(conn: Any) -> dict[str, Any]:
    sql = (resources.files("vendzz_migrate.preflight") / "sql" / "pg_settings.sql").read_text()
    rows = {name: (setting, unit) for name, setting, unit in conn.execute(sql).fetchall()}

    def size(name: str) -> int:
        setting, unit = rows.get(name, ("0", "B"))
        return int(setting) * _UNIT_BYTES.get(unit or "B", 1)

    def num(name: str) -> int:
        return int(rows.get(name, ("0", None))[0])

    return {
        "version_num": num("server_version_num"),
        "encoding": rows.get("server_encoding", ("", None))[0],
        "max_connections": num("max_connections"),
        "reserved": num("superuser_reserved_connections") + num("reserved_connections"),
        "shared_buffers": size("shared_buffers"),
        "effective_cache_size": size("effective_cache_size"),
        "work_mem": size("work_mem"),
        "data_directory": rows.get("data_directory", (None, None))[0],
    }


def _probe_create(conn: Any, schema: str) -> tuple[bool, str]:
    """CREATE SCHEMA IF NOT EXISTS + CREATE TABLE in a transaction, then roll back."""
    import psycopg
    from psycopg import sql

    table = f"vendzz_preflight_{uuid.uuid4().hex[:8]}"
    try:
        with conn.transaction(force_rollback=True):
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            conn.execute(
                sql.SQL("CREATE TABLE {}.{} (id bigint)").format(
                    sql.Identifier(schema), sql.Identifier(table)
                )
            )
    except psycopg.Error as exc:
        return False, _one_line(exc)
    return True, ""


def _free_disk(path: str) -> int | None:
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def pgtune(ram_bytes: int, cores: int, max_connections: int) -> dict[str, int]:
    """pgtune's "web" recommendations (shared_buffers RAM/4, effective_cache_size 3/4 RAM...)."""
    shared = ram_bytes // 4
    per_gather = min((cores + 1) // 2, 4) if cores >= 4 else 1
    work_mem = (ram_bytes - shared) // (max(max_connections, 1) * 3) // per_gather
    return {
        "shared_buffers": shared,
        "effective_cache_size": ram_bytes * 3 // 4,
        "work_mem": max(work_mem, 64 * 1024),
    }


def postgres_checks(
    facts: PgFacts,
    profile: PostgresProfile,
    *,
    url: str,
    ram_bytes: int,
    cores: int,
    source_bytes: int | None,
) -> list[Check]:
    """Checks of one server; ``ram_bytes``/``cores`` are the PostgreSQL machine's (see runner)."""
    checks = [_reachable(facts, url)]
    if not facts.reachable:
        return checks
    checks += [_version(facts, profile), _latency_check(facts, profile), _encoding(facts, profile)]
    checks.append(_create(facts))
    if profile.tuning != "off":
        checks += _tuning(facts, profile, ram_bytes, cores)
    if profile.disk != "off" and source_bytes is not None:
        checks.append(_disk(facts, profile, source_bytes))
    elif profile.disk != "off":
        why = "no --source to size the copy by"
        remedy = "give --source (or check the volume: 3x the SQLite file)"
        checks.append(skip_check(Area.POSTGRES, "disk", "free disk for the copy", why, remedy))
    return checks


_check = partial(make_check, Area.POSTGRES)


def _reachable(facts: PgFacts, url: str) -> Check:
    status = Status.PASS if facts.reachable else Status.FAIL
    measured = f"connected to {mask_text(url)}" if facts.reachable else facts.error
    return _check(
        "reachable",
        "reachable",
        status,
        measured,
        "a connection succeeds",
        "start the server, open the firewall, or fix DATABASE_URL / --target",
    )


def _version(facts: PgFacts, profile: PostgresProfile) -> Check:
    major = facts.version_num // 10000
    status = Status.PASS if major >= profile.min_version else Status.FAIL
    return _check(
        "version",
        "server version",
        status,
        f"{major} ({facts.version_num})",
        f">= {profile.min_version}",
        f"upgrade PostgreSQL to {profile.min_version} or later",
    )


def _latency_check(facts: PgFacts, profile: PostgresProfile) -> Check:
    return _check(
        "latency",
        "round-trip latency",
        ceiling_status(facts.latency_ms, profile.latency_ms),
        f"{facts.latency_ms:.2f} ms (median of 5 SELECT 1)",
        ceiling_text(profile.latency_ms, " ms"),
        "put the app servers in the same network/zone as PostgreSQL",
    )


def _encoding(facts: PgFacts, profile: PostgresProfile) -> Check:
    status = Status.PASS if facts.encoding == profile.encoding else Status.FAIL
    return _check(
        "encoding",
        "server encoding",
        status,
        facts.encoding,
        profile.encoding,
        f"create the database with ENCODING '{profile.encoding}' TEMPLATE template0",
    )


def _create(facts: PgFacts) -> Check:
    status = Status.PASS if facts.can_create else Status.FAIL
    measured = "CREATE TABLE allowed (rolled back)" if facts.can_create else facts.create_error
    return _check(
        "create",
        "can create tables in the target schema",
        status,
        measured,
        "CREATE on the database/schema",
        "GRANT CREATE ON SCHEMA <schema> (or ON DATABASE) TO <user>",
    )


def _tuning(facts: PgFacts, profile: PostgresProfile, ram: int, cores: int) -> list[Check]:
    tune = pgtune(ram, cores, facts.max_connections)
    miss = on_miss(profile.tuning)
    checks = []
    for name in ("shared_buffers", "effective_cache_size", "work_mem"):
        value, want = getattr(facts, name), tune[name]
        ok = want * 0.5 <= value <= want * 2
        checks.append(
            _check(
                name,
                f"{name} vs RAM (pgtune)",
                Status.PASS if ok else miss,
                human_bytes(value),
                f"about {human_bytes(want)} (pgtune, {human_bytes(ram)} RAM, {cores} cores; "
                "0.5x-2x passes)",
                f"ALTER SYSTEM SET {name} = '{want // 1024 // 1024}MB' and reload/restart",
            )
        )
    return checks


def _disk(facts: PgFacts, profile: PostgresProfile, source_bytes: int) -> Check:
    need = int(source_bytes * profile.disk_factor)
    expected = f">= {human_bytes(need)} ({profile.disk_factor:g}x the source)"
    if facts.free_disk_bytes is None:
        return _check(
            "disk",
            "free disk for the copy",
            Status.WARN,
            "not measurable from here (server not local or data_directory unreadable)",
            expected,
            "run preflight on the database host, or check the volume by hand",
        )
    status = Status.PASS if facts.free_disk_bytes >= need else on_miss(profile.disk)
    return _check(
        "disk",
        "free disk for the copy",
        status,
        f"{human_bytes(facts.free_disk_bytes)} free at {facts.data_directory}",
        expected,
        "grow the PostgreSQL data volume before migrating",
    )
