"""Profiles: packaged copies equal checks/, strict validation naming the field, team files."""

from __future__ import annotations

from pathlib import Path

import pytest

from vendzz_migrate.errors import ConfigError
from vendzz_migrate.preflight.profile import PACKAGED, load_profile, packaged_text

CHECKS = Path(__file__).resolve().parents[2] / "checks"


@pytest.mark.parametrize("name", PACKAGED)
def test_packaged_profile_is_identical_to_checks_dir(name: str) -> None:
    assert packaged_text(name) == (CHECKS / f"{name}.yaml").read_text(encoding="utf-8")


def test_production_profile_encodes_the_spec() -> None:
    p = load_profile("production-1000")
    assert (p.host.cores.min, p.host.cores.recommended) == (4, 8)
    assert (p.host.ram_gb.min, p.host.ram_gb.recommended) == (8, 16)
    assert p.host.disk_free_gb.recommended == 100
    assert p.host.ssd == "fail"
    assert p.host.nic_mbps.recommended == 1000
    assert (p.pools.pgpool_min, p.pools.pgpool_max, p.pools.redis_max_connections) == (10, 50, 20)
    assert p.pools.alert_pct == 80
    assert p.postgres.ram_gb == 8
    assert (p.redis.aof, p.redis.rdb, p.redis.nodes) == ("fail", "fail", 3)
    assert [s.weight for s in p.app.servers] == [3, 3, 2]
    assert (p.targets.uptime_pct, p.targets.p95_ms, p.alerts.ram_pct) == (99.9, 500, 85)


def test_staging_and_dev_relax_production() -> None:
    prod, staging, dev = (load_profile(n) for n in ("production-1000", "staging", "dev"))
    assert dev.host.cores.min < staging.host.cores.min < prod.host.cores.min
    assert dev.host.ssd == "off"
    assert dev.redis.aof == "warn"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "team.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_team_profile_file_loads(tmp_path: Path) -> None:
    text = packaged_text("dev").replace("name: dev", "name: team-x")
    assert load_profile(_write(tmp_path, text)).name == "team-x"


def test_unknown_field_is_named(tmp_path: Path) -> None:
    text = packaged_text("dev").replace("  ssd: off", "  ssd: off\n  gpus: 2", 1)
    with pytest.raises(ConfigError, match=r"host\.gpus") as info:
        load_profile(_write(tmp_path, text))
    assert info.value.exit_code == 4


def test_bad_level_and_bad_yaml_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"redis\.aof"):
        load_profile(_write(tmp_path, packaged_text("dev").replace("aof: warn", "aof: maybe")))
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_profile(_write(tmp_path, "name: [unclosed"))
    with pytest.raises(ConfigError, match="no profile named"):
        load_profile("production-9000")


def test_min_greater_than_max_in_profile_is_rejected(tmp_path: Path) -> None:
    text = packaged_text("dev").replace("pgpool_min: 10", "pgpool_min: 80")
    with pytest.raises(ConfigError, match="pgpool_min is greater"):
        load_profile(_write(tmp_path, text))


def test_production_roles_carry_the_spec_numbers_per_machine() -> None:
    from vendzz_migrate.preflight.profile import Role

    p = load_profile("production-1000")
    app, pg, rd = (p.host_minimums(r) for r in (Role.APP, Role.POSTGRES, Role.REDIS))
    assert app is p.host
    assert (app.cores.min, app.ram_gb.min, app.ram_gb.recommended) == (4, 8, 16)
    assert (pg.ram_gb.min, pg.ssd) == (8, "fail")  # dedicated, 8 GB+, SSD with high IOPS
    assert rd.ram_gb.min == 4  # Redis 4 GB+
    for name in PACKAGED:
        loaded = load_profile(name)
        assert loaded.roles.postgres is not None
        assert loaded.roles.redis is not None
