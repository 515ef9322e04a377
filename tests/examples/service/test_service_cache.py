"""The read-through cache hits what warm-cache wrote; the limiter blocks the N+1th login;
Redis going away costs the cache, never an answer."""

from __future__ import annotations

from pathlib import Path

import redis

from tests.examples.service.conftest import PASSWORD, Sample
from tests.examples.service.helpers import redis_server, service


def _stats(url: str) -> tuple[int, int]:
    info = redis.Redis.from_url(url).info("stats")
    return int(info["keyspace_hits"]), int(info["keyspace_misses"])


def test_a_warmed_cache_is_hit_and_health_agrees_with_redis(pg_copy: str, tmp_path: Path) -> None:
    from vendzz_migrate.cache.spec import load_spec
    from vendzz_migrate.cache.warm import WarmOptions, warm
    from vendzz_migrate.settings import load_settings

    with redis_server(tmp_path / "redis") as redis_url:
        settings = load_settings(database_url=pg_copy, redis_url=redis_url)
        report = warm(WarmOptions.from_settings(settings, spec=load_spec(), only=["quiz"]))
        assert sum(c.keys for c in report.caches) > 0
        client = redis.Redis.from_url(redis_url)
        warmed = sorted(
            k.decode().removeprefix("vendzz:quiz:") for k in client.scan_iter("vendzz:quiz:*")
        )
        with service(tmp_path / "svc", pg_copy, redis_url) as svc, svc.http() as http:
            everything = http.get("/api/quizzes", params={"limit": 500, "published": 0})
            cold = sorted(set(everything.json()["ids"]) - set(warmed))
            assert warmed and cold, "the sample has published and unpublished quizzes"
            stored = {q: client.get(f"vendzz:quiz:{q}") for q in warmed}
            before = _stats(redis_url)
            for quiz_id in warmed:
                resp = http.get(f"/api/quizzes/{quiz_id}")
                assert resp.headers["X-Cache"] == "HIT"
                assert resp.content == stored[quiz_id]
            assert http.get(f"/api/quizzes/{cold[0]}").headers["X-Cache"] == "MISS"
            after = _stats(redis_url)  # before /health, whose maintenance check is an EXISTS
            cache = http.get("/health").json()["cache"]
            hits, misses = (a - b for a, b in zip(after, before, strict=True))
    assert (cache["hits"], cache["misses"]) == (hits, misses) == (len(warmed), 1)
    assert cache["hit_rate"] == round(hits / (hits + misses), 4)


def test_a_miss_fills_the_cache_on_warm_cache_key_and_ttl(sample: Sample, tmp_path: Path) -> None:
    with redis_server(tmp_path / "redis") as redis_url:
        client = redis.Redis.from_url(redis_url)
        with service(tmp_path / "svc", sample.url, redis_url) as svc, svc.http() as http:
            quiz_id = http.get("/api/quizzes", params={"limit": 1}).json()["ids"][0]
            first = http.get(f"/api/quizzes/{quiz_id}")
            second = http.get(f"/api/quizzes/{quiz_id}")
        ttl = client.ttl(f"vendzz:quiz:{quiz_id}")
    assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("MISS", "HIT")
    assert first.json() == second.json()
    assert 86400 - 7200 <= ttl <= 86400 + 7200  # the quiz cache's ttl_s +- jitter_s


def test_the_limiter_blocks_the_login_after_the_limit(sample: Sample, tmp_path: Path) -> None:
    with redis_server(tmp_path / "redis") as redis_url:
        client = redis.Redis.from_url(redis_url)
        with (
            service(
                tmp_path / "svc",
                sample.url,
                redis_url,
                VENDZZ_LOGIN_LIMIT="3",
                VENDZZ_LOGIN_WINDOW_S="600",
            ) as svc,
            svc.http() as http,
        ):
            body = {"email": sample.email, "password": PASSWORD}
            codes = [http.post("/api/auth/login", json=body).status_code for _ in range(4)]
            blocked = http.post("/api/auth/login", json=body)
            other = http.post("/api/auth/login", json={"email": "x@y.example", "password": "z"})
        key = f"vendzz:ratelimit:login:{sample.email.lower()}"
        count, ttl = int(client.get(key) or 0), client.ttl(key)
    assert codes == [200, 200, 200, 429]
    assert blocked.status_code == 429 and 0 < int(blocked.headers["Retry-After"]) <= 600
    assert other.status_code == 401  # another e-mail has its own window
    assert count == 5 and 0 < ttl <= 600  # INCR per attempt, EXPIRE set on the first


def test_without_redis_the_limiter_runs_in_process(sample: Sample, tmp_path: Path) -> None:
    with service(tmp_path / "svc", sample.url, VENDZZ_LOGIN_LIMIT="2") as svc, svc.http() as http:
        body = {"email": sample.email, "password": "wrong"}
        codes = [http.post("/api/auth/login", json=body).status_code for _ in range(3)]
        health = http.get("/health").json()
    assert codes == [401, 401, 429]
    assert health["cache"]["redis"] == "off" and health["status"] == "ok"


def test_redis_down_answers_from_the_database_and_health_degrades(
    sample: Sample, tmp_path: Path
) -> None:
    """Without the maintenance key (which fails closed, see test_service_maintenance) a Redis
    that goes away stops nothing: reads, writes and logins are served by the database."""
    with (
        redis_server(tmp_path / "redis") as redis_url,
        service(tmp_path / "svc", sample.url, redis_url, VENDZZ_MAINTENANCE_KEY="off") as svc,
        svc.http() as http,
    ):
        quiz_id = http.get("/api/quizzes", params={"limit": 1}).json()["ids"][0]
        assert http.get(f"/api/quizzes/{quiz_id}").status_code == 200
        assert http.get("/health").json()["status"] == "ok"
        redis.Redis.from_url(redis_url).shutdown(nosave=True)
        quiz = http.get(f"/api/quizzes/{quiz_id}")
        write = http.post(f"/api/quizzes/{quiz_id}/responses", json={"responses": {"a": 1}})
        login = http.post("/api/auth/login", json={"email": sample.email, "password": PASSWORD})
        health = http.get("/health")
    assert quiz.status_code == 200 and quiz.headers["X-Cache"] == "MISS"
    assert write.status_code == 201 and login.status_code == 200
    assert health.status_code == 200
    assert health.json()["status"] == "degraded" and health.json()["cache"]["redis"] == "down"
