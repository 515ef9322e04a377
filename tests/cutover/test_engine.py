"""The whole cutover against real SQLite and PostgreSQL, a writer writing throughout."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest

from tests.cutover.helpers import pg_rows
from tests.cutover.rig import Rig, rig
from vendzz_migrate.cutover import capture, engine
from vendzz_migrate.cutover.journal import STEPS
from vendzz_migrate.cutover.plan import load
from vendzz_migrate.errors import MismatchError


def _sqlite_ids(path: Path) -> set[int]:
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT id FROM quiz_responses")}
    finally:
        conn.close()


def _pg_ids(url: str) -> list[int]:
    return [int(str(r[0])) for r in pg_rows(url, "SELECT id FROM quiz_responses")]


def _assert_on_pg(r: Rig, pg_url: str) -> None:
    r.halt()
    assert not r.writer.errors, r.writer.errors
    ids = _pg_ids(pg_url)
    assert len(ids) == len(set(ids))
    missing = set(r.writer.acked) - set(ids)
    assert not missing, f"{len(missing)} acknowledged write(s) lost: {sorted(missing)[:10]}"
    assert (r.dir / "on_pg").exists() and not (r.dir / "frozen").exists()
    conn = sqlite3.connect(r.source)
    try:
        assert capture.leftovers(conn) == []
    finally:
        conn.close()


def _assert_on_sqlite(r: Rig) -> None:
    assert not (r.dir / "on_pg").exists() and not (r.dir / "frozen").exists()
    before = len(r.writer.acked)
    r.wait_acks(before + 5)  # the service writes again, on SQLite
    r.halt()
    assert not r.writer.errors, r.writer.errors
    assert set(r.writer.acked) <= _sqlite_ids(r.source), "an acknowledged write is gone"
    conn = sqlite3.connect(r.source)
    try:
        assert capture.leftovers(conn) == []
    finally:
        conn.close()


def _cli(
    plan: Path, *args: str, kill_at: str | None = None, kill_after: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("VENDZZ_CUTOVER_KILL_AT", None)
    env.pop("VENDZZ_CUTOVER_KILL_AFTER", None)
    if kill_at:
        env["VENDZZ_CUTOVER_KILL_AT"] = kill_at
    if kill_after:
        env["VENDZZ_CUTOVER_KILL_AFTER"] = kill_after
    return subprocess.run(
        [sys.executable, "-m", "vendzz_migrate", "cutover", "--plan", str(plan), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


def test_full_cutover_loses_no_acknowledged_write(tmp_path: Path, pg_url: str) -> None:
    with rig(tmp_path, pg_url) as r:
        report = engine.run(load(r.plan_path))
        r.wait_acks(len(r.writer.acked) + 5)  # and it writes on PostgreSQL
        assert report.state == "done" and report.freeze_seconds is not None
        assert [s.step for s in report.steps if s.outcome == "done" and s.step in STEPS] == list(
            STEPS
        )
        _assert_on_pg(r, pg_url)
        assert r.writer.refused > 0  # the freeze was felt (503s), not skipped
        _assert_no_snapshot(r.plan_path)


def _assert_no_snapshot(plan_path: Path) -> None:
    """The copy's snapshot (kept for the verify step) is gone once the cutover ends."""
    snapshots = load(plan_path).work_dir / "snapshots"
    assert not snapshots.is_dir() or not any(snapshots.iterdir())


@pytest.mark.parametrize("when", ["at", "after"])
@pytest.mark.parametrize("step", STEPS[:-1])
def test_kill9_inside_a_step_then_resume(tmp_path: Path, pg_url: str, step: str, when: str) -> None:
    """Killed as the step begins, or when its work is done but not yet journaled (so that
    --resume runs it a second time: every step is idempotent)."""
    with rig(tmp_path, pg_url) as r:
        killed = (
            _cli(r.plan_path, kill_at=step) if when == "at" else _cli(r.plan_path, kill_after=step)
        )
        assert killed.returncode == -9, killed.stderr[-2000:]
        assert (step, "started") in r.journal_steps()
        refused = _cli(r.plan_path)  # without --resume: refused, names the way out
        assert refused.returncode == 7 and "--resume" in refused.stderr
        resumed = _cli(r.plan_path, "--resume")
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert "done" in resumed.stdout
        r.wait_acks(len(r.writer.acked) + 5)
        _assert_on_pg(r, pg_url)


def test_status_tells_the_next_step(tmp_path: Path, pg_url: str) -> None:
    with rig(tmp_path, pg_url) as r:
        assert _cli(r.plan_path, kill_at="catch-up").returncode == -9
        status = _cli(r.plan_path, "--status")
        assert status.returncode == 0 and "next step: catch-up" in status.stdout
        assert _cli(r.plan_path, "--abort").returncode == 0
        _assert_on_sqlite(r)


