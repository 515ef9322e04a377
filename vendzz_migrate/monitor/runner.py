"""``monitor.run``: poll for a duration, evaluate the alerts at every poll, report.

Usable as the cutover's watch window: ``report = monitor.run(Options(url=..., duration_s=...))``
returns a :class:`MonitorReport` (``passed`` is False when an alert fired or uptime missed the
target). A service that restarts or drops connections is downtime, never an error: the
counters that restart from zero are handled as Prometheus does (reset detection in ``rate``).
"""

from __future__ import annotations

import math
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from vendzz_migrate import events
from vendzz_migrate.errors import AlertsFired, ConfigError
from vendzz_migrate.monitor import promql as pq
from vendzz_migrate.monitor import sources
from vendzz_migrate.monitor.alerts import AlertState, Transition, rules
from vendzz_migrate.preflight.profile import load_profile
from vendzz_migrate.urls import mask

_WARNINGS = {"firing", "down"}


@dataclass(frozen=True)
class Options:
    url: str
    duration_s: float = 24 * 3600.0
    interval_s: float = 5.0
    profile: str | Path = "production-1000"
    database_url: str | None = None
    redis_url: str | None = None
    rate_window_s: float = 60.0
    timeout_s: float = 3.0
    metrics: bool = True


class AlertRecord(BaseModel):
    alert: str
    labels: dict[str, str]
    threshold: str
    fired_at: float
    resolved_at: float | None = Field(description="None: still firing at the end.")
    duration_s: float
    peak: float


class MonitorReport(BaseModel):
    url: str
    profile: str
    started_at: float
    duration_s: float
    polls: int
    up_polls: int
    uptime_pct: float
    uptime_target_pct: float
    uptime_met: bool
    downtime_s: float
    worst_p95_ms: float | None
    worst_health_ms: float | None
    max_db_connections_pct: float | None
    cache_hit_rate: float | None = Field(description="Redis INFO deltas over the run, fraction.")
    alerts: list[AlertRecord]
    last_health: dict[str, Any] | None = None
    missing_health_fields: list[str] = Field(
        default_factory=list, description="Fields of the spec's /health its answers lacked."
    )
    unreachable: dict[str, int] = Field(
        default_factory=dict,
        description="Polls in which a watched source (postgres, redis) "
        "did not answer; one never reached fails the watch (its alerts were never evaluated).",
    )
    interrupted: bool = False
    passed: bool


