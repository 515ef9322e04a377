"""Every rendered config validated by the real tool: pgbouncer, nginx -t, redis-server, promtool."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import redis

from tests.preflight.helpers import checked as preflight_run
from tests.support import as_service_user, give_to_service_user, wait_until
from vendzz_migrate.preflight.host import HostFacts
from vendzz_migrate.provision import run
from vendzz_migrate.settings import Settings

PASSWORD = "bouncer-pw-42"


def need(tool: str) -> str:
    path = shutil.which(tool) or (
        f"/usr/sbin/{tool}" if Path(f"/usr/sbin/{tool}").exists() else None
    )
    if path is None:
        pytest.skip(f"{tool} is not installed (scripts/test.sh installs it)")
    return path


def rendered(work: Path, profile: Path, database_url: str, redis_url: str = "") -> Path:
    out = work / "out"
    run(Settings(database_url=database_url, redis_url=redis_url or None), profile, out)
    give_to_service_user(out, *out.iterdir())
    return out


@pytest.fixture
def direct_url(pg_server_url: str) -> str:
    parts = urlsplit(pg_server_url)
    if not parts.hostname or parts.hostname.startswith("/"):
        pytest.skip("PgBouncer test needs PostgreSQL over TCP")
    return f"postgresql://postgres:{PASSWORD}@{parts.hostname}:{parts.port or 5432}/postgres"


@pytest.fixture
def pgbouncer(work: Path, team_profile: Path, direct_url: str) -> Iterator[int]:
    binary = need("pgbouncer")
    out = rendered(work, team_profile, direct_url)
    port = int(
        next(
            line.split("=")[1]
            for line in (out / "pgbouncer.ini").read_text().splitlines()
            if line.startswith("listen_port")
        )
    )
    proc = subprocess.Popen(
        as_service_user([binary, str(out / "pgbouncer.ini")]),
        cwd=out,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )

    def up() -> bool:
        if proc.poll() is not None:
            log = proc.stdout.read().decode() if proc.stdout else ""
            raise RuntimeError(f"pgbouncer exited {proc.returncode}: {log}")
        try:
            with psycopg.connect(
                f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/postgres", connect_timeout=2
            ):
                return True
        except psycopg.OperationalError:
            return False

    try:
        wait_until(up, "pgbouncer")
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def test_pgbouncer_starts_with_the_rendered_ini_and_passes_a_query(pgbouncer: int) -> None:
    url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{pgbouncer}/postgres"
    with psycopg.connect(url, prepare_threshold=None) as conn:
        assert conn.execute("SELECT 40 + 2").fetchone() == (42,)
    with pytest.raises(psycopg.OperationalError, match=r"password|auth"):
        psycopg.connect(f"postgresql://postgres:wrong@127.0.0.1:{pgbouncer}/postgres").close()


def test_preflight_reads_pgbouncer_admin_console(pgbouncer: int, direct_url: str) -> None:
    admin = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{pgbouncer}/pgbouncer"
    host = HostFacts(cores=2, ram_bytes=8 * 1024**3, data_path="/", disk_free_bytes=10**11)
    report = preflight_run(
        Settings(database_url=direct_url, pgbouncer_admin_url=admin), "dev", host=host, environ={}
    )
    by_id = {c.id: c for c in report.checks}
    assert by_id["pools.pgbouncer_clients"].status.value == "pass"
    # PgBouncer 1.18 in transaction mode: named prepared statements would break -> warn
    prepared = by_id["pools.prepared_statements"]
    assert prepared.status.value == "warn"
    assert "transaction" in prepared.measured
    assert "PgBouncer server pools" in by_id["pools.pg_connections"].measured
    assert PASSWORD not in report.model_dump_json()


def test_nginx_accepts_the_rendered_upstream(work: Path, team_profile: Path) -> None:
    binary = need("nginx")
    out = rendered(work, team_profile, "postgresql://u:p@127.0.0.1:5432/db")
    wrapper = work / "nginx.conf"
    wrapper.write_text(
        f"pid {work}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  include {out}/nginx-vendzz.conf;\n}}\n"
    )
    result = subprocess.run(
        [binary, "-t", "-p", str(work), "-e", "stderr", "-c", str(wrapper)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr
    assert "test is successful" in result.stderr


def test_nginx_rejects_a_broken_upstream(work: Path, team_profile: Path) -> None:
    binary = need("nginx")
    out = rendered(work, team_profile, "postgresql://u:p@127.0.0.1:5432/db")
    broken = out / "nginx-vendzz.conf"
    broken.write_text(broken.read_text().replace("keepalive 32;", "keepalive;"))
    wrapper = work / "nginx.conf"
    wrapper.write_text(f"pid {work}/nginx.pid;\nevents {{}}\nhttp {{ include {broken}; }}\n")
    result = subprocess.run(
        [binary, "-t", "-p", str(work), "-e", "stderr", "-c", str(wrapper)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0


def test_redis_starts_with_the_rendered_conf_and_reports_aof_on(
    work: Path, team_profile: Path
) -> None:
    binary = need("redis-server")
    out = rendered(
        work,
        team_profile,
        "postgresql://u:p@127.0.0.1:5432/db",
        "redis://:redis-pw@127.0.0.1:6379/0",
    )
    port = int(
        next(
            line.split()[1]
            for line in (out / "redis.conf").read_text().splitlines()
            if line.startswith("port ")
        )
    )
    proc = subprocess.Popen([binary, str(out / "redis.conf")], stdout=subprocess.DEVNULL)
    client = redis.Redis(port=port, password="redis-pw", decode_responses=True)

    def up() -> bool:
        assert proc.poll() is None, "redis-server refused the rendered redis.conf"
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    try:
        wait_until(up, "redis-server")
        assert client.info("persistence")["aof_enabled"] == 1
        assert client.config_get("save")["save"] == "900 1 300 10 60 10000"
        assert client.config_get("appendfsync")["appendfsync"] == "everysec"
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port, password="wrong").ping()
    finally:
        proc.kill()
        proc.wait(10)


def test_promtool_accepts_the_rendered_rules(tmp_path: Path) -> None:
    binary = need("promtool")
    run(Settings(database_url="postgresql://u:p@h:5432/db"), "production-1000", tmp_path)
    result = subprocess.run(
        [binary, "check", "rules", str(tmp_path / "prometheus-alerts.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 7 rules found" in result.stdout
