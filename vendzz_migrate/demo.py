"""The demo: the whole migration on a generated Vendzz file, on embedded servers by default.

1. generate a sample Vendzz SQLite file (traps included unless ``clean``);
2. use DATABASE_URL / REDIS_URL when set, else start an embedded PostgreSQL and Redis;
3. sqlite-to-pg into a dedicated ``vendzz_demo`` database (rerunnable: --restart semantics);
4. verify; 5. warm-cache; 6. preflight with the ``dev`` profile;
7. (``cutover=True``) a cutover rehearsal: the reference service on a copy of the file, its
   writer client writing throughout, the whole cutover to PostgreSQL (``vendzz_demo_cutover``),
   and the check that every acknowledged write is there (:mod:`vendzz_migrate.cutover.rehearsal`).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from vendzz_migrate import embedded, events
from vendzz_migrate.cache import WarmReport
from vendzz_migrate.cutover.rehearsal import CutoverDemo
from vendzz_migrate.errors import KeysNotWritten, MismatchFound, PreflightFailed
from vendzz_migrate.preflight import PreflightReport
from vendzz_migrate.report.copy import CopyReport
from vendzz_migrate.settings import Settings
from vendzz_migrate.urls import mask
from vendzz_migrate.verify import VerifyReport

DEMO_DB = "vendzz_demo"


class DemoReport(BaseModel):
    source: Path
    database: str
    redis: str
    copy_report: CopyReport
    verify_report: VerifyReport
    cache_report: WarmReport
    preflight_report: PreflightReport
    cutover: CutoverDemo | None = None


def demo_database(server_url: str, name: str = DEMO_DB) -> str:
    """A dedicated database on the server (created if needed), so the demo touches no app data."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from vendzz_migrate.pg import classify, connect, ident

    try:
        with connect(server_url, command="demo", autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if not exists:
                conn.execute(f"CREATE DATABASE {ident(name)}")
    except psycopg.Error as exc:
        raise classify(exc, server_url) from None
    params = conninfo_to_dict(server_url)
    params["dbname"] = name
    return make_conninfo(**params)  # type: ignore[arg-type]


def run(
    settings: Settings,
    *,
    rows: int = 5000,
    clean: bool = False,
    seed: int = 42,
    cutover: bool = True,
    with_rollback: bool = False,
    on_event: events.Sink = events.discard,
) -> DemoReport:
    """The whole migration on a generated file; each command's events go to ``on_event``."""
    from vendzz_migrate import preflight
    from vendzz_migrate.cache import WarmOptions, warm
    from vendzz_migrate.copy.run import CopyOptions
    from vendzz_migrate.copy.run import run as copy
    from vendzz_migrate.sample import generate
    from vendzz_migrate.verify import VerifyOptions
    from vendzz_migrate.verify import run as verify

    work = settings.work_dir / "demo"
    source = work / "vendzz-demo.db"
    work.mkdir(parents=True, exist_ok=True)
    events.note(on_event, f"demo: generating {rows:,} rows of Vendzz data in {source}")
    generate(source, rows=rows, seed=seed, clean=clean, force=True)
    server = settings.database_url or embedded.start_postgres(work / "postgres")
    redis_url = settings.redis_url or embedded.start_redis(work / "redis")
    database = demo_database(server)
    events.note(on_event, f"demo: PostgreSQL {mask(database)}, Redis {mask(redis_url)}")
    # the demo database's public schema, for every command alike
    local = settings.with_overrides(
        database_url=database, redis_url=redis_url, schema_name="public"
    )
    copied = copy(
        CopyOptions.from_settings(
            local, source=source, restart=True, allow_rejects=True, work_dir=work
        ),
        on_event,
    )
    try:
        verified = verify(VerifyOptions.from_settings(local, source=source), on_event)
    except MismatchFound as exc:
        verified = exc.report
    try:
        warmed = warm(WarmOptions.from_settings(local), on_event)
    except KeysNotWritten as exc:  # shown in the demo's table, as before
        warmed = exc.report
    try:
        opts = preflight.PreflightOptions.from_settings(local, profile="dev", source=source)
        checked = preflight.run(opts, on_event)
    except PreflightFailed as exc:  # the demo shows the verdict in its table
        checked = exc.report
    rehearsal = None
    if cutover:
        from vendzz_migrate.cutover.rehearsal import rehearse

        rehearsal = rehearse(
            source,
            demo_database(server, DEMO_DB + "_cutover"),
            work / "cutover",
            with_rollback=with_rollback,
            on_event=on_event,
        )
    return DemoReport(
        source=source,
        database=mask(database),
        redis=mask(redis_url),
        copy_report=copied,
        verify_report=verified,
        cache_report=warmed,
        preflight_report=checked,
        cutover=rehearsal,
    )
