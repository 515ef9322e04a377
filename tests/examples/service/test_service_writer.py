"""The writer client: every acknowledged write is in the database the service ends on, through
a freeze and a restart; failures are counted; the CLI stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from examples.service.client import Summary, Writer, read_ack_log
from examples.service.client import main as client_main
from tests.examples.service.conftest import PASSWORD, Sample
from tests.examples.service.helpers import count_responses, service, wait_until
from vendzz_migrate.errors import ExitCode

ROOT = Path(__file__).resolve().parents[3]


def _in_sqlite(path: Path, ids: list[str]) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        found = set()
        for i in ids:
            if conn.execute("SELECT 1 FROM quiz_responses WHERE id = ?", (i,)).fetchone():
                found.add(i)
        return found
    finally:
        conn.close()


@contextmanager
def in_a_thread(writer: Writer, *, stop: bool = True) -> Iterator[dict[str, Summary]]:
    """``writer.run()`` in a thread; at the end of the block it is stopped (unless ``stop`` is
    off: it ends by itself) and joined; its summary is then under ``"summary"``."""
    out: dict[str, Summary] = {}
    thread = threading.Thread(target=lambda: out.update(summary=writer.run()))
    thread.start()
    try:
        yield out
    finally:
        if stop:
            writer.stop()
        thread.join(300)
        writer.stop()


def test_every_acknowledged_write_survives_a_freeze_and_a_restart(
    sample: Sample, tmp_path: Path
) -> None:
    ack = tmp_path / "acked.txt"
    with service(tmp_path / "svc", sample.url) as svc:
        writer = Writer(
            svc.url,
            rate=25,
            count=40,
            ack_log=ack,
            email=sample.email,
            password=PASSWORD,
            max_retry_s=120,
            seed=1,
        )
        with in_a_thread(writer, stop=False) as out:
            wait_until(lambda: len(read_ack_log(ack)) >= 5, "five acknowledged writes")
            with svc.http() as http:
                http.post("/admin/maintenance", json={"enabled": True})
            wait_until(lambda: writer.summary.retried_503 >= 1, "a write to meet the freeze")
            svc.restart()  # still frozen after it: the file in the state dir holds the flag
            with svc.http() as http:
                assert http.get("/admin/maintenance").json()["maintenance"] is True
                http.post("/admin/maintenance", json={"enabled": False})
    summary = out["summary"]
    acked = read_ack_log(ack)
    assert summary.login == "ok"
    assert summary.acknowledged == len(acked) == len(set(acked)) == 40
    assert summary.failed == 0 and summary.abandoned == 0
    assert summary.retried_503 >= 1
    assert _in_sqlite(sample.path, acked) == set(acked)


def test_failed_writes_are_counted_never_acknowledged(sample: Sample, tmp_path: Path) -> None:
    ack = tmp_path / "acked.txt"
    with service(tmp_path / "svc", sample.url) as svc:
        summary = Writer(svc.url, rate=50, count=3, ack_log=ack, quiz_ids=["no-such-quiz"]).run()
    assert (summary.attempted, summary.acknowledged, summary.failed) == (3, 0, 3)
    assert summary.failures == {"404": 3}
    assert read_ack_log(ack) == []


def test_the_writer_must_be_bounded() -> None:
    with pytest.raises(ValueError, match="bounded"):
        Writer("http://127.0.0.1:1", rate=1, ack_log=Path("x"))


@pytest.mark.parametrize(
    "args",
    [["--rate", "0"], ["--rate", "-1"], ["--url", "nope"], ["--count", "0"], ["--max-retry", "-1"]],
)
def test_the_cli_refuses_bad_arguments_in_one_line(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = {
        "--url": "http://127.0.0.1:1",
        "--rate": "5",
        "--count": "1",
        "--ack-log": str(tmp_path / "a.txt"),
    }
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    with pytest.raises(SystemExit) as exc:
        client_main([x for kv in base.items() for x in kv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and args[0] in err


def test_a_failed_login_stops_the_cli_before_any_write(
    sample: Sample, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ack = tmp_path / "acked.txt"
    with service(tmp_path / "svc", sample.url) as svc:
        rows = count_responses(sample.path)
        args = ["--url", svc.url, "--rate", "50", "--count", "3", "--ack-log", str(ack)]
        code = client_main([*args, "--email", sample.email, "--password", "not-the-password"])
    out, err = capsys.readouterr()
    assert code == ExitCode.CONNECTION
    assert err.count("\n") == 1 and "login" in err and sample.email in err
    assert "not-the-password" not in err + out and "Traceback" not in err
    summary = json.loads(out)
    assert summary["login"] == "failed" and summary["attempted"] == 0
    assert read_ack_log(ack) == [] and count_responses(sample.path) == rows


def test_an_ack_log_that_cannot_be_written_stops_before_any_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("")
    code = client_main(
        [
            "--url",
            "http://127.0.0.1:1",
            "--rate",
            "5",
            "--count",
            "1",
            "--ack-log",
            str(tmp_path / "file" / "acked.txt"),
        ]
    )
    out = capsys.readouterr()
    assert code == ExitCode.CONFIG and "Traceback" not in out.err
    assert "acked.txt" in out.err and json.loads(out.out)["attempted"] == 0


def test_the_cli_stops_cleanly_on_sigterm(sample: Sample, tmp_path: Path) -> None:
    ack, times = tmp_path / "acked.txt", tmp_path / "acked.tsv"
    with service(tmp_path / "svc", sample.url) as svc:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "examples.service.client",
                "--url",
                svc.url,
                "--rate",
                "20",
                "--duration",
                "300",
                "--ack-log",
                str(ack),
                "--ack-times",
                str(times),
                "--email",
                sample.email,
                "--password",
                PASSWORD,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_until(lambda: len(read_ack_log(ack)) >= 3, "three acknowledged writes")
            proc.send_signal(signal.SIGTERM)
            stdout, stderr = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        with httpx.Client(base_url=svc.url) as http:
            assert http.get("/health").status_code == 200
    assert proc.returncode == 0, stderr
    summary = json.loads(stdout)
    acked = read_ack_log(ack)
    assert summary["acknowledged"] == len(acked) >= 3
    assert summary["login"] == "ok" and summary["failed"] == 0
    assert summary["duration_s"] < 300
    assert _in_sqlite(sample.path, acked) == set(acked)
    stamped = [line.split("\t") for line in times.read_text().splitlines()]
    assert [i for i, _ in stamped] == acked
    assert all(datetime.fromisoformat(t).tzinfo is not None for _, t in stamped)


def test_a_rehearsed_cutover_keeps_every_acknowledged_write(
    sample: Sample, pg_url: str, tmp_path: Path
) -> None:
    """Freeze, drain, copy inside the freeze, switch with ctl restart, lift: every write the
    writer saw acknowledged, before and after the switch, is in PostgreSQL at the end."""
    import psycopg

    from tests.copy.helpers import copy

    ack = tmp_path / "acked.txt"
    with service(tmp_path / "svc", sample.url) as svc:
        writer = Writer(svc.url, rate=20, duration_s=600, ack_log=ack, max_retry_s=300, seed=2)
        with in_a_thread(writer) as out:
            wait_until(lambda: len(read_ack_log(ack)) >= 10, "ten writes on SQLite")
            with svc.http() as http:
                http.post("/admin/maintenance", json={"enabled": True})
                wait_until(
                    lambda: http.get("/admin/maintenance").json()["writes_in_flight"] == 0,
                    "the writes in flight to drain",
                )
            wait_until(lambda: writer.summary.retried_503 >= 1, "a write to meet the freeze")
            before_switch = read_ack_log(ack)
            copy(sample.path, pg_url, tmp_path / "work", workers=1)
            switched = svc.restart(DATABASE_URL=pg_url)
            with svc.http() as http:
                http.post("/admin/maintenance", json={"enabled": False})
            wait_until(
                lambda: len(read_ack_log(ack)) >= len(before_switch) + 10,
                "ten writes on PostgreSQL",
            )
    acked = read_ack_log(ack)
    assert switched["database"] == "postgresql"
    assert out["summary"].acknowledged == len(acked) >= len(before_switch) + 10
    assert out["summary"].failed == 0 and out["summary"].abandoned == 0
    assert len(before_switch) >= 10
    with psycopg.connect(pg_url) as conn:
        found = {
            r[0]
            for r in conn.execute(
                "SELECT id FROM quiz_responses WHERE id = ANY(%s)", [acked]
            ).fetchall()
        }
    assert found == set(acked)
