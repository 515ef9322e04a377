"""The same scripted session gives the same answers on a SQLite file and on its PostgreSQL copy,
and each database stores the write in its own encodings."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.examples.service.conftest import PASSWORD, Sample
from tests.examples.service.helpers import service

ANSWERS = {
    "responses": [
        {
            "elementId": "e1",
            "elementType": "name",
            "pageId": "page1",
            "pageOrder": 0,
            "question": "Seu nome?",
            "answer": "Ana Souza",
        },
        {
            "elementId": "e2",
            "elementType": "email",
            "pageId": "page2",
            "pageOrder": 1,
            "answer": "ana@example.com",
        },
    ],
    "metadata": {"isComplete": True, "completionPercentage": 100, "ip": "127.0.0.1"},
}


def _session(url: str, email: str) -> tuple[dict[str, Any], str]:
    """Login, read, write, health: every answer that must not depend on the database."""
    import httpx

    out: dict[str, Any] = {}
    with httpx.Client(base_url=url, timeout=30) as http:
        ok = http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        out["login"] = (ok.status_code, ok.json()["user"])
        bad = http.post("/api/auth/login", json={"email": email, "password": "wrong"})
        out["login_bad"] = bad.status_code
        nobody = http.post("/api/auth/login", json={"email": "no@body.example", "password": "x"})
        out["login_unknown"] = nobody.status_code
        ids = http.get("/api/quizzes", params={"limit": 5}).json()["ids"]
        unpublished = http.get("/api/quizzes", params={"limit": 500, "published": 0}).json()
        out["ids"] = ids
        out["quizzes"] = {i: http.get(f"/api/quizzes/{i}").json() for i in ids}
        out["all_ids"] = unpublished["ids"]
        out["unknown"] = http.get("/api/quizzes/no-such-quiz").status_code
        created = http.post(f"/api/quizzes/{ids[0]}/responses", json=ANSWERS)
        out["write"] = (created.status_code, created.json()["variables"])
        new_id = created.json()["id"]
        health = http.get("/health")
        body = health.json()
        out["health"] = (
            health.status_code,
            body["status"],
            sorted(body),
            sorted(body["pool"]),
            sorted(body["cache"]),
            body["database"]["ok"],
        )
    return out, new_id


def test_same_session_same_answers_on_sqlite_and_its_postgres_copy(
    sample: Sample, pg_copy: str, tmp_path: Path
) -> None:
    with service(tmp_path / "lite", sample.url) as lite:
        on_sqlite, lite_id = _session(lite.url, sample.email)
    with service(tmp_path / "pg", pg_copy) as pg:
        on_pg, pg_id = _session(pg.url, sample.email)
    assert on_sqlite["login"][0] == 200
    assert on_sqlite["login_bad"] == on_sqlite["login_unknown"] == 401
    assert on_sqlite["unknown"] == 404
    assert on_sqlite["write"] == (201, 2)
    assert on_sqlite["health"][:2] == (200, "ok")
    assert len(on_sqlite["quizzes"]) == 5
    quiz = next(iter(on_sqlite["quizzes"].values()))
    assert quiz["isPublished"] is True  # 0/1 read as a boolean, as PostgreSQL holds it
    assert quiz["createdAt"].endswith("+00:00")  # epoch integers read as timestamptz
    assert isinstance(quiz["structure"], dict)  # JSON text read as JSON
    assert on_sqlite == on_pg
    _stored_on_sqlite(sample.path, lite_id)
    _stored_on_postgres(pg_copy, pg_id)


def test_quiz_json_is_what_warm_cache_would_store(
    sample: Sample, pg_copy: str, tmp_path: Path
) -> None:
    """The service's quiz JSON equals PostgreSQL's row_to_json (warm-cache's json encoding)."""
    with service(tmp_path / "lite", sample.url) as lite, lite.http() as http:
        ids = http.get("/api/quizzes", params={"limit": 20, "published": 0}).json()["ids"]
        served = {i: http.get(f"/api/quizzes/{i}").json() for i in ids}
    with psycopg.connect(pg_copy) as conn:
        conn.execute("SET TimeZone TO 'UTC'")
        rows = conn.execute(
            "SELECT id, row_to_json(q)::text FROM quizzes q WHERE id = ANY(%s)", [ids]
        ).fetchall()
    assert len(rows) == len(ids) == 20
    for quiz_id, text in rows:
        assert served[quiz_id] == json.loads(text), quiz_id


def _stored_on_sqlite(path: Path, response_id: str) -> None:
    conn = sqlite3.connect(path)
    try:
        row = conn.execute(
            "SELECT typeof(submittedAt), submittedAt, responses, metadata FROM quiz_responses "
            "WHERE id = ?",
            (response_id,),
        ).fetchone()
        variables = conn.execute(
            "SELECT variableName, variableValue, typeof(createdAt), pageOrder "
            "FROM response_variables WHERE responseId = ? ORDER BY pageOrder",
            (response_id,),
        ).fetchall()
    finally:
        conn.close()
    assert row is not None
    assert row[0] == "integer" and row[1] < 100_000_000_000  # epoch seconds, as the column holds
    assert json.loads(row[2]) == ANSWERS["responses"] and " " not in row[3]  # compact JSON text
    assert [v[0] for v in variables] == ["e1", "e2"]
    assert json.loads(variables[0][1]) == "Ana Souza"  # a JSON column of the data model
    assert variables[0][2] == "integer"
    assert len(response_id) == 21


def _stored_on_postgres(url: str, response_id: str) -> None:
    with psycopg.connect(url) as conn:
        types = dict(
            conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = 'quiz_responses'"
            ).fetchall()
        )
        row = conn.execute(
            'SELECT "submittedAt", responses, metadata FROM quiz_responses WHERE id = %s',
            [response_id],
        ).fetchone()
        count = conn.execute(
            'SELECT count(*) FROM response_variables WHERE "responseId" = %s', [response_id]
        ).fetchone()
    assert types["submittedAt"] == "timestamp with time zone"
    assert types["responses"] == "jsonb"
    assert row is not None and row[0].tzinfo is not None
    assert row[1] == ANSWERS["responses"] and row[2]["isComplete"] is True
    assert count == (2,)


