"""Machine roles and chosen areas: each role's host minimums on injected host facts, the areas a
role runs, --only / --skip, and what is refused instead of being silently skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.preflight.helpers import checked
from tests.preflight.hosts import GIB, host_facts
from vendzz_migrate.errors import ConfigError
from vendzz_migrate.preflight import Area, HostFacts, PreflightReport, Role, Status
from vendzz_migrate.preflight.areas import ROLE_AREAS, choose_areas, parse_areas
from vendzz_migrate.preflight.profile import load_profile, packaged_text
from vendzz_migrate.settings import Settings


def bare() -> Settings:
    """Settings naming no server (whatever this shell's DATABASE_URL / REDIS_URL are)."""
    return Settings(database_url=None, redis_url=None, pgbouncer_admin_url=None)


ENV = {"DATABASE_URL": "postgresql://u:p@h/db", "REDIS_URL": "redis://h:6379/0"}


def machine(cores: int, ram_gb: float, **over: object) -> HostFacts:
    return host_facts(hostname="m1", cores=cores, ram_bytes=int(ram_gb * GIB), **over)


def host_only(role: str, facts: HostFacts, *, strict: bool = False) -> PreflightReport:
    settings = bare()
    return checked(
        settings, "production-1000", role=role, only=[Area.HOST], host=facts, strict=strict
    )


def statuses(report: PreflightReport, area: Area = Area.HOST) -> dict[str, Status]:
    return {c.id: c.status for c in report.checks if c.area is area}


def test_four_core_eight_gb_app_host_passes_with_warnings() -> None:
    report = host_only("app", machine(4, 8))
    assert statuses(report) == {
        "host.cores": Status.WARN,
        "host.ram": Status.WARN,
        "host.disk_free": Status.PASS,
        "host.ssd": Status.PASS,
        "host.nic": Status.PASS,
        "host.work_dir": Status.PASS,  # the copy's snapshots, on the app server only
    }
    assert report.passed
    assert report.exit_code == 0
    assert host_only("app", machine(4, 8), strict=True).exit_code == 10
    assert statuses(host_only("app", machine(3, 8)))["host.cores"] is Status.FAIL


def test_four_gb_postgres_host_fails_and_eight_gb_passes() -> None:
    report = host_only("postgres", machine(4, 4))
    assert statuses(report)["host.ram"] is Status.FAIL
    assert report.exit_code == 10
    assert report.role is Role.POSTGRES
    ram = next(c for c in report.checks if c.id == "host.ram")
    assert ram.expected == ">= 8 GiB (minimum)"
    assert "PostgreSQL machine" in ram.remedy
    ok = host_only("postgres", machine(4, 8))
    assert set(statuses(ok).values()) == {Status.PASS}
    # the app's 8-core recommendation is not the database machine's
    assert statuses(host_only("postgres", machine(2, 16)))["host.cores"] is Status.WARN
    spinning = host_only("postgres", machine(8, 16, rotational=True))
    assert statuses(spinning)["host.ssd"] is Status.FAIL


def test_redis_node_minimums() -> None:
    assert statuses(host_only("redis", machine(2, 2)))["host.ram"] is Status.FAIL
    assert set(statuses(host_only("redis", machine(2, 4))).values()) == {Status.PASS}
    # the spec asks the app servers for 8 GB: a 4 GB Redis node is fine, a 4 GB app server is not
    assert statuses(host_only("app", machine(8, 4)))["host.ram"] is Status.FAIL


def test_each_role_runs_its_areas_and_lists_the_others_as_skipped() -> None:
    for role, wanted in ROLE_AREAS.items():
        run_, skipped = choose_areas(role)
        assert run_ == list(wanted)
        assert set(skipped) == set(Area) - set(wanted)
        assert all(f"not run for role {role.value}" in why for why in skipped.values())
    run_, skipped = choose_areas(Role.APP, only={Area.POOLS, Area.REDIS}, skip={Area.REDIS})
    assert run_ == [Area.POOLS]
    assert skipped[Area.REDIS] == "left out (--skip redis)"
    assert skipped[Area.HOST] == "not chosen (--only pools,redis)"


def test_parse_areas_accepts_repeats_and_commas_and_names_a_bad_one() -> None:
    assert parse_areas(["host,pools", " Redis ", ""]) == {Area.HOST, Area.POOLS, Area.REDIS}
    with pytest.raises(ValueError, match="unknown area 'disk'"):
        parse_areas(["host,disk"])


def test_role_postgres_against_a_real_server(pg_url: str) -> None:
    """pgtune against this machine's RAM (it is the database machine); the app's areas skipped."""
    settings = Settings(database_url=pg_url, redis_url="redis://127.0.0.1:1/0")
    report = checked(settings, "production-1000", role="postgres", host=machine(4, 32), environ=ENV)
    by_id = {c.id: c for c in report.checks}
    assert by_id["postgres.reachable"].status is Status.PASS
    assert "32.0 GiB RAM" in by_id["postgres.shared_buffers"].expected
    assert set(report.skipped_areas) == {Area.ENVIRONMENT, Area.POOLS, Area.REDIS, Area.SQLITE}
    for area in report.skipped_areas:
        skip = by_id[f"{area.value}.skipped"]
        assert skip.status is Status.SKIP
        assert "not run for role postgres" in skip.measured
    assert not any(c.area is Area.REDIS and c.id != "redis.skipped" for c in report.checks)


def test_role_postgres_measures_the_data_directory(pg_url: str) -> None:
    from vendzz_migrate.preflight.postgres import read_pg_facts

    data_dir = read_pg_facts(pg_url, "public").data_directory
    if data_dir is None or not Path(data_dir).is_dir():
        pytest.skip("the server's data_directory is not visible from here")
    report = checked(Settings(database_url=pg_url), "dev", role="postgres", only=[Area.HOST])
    disk = next(c for c in report.checks if c.id == "host.disk_free")
    assert disk.measured.endswith(f"free at {data_dir}")


def test_role_redis_runs_the_kernel_checks_and_app_lists_them_skipped(redis_url: str) -> None:
    settings = Settings(redis_url=redis_url)
    node = checked(settings, "production-1000", role="redis", host=machine(2, 8, somaxconn=128))
    assert statuses(node, Area.REDIS)["redis.somaxconn"] is Status.WARN
    app = checked(settings, "production-1000", only=[Area.REDIS], host=machine(2, 8, somaxconn=128))
    assert statuses(app, Area.REDIS)["redis.somaxconn"] is Status.SKIP
    why = next(c for c in app.checks if c.id == "redis.somaxconn")
    assert "--role redis" in why.remedy


def test_missing_server_is_skipped_unless_asked_for() -> None:
    report = checked(bare(), "dev", host=machine(8, 16), environ=ENV)
    assert report.skipped_areas == {
        Area.POSTGRES: "not run: no PostgreSQL URL was given (--target or DATABASE_URL)",
        Area.REDIS: "not run: no Redis URL was given (--redis or REDIS_URL)",
        Area.SQLITE: "not run: no SQLite file was given (--source)",
    }
    skipped = {c.id for c in report.checks if c.status is Status.SKIP}
    assert {"postgres.skipped", "redis.skipped", "sqlite.skipped"} <= skipped
    assert {"pools.pg_connections", "pools.redis_clients"} <= skipped
    with pytest.raises(ConfigError, match="--only postgres: no PostgreSQL URL"):
        checked(bare(), "dev", only=[Area.POSTGRES], host=machine(8, 16))
    with pytest.raises(ConfigError, match="--role redis: no Redis URL"):
        checked(bare(), "dev", role="redis", host=machine(8, 16))
    with pytest.raises(ConfigError, match=r"--only sqlite: no SQLite file was given \(--source\)"):
        checked(bare(), "dev", only=[Area.SQLITE], host=machine(8, 16))


def test_contradictions_are_refused() -> None:
    with pytest.raises(ConfigError, match="--only sqlite: not run for role redis") as info:
        checked(bare(), "dev", role="redis", only=[Area.SQLITE], host=machine(8, 16))
    assert info.value.exit_code == 4
    with pytest.raises(ConfigError, match="nothing left to check"):
        checked(bare(), "dev", only=[Area.HOST], skip=[Area.HOST], host=machine(8, 16))


def test_a_profile_without_role_minimums_is_refused(tmp_path: Path) -> None:
    text = packaged_text("dev")
    start, end = text.index("roles:\n"), text.index("pools:\n")
    path = tmp_path / "old.yaml"
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    assert load_profile(path).roles.postgres is None
    with pytest.raises(ConfigError, match=r"no roles\.postgres\.host minimums"):
        checked(bare(), path, role="postgres", only=[Area.HOST], host=machine(8, 16))
    app = checked(bare(), path, only=[Area.HOST], host=machine(8, 16))
    assert app.passed
