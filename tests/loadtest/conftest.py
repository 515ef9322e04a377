"""Load tests run the slow test app (or the reference service) in a process of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from tests.loadtest.servers import App, running_app
from vendzz_migrate.preflight.profile import packaged_text

if TYPE_CHECKING:
    from vendzz_migrate.loadtest import LoadtestReport


@pytest.fixture
def app() -> Iterator[App]:
    with running_app({"SLOW_APP_DELAY_S": "0.3"}) as a:
        yield a


def profile(tmp_path: Path, p95_ms: float) -> Path:
    """The dev profile with targets a handful of users can meet (0.1 req/s per user)."""
    data = yaml.safe_load(packaged_text("dev"))
    data["name"] = "test-small"
    data.setdefault("targets", {}).update(throughput_rps=100, p95_ms=p95_ms, error_rate_pct=0.1)
    path = tmp_path / f"profile-{p95_ms:g}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def small_profile(tmp_path: Path) -> Path:
    """Targets a few users meet even on a busy machine (P95 under 2 s)."""
    return profile(tmp_path, 2000)


@pytest.fixture
def strict_profile(tmp_path: Path) -> Path:
    """A P95 target of 100 ms, which a 300 ms endpoint cannot meet."""
    return profile(tmp_path, 100)


def urls_scenario(tmp_path: Path, *paths: str, think: float = 0.2) -> Path:
    path = tmp_path / "urls.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "test-urls",
                "think_time": {"min": think / 2, "max": think},
                "urls": list(paths),
            }
        )
    )
    return path


def loadtest_args(
    url: str, users: str, scenario: Path, profile_path: Path, *extra: str, stage: str = "4s"
) -> list[str]:
    """``vendzz-migrate loadtest`` of one short stage (ramp 1 s) with ``extra`` flags."""
    return [
        *("loadtest", "--url", url, "--users", users, "--stage-duration", stage, "--ramp", "1s"),
        *("--scenario", str(scenario), "--profile", str(profile_path), *extra),
    ]


def short_run(url: str, scenario: Path, profile_path: Path, **over: Any) -> LoadtestReport:
    """``loadtest.run`` of one 4-second stage of 2 users (ramp 1 s), or as ``over`` says; the
    report also when a target was missed."""
    from vendzz_migrate import loadtest
    from vendzz_migrate.errors import TargetsMissed

    fields: dict[str, Any] = {"users": (2,), "stage_duration_s": 4, "ramp_s": 1, **over}
    options = loadtest.Options(url=url, scenario=scenario, profile=profile_path, **fields)
    try:
        report = loadtest.run(options)
    except TargetsMissed as exc:
        return exc.report
    assert report.passed or report.interrupted, "a missed target must raise TargetsMissed"
    return report
