"""warm-cache against a real 3-master Redis Cluster started from redis-server binaries."""

from __future__ import annotations

import json

import psycopg
import pytest
import redis
from redis.cluster import RedisCluster

from tests.cache.cache_helpers import Cli, check_hash, check_json, rows
from tests.cache.cache_servers import Servers, cluster_info
from tests.support import wait_until
from vendzz_migrate.cache import WarmOptions, load_spec, warm
from vendzz_migrate.cache.redis_io import key_slot, open_target
from vendzz_migrate.cache.writer import Writer
from vendzz_migrate.errors import ExitCode
from vendzz_migrate.settings import load_settings


def set_command(key: str) -> tuple[bytes, bytes]:
    """A ready RESP ``SET key v``, as PostgreSQL renders them for the writer (UTF-8 bytes)."""
    raw = key.encode()
    return raw, b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\nv\r\n" % (len(raw), raw)


def all_keys(nodes: list[str]) -> dict[str, set[str]]:
    return {u: {k.decode() for k in redis.Redis.from_url(u).scan_iter(count=1000)} for u in nodes}


def test_key_slot_matches_cluster_keyslot(cluster_url: str) -> None:
    node = redis.Redis.from_url(cluster_url)
    for key in ["vendzz:quiz:q00001", "{u1}:a", "a{}b", "ção", *(f"k{i}" for i in range(200))]:
        assert key_slot(key.encode()) == node.execute_command("CLUSTER KEYSLOT", key), key


def test_warm_spreads_over_every_master_and_matches_postgres(
    cli: Cli, vendzz_pg: str, cluster_url: str, cluster_nodes: list[str]
) -> None:
    code, out, err = cli("warm-cache", "--redis", cluster_url)
    assert code == 0, err
    assert "[cluster]" in out
    per_node = all_keys(cluster_nodes)
    assert all(len(keys) > 100 for keys in per_node.values()), {
        u: len(k) for u, k in per_node.items()
    }
    client = RedisCluster.from_url(cluster_url)
    quizzes = rows(vendzz_pg, 'SELECT * FROM "quizzes" WHERE "isPublished"')
    for quiz in quizzes:
        check_json(client, f"vendzz:quiz:{quiz['id']}", quiz)  # type: ignore[arg-type]
    for plan in rows(vendzz_pg, 'SELECT * FROM "subscription_plans" WHERE "isActive"'):
        check_hash(client, f"vendzz:plan:{plan['id']}", plan, list(plan))  # type: ignore[arg-type]
    total = sum(len(k) for k in per_node.values())

    with psycopg.connect(vendzz_pg, autocommit=True) as conn:
        conn.execute("DELETE FROM quizzes WHERE id IN ('q00001', 'q00002')")
    code, out, err = cli("warm-cache", "--redis", cluster_url, "--json", "-")
    assert code == 0, err
    report = json.loads(out)
    assert report["mode"] == "cluster" and len(report["nodes"]) == 3
    assert {c["name"]: c["pruned"] for c in report["caches"]}["quiz"] == 2
    assert report["keys"] == total - 2 == sum(len(k) for k in all_keys(cluster_nodes).values())
    assert not client.exists("vendzz:quiz:q00001") and not client.exists("vendzz:quiz:q00002")


def test_stale_topology_is_followed_through_moved(vendzz_pg: str, cluster_url: str) -> None:
    settings = load_settings(database_url=vendzz_pg, redis_url=cluster_url)
    spec = load_spec(None)
    target = open_target(settings, spec.client)
    try:
        wrong = sorted(target.nodes)
        target.slot_owner = [wrong[(wrong.index(o) + 1) % 3] for o in target.slot_owner]
        rows_ = [set_command(f"k{i}") for i in range(500)]
        result = Writer(target, spec.client, lambda _n: None).write([rows_[:250], rows_[250:]])
    finally:
        target.close()
    assert (result.keys, result.errors) == (500, 0)
    client = RedisCluster.from_url(cluster_url)
    assert all(client.get(f"k{i}") == b"v" for i in range(500))


def test_dropped_connection_is_resent(vendzz_pg: str, servers: Servers) -> None:
    # a server of this test only: CLIENT KILL on the shared one would cut other tests' clients
    redis_url = servers.standalone()
    settings = load_settings(database_url=vendzz_pg, redis_url=redis_url)
    spec = load_spec(None)
    target = open_target(settings, spec.client)
    admin = redis.Redis.from_url(redis_url)

    def batches():  # type: ignore[no-untyped-def]
        for b in range(4):
            yield [set_command(f"d{b}:{i}") for i in range(100)]
            admin.client_kill_filter(_type="normal", skipme=True)

    try:
        result = Writer(target, spec.client, lambda _n: None).write(batches())
    finally:
        target.close()
    assert result.keys == 400
    assert admin.dbsize() == 400


def test_max_connections_below_masters_is_a_config_error(cli: Cli, cluster_url: str) -> None:
    code, _, err = cli("warm-cache", "--redis", cluster_url, REDIS_MAX_CONNECTIONS="2")
    assert code == ExitCode.CONFIG
    assert "REDIS_MAX_CONNECTIONS=2 is fewer than the 3 cluster masters" in err


@pytest.fixture
def own_cluster(servers: Servers) -> list[str]:
    """A cluster this test may break."""
    return servers.cluster(3)


def test_partially_down_cluster(cli: Cli, own_cluster: list[str], servers: Servers) -> None:
    victim = own_cluster[2]
    port = victim.rsplit(":", 1)[1].split("/")[0]
    proc = next(p for p in servers.procs if f"--port {port}" in " ".join(map(str, p.args)))  # type: ignore[arg-type]
    proc.terminate()
    proc.wait(10)
    code, _, err = cli("warm-cache", "--redis", own_cluster[0])
    assert code == ExitCode.CONNECTION, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err
    assert f"127.0.0.1:{port}" in lines[0]


def test_cluster_down_clusterdown(cli: Cli, own_cluster: list[str]) -> None:
    node = redis.Redis.from_url(own_cluster[0])
    port = int(own_cluster[0].rsplit(":", 1)[1].split("/")[0])
    mine = next(r for r in node.execute_command("CLUSTER SLOTS") if int(r[2][1]) == port)
    node.execute_command("CLUSTER DELSLOTS", *range(int(mine[0]), int(mine[0]) + 10))
    wait_until(
        lambda: cluster_info(node)["cluster_state"] == "fail",
        "cluster_state:fail",
        ignore=(redis.RedisError, OSError),
    )
    code, _, err = cli("warm-cache", "--redis", own_cluster[0])
    assert code == ExitCode.TARGET, err
    assert "Redis cluster at redis://127.0.0.1:" in err and "is down" in err
    assert len([line for line in err.splitlines() if line.strip()]) == 1


def test_cluster_stats_sum_every_master(
    vendzz_pg: str, cluster_url: str, cluster_nodes: list[str]
) -> None:
    from vendzz_migrate.cache import stats

    for url in cluster_nodes:
        redis.Redis.from_url(url).config_resetstat()
    settings = load_settings(database_url=vendzz_pg, redis_url=cluster_url)
    warm(WarmOptions.from_settings(settings, only=["quiz"]))
    client = RedisCluster.from_url(cluster_url)
    for n in range(1, 21):
        client.get(f"vendzz:quiz:q{n:05d}")  # 16 published (hits), 4 unpublished (misses)
    result = stats(settings, load_spec(None))
    assert (result.hits, result.misses, result.mode) == (16, 4, "cluster")
    assert result.hit_rate == 0.8 and result.status == "below target"
    assert sum(n.keys for n in result.nodes) == 200
