"""``loadtest``: run the stages with Locust in child processes, then measure and judge them.

Locust (and its gevent patching) lives only in the child processes of
:mod:`vendzz_migrate.loadtest.engine`; this module starts them, relays their progress, stops
them on Ctrl-C (the report then holds the stages run so far) and turns their raw buckets into a
:class:`LoadtestReport`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from vendzz_migrate import events
from vendzz_migrate.errors import (
    ConfigError,
    ConnectionFailed,
    ExitCode,
    TargetsMissed,
    VendzzError,
)
from vendzz_migrate.loadtest import lookups
from vendzz_migrate.loadtest.lookups import Rates
from vendzz_migrate.loadtest.measure import judge_stages
from vendzz_migrate.loadtest.model import LoadtestReport
from vendzz_migrate.loadtest.scenario import load_scenario
from vendzz_migrate.net import free_port
from vendzz_migrate.preflight.profile import load_profile
from vendzz_migrate.urls import http_request, mask

ENGINE = "vendzz_migrate.loadtest.engine"


class LoadtestError(VendzzError):
    """The load generator could not run (engine crashed, workers never connected)."""

    exit_code = ExitCode.CONNECTION


@dataclass(frozen=True)
class Options:
    """What to run. Closed model: ``users`` stages; open model: ``rates`` stages (arrivals/s)."""

    url: str
    users: tuple[int, ...] = (100, 500, 1000)
    rates: tuple[float, ...] = ()
    stage_duration_s: float = 60.0
    ramp_s: float | None = None
    scenario: str | Path | None = None
    profile: str | Path = "production-1000"
    workers: int = 0
    remote_workers: int = 0
    master_bind: str = "127.0.0.1"
    master_port: int = 0
    max_inflight: int = 1000
    redis_url: str | None = None
    worker_timeout_s: float = 60.0
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def mode(self) -> str:
        return "open" if self.rates else "closed"

    def ramp(self) -> float:
        if self.ramp_s is not None:
            return self.ramp_s
        return min(self.stage_duration_s * 0.25, 30.0)


def check_options(options: Options) -> None:
    parts = urlsplit(options.url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(f"--url must be an http:// or https:// URL, not {options.url!r}")
    if options.stage_duration_s <= 0 or not 0 <= options.ramp() < options.stage_duration_s:
        raise ConfigError("the ramp must be shorter than the stage duration")
    if not options.rates and (not options.users or min(options.users) < 1):
        raise ConfigError("--users needs one or more positive user counts")
    if options.rates and min(options.rates) <= 0:
        raise ConfigError("--rate needs positive arrivals per second")
    if options.workers < 0 or options.remote_workers < 0:
        raise ConfigError("--workers cannot be negative")
    if options.redis_url and urlsplit(options.redis_url).scheme not in {"redis", "rediss", "unix"}:
        raise ConfigError(f"--redis must be a redis:// URL, not {mask(options.redis_url)!r}")


def redis_background(url: str | None, *, required: bool = True) -> Rates | None:
    """The lookups per second other clients of the ``--redis`` server make while no load runs
    (its INFO counters are the whole server's). ``required``: a Redis that does not answer
    INFO is refused (else the cache-hit target would go unjudged); else None."""
    if not url:
        return None
    import redis

    try:
        return lookups.background(url)
    except (redis.RedisError, OSError, KeyError, ValueError) as exc:
        if not required:
            return None
        raise ConnectionFailed(f"--redis {mask(url)} does not answer INFO: {exc}") from None


def check_ready(url: str) -> None:
    """Locust is installed and something answers HTTP at ``url`` (any status will do)."""
    import importlib.util
    import urllib.error
    import urllib.request

    if importlib.util.find_spec("locust") is None:
        raise ConfigError("loadtest needs Locust: pip install 'vendzz-migrate[loadtest]'")
    try:
        urllib.request.urlopen(http_request(url), timeout=10).close()
    except urllib.error.HTTPError:
        return
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ConnectionFailed(f"nothing answers at {mask(url)}: {reason}") from None


def _config(options: Options) -> dict[str, Any]:
    scenario = load_scenario(options.scenario)
    foreign = scenario.foreign_urls(options.url)
    if foreign:
        raise ConfigError(
            f"scenario {scenario.name}: {', '.join(foreign)}: an absolute URL on "
            f"another host than --url {mask(options.url)} (load goes only there)"
        )
    journeys = [j.model_dump(by_alias=True) for j in scenario.all_journeys()]
    expect = options.workers + options.remote_workers
    if options.mode == "open":
        stages = [{"rate": r} for r in options.rates]
    else:
        stages = [{"users": u} for u in options.users]
    for stage in stages:
        stage.update(duration_s=options.stage_duration_s, ramp_s=options.ramp())
    return {
        "url": options.url.rstrip("/"),
        "mode": options.mode,
        "scenario_name": scenario.name,
        "journeys": journeys,
        "think_time": scenario.think_time.model_dump(),
        "vars": {k: v.model_dump() for k, v in scenario.vars.items()},
        "setup": [s.model_dump(by_alias=True) for s in scenario.setup],
        "stages": stages,
        "expect_workers": expect,
        "master_bind": options.master_bind,
        "master_port": options.master_port or (free_port() if expect else 0),
        "max_inflight_per_user": max(1, options.max_inflight // max(expect, 1)),
        "redis_url": options.redis_url,
        "worker_timeout_s": options.worker_timeout_s,
    }


def _spawn(args: list[str], log: Path, extra_env: dict[str, str]) -> subprocess.Popen[str]:
    env = {**os.environ, **extra_env}
    return subprocess.Popen(
        [sys.executable, "-m", ENGINE, *args],
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
        env=env,
    )


def _stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)


def _relay(proc: subprocess.Popen[str], on_event: events.Sink, deadline: float) -> list[str]:
    """Forward the engine's JSON lines (progress events: ``fields`` is the line) until it
    exits; errors it reported are returned."""
    errors: list[str] = []
    assert proc.stdout is not None
    watchdog = threading.Timer(max(deadline - time.time(), 0.0), _stop, (proc,))
    watchdog.daemon = True
    watchdog.start()
    for line in proc.stdout:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "error":
            errors.append(str(event.get("message")))
        on_event(events.Event("progress", str(event.get("event", "")), event))
    proc.wait()
    watchdog.cancel()
    return errors


def _drive(
    options: Options, config: dict[str, Any], work: Path, on_event: events.Sink
) -> tuple[dict[str, Any] | None, bool, list[str]]:
    cfg_path, out = work / "config.json", work / "result.json"
    cfg_path.write_text(json.dumps(config), encoding="utf-8")
    master = _spawn(["run", str(cfg_path), str(out)], work / "engine.log", options.extra_env)
    workers = [
        _spawn(
            ["worker", f"127.0.0.1:{config['master_port']}"],
            work / f"worker{i}.log",
            options.extra_env,
        )
        for i in range(options.workers)
    ]
    stages = len(config["stages"])
    deadline = time.time() + options.worker_timeout_s + stages * options.stage_duration_s + 30
    interrupted = False
    try:
        errors = _relay(master, on_event, deadline)
    except KeyboardInterrupt:
        interrupted = True
        _stop(master)
        try:
            master.wait(30)
        except subprocess.TimeoutExpired:
            master.kill()
        errors = []
    finally:
        for w in workers:
            _stop(w)
        for w in workers:
            try:
                w.wait(10)
            except subprocess.TimeoutExpired:
                w.kill()
                w.wait()
    if not out.exists():
        log = (work / "engine.log").read_text(errors="replace").strip().splitlines()
        reason = errors[0] if errors else (log[-1] if log else f"exit code {master.returncode}")
        if interrupted:
            return None, True, errors
        raise LoadtestError(f"the load generator failed: {reason}")
    return json.loads(out.read_text(encoding="utf-8")), interrupted, errors


def run(options: Options, on_event: events.Sink = events.discard) -> LoadtestReport:
    """Run every stage against ``options.url``, judge it against the profile's targets and
    return the report; raise :class:`TargetsMissed` (carrying it) when a stage missed one.
    Ctrl-C returns the stages run so far (``interrupted``). The engine's lines go to
    ``on_event``."""
    check_options(options)
    profile = load_profile(options.profile)
    config = _config(options)
    check_ready(options.url)
    before = redis_background(options.redis_url)
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="vz-loadtest-") as tmp:
        result, interrupted, _ = _drive(options, config, Path(tmp), on_event)
    background = before
    if before is not None and not interrupted:
        background = lookups.mean(before, redis_background(options.redis_url, required=False))
    stages, notes = judge_stages(result, config, profile.targets, options.mode, background)
    if (
        options.mode == "closed"
        and options.workers + options.remote_workers == 0
        and max(options.users) >= 500
    ):
        notes.append(
            "one generator process drives every user here: at 500+ users its CPU is the limit "
            "on a small machine; add --workers N (saturated stages are marked)"
        )
    data = (result or {}).get("data", {})
    report = LoadtestReport(
        url=mask(options.url),
        mode=options.mode,
        scenario=str(config["scenario_name"]),
        profile=profile.name,
        workers=options.workers + options.remote_workers,
        stages=stages,
        per_worker_requests=(result or {}).get("per_worker", {}),
        errors=data.get("errors", {}),
        notes=notes,
        cache_background_per_s=None if background is None else round(sum(background), 2),
        interrupted=interrupted or any(s.interrupted for s in stages),
        passed=bool(stages) and all(s.passed for s in stages) and not interrupted,
        started_at=started,
        duration_s=time.time() - started,
    )
    if not report.passed and not report.interrupted:
        missed = [s for s in report.stages if s.passed is False]
        raise TargetsMissed(f"loadtest: {len(missed)} stage(s) missed a target", report)
    return report


def run_worker(master: str, extra_env: dict[str, str] | None = None) -> int:
    """Be a Locust worker of a ``loadtest`` master on another machine until it ends the run."""
    host, _, port = master.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"--worker-of needs HOST:PORT, not {master!r}")
    env = {**os.environ, **(extra_env or {})}
    proc = subprocess.Popen([sys.executable, "-m", ENGINE, "worker", master], env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        return proc.wait()
