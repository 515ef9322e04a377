"""warm-cache on a real standalone Redis, values read back and compared with PostgreSQL rows."""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path

import psycopg
import pytest
import redis

from tests.cache.cache_helpers import Cli, check_hash, check_json, rows
from tests.cache.cache_servers import Servers
from vendzz_migrate import events
from vendzz_migrate.cache import WarmOptions, load_spec, query, render, warm
from vendzz_migrate.settings import Settings, load_settings

USER_FIELDS_EXCLUDED = {"password", "refreshToken", "twoFactorSecret", "twoFactorBackupCodes",
                        "telegramBotToken"}  # fmt: skip
RECENT = "\"date\" >= to_char((now() AT TIME ZONE 'UTC')::date - 30, 'YYYY-MM-DD')"


def keys(client: redis.Redis, pattern: str) -> set[str]:
    return {k.decode() for k in client.scan_iter(match=pattern, count=1000)}


def test_default_spec_writes_what_postgres_holds(cli: Cli, vendzz_pg: str, redis_url: str) -> None:
    code, out, err = cli("warm-cache")
    assert code == 0, err
    assert "session: table 'sessions' not found in schema 'public'" in out
    client = redis.Redis.from_url(redis_url)

    quizzes = rows(vendzz_pg, 'SELECT * FROM "quizzes" WHERE "isPublished"')
    assert len(quizzes) == 200
    assert keys(client, "vendzz:quiz:q*") - keys(client, "*:analytics:*") == {
        f"vendzz:quiz:{q['id']}" for q in quizzes
    }
    for quiz in quizzes:
        check_json(client, f"vendzz:quiz:{quiz['id']}", quiz)
    assert json.loads(client.get("vendzz:quiz:q00051"))["structure"] == "invalid"  # type: ignore[arg-type]

    users = rows(vendzz_pg, 'SELECT * FROM "users"')
    fields = [f for f in users[0] if f not in USER_FIELDS_EXCLUDED]
    for user in users:
        check_hash(client, f"vendzz:user:{user['id']}", user, fields)

    plans = rows(vendzz_pg, 'SELECT * FROM "subscription_plans" WHERE "isActive"')
    assert keys(client, "vendzz:plan:*") == {"vendzz:plan:free", "vendzz:plan:premium"}
    for plan in plans:
        check_hash(client, f"vendzz:plan:{plan['id']}", plan, list(plan))
    assert client.hget("vendzz:plan:premium", "price") == b"49.90"

    recent = rows(vendzz_pg, f'SELECT * FROM "quiz_analytics" WHERE {RECENT}')
    assert len(keys(client, "vendzz:quiz:*:analytics:*")) == len(recent) > 0
    for row in recent:
        key = f"vendzz:quiz:{row['quizId']}:analytics:{row['date']}"
        check_hash(client, key, row, ["views", "completions", "conversionRate"])


def test_default_spec_degrades_on_an_older_schema(
    cli: Cli, vendzz_pg: str, redis_url: str, tmp_path: Path
) -> None:
    """No subscription_plans, no quiz_analytics (an older Vendzz file): those caches are
    reported as skipped, the others are written, exit 0."""
    with psycopg.connect(vendzz_pg, autocommit=True) as conn:
        conn.execute('DROP TABLE "subscription_plans", "quiz_analytics"')
    report_path = tmp_path / "r.json"
    code, out, err = cli("warm-cache", "--json", str(report_path))
    assert code == 0, err
    assert "plan: table 'subscription_plans' not found in schema 'public'" in out
    status = {c["name"]: c["status"] for c in json.loads(report_path.read_text())["caches"]}
    assert status == {"quiz": "written", "user": "written", "plan": "skipped",
                      "quiz-analytics": "skipped", "session": "skipped"}  # fmt: skip
    client = redis.Redis.from_url(redis_url)
    assert len(keys(client, "vendzz:user:*")) == 300
    assert len(keys(client, "vendzz:quiz:*")) == 200
    assert not keys(client, "vendzz:plan:*")


