"""provision: files, modes, secrets hashed, values from the spec, --force, nothing half-written."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from vendzz_migrate.cli import app
from vendzz_migrate.errors import ConfigError, StateError
from vendzz_migrate.provision import run
from vendzz_migrate.provision.secrets import md5_secret, scram_sha256
from vendzz_migrate.provision.templates import PromRuleFile
from vendzz_migrate.settings import Settings

PASSWORD = "Pa55:w/rd@x"
DB_URL = "postgresql://vendzz:Pa55%3Aw%2Frd%40x@db.internal:5432/vendzz"
NAMES = {
    "pgbouncer.ini",
    "userlist.txt",
    "nginx-vendzz.conf",
    "redis.conf",
    ".env",
    "prometheus-alerts.yml",
}


def provision(out: Path, *args: str, db: str | None = DB_URL, redis: str = "") -> tuple[int, str]:
    env = {"DATABASE_URL": db or "", "REDIS_URL": redis}
    result = CliRunner().invoke(app, ["provision", "--out", str(out), *args], env=env)
    return result.exit_code, result.stdout + result.stderr


def test_production_render(tmp_path: Path) -> None:
    code, output = provision(
        tmp_path, "--profile", "production-1000", redis="redis://:redis-pw@10.0.0.20:6379/0"
    )
    assert code == 0, output
    files = {p.name: p for p in tmp_path.iterdir()}
    assert set(files) == NAMES
    for name in ("userlist.txt", ".env", "redis.conf"):
        assert stat.S_IMODE(files[name].stat().st_mode) == 0o600, name
    assert stat.S_IMODE(files["nginx-vendzz.conf"].stat().st_mode) == 0o644
    for name in NAMES - {".env"}:
        text = files[name].read_text()
        for secret in (PASSWORD, "Pa55%3A", "redis-pw"):
            assert secret not in text, name
    assert PASSWORD not in output
    assert "redis-pw" not in output
    nginx = files["nginx-vendzz.conf"].read_text()
    assert [w for w in nginx.split() if w.startswith("weight=")] == ["weight=3"] * 2 + ["weight=2"]
    assert "keepalive 32;" in nginx
    assert "proxy_http_version 1.1;" in nginx
    assert 'proxy_set_header Connection "";' in nginx
    ini = files["pgbouncer.ini"].read_text()
    assert "pool_mode = transaction" in ini
    assert "max_client_conn = 188" in ini
    assert "vendzz = host=db.internal port=5432 dbname=vendzz" in ini
    env = files[".env"].read_text()
    assert "PGPOOL_MIN_CONNECTIONS=10\n" in env
    assert "PGPOOL_MAX_CONNECTIONS=50\n" in env
    assert "REDIS_MAX_CONNECTIONS=20\n" in env
    assert "@127.0.0.1:6432/vendzz" in env
    conf = files["redis.conf"].read_text()
    assert "appendonly yes" in conf
    assert "save 900 1" in conf
    assert "maxmemory 4096mb" in conf


def test_userlist_holds_a_scram_secret(tmp_path: Path) -> None:
    assert provision(tmp_path, "--profile", "production-1000")[0] == 0
    user, secret = (tmp_path / "userlist.txt").read_text().split()
    assert user == '"vendzz"'
    assert secret.startswith('"SCRAM-SHA-256$4096:')


def test_scram_and_md5_known_answers() -> None:
    # the pg_authid format; md5 as PostgreSQL computes it: md5(password || user)
    assert md5_secret("postgres", "postgres") == "md53175bce1d3201d16594cebf9d7eb3f9d"
    secret = scram_sha256("pencil", salt=b"0123456789abcdef")
    assert secret.startswith("SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$")
    assert secret != scram_sha256("pencil")
    assert secret == scram_sha256("pencil", salt=b"0123456789abcdef")


def test_alert_rules_cover_the_spec(tmp_path: Path) -> None:
    assert provision(tmp_path, "--profile", "production-1000")[0] == 0
    document = yaml.safe_load((tmp_path / "prometheus-alerts.yml").read_text())
    rules = PromRuleFile.model_validate(document).groups[0].rules
    by_name = {r.alert: r for r in rules}
    assert by_name["VendzzHighCpu"].for_ == "5m"
    assert "> 80" in by_name["VendzzHighCpu"].expr
    assert by_name["VendzzHighMemory"].for_ == "2m"
    assert "> 85" in by_name["VendzzHighMemory"].expr
    assert "> 80" in by_name["VendzzDatabaseConnections"].expr
    assert by_name["VendzzErrorRate"].for_ == "1m"
    assert "> 1" in by_name["VendzzErrorRate"].expr
    assert by_name["VendzzSlowResponses"].for_ == "30s"
    assert "14.4 * 0.001" in by_name["VendzzErrorBudgetBurn"].expr


def test_prometheus_schema_rejects_bad_rules() -> None:
    with pytest.raises(ValueError, match="duration"):
        PromRuleFile.model_validate(
            {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up", "for": "5 min"}]}]}
        )
    with pytest.raises(ValueError, match="record"):
        PromRuleFile.model_validate({"groups": [{"name": "g", "rules": [{"record": "x"}]}]})


def test_existing_files_are_not_overwritten_without_force(tmp_path: Path) -> None:
    (tmp_path / "redis.conf").write_text("mine\n")
    code, output = provision(tmp_path, "--profile", "dev")
    assert code == 7
    assert "redis.conf" in output
    assert "--force" in output
    assert [p.name for p in tmp_path.iterdir()] == ["redis.conf"]
    assert (tmp_path / "redis.conf").read_text() == "mine\n"
    code, _ = provision(tmp_path, "--profile", "dev", "--force")
    assert code == 0
    assert "appendonly yes" in (tmp_path / "redis.conf").read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".") and p.name != ".env"]


def test_missing_or_passwordless_database_url_is_a_config_error(tmp_path: Path) -> None:
    assert provision(tmp_path / "a", db=None)[0] == 4
    code, output = provision(tmp_path / "b", db="postgresql://vendzz@db/vendzz")
    assert code == 4
    assert "password" in output
    with pytest.raises(ConfigError):
        run(Settings(database_url="mysql://u:p@h/db"), "dev", tmp_path / "c")
    assert not (tmp_path / "a").exists()


def test_library_call_and_json_report(tmp_path: Path) -> None:
    report = run(Settings(database_url=DB_URL), "staging", tmp_path / "lib")
    assert {f.name for f in report.files} == NAMES
    assert report.profile == "staging"
    with pytest.raises(StateError):
        run(Settings(database_url=DB_URL), "staging", tmp_path / "lib")
    code, _ = provision(tmp_path / "cli", "--profile", "dev", "--json", str(tmp_path / "r.json"))
    assert code == 0
    assert json.loads((tmp_path / "r.json").read_text())["profile"] == "dev"


def test_pool_sizes_from_the_environment_win(tmp_path: Path) -> None:
    settings = Settings(database_url=DB_URL, PGPOOL_MAX_CONNECTIONS=30)
    run(settings, "dev", tmp_path)
    assert "PGPOOL_MAX_CONNECTIONS=30\n" in (tmp_path / ".env").read_text()
