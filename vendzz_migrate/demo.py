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

from vendzz_migrate import console, embedded
from vendzz_migrate.cache import WarmReport
from vendzz_migrate.cutover.rehearsal import CutoverDemo
from vendzz_migrate.errors import MismatchError
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
) -> DemoReport:
    from vendzz_migrate import preflight
    from vendzz_migrate.cache import load_spec, warm
    from vendzz_migrate.copy.run import CopyOptions
    from vendzz_migrate.copy.run import run as copy
    from vendzz_migrate.sample import generate
    from vendzz_migrate.verify import VerifyOptions
    from vendzz_migrate.verify import run as verify

    work = settings.work_dir / "demo"
    source = work / "vendzz-demo.db"
    work.mkdir(parents=True, exist_ok=True)
    console.info(f"demo: generating {rows:,} rows of Vendzz data in {source}")
    generate(source, rows=rows, seed=seed, clean=clean, force=True)
    server = settings.database_url or embedded.start_postgres(work / "postgres")
    redis_url = settings.redis_url or embedded.start_redis(work / "redis")
    database = demo_database(server)
    console.info(f"demo: PostgreSQL {mask(database)}, Redis {mask(redis_url)}")
    copied = copy(
        CopyOptions(
            source=source,
            target_url=database,
            restart=True,
            allow_rejects=True,
            work_dir=work,
            state_schema=settings.state_schema,
        )
    )
    try:
        verified = verify(VerifyOptions(source=source, target_url=database))
    except MismatchError as exc:
        verified = exc.data["report"]
    local = settings.with_overrides(database_url=database, redis_url=redis_url)
    warmed = warm(local, load_spec(None))
    checked = preflight.run(local, "dev", source)
    rehearsal = None
    if cutover:
        from vendzz_migrate.cutover.rehearsal import rehearse

        rehearsal = rehearse(
            source,
            demo_database(server, DEMO_DB + "_cutover"),
            work / "cutover",
            with_rollback=with_rollback,
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