def test_ttls_fall_inside_the_jitter_window(cli: Cli, redis_url: str) -> None:
    assert cli("warm-cache", "--only", "user,quiz")[0] == 0
    client = redis.Redis.from_url(redis_url)
    for pattern, (ttl, jitter) in {
        "vendzz:user:*": (3600, 600),
        "vendzz:quiz:q*": (86400, 7200),
    }.items():
        ttls = [client.ttl(k) for k in keys(client, pattern)]
        assert ttls and all(ttl - jitter - 5 <= t <= ttl + jitter for t in ttls), pattern
        assert len(set(ttls)) > 10, "TTLs are not spread: keys would expire together"


def test_rerun_refreshes_shrinks_hashes_and_prunes_stale_keys(
    cli: Cli, vendzz_pg: str, redis_url: str, tmp_path: Path
) -> None:
    assert cli("warm-cache")[0] == 0
    client = redis.Redis.from_url(redis_url)
    before = client.dbsize()
    client.expire("vendzz:user:u00010", 5)
    with psycopg.connect(vendzz_pg, autocommit=True) as conn:
        conn.execute(
            'UPDATE "users" SET "lastName" = NULL, "firstName" = \'Bia\' WHERE "id" = \'u00010\''
        )
        conn.execute('DELETE FROM "users" WHERE "id" = \'u00011\'')
        conn.execute('UPDATE "quizzes" SET "isPublished" = false WHERE "id" = \'q00001\'')
        conn.execute('UPDATE "quizzes" SET "title" = \'New\' WHERE "id" = \'q00002\'')
    report_path = tmp_path / "r.json"
    code, _, err = cli("warm-cache", "--json", str(report_path))
    assert code == 0, err
    report = json.loads(report_path.read_text())
    pruned = {c["name"]: c["pruned"] for c in report["caches"]}
    assert pruned == {"quiz": 1, "user": 1, "plan": 0, "quiz-analytics": 0, "session": 0}
    assert client.dbsize() == before - 2
    assert client.hget("vendzz:user:u00010", "firstName") == b"Bia"
    assert client.hget("vendzz:user:u00010", "lastName") is None  # the field shrank away
    assert client.ttl("vendzz:user:u00010") > 3000  # TTL refreshed
    assert not client.exists("vendzz:user:u00011", "vendzz:quiz:q00001")
    assert json.loads(client.get("vendzz:quiz:q00002"))["title"] == "New"  # type: ignore[arg-type]
    assert client.exists("vendzz:quiz:q00002:analytics:x") == 0
    assert len(keys(client, "vendzz:quiz:*:analytics:*")) > 0  # not pruned by the quiz cache


def test_dry_run_writes_nothing_and_reports_counts(
    cli: Cli, redis_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "dry.json"
    code, out, err = cli("warm-cache", "--dry-run", "--json", str(path))
    assert code == 0, err
    assert redis.Redis.from_url(redis_url).dbsize() == 0
    report = json.loads(path.read_text())
    by_name = {c["name"]: c for c in report["caches"]}
    assert report["dry_run"] is True
    assert by_name["quiz"]["rows"] == by_name["quiz"]["keys"] == 200
    assert by_name["quiz"]["sample_keys"][0].startswith("vendzz:quiz:q")
    assert by_name["user"]["estimated_bytes"] > 300 * 150
    assert by_name["session"]["status"] == "skipped"
    assert "sample keys: vendzz:plan:" in out


def test_only_limits_the_run_to_named_caches(cli: Cli, redis_url: str) -> None:
    code, out, _ = cli("warm-cache", "--only", "plan")
    assert code == 0
    client = redis.Redis.from_url(redis_url)
    assert keys(client, "*") == {"vendzz:plan:free", "vendzz:plan:premium"}
    assert "plan" in out
    assert "quiz" not in out


def test_sessions_use_their_own_ttl_and_skip_expired(
    cli: Cli, vendzz_pg: str, redis_url: str
) -> None:
    with psycopg.connect(vendzz_pg, autocommit=True) as conn:
        conn.execute(
            'CREATE TABLE "sessions" ("sid" text PRIMARY KEY, "sess" jsonb, "expire" timestamp)'
        )
        conn.execute(
            "INSERT INTO sessions VALUES"
            " ('s1', '{\"user\": \"u1\"}', (now() AT TIME ZONE 'UTC') + interval '600 s'),"
            " ('s2', '{}', (now() AT TIME ZONE 'UTC') - interval '1 s')"
        )
    code, _, err = cli("warm-cache", "--only", "session")
    assert code == 0, err
    client = redis.Redis.from_url(redis_url)
    assert keys(client, "*") == {"vendzz:sess:s1"}
    assert json.loads(client.get("vendzz:sess:s1")) == {"user": "u1"}  # type: ignore[arg-type]
    assert 590 <= client.ttl("vendzz:sess:s1") <= 601


def test_custom_spec_with_fields_order_and_max_keys(
    cli: Cli, redis_url: str, tmp_path: Path
) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "caches:\n  - name: hot\n    key: 'hot:{id}'\n    query: SELECT * FROM quizzes\n"
        "    fields: [title, updatedAt]\n    order_by: '\"updatedAt\" DESC'\n    max_keys: 5\n"
    )
    assert cli("warm-cache", "--spec", str(spec))[0] == 0
    client = redis.Redis.from_url(redis_url)
    assert keys(client, "*") == {f"hot:q{n:05d}" for n in range(246, 251)}
    assert set(json.loads(client.get("hot:q00250"))) == {"title", "updatedAt"}  # type: ignore[arg-type]


