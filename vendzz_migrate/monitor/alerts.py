"""The alert rules ``provision`` renders, evaluated in Python with Prometheus's semantics.

Each :class:`Rule` computes the same expression as its namesake in
``vendzz_migrate/provision/templates.yaml`` (thresholds and ``for`` from the profile) on a
:class:`~vendzz_migrate.monitor.promql.Store`; :class:`AlertState` is Prometheus's state
machine: an expression true at an evaluation makes the alert pending, true for ``for`` makes it
firing, false again resolves it. Only ``rate_window_s`` may differ from the rendered rules'
``[1m]`` (for short watch windows and tests); at 60 s both give the same verdicts on the same
series (``tests/monitor/test_promtool_equivalence.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from vendzz_migrate.monitor import promql as pq
from vendzz_migrate.monitor.durations import parse_duration
from vendzz_migrate.preflight.profile import Profile

Expr = Callable[[pq.Store, float], pq.Vector]
_5XX = "~5.."


@dataclass(frozen=True)
class Rule:
    name: str
    for_s: float
    threshold: str
    expr: Expr


@dataclass
class Alert:
    """One alert instance (rule + labels) while it is pending or firing."""

    rule: str
    labels: pq.Labels
    active_at: float
    value: float
    fired_at: float | None = None
    peak: float = 0.0


@dataclass
class Transition:
    kind: str  # "firing" | "resolved"
    rule: str
    labels: pq.Labels
    t: float
    value: float
    since: float | None = None


def _error_ratio(store: pq.Store, t: float, window: float) -> pq.Vector:
    errors = pq.sum_by(store.rate("http_requests_total", pq.match(status_code=_5XX), t, window), ())
    total = pq.sum_by(store.rate("http_requests_total", pq.match(), t, window), ())
    return pq.divide(errors, total)


def rules(profile: Profile, rate_window_s: float = 60.0) -> list[Rule]:
    a, w = profile.alerts, rate_window_s
    budget = (100 - profile.targets.uptime_pct) / 100

    def cpu(store: pq.Store, t: float) -> pq.Vector:
        idle = pq.avg_by(
            store.rate("node_cpu_seconds_total", pq.match(mode="idle"), t, w), ("instance",)
        )
        return pq.greater({k: 100 * (1 - v) for k, v in idle.items()}, a.cpu_pct)

    def memory(store: pq.Store, t: float) -> pq.Vector:
        ratio = pq.divide(
            store.instant("node_memory_MemAvailable_bytes", pq.match(), t),
            store.instant("node_memory_MemTotal_bytes", pq.match(), t),
        )
        return pq.greater({k: 100 * (1 - v) for k, v in ratio.items()}, a.ram_pct)

    def connections(store: pq.Store, t: float) -> pq.Vector:
        used = pq.sum_by(store.instant("pg_stat_activity_count", pq.match(), t), ("instance",))
        limit = pq.max_by(
            store.instant("pg_settings_max_connections", pq.match(), t), ("instance",)
        )
        return pq.greater(
            {k: 100 * v for k, v in pq.divide(used, limit).items()}, a.db_connections_pct
        )

    def errors(store: pq.Store, t: float) -> pq.Vector:
        return pq.greater(
            {k: 100 * v for k, v in _error_ratio(store, t, w).items()}, a.error_rate_pct
        )

    def slow(store: pq.Store, t: float) -> pq.Vector:
        buckets = pq.sum_by(
            store.rate("http_request_duration_seconds_bucket", pq.match(), t, w), ("le",)
        )
        return pq.greater(pq.histogram_quantile(0.95, buckets), a.response_time_s)

    def burn(long_s: float, short_s: float, factor: float) -> Expr:
        def expr(store: pq.Store, t: float) -> pq.Vector:
            long_ = pq.greater(_error_ratio(store, t, long_s), factor * budget)
            short = pq.greater(_error_ratio(store, t, short_s), factor * budget)
            return {k: v for k, v in long_.items() if k in short}

        return expr

    return [
        Rule("VendzzHighCpu", parse_duration(a.cpu_for), f"> {a.cpu_pct:g} %", cpu),
        Rule("VendzzHighMemory", parse_duration(a.ram_for), f"> {a.ram_pct:g} %", memory),
        Rule(
            "VendzzDatabaseConnections",
            parse_duration(a.db_connections_for),
            f"> {a.db_connections_pct:g} % of max_connections",
            connections,
        ),
        Rule(
            "VendzzErrorRate", parse_duration(a.error_rate_for), f"> {a.error_rate_pct:g} %", errors
        ),
        Rule(
            "VendzzSlowResponses",
            parse_duration(a.response_time_for),
            f"P95 > {a.response_time_s:g} s",
            slow,
        ),
        Rule("VendzzErrorBudgetBurn", 120.0, "14.4x budget (1h and 5m)", burn(3600.0, 300.0, 14.4)),
        Rule(
            "VendzzErrorBudgetBurnSlow",
            900.0,
            "6x budget (6h and 30m)",
            burn(6 * 3600.0, 1800.0, 6.0),
        ),
    ]


@dataclass
class AlertState:
    """Prometheus's alerting state machine over evaluations at increasing times."""

    rules: list[Rule]
    active: dict[tuple[str, pq.Labels], Alert] = field(default_factory=dict)

    def evaluate(self, store: pq.Store, t: float) -> list[Transition]:
        out: list[Transition] = []
        for rule in self.rules:
            result = rule.expr(store, t)
            for labels, value in result.items():
                alert = self.active.get((rule.name, labels))
                if alert is None:
                    alert = self.active[(rule.name, labels)] = Alert(rule.name, labels, t, value)
                alert.value, alert.peak = value, max(alert.peak, value)
                if alert.fired_at is None and t - alert.active_at >= rule.for_s:
                    alert.fired_at = t
                    out.append(Transition("firing", rule.name, labels, t, value, alert.active_at))
            for key in [k for k in self.active if k[0] == rule.name and k[1] not in result]:
                alert = self.active.pop(key)
                if alert.fired_at is not None:
                    out.append(
                        Transition(
                            "resolved", rule.name, alert.labels, t, alert.peak, alert.fired_at
                        )
                    )
        return out

    def firing(self) -> list[Alert]:
        return [a for a in self.active.values() if a.fired_at is not None]
