"""The shipped default scenario against the reference service (examples/service) on SQLite
with Redis: every journey's paths exist, nothing fails, the cache hit rate is measured."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("starlette")


def test_default_scenario_against_the_reference_service(
    tmp_path: Path, redis_url: str, small_profile: Path
) -> None:
    from tests.examples.service.helpers import service
    from vendzz_migrate import loadtest
    from vendzz_migrate.errors import TargetsMissed
    from vendzz_migrate.sample import generate

    db = tmp_path / "vendzz.db"
    generate(db, rows=600, seed=7, clean=True)
    with service(tmp_path / "state", f"sqlite:///{db}", redis_url) as running:
        options = loadtest.Options(
            url=running.url, users=(4,), stage_duration_s=5, ramp_s=1, profile=small_profile
        )
        try:
            report = loadtest.run(options)
        except TargetsMissed as exc:  # judged on a shared test machine: the figures matter
            report = exc.report
    (stage,) = report.stages
    assert report.scenario == "vendzz-reference"
    assert report.errors == {} and stage.failures == 0 and stage.requests > 0
    assert stage.p95_ms is not None and stage.p50_ms is not None and stage.p50_ms <= stage.p95_ms
    assert stage.cache_hit_rate is not None and 0 <= stage.cache_hit_rate <= 1
