"""Bad input gets a 4xx naming the field; a database that goes away is a 503 and a degraded
/health (never a hang), and the service recovers when it comes back; bad settings stop the
start with one line and a documented exit code."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.examples.service.conftest import Sample
from tests.examples.service.helpers import Proxy, count_responses, pg_port, service, via_port

ROOT = Path(__file__).resolve().parents[3]


def test_bad_input_is_a_4xx_that_names_the_field(sample: Sample, tmp_path: Path) -> None:
    with service(tmp_path / "svc", sample.url) as svc, svc.http() as http:
        quiz_id = http.get("/api/quizzes", params={"limit": 1}).json()["ids"][0]
        rows = count_responses(sample.path)
        post = f"/api/quizzes/{quiz_id}/responses"
        cases = {
            "body": http.post(post, content=b"{not json", headers={"content-type": "x"}),
            "responses": http.post(post, json={"metadata": {}}),
            "responses.0": http.post(post, json={"responses": [1]}),
            "metadata": http.post(post, json={"responses": {}, "metadata": "x"}),
            "email": http.post("/api/auth/login", json={"password": "x"}),
            "limit": http.get("/api/quizzes", params={"limit": "many"}),
        }
        for field, resp in cases.items():
            assert resp.status_code == 422, (field, resp.text)
            assert resp.json()["field"] == field
        unknown = http.post("/api/quizzes/no-such-quiz/responses", json={"responses": {"a": 1}})
        assert unknown.status_code == 404
        assert http.get("/api/quizzes/no-such-quiz").json()["error"] == "quiz not found"
        assert count_responses(sample.path) == rows  # nothing written by any of them


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_values_postgresql_cannot_store_are_a_422_on_both(
    backend: str, sample: Sample, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A NUL character or a NaN / Infinity number is refused at the door (422 naming the
    field) on both databases: PostgreSQL's text and jsonb cannot hold them (a 500 there), and
    SQLite would store what the copy then has to quarantine."""
    url = sample.url if backend == "sqlite" else request.getfixturevalue("pg_copy")
    with service(tmp_path / "svc", url) as svc, svc.http() as http:
        quiz_id = http.get("/api/quizzes", params={"limit": 1}).json()["ids"][0]
        post = f"/api/quizzes/{quiz_id}/responses"
        cases = {
            "responses.a": http.post(post, json={"responses": {"a": "x\u0000y"}}),
            "responses.0.answer": http.post(post, json={"responses": [{"answer": "\u0000"}]}),
            "metadata.k": http.post(post, json={"responses": {}, "metadata": {"k": "\u0000"}}),
            "country": http.post(post, json={"responses": {}, "country": "B\u0000R"}),
            "email": http.post("/api/auth/login", json={"email": "a\u0000@b.c", "password": "x"}),
            "body": http.post(post, content=b'{"responses": {"a": NaN}}'),
        }
        huge = http.post(post, content=b'{"responses": {"a": 1e999}}')  # Infinity as a float
        assert huge.status_code == 422 and huge.json()["field"] == "body", huge.text
        for field, resp in cases.items():
            assert resp.status_code == 422, (field, resp.text)
            assert resp.json()["field"] == field, resp.text
        assert http.get("/api/quizzes/a%00b").status_code == 404
        assert http.post("/api/quizzes/a%00b/responses", json={"responses": {}}).status_code == 404
        assert http.post(post, json={"responses": {"a": "fine"}}).status_code == 201


def test_database_going_away_is_a_503_and_health_degrades_then_recovers(
    pg_copy: str, tmp_path: Path
) -> None:
    proxy = Proxy(pg_port(pg_copy))
    try:
        url = via_port(pg_copy, proxy.port)
        with (
            service(tmp_path / "svc", url) as svc,
            httpx.Client(base_url=svc.url, timeout=20) as http,
        ):
            quiz_id = http.get("/api/quizzes", params={"limit": 1}).json()["ids"][0]
            proxy.cut()
            read = http.get(f"/api/quizzes/{quiz_id}")
            write = http.post(f"/api/quizzes/{quiz_id}/responses", json={"responses": {"a": 1}})
            health = http.get("/health")
            proxy.restore()
            after = http.get(f"/api/quizzes/{quiz_id}")
            healthy = http.get("/health")
    finally:
        proxy.close()
    assert (read.status_code, write.status_code) == (503, 503)
    assert read.json()["error"] == "database unavailable" and read.headers["Retry-After"] == "1"
    assert health.status_code == 503
    assert health.json()["status"] == "degraded" and health.json()["database"]["ok"] is False
    assert after.status_code == 200 and healthy.json()["status"] == "ok"


def _start(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    return subprocess.run(
        [sys.executable, "-m", "examples.service"],
        cwd=ROOT,
        timeout=120,
        env={**clean, "PORT": "1", **env},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(("env", "reason"), [
    ({}, "DATABASE_URL is not set"),
    ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL must be"),
    ({"DATABASE_URL": "sqlite:///{tmp}/missing.db"}, "no SQLite file at"),
    ({"DATABASE_URL": "sqlite:///{tmp}/empty.db"}, "no table 'quiz_responses'"),
    ({"DATABASE_URL": "sqlite:///{tmp}/empty.db", "REDIS_URL": "foo://x"}, "invalid REDIS_URL"),
    ({"DATABASE_URL": "sqlite:///{tmp}/empty.db", "PGPOOL_MAX_CONNECTIONS": "lots"},
     "PGPOOL_MAX_CONNECTIONS='lots' is not an integer"),
])  # fmt: skip
def test_bad_settings_stop_the_start_with_one_line(
    tmp_path: Path, env: dict[str, str], reason: str
) -> None:
    empty = sqlite3.connect(tmp_path / "empty.db")
    empty.execute("CREATE TABLE users (id TEXT PRIMARY KEY)")
    empty.close()
    done = _start({k: v.format(tmp=tmp_path) for k, v in env.items()})
    assert done.returncode == 4, done.stderr
    assert reason in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_port_in_use_is_exit_7_like_ctl(sample: Sample) -> None:
    """uvicorn's own 3 would read as SOURCE (a bad SQLite file) in the project's table."""
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        done = _start({"DATABASE_URL": sample.url, "PORT": str(held.getsockname()[1])})
    assert done.returncode == 7, done.stderr
    assert "address already in use" in done.stderr and "Traceback" not in done.stderr