@pytest.mark.parametrize("streams", [1, 2, 3, 4])
def test_streams_split_a_cache_without_losing_or_repeating_a_row(
    cli: Cli, vendzz_pg: str, redis_url: str, tmp_path: Path, streams: int
) -> None:
    """Split by key hash over ``streams`` connections: every row once; with max_keys cutting
    through ties of order_by (ten rows per redirectDelay value here), every stream must cut
    the same rows, so exactly max_keys keys, the same ones whatever the number of streams."""
    with psycopg.connect(vendzz_pg, autocommit=True) as conn:
        conn.execute('UPDATE "quizzes" SET "redirectDelay" = (substr("id", 2)::int - 1) / 10')
    spec = tmp_path / "s.yaml"
    spec.write_text(
        f"defaults: {{streams: {streams}}}\ncaches:\n"
        "  - name: all\n    key: 'all:{id}'\n    query: SELECT * FROM quizzes\n"
        "  - name: top\n    key: 'top:{id}'\n    query: SELECT * FROM quizzes\n"
        "    fields: [title]\n    order_by: '\"redirectDelay\" DESC'\n    max_keys: 25\n"
    )
    report_path = tmp_path / "r.json"
    code, _, err = cli("warm-cache", "--spec", str(spec), "--json", str(report_path))
    assert code == 0, err
    client = redis.Redis.from_url(redis_url)
    assert keys(client, "all:*") == {f"all:q{n:05d}" for n in range(1, 251)}
    top = keys(client, "top:*")
    assert top >= {f"top:q{n:05d}" for n in range(231, 251)}  # delays 24 and 23: 20 rows
    assert len(top) == 25  # and 5 of the 10 rows of delay 22, the same 5 for every stream
    assert top == {f"top:q{n:05d}" for n in range(231, 251)} | {
        f"top:q{n:05d}" for n in range(221, 226)
    }
    written = {c["name"]: c["keys"] for c in json.loads(report_path.read_text())["caches"]}
    assert written == {"all": 250, "top": 25}


def test_redis_max_connections_is_respected(vendzz_pg: str, servers: Servers) -> None:
    url = servers.standalone()
    probe = redis.Redis.from_url(url)
    before = int(probe.info("stats")["total_connections_received"])
    settings = load_settings(database_url=vendzz_pg, redis_url=url, redis_max_connections=1)
    report = warm(WarmOptions.from_settings(settings))
    after = int(probe.info("stats")["total_connections_received"])
    assert report.keys == probe.dbsize() > 500
    assert after - before == 1  # one connection for INFO, SCRIPT LOAD, every lane and DBSIZE