@pytest.mark.parametrize("at", ["verify", "verify-changed"])
def test_verify_mismatch_goes_back_to_sqlite(tmp_path: Path, pg_url: str, at: str) -> None:
    with rig(tmp_path, pg_url) as r:
        assert _cli(r.plan_path, kill_at=at).returncode == -9
        with psycopg.connect(pg_url, autocommit=True) as conn:  # PostgreSQL gains a stray row
            conn.execute("INSERT INTO quiz_responses (id, quiz_id) VALUES (-1, 'q1')")
        resumed = _cli(r.plan_path, "--resume")
        assert resumed.returncode == 9, resumed.stderr[-2000:]
        assert '"differences"' in resumed.stdout or '"extra"' in resumed.stdout
        assert ("abort", "done") in r.journal_steps()
        _assert_on_sqlite(r)


def test_overlong_freeze_aborts_to_sqlite(tmp_path: Path, pg_url: str) -> None:
    with rig(tmp_path, pg_url, budgets={"max_freeze_seconds": 1e-6}) as r:
        with pytest.raises(engine.CutoverAborted, match="over its budget"):
            engine.run(load(r.plan_path))
        assert ("switch", "started") not in r.journal_steps()
        _assert_on_sqlite(r)


def test_failing_smoke_switches_back(tmp_path: Path, pg_url: str) -> None:
    with rig(tmp_path, pg_url) as r:
        r.sick.touch()  # the service is unhealthy once on PostgreSQL
        with pytest.raises(engine.CutoverAborted, match="smoke failed"):
            engine.run(load(r.plan_path))
        assert ("switch", "done") in r.journal_steps()
        _assert_on_sqlite(r)
        assert not set(r.writer.acked) & {i for i in _pg_ids(pg_url) if i >= 100_000} - _sqlite_ids(
            r.source
        )  # no write was accepted on PostgreSQL


def _run_in_thread(r: Rig) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def go() -> None:
        try:
            engine.run(load(r.plan_path))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=go)
    thread.start()
    return thread, errors


def _wait_for(r: Rig, entry: tuple[str, str], thread: threading.Thread) -> None:
    while entry not in r.journal_steps():
        assert thread.is_alive(), f"the run ended before {entry}"
        thread.join(timeout=0.05)


def test_postpone_holds_and_panic_aborts(tmp_path: Path, pg_url: str) -> None:
    with rig(tmp_path, pg_url) as r:
        plan = load(r.plan_path)
        plan.postpone_path().parent.mkdir(parents=True, exist_ok=True)
        plan.postpone_path().touch()
        thread, errors = _run_in_thread(r)
        _wait_for(r, ("postpone", "started"), thread)
        seen = len(r.writer.acked)
        r.wait_acks(seen + 20)  # the service writes on while the run holds ...
        assert ("freeze", "started") not in r.journal_steps()  # ... and no freeze began
        plan.panic_path().touch()
        thread.join(timeout=120)
        assert errors and isinstance(errors[0], engine.CutoverAborted)
        assert ("abort", "done") in r.journal_steps()
        _assert_on_sqlite(r)


def test_postpone_released_completes(tmp_path: Path, pg_url: str) -> None:
    with rig(tmp_path, pg_url) as r:
        plan = load(r.plan_path)
        plan.postpone_path().parent.mkdir(parents=True, exist_ok=True)
        plan.postpone_path().touch()
        thread, errors = _run_in_thread(r)
        _wait_for(r, ("postpone", "started"), thread)
        plan.postpone_path().unlink()
        thread.join(timeout=300)
        assert not errors, errors
        _assert_on_pg(r, pg_url)
        # what the step said (its notes and warnings) is journaled with its figures
        entries = r.journal_entries()
        (postponed,) = [e for e in entries if e["step"] == "postpone" and e["outcome"] == "done"]
        assert any("holding: postpone flag file" in s for s in postponed["figures"]["said"])


def test_abort_while_frozen(tmp_path: Path, pg_url: str) -> None:
    with rig(tmp_path, pg_url) as r:
        assert _cli(r.plan_path, kill_at="final-delta").returncode == -9
        assert (r.dir / "frozen").exists()  # killed inside the freeze: still frozen
        aborted = _cli(r.plan_path, "--abort")
        assert aborted.returncode == 0, aborted.stderr
        assert "aborted" in aborted.stdout
        _assert_on_sqlite(r)
        _assert_no_snapshot(r.plan_path)


def test_abort_refused_once_live_on_pg(tmp_path: Path, pg_url: str) -> None:
    with rig(tmp_path, pg_url) as r:
        engine.run(load(r.plan_path))
        refused = _cli(r.plan_path, "--abort")
        assert refused.returncode == 7 and "--rollback" in refused.stderr


