"""The demo's cutover rehearsal, and `demo --json`'s `cutover` key."""

from __future__ import annotations

from pathlib import Path

from examples.service.client import read_ack_log
from tests.cutover.helpers import pg_rows
from vendzz_migrate.cutover.rehearsal import rehearse
from vendzz_migrate.sample import generate


def test_rehearsal_records_every_acknowledged_write_in_postgres(
    tmp_path: Path, pg_url: str
) -> None:
    sample = tmp_path / "sample.db"
    generate(sample, rows=1200, seed=3, clean=False)  # traps included: rejects allowed
    result = rehearse(sample, pg_url, tmp_path / "cutover", max_freeze_seconds=120)
    assert result.error is None and result.state == "done", result
    assert result.freeze_seconds is not None and result.freeze_seconds > 0
    acked = read_ack_log(Path(result.ack_log))
    assert result.writes_acknowledged == len(acked) >= 20
    in_pg = {str(r[0]) for r in pg_rows(pg_url, "SELECT id FROM quiz_responses")}
    assert result.writes_missing == len(set(acked) - in_pg) == 0
    assert result.writes_duplicated == 0
    assert (
        "@" not in result.postgres
        or "***" in result.postgres
        or ":" not in result.postgres.split("@")[0].split("//")[-1]
    )  # no password shown


def test_rehearsal_with_rollback_keeps_both_eras_writes_in_sqlite(
    tmp_path: Path, pg_url: str
) -> None:
    sample = tmp_path / "sample.db"
    generate(sample, rows=1200, seed=4, clean=True)
    result = rehearse(
        sample, pg_url, tmp_path / "cutover", with_rollback=True, max_freeze_seconds=120
    )  # a busy machine must not fail the test
    assert result.state == "done" and result.writes_missing == 0, result
    back = result.rollback
    assert back is not None and back.state == "rolled-back" and back.error is None, back
    assert back.writes_acknowledged > result.writes_acknowledged  # SQLite era after the rollback
    assert back.writes_missing == 0 and back.freeze_seconds is not None


def test_a_conninfo_becomes_a_url_for_the_service() -> None:
    import psycopg.conninfo

    from vendzz_migrate.cutover.rehearsal import as_url

    url = as_url("user=postgres password=p@ss dbname=vendzz_demo host='/tmp/pg sock'")
    assert url.startswith("postgresql://postgres:p%40ss@/vendzz_demo?")
    back = psycopg.conninfo.conninfo_to_dict(url)
    assert back["host"] == "/tmp/pg sock" and back["dbname"] == "vendzz_demo"
    assert as_url("postgresql://a@h/db") == "postgresql://a@h/db"