def test_rows_with_a_null_key_column_are_skipped_and_counted(
    cli: Cli, redis_url: str, tmp_path: Path
) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "caches:\n  - name: names\n    key: 'n:{id}:{lastName}'\n    encoding: text\n"
        "    fields: [email]\n    query: SELECT * FROM users\n"
    )
    code, out, err = cli("warm-cache", "--spec", str(spec), "--json", "-")
    assert code == 0, err
    cache = json.loads(out)["caches"][0]
    assert (cache["rows"], cache["skipped_rows"], cache["keys"]) == (300, 150, 150)
    client = redis.Redis.from_url(redis_url)
    assert client.dbsize() == 150
    assert client.get("n:u00002:Silva") == b"user2@example.com"


def test_estimate_counts_the_rows_max_keys_keeps(cli: Cli, tmp_path: Path) -> None:
    """Rows are counted unsorted when ``max_keys`` cuts nothing; when it cuts, the count is of
    the rows the cut keeps (here 5 by id, 3 of them with a lastName, i.e. a key)."""
    spec = tmp_path / "s.yaml"
    cache = (
        "  - name: {0}\n    key: '{0}:{{id}}:{{lastName}}'\n    encoding: text\n"
        "    fields: [email]\n    query: SELECT * FROM users\n"
        "    order_by: '\"id\" DESC'\n    max_keys: {1}\n"
    )
    spec.write_text("caches:\n" + cache.format("cut", 5) + cache.format("all", 1000))
    code, out, err = cli("warm-cache", "--spec", str(spec), "--dry-run", "--json", "-")
    assert code == 0, err
    counts = {c["name"]: (c["rows"], c["keys"]) for c in json.loads(out)["caches"]}
    assert counts == {"cut": (5, 3), "all": (300, 150)}


def test_streams_fetch_a_small_first_batch_then_full_batches() -> None:
    """Redis gets rows after 1,000 rendered, not a whole batch; later batches are full size."""
    assert list(islice(render.ramp(5000), 6)) == [1000, 2000, 4000, 5000, 5000, 5000]
    assert list(islice(render.ramp(500), 3)) == [500, 500, 500]


def test_one_set_of_stream_connections_renders_every_cache(
    vendzz_pg: str, servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run opens ``streams`` + 1 PostgreSQL sessions, not ``streams`` more per cache (the
    default spec writes four caches here)."""
    opened: list[bool] = []
    connect = query.connect

    def counting(settings: Settings, *, raw: bool = False) -> query.PgConn:
        opened.append(raw)
        return connect(settings, raw=raw)

    monkeypatch.setattr(query, "connect", counting)
    settings = load_settings(database_url=vendzz_pg, redis_url=servers.standalone())
    report = warm(WarmOptions.from_settings(settings))
    assert [c.name for c in report.caches if c.status == "written"] == [
        "quiz", "user", "plan", "quiz-analytics"
    ]  # fmt: skip
    assert opened == [False, True, True]


@pytest.mark.parametrize("streams", [1, 2])
def test_kept_stream_sessions_lost_between_caches_are_replaced(
    vendzz_pg: str, servers: Servers, monkeypatch: pytest.MonkeyPatch, streams: int
) -> None:
    """The stream sessions kept after the first cache are terminated (as by a server restart):
    the next cache opens new ones and every cache is written."""
    opened: list[bool] = []
    connect = query.connect

    def counting(settings: Settings, *, raw: bool = False) -> query.PgConn:
        opened.append(raw)
        return connect(settings, raw=raw)

    def kill_sessions_after_quiz(event: events.Event) -> None:
        if event.kind == "progress" and event.fields == {"action": "finish", "task": "quiz"}:
            with psycopg.connect(vendzz_pg, autocommit=True) as conn:
                conn.execute(
                    "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )

    monkeypatch.setattr(query, "connect", counting)
    settings = load_settings(database_url=vendzz_pg, redis_url=servers.standalone())
    spec = load_spec(None)
    defaults = spec.defaults.model_copy(update={"streams": streams})
    spec = spec.model_copy(update={"defaults": defaults})
    opts = WarmOptions.from_settings(settings, spec=spec)
    report = warm(opts, on_event=kill_sessions_after_quiz)
    assert [c.name for c in report.caches if c.status == "written"] == [
        "quiz", "user", "plan", "quiz-analytics"
    ]  # fmt: skip
    assert opened == [False] + [True] * 2 * streams
