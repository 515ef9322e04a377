"""One shape for every command's library entry point (issue #13, section 1): options built from
settings, events instead of printing, and "finished but failed" raised as a typed error that
carries the typed report."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import psycopg
import pytest

from vendzz_migrate import events, preflight
from vendzz_migrate.cache import WarmOptions, WarmReport, load_spec, warm
from vendzz_migrate.copy.run import CopyOptions
from vendzz_migrate.copy.run import run as copy
from vendzz_migrate.errors import (
    ExitCode,
    KeysNotWritten,
    MismatchFound,
    PreflightFailed,
    RejectsFound,
)
from vendzz_migrate.preflight import Area, HostFacts, PreflightOptions, PreflightReport
from vendzz_migrate.report.copy import CopyReport
from vendzz_migrate.sample import generate
from vendzz_migrate.settings import Settings, load_settings
from vendzz_migrate.verify import VerifyOptions, VerifyReport
from vendzz_migrate.verify import run as verify

GIB = 1024**3
SMALL_HOST = HostFacts(cores=1, ram_bytes=1 * GIB, data_path="/", disk_free_bytes=1 * GIB)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No vendzz-migrate.toml and no VENDZZ_* variable of this shell in the way."""
    monkeypatch.chdir(tmp_path)
    for name in ("VENDZZ_SCHEMA", "VENDZZ_STATE_SCHEMA", "VENDZZ_WORK_DIR"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def _settings(pg_url: str, redis_url: str, home: Path) -> Settings:
    return load_settings(database_url=pg_url, redis_url=redis_url, work_dir=home / "work")


def test_library_calls_emit_events_and_print_nothing(
    pg_url: str, redis_url: str, home: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    source = generate(home / "v.db", rows=400, seed=3, clean=True).path
    settings = _settings(pg_url, redis_url, home)
    capfd.readouterr()
    copied, verified, warmed, checked = (events.Collector() for _ in range(4))

    copy(CopyOptions.from_settings(settings, source=source, workers=2), copied)
    verify(VerifyOptions.from_settings(settings, source=source), verified)
    warm(WarmOptions.from_settings(settings), warmed)
    opts = PreflightOptions.from_settings(settings, profile="dev", only=[Area.POSTGRES])
    with contextlib.suppress(PreflightFailed):  # a gate this machine may miss: events tested
        preflight.run(opts, checked)

    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
    steps = [e.message for e in copied.of("step")]
    assert steps[0] == "step 1/7: snapshot" and steps[-1].startswith("step 7/7: views")
    assert len(steps) == 7
    added = {e.fields["task"] for e in copied.of("progress") if e.fields["action"] == "add"}
    assert "quizzes" in added
    advanced = sum(e.fields["n"] for e in copied.of("progress") if e.fields["action"] == "advance")
    assert advanced > 0
    assert any(e.message.startswith("verify quizzes (checksum)") for e in verified.of("debug"))
    keys = sum(e.fields["n"] for e in warmed.of("progress") if e.fields["action"] == "advance")
    assert keys > 0
    assert [e.fields["area"] for e in checked.of("debug")] == ["postgres"]


def _rejecting_file(path: Path) -> Path:
    """A table whose second row holds invalid UTF-8 in a TEXT column (PostgreSQL refuses it)."""
    lite = sqlite3.connect(path)
    lite.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
    lite.execute("INSERT INTO t VALUES (1, 'fine'), (3, 'fine too')")
    lite.execute("INSERT INTO t VALUES (2, CAST(? AS TEXT))", (b"\xff\xfe",))
    lite.commit()
    lite.close()
    return path


def test_copy_with_rejects_raises_rejects_found_with_the_report(pg_url: str, home: Path) -> None:
    source = _rejecting_file(home / "r.db")
    opts = CopyOptions(source=source, target_url=pg_url, work_dir=home / "work")
    with pytest.raises(RejectsFound) as caught:
        copy(opts)
    assert caught.value.exit_code == ExitCode.REJECTS
    report = caught.value.report
    assert isinstance(report, CopyReport)
    assert (report.total.copied_rows, report.total.rejected_rows) == (2, 1)


def test_verify_mismatch_raises_mismatch_found_with_the_report(pg_url: str, home: Path) -> None:
    source = generate(home / "v.db", rows=300, seed=5, clean=True).path
    copy(CopyOptions(source=source, target_url=pg_url, work_dir=home / "work"))
    with psycopg.connect(pg_url, autocommit=True) as conn:
        first = "(SELECT min(id) FROM quizzes)"
        conn.execute(f"UPDATE quizzes SET title = title || '!' WHERE id = {first}".encode())
    with pytest.raises(MismatchFound) as caught:
        verify(VerifyOptions(source=source, target_url=pg_url, mode="full"))
    assert caught.value.exit_code == ExitCode.MISMATCH
    report = caught.value.report
    assert isinstance(report, VerifyReport)
    assert not report.ok and report.total.changed == 1


def test_keys_redis_refuses_raise_keys_not_written_with_the_report(
    pg_url: str, redis_url: str, home: Path
) -> None:
    spec = home / "spec.yaml"
    spec.write_text(
        "version: 1\ncaches:\n  - name: k\n    key: 'k:{id}'\n    ttl_column: ttl\n"
        "    encoding: text\n    fields: [v]\n    query: |\n"
        "      SELECT g AS id, 'v' || g AS v,\n"
        "             CASE WHEN g = 3 THEN 9223372036854775807 ELSE 60 END AS ttl\n"
        "      FROM generate_series(1, 10) g\n"
    )
    opts = WarmOptions.from_settings(_settings(pg_url, redis_url, home), spec=load_spec(spec))
    with pytest.raises(KeysNotWritten) as caught:
        warm(opts)
    assert caught.value.exit_code == ExitCode.TARGET
    assert str(caught.value).startswith("1 keys were not written (cache 'k', first error: k:3:")
    report = caught.value.report
    assert isinstance(report, WarmReport)
    assert (report.caches[0].keys, report.caches[0].errors) == (9, 1)


def test_a_failed_preflight_raises_preflight_failed_with_the_report() -> None:
    opts = PreflightOptions(profile="production-1000", only=[Area.HOST], host=SMALL_HOST)
    with pytest.raises(PreflightFailed) as caught:
        preflight.run(opts)
    assert caught.value.exit_code == ExitCode.CHECK_FAILED
    report = caught.value.report
    assert isinstance(report, PreflightReport)
    assert not report.passed and report.exit_code == ExitCode.CHECK_FAILED
    assert str(caught.value) == f"preflight failed: {report.counts()}"


def test_vendzz_schema_and_state_schema_reach_copy_verify_and_warm_cache(
    pg_url: str, redis_url: str, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VENDZZ_SCHEMA", "app")
    monkeypatch.setenv("VENDZZ_STATE_SCHEMA", "app_state")
    source = generate(home / "v.db", rows=300, seed=7, clean=True).path
    settings = _settings(pg_url, redis_url, home)

    copied = copy(CopyOptions.from_settings(settings, source=source))
    verified = verify(VerifyOptions.from_settings(settings, source=source))
    warmed = warm(WarmOptions.from_settings(settings))

    with psycopg.connect(pg_url) as conn:
        schemas = {
            str(n)
            for (n,) in conn.execute(
                "SELECT table_schema FROM information_schema.tables"
                " WHERE table_name IN ('quizzes', 'runs')"
            )
        }
    assert schemas == {"app", "app_state"}  # the data in VENDZZ_SCHEMA, the state beside it
    assert copied.schema_name == verified.schema_name == "app"
    assert verified.run_id == copied.run_id  # verify read the copy's run in app_state
    assert verified.mapping_from == f"run {copied.run_id}"
    # warm-cache read the tables in app (in another schema: "table 'quizzes' not found")
    quiz = next(c for c in warmed.caches if c.name == "quiz")
    assert (quiz.status, quiz.reason) == ("written", None) and quiz.keys > 0


def test_connect_timeout_reaches_every_postgresql_connection(
    pg_url: str, redis_url: str, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """VENDZZ_CONNECT_TIMEOUT_S is the timeout of every connection copy, verify and warm-cache
    open (copy and verify used the default of 10 s). Observed on the real connections."""
    monkeypatch.setenv("VENDZZ_CONNECT_TIMEOUT_S", "7")
    source = generate(home / "v.db", rows=200, seed=5, clean=True).path
    settings = _settings(pg_url, redis_url, home)
    seen: list[str] = []
    real = psycopg.connect

    def observed(*args: object, **kwargs: object) -> psycopg.Connection:
        conn = real(*args, **kwargs)  # type: ignore[arg-type]
        seen.append(conn.info.get_parameters().get("connect_timeout", "none"))
        return conn

    monkeypatch.setattr(psycopg, "connect", observed)
    copy(CopyOptions.from_settings(settings, source=source, workers=1))
    verify(VerifyOptions.from_settings(settings, source=source, workers=1))
    warm(WarmOptions.from_settings(settings))
    assert len(seen) >= 5 and set(seen) == {"7"}, seen