@pytest.mark.parametrize("schema", ["vendzz_app"])
def test_postgres_schema_from_env_or_search_path(
    sample: Sample, pg_url: str, tmp_path: Path, schema: str
) -> None:
    """A copy into another schema is found through VENDZZ_SCHEMA or the URL's search_path."""
    from tests.copy.helpers import copy

    copy(sample.path, pg_url, tmp_path / "work", workers=1, schema_name=schema)
    with service(tmp_path / "a", pg_url, VENDZZ_SCHEMA=schema) as svc, svc.http() as http:
        assert http.get("/health").json()["database"]["schema"] == schema
        assert http.get("/api/quizzes", params={"limit": 1}).json()["ids"]
    search_path = f"{pg_url}?options=-csearch_path%3D{schema}"
    with service(tmp_path / "b", search_path) as svc, svc.http() as http:
        assert http.get("/health").json()["database"]["schema"] == schema
        assert http.get("/api/quizzes", params={"limit": 1}).json()["ids"]


def test_a_renaming_mapping_stored_by_the_copy_is_followed(
    sample: Sample, pg_url: str, tmp_path: Path
) -> None:
    """A copy made with a snake_case mapping (quizId -> quiz_id): the service finds the renames
    in the copy's state schema and answers with the data model's names, as on SQLite."""
    from tests.copy.helpers import copy
    from vendzz_migrate.typemap.service import infer_file

    mapping = tmp_path / "mapping.yaml"
    infer_file(sample.path, mapping, snake_case=True)
    copy(sample.path, pg_url, tmp_path / "work", workers=1, mapping_path=mapping)
    with psycopg.connect(pg_url) as conn:
        columns = {
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'quiz_responses'"
            ).fetchall()
        }
    assert {"quiz_id", "submitted_at"} <= columns
    with service(tmp_path / "lite", sample.url) as lite:
        on_sqlite, _ = _session(lite.url, sample.email)
    with service(tmp_path / "pg", pg_url) as pg:
        on_pg, new_id = _session(pg.url, sample.email)
    assert on_sqlite == on_pg
    with psycopg.connect(pg_url) as conn:
        row = conn.execute("SELECT quiz_id FROM quiz_responses WHERE id = %s", [new_id]).fetchone()
    assert row == (on_pg["ids"][0],)