def check_options(options: Options) -> None:
    parts = urlsplit(options.url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(f"--url must be an http:// or https:// URL, not {mask(options.url)!r}")
    _check_source(options.database_url, "--target", {"postgres", "postgresql"})
    _check_source(options.redis_url, "--redis", {"redis", "rediss", "unix"})
    if options.interval_s <= 0 or options.duration_s <= 0:
        raise ConfigError("--interval and --duration must be positive")
    if options.rate_window_s < 2 * options.interval_s:
        raise ConfigError("the rate window must hold at least two polls (2 x --interval)")


def _check_source(url: str | None, flag: str, schemes: set[str]) -> None:
    if url and urlsplit(url).scheme not in schemes:
        wanted = " or ".join(f"{s}://" for s in sorted(schemes))
        raise ConfigError(f"{flag} must be a {wanted} URL, not {mask(url)!r}")


class _Watch:
    def __init__(self, options: Options, on_event: events.Sink) -> None:
        self.options, self.on_event = options, on_event
        self.profile = load_profile(options.profile)
        self.rules = rules(self.profile, options.rate_window_s)
        self.state = AlertState(self.rules)
        self.store = pq.Store()
        self.host = socket.gethostname()
        self.polls: list[sources.Poll] = []
        self.records: dict[tuple[str, pq.Labels], AlertRecord] = {}
        self.worst_p95: float | None = None
        self.max_db: float | None = None
        self.first_hits: tuple[int, int] | None = None
        self.last_hits: tuple[int, int] | None = None
        self.was_up: bool | None = None
        self.pg = sources.PgProbe(options.database_url) if options.database_url else None

    def emit(self, event: str, **data: Any) -> None:
        """An event whose ``fields`` are ``event`` (firing, resolved, down, up), ``t`` and data."""
        kind: events.Kind = "warning" if event in _WARNINGS else "note"
        self.on_event(events.Event(kind, event, {"event": event, "t": time.time(), **data}))

    def tick(self, t: float) -> None:
        o = self.options
        poll = sources.poll_health(o.url, o.timeout_s, t)
        if o.metrics:
            poll.metrics = sources.poll_metrics(
                sources.metrics_url(o.url), o.timeout_s, self.store, t
            )
        sources.poll_host(self.store, t, self.host)
        if self.pg is not None:
            poll.postgres = self.pg.poll(self.store, t)
        if o.redis_url:
            hits = sources.poll_redis(o.redis_url)
            poll.redis = hits is not None
            if hits is not None:
                self.first_hits = self.first_hits or hits
                self.last_hits = hits
        self.polls.append(poll)
        if poll.up != self.was_up:
            self.emit("up" if poll.up else "down", error=poll.error)
            self.was_up = poll.up
        self._observe(t)
        for change in self.state.evaluate(self.store, t):
            self._record(change)

    def _observe(self, t: float) -> None:
        buckets = pq.sum_by(
            self.store.rate(
                "http_request_duration_seconds_bucket", pq.match(), t, self.options.rate_window_s
            ),
            ("le",),
        )
        for value in pq.histogram_quantile(0.95, buckets).values():
            if not math.isnan(value):
                self.worst_p95 = max(self.worst_p95 or 0.0, value * 1000)
        used = pq.sum_by(self.store.instant("pg_stat_activity_count", pq.match(), t), ())
        limit = pq.sum_by(self.store.instant("pg_settings_max_connections", pq.match(), t), ())
        for value in pq.divide(used, limit).values():
            self.max_db = max(self.max_db or 0.0, 100 * value)

    def _record(self, change: Transition) -> None:
        key = (change.rule, change.labels)
        rule = next(r for r in self.rules if r.name == change.rule)
        if change.kind == "firing":
            self.records[key] = AlertRecord(
                alert=change.rule,
                labels=dict(change.labels),
                threshold=rule.threshold,
                fired_at=change.t,
                resolved_at=None,
                duration_s=0.0,
                peak=change.value,
            )
            self.emit(
                "firing",
                alert=change.rule,
                labels=dict(change.labels),
                value=change.value,
                threshold=rule.threshold,
            )
        else:
            record = self.records.pop(key)
            record.resolved_at, record.peak = change.t, max(record.peak, change.value)
            record.duration_s = change.t - record.fired_at
            self.records[(change.rule, (*change.labels, ("#", str(change.t))))] = record
            self.emit(
                "resolved",
                alert=change.rule,
                labels=dict(change.labels),
                duration_s=record.duration_s,
            )

    def report(self, started: float, interrupted: bool) -> MonitorReport:
        end = time.time()
        for record in self.records.values():
            if record.resolved_at is None:
                record.duration_s = end - record.fired_at
        up = sum(p.up for p in self.polls)
        total = len(self.polls)
        uptime = 100.0 * up / total if total else 0.0
        downtime = self._downtime(end)
        target = self.profile.targets.uptime_pct
        hit = None
        if self.first_hits and self.last_hits:
            h = self.last_hits[0] - self.first_hits[0]
            m = self.last_hits[1] - self.first_hits[1]
            hit = round(h / (h + m), 4) if h + m > 0 else None
        health_ms = [p.health_ms for p in self.polls if p.health_ms is not None]
        alerts = sorted(self.records.values(), key=lambda r: r.fired_at)
        last = next((p.health for p in reversed(self.polls) if p.health), None)
        answered = any(p.up for p in self.polls)  # up but never JSON: none of the fields came
        missing = [
            f
            for f in sources.HEALTH_FIELDS
            if (last is not None and f not in last) or (last is None and answered)
        ]
        unreachable = {
            name: sum(getattr(p, name) is False for p in self.polls)
            for name, url in (
                ("postgres", self.options.database_url),
                ("redis", self.options.redis_url),
            )
            if url
        }
        never = total > 0 and any(n == total for n in unreachable.values())
        return MonitorReport(
            url=mask(self.options.url),
            profile=self.profile.name,
            started_at=started,
            duration_s=end - started,
            polls=total,
            up_polls=up,
            uptime_pct=round(uptime, 3),
            uptime_target_pct=target,
            uptime_met=total > 0 and uptime >= target,
            downtime_s=round(downtime, 2),
            worst_p95_ms=None if self.worst_p95 is None else round(self.worst_p95, 1),
            worst_health_ms=round(max(health_ms), 1) if health_ms else None,
            max_db_connections_pct=None if self.max_db is None else round(self.max_db, 1),
            cache_hit_rate=hit,
            alerts=alerts,
            last_health=last,
            missing_health_fields=missing,
            unreachable=unreachable,
            interrupted=interrupted,
            passed=not alerts and total > 0 and uptime >= target and not interrupted and not never,
        )

    def _downtime(self, end: float) -> float:
        """Time from each failed poll to the next poll (or the end)."""
        total = 0.0
        for i, poll in enumerate(self.polls):
            if not poll.up:
                nxt = self.polls[i + 1].t if i + 1 < len(self.polls) else end
                total += nxt - poll.t
        return total


def run(
    options: Options,
    on_event: events.Sink = events.discard,
    stop: threading.Event | None = None,
) -> MonitorReport:
    """Watch ``options.url`` for ``options.duration_s`` and return the report; raise
    :class:`AlertsFired` (carrying it) when an alert fired or uptime missed its target.
    Setting ``stop`` ends the watch early (a cutover that has seen enough); Ctrl-C ends it with
    the report so far (``interrupted``). Alerts and up/down changes go to ``on_event``."""
    stop = stop or threading.Event()
    check_options(options)
    watch = _Watch(options, on_event)
    started = time.time()
    deadline = started + options.duration_s
    interrupted = False
    try:
        k = 0
        while True:
            t = started + k * options.interval_s
            if t > deadline or stop.wait(max(t - time.time(), 0.0)):
                break
            watch.tick(time.time())
            k = max(k + 1, math.ceil((time.time() - started) / options.interval_s))
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if watch.pg is not None:
            watch.pg.close()
    report = watch.report(started, interrupted)
    if not report.passed and not interrupted:
        fired = f"{len(report.alerts)} alert(s) fired, uptime {report.uptime_pct:.2f}%"
        raise AlertsFired(f"monitor: {fired}", report)
    return report
