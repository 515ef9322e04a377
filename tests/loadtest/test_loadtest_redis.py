"""``loadtest --redis``: the cache figures are what the load test caused, not what every client
of that Redis did (INFO's counters are the whole server's)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from tests.examples.service.helpers import redis_server
from tests.loadtest.conftest import short_run, urls_scenario
from tests.loadtest.servers import App
from vendzz_migrate.loadtest.measure import judge_stages
from vendzz_migrate.preflight.profile import load_profile


@contextmanager
def other_client(url: str, pause_s: float = 0.01) -> Iterator[None]:
    """Another user of the same Redis: GETs of a key that exists (hits), at most 1/pause_s."""
    client = redis.Redis.from_url(url)
    client.set("someone-else", "x")
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(pause_s):
            client.get("someone-else")

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(10)
        client.close()


def test_other_clients_hits_are_not_the_load_tests(
    app: App, small_profile: Path, tmp_path: Path
) -> None:
    """The slow app never touches Redis: every hit in the window is another client's, so the
    load test measured no cache hit rate (before: 100 %, and the target passed)."""
    with redis_server(tmp_path / "redis") as url, other_client(url):
        scenario = urls_scenario(tmp_path, "/health")
        report = short_run(app.url, scenario, small_profile, redis_url=url)
    (stage,) = report.stages
    assert stage.cache_hit_rate is None
    assert next(v for v in stage.verdicts if v.name == "cache hit rate").passed is None
    assert report.cache_background_per_s is not None and report.cache_background_per_s > 10
    assert any("other clients" in note for note in stage.notes)
    assert any("every client of the server" in note for note in report.notes)


def _result(start: list[int], end: list[int], window_s: float = 10.0) -> dict[str, object]:
    raw = {"index": 0, "start": 0.0, "measure_start": 1.0, "end": 1.0 + window_s}
    return {"stages": [{**raw, "users": 1, "redis_start": start, "redis_end": end}]}


def test_the_background_rate_is_taken_off_each_stage() -> None:
    targets = load_profile("dev").targets
    config = {"stages": [{"duration_s": 11.0, "ramp_s": 1.0}]}
    # 10 s window: 1,000 hits and 400 misses in all; others made 30 hits/s and 10 misses/s
    result = _result([5000, 100], [6000, 500])
    (stage,), _ = judge_stages(result, config, targets, "closed", background=(30.0, 10.0))
    assert (stage.cache_hits, stage.cache_misses) == (700, 300)
    assert stage.cache_hit_rate == 0.7
    (alone,), _ = judge_stages(result, config, targets, "closed")
    assert (alone.cache_hits, alone.cache_misses, alone.cache_hit_rate) == (1000, 400, 0.7143)
    # others made most of the lookups: the remainder is noise, not judged
    (noisy,), _ = judge_stages(result, config, targets, "closed", background=(90.0, 30.0))
    assert noisy.cache_hit_rate is None and noisy.cache_hits is None
    assert any("other clients" in note for note in noisy.notes)
