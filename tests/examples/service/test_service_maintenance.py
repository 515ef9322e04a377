"""Maintenance mode: writes answer 503 + Retry-After and are not performed, reads go on; the
flag comes from the admin call, the file or the Redis key; in-flight writes can be drained."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import httpx
import redis

from tests.examples.service.conftest import PASSWORD, Sample
from tests.examples.service.helpers import count_responses, redis_server, service, wait_until

WRITE = {"responses": [{"elementId": "e1", "answer": "sim"}]}


def _frozen(http: httpx.Client, quiz_id: str) -> bool:
    resp = http.post(f"/api/quizzes/{quiz_id}/responses", json=WRITE)
    if resp.status_code == 503:
        assert resp.headers["Retry-After"] == "1"
        assert resp.json()["maintenance"] is True
        return True
    assert resp.status_code == 201, resp.text
    return False


def test_admin_flag_refuses_writes_lets_reads_through_and_survives_a_restart(
    sample: Sample, tmp_path: Path
) -> None:
    with service(tmp_path / "svc", sample.url) as svc:
        with svc.http() as http:
            quiz_id = http.get("/api/quizzes", params={"limit": 1}).json()["ids"][0]
            assert http.get("/admin/maintenance").json() == {
                "maintenance": False,
                "writes_in_flight": 0,
            }
            on = http.post("/admin/maintenance", json={"enabled": True}).json()
            rows = count_responses(sample.path)
            assert _frozen(http, quiz_id)
            assert count_responses(sample.path) == rows  # refused, not performed
            assert http.get(f"/api/quizzes/{quiz_id}").status_code == 200
            login = http.post("/api/auth/login", json={"email": sample.email, "password": PASSWORD})
            assert login.status_code == 200
        assert on == {"maintenance": True, "writes_in_flight": 0}
        assert svc.state.maintenance_file.exists()
        svc.restart()  # the cutover's switch: the freeze must hold across it
        with svc.http() as http:
            assert http.get("/admin/maintenance").json()["maintenance"] is True
            assert _frozen(http, quiz_id)
            off = http.post("/admin/maintenance", json={"enabled": False}).json()
            assert not _frozen(http, quiz_id)
    assert off == {"maintenance": False, "writes_in_flight": 0}
    assert count_responses(sample.path) == rows + 1


def test_the_file_and_the_redis_key_turn_it_on(sample: Sample, tmp_path: Path) -> None:
    with (
        redis_server(tmp_path / "redis") as redis_url,
        service(tmp_path / "svc", sample.url, redis_url) as svc,
        svc.http() as http,
    ):
        client = redis.Redis.from_url(redis_url)
        quiz_id = http.get("/api/quizzes", params={"limit": 1}).json()["ids"][0]
        svc.state.maintenance_file.write_text("on\n")
        assert _frozen(http, quiz_id)
        svc.state.maintenance_file.unlink()
        assert not _frozen(http, quiz_id)
        client.set("vendzz:maintenance", "1")
        assert http.get("/admin/maintenance").json()["maintenance"] is True
        assert _frozen(http, quiz_id)
        client.delete("vendzz:maintenance")
        assert not _frozen(http, quiz_id)


def test_the_redis_key_fails_closed_when_redis_cannot_be_read(
    sample: Sample, tmp_path: Path
) -> None:
    """A freeze set by the Redis key (a cutover's ``redis_key`` hook) must hold when Redis goes
    away: the service cannot know the key, so it refuses writes; reads go on."""
    with (
        redis_server(tmp_path / "redis") as redis_url,
        service(tmp_path / "svc", sample.url, redis_url) as svc,
        svc.http() as http,
    ):
        quiz_id = http.get("/api/quizzes", params={"limit": 1}).json()["ids"][0]
        redis.Redis.from_url(redis_url).set("vendzz:maintenance", "1")
        assert _frozen(http, quiz_id)
        rows = count_responses(sample.path)
        redis.Redis.from_url(redis_url).shutdown(nosave=True)
        frozen = [_frozen(http, quiz_id) for _ in range(3)]
        state = http.get("/admin/maintenance").json()
        read = http.get(f"/api/quizzes/{quiz_id}")
    assert frozen == [True, True, True]
    assert count_responses(sample.path) == rows  # refused, not performed
    assert state == {"maintenance": True, "writes_in_flight": 0}
    assert read.status_code == 200


def test_a_write_in_flight_is_counted_and_drains(sample: Sample, tmp_path: Path) -> None:
    """A write waiting for the SQLite lock is in flight; freezing refuses new writes, and the
    one in flight still commits once the lock is released (the cutover waits for zero)."""
    with (
        service(tmp_path / "svc", sample.url, VENDZZ_SQLITE_BUSY_TIMEOUT_MS="120000") as svc,
        svc.http() as http,
    ):
        quiz_id = http.get("/api/quizzes", params={"limit": 1}).json()["ids"][0]
        lock = sqlite3.connect(sample.path, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")  # hold the write lock: the service's write must wait
        result: dict[str, Any] = {}

        def write() -> None:
            with httpx.Client(base_url=svc.url, timeout=120) as client:
                result["resp"] = client.post(f"/api/quizzes/{quiz_id}/responses", json=WRITE)

        writer = threading.Thread(target=write)
        writer.start()
        try:
            wait_until(
                lambda: http.get("/admin/maintenance").json()["writes_in_flight"] == 1,
                "the write to be in flight",
            )
            frozen = http.post("/admin/maintenance", json={"enabled": True}).json()
            refused = http.post(f"/api/quizzes/{quiz_id}/responses", json=WRITE)
        finally:
            lock.execute("ROLLBACK")
            lock.close()
            writer.join(120)
        drained = http.get("/admin/maintenance").json()
    assert frozen == {"maintenance": True, "writes_in_flight": 1}
    assert refused.status_code == 503
    assert result["resp"].status_code == 201  # admitted before the freeze: it commits
    assert drained == {"maintenance": True, "writes_in_flight": 0}
    new_id = result["resp"].json()["id"]
    conn = sqlite3.connect(sample.path)
    try:
        assert conn.execute(
            "SELECT count(*) FROM quiz_responses WHERE id = ?", (new_id,)
        ).fetchone() == (1,)
    finally:
        conn.close()


def test_bad_admin_body_is_a_422(sample: Sample, tmp_path: Path) -> None:
    with service(tmp_path / "svc", sample.url) as svc, svc.http() as http:
        resp = http.post("/admin/maintenance", json={"enabled": "yes"})
        state = http.get("/admin/maintenance").json()
    assert resp.status_code == 422 and resp.json()["field"] == "enabled"
    assert state["maintenance"] is False


def test_a_write_is_one_transaction(sample: Sample, tmp_path: Path) -> None:
    """A response_variables row that fails takes its quiz_responses row with it: no 201."""
    conn = sqlite3.connect(sample.path)
    conn.execute(
        "CREATE TRIGGER boom BEFORE INSERT ON response_variables "
        "WHEN NEW.variableName = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END"
    )
    conn.commit()
    conn.close()
    with service(tmp_path / "svc", sample.url) as svc, svc.http() as http:
        quiz_id = http.get("/api/quizzes", params={"limit": 1}).json()["ids"][0]
        rows = count_responses(sample.path)
        failed = http.post(
            f"/api/quizzes/{quiz_id}/responses", json={"responses": {"fine": 1, "boom": 2}}
        )
        assert count_responses(sample.path) == rows
        fine = http.post(f"/api/quizzes/{quiz_id}/responses", json={"responses": {"fine": 1}})
    assert failed.status_code == 500 and failed.json() == {"error": "internal error"}
    assert fine.status_code == 201 and count_responses(sample.path) == rows + 1


def test_stop_lets_the_write_in_flight_finish(sample: Sample, tmp_path: Path) -> None:
    """ctl stop is graceful: SIGTERM, the write in flight commits and answers, then exit."""
    from examples.service import ctl

    with (
        service(tmp_path / "svc", sample.url, VENDZZ_SQLITE_BUSY_TIMEOUT_MS="120000") as svc,
        svc.http() as http,
    ):
        quiz_id = http.get("/api/quizzes", params={"limit": 1}).json()["ids"][0]
        lock = sqlite3.connect(sample.path, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")
        result: dict[str, Any] = {}

        def write() -> None:
            with httpx.Client(base_url=svc.url, timeout=120) as client:
                result["resp"] = client.post(f"/api/quizzes/{quiz_id}/responses", json=WRITE)

        writer = threading.Thread(target=write)
        stopper = threading.Thread(target=lambda: result.update(stop=ctl.stop(svc.state, 120)))
        writer.start()
        try:
            wait_until(
                lambda: http.get("/admin/maintenance").json()["writes_in_flight"] == 1,
                "the write to be in flight",
            )
            stopper.start()
            wait_until(
                lambda: "Shutting down" in svc.state.log_file.read_text(),
                "the service to receive SIGTERM",
            )
        finally:
            lock.execute("ROLLBACK")
            lock.close()
            writer.join(120)
            if stopper.is_alive() or stopper.ident is not None:
                stopper.join(120)
    assert result["resp"].status_code == 201
    assert result["stop"]["how"] == "terminated"
    conn = sqlite3.connect(sample.path)
    try:
        assert conn.execute(
            "SELECT count(*) FROM quiz_responses WHERE id = ?", (result["resp"].json()["id"],)
        ).fetchone() == (1,)
    finally:
        conn.close()