def test_mismatch_error_carries_differences(tmp_path: Path, pg_url: str) -> None:
    with rig(tmp_path, pg_url) as r:
        assert _cli(r.plan_path, kill_at="verify-changed").returncode == -9
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(
                "UPDATE quiz_responses SET score = -42 WHERE id = (SELECT max(id) FROM"
                " quiz_responses WHERE id >= 100000)"
            )
        with pytest.raises(MismatchError) as caught:
            engine.run(load(r.plan_path), resume=True)
        diffs = caught.value.data["report"].differences
        assert [(d.kind, d.detail) for d in diffs] == [("changed", "score")]
        _assert_on_sqlite(r)


def test_warm_cache_then_changed_rows_keys_deleted_in_the_freeze(
    tmp_path: Path, pg_url: str
) -> None:
    import redis

    from tests.examples.service.helpers import redis_server

    spec = tmp_path / "cache.yaml"
    spec.write_text(
        "version: 1\ncaches:\n  - name: resp\n    key: 'cut:resp:{id}'\n"
        "    query: SELECT id, score FROM quiz_responses\n    encoding: json\n"
        "  - name: pair\n    key: 'cut:pair:{id}:{quiz_id}'\n"
        "    query: SELECT id, quiz_id FROM quiz_responses\n    encoding: json\n"
    )
    with (
        redis_server(tmp_path / "redis") as redis_url,
        rig(tmp_path, pg_url, redis_url=redis_url, cache_spec=str(spec)) as r,
    ):
        report = engine.run(load(r.plan_path))
        r.halt()
        figures = next(
            s.figures for s in report.steps if s.step == "cache-refresh" and s.outcome == "done"
        )
        assert figures["keys_deleted"] > 0 and figures["not_refreshed"] == ["pair"]
        client = redis.Redis.from_url(redis_url)
        assert client.exists("cut:resp:1") == 0  # changed by the writer after the copy: deleted
        assert client.exists("cut:resp:1999") == 1  # never changed: still warm


def test_a_step_over_its_time_limit_aborts(tmp_path: Path, pg_url: str) -> None:
    with rig(tmp_path, pg_url, budgets={"step_seconds": {"copy": 1e-6}}) as r:
        with pytest.raises(engine.CutoverAborted, match="step copy took"):
            engine.run(load(r.plan_path))
        assert ("catch-up", "started") not in r.journal_steps()
        _assert_on_sqlite(r)


def test_status_reads_the_local_journal_when_postgres_is_unreachable(
    tmp_path: Path, pg_url: str
) -> None:
    with rig(tmp_path, pg_url) as r:
        assert _cli(r.plan_path, kill_at="freeze").returncode == -9
        r.plan_path.write_text(
            r.plan_path.read_text().replace(pg_url, "postgresql://nobody@127.0.0.1:1/none")
        )
        status = _cli(r.plan_path, "--status")
        assert status.returncode == 0, status.stderr
        assert "next step: freeze" in status.stdout and "copy            done" in status.stdout
        r.plan_path.write_text(
            r.plan_path.read_text().replace("postgresql://nobody@127.0.0.1:1/none", pg_url)
        )
        assert _cli(r.plan_path, "--abort").returncode == 0
        _assert_on_sqlite(r)


def test_a_new_cutover_after_an_abort_copies_again_even_when_resumed(
    tmp_path: Path, pg_url: str
) -> None:
    with rig(tmp_path, pg_url) as r:
        assert _cli(r.plan_path, kill_at="verify").returncode == -9
        assert _cli(r.plan_path, "--abort").returncode == 0
        r.wait_acks(len(r.writer.acked) + 20)  # writes no capture saw: only a new copy has them
        assert _cli(r.plan_path, kill_at="copy").returncode == -9  # the new run, killed early
        resumed = _cli(r.plan_path, "--resume")
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        r.wait_acks(len(r.writer.acked) + 5)
        _assert_on_pg(r, pg_url)


def test_rollback_plan_after_the_switch_shows_the_rollback_backlog(
    tmp_path: Path, pg_url: str
) -> None:
    with rig(tmp_path, pg_url) as r:
        engine.run(load(r.plan_path))
        r.wait_acks(len(r.writer.acked) + 10)  # writes on PostgreSQL, captured for a rollback
        r.halt()
        result = _cli(r.plan_path, "--rollback-plan")
        assert result.returncode == 0, result.stderr
        line = next(x for x in result.stdout.splitlines() if "rollback backlog" in x)
        assert "quiz_responses" in line and "expected rollback freeze" in line
        assert "delta rate" in result.stdout and "expected freeze window" in result.stdout
