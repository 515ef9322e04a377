"""What a load test reports: per stage the latency percentiles, rates, verdicts and curves."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Verdict(BaseModel):
    """One target of the profile judged on one stage."""

    name: str
    measured: float | None
    expected: str
    passed: bool | None = Field(description="None: not measured, not judged.")


class Point(BaseModel):
    """One second of a stage: requests started in it and their latency."""

    t: float = Field(description="Seconds since the stage started.")
    rps: float
    p50_ms: float | None
    p95_ms: float | None
    errors: int


class StageResult(BaseModel):
    index: int
    users: int | None = None
    rate: float | None = Field(default=None, description="Open model: arrivals per second.")
    duration_s: float
    ramp_s: float
    measured_s: float
    users_reached: int | None = None
    requests: int
    failures: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    rps: float
    arrivals_per_s: float | None = None
    error_rate: float = Field(description="Failed requests / requests, a fraction (0.001 = 0.1 %).")
    cache_hit_rate: float | None = Field(
        default=None, description="Cache hits / lookups in the window (Redis INFO or /health)."
    )
    cache_hits: int | None = Field(
        default=None,
        description="Hits the load test caused in the window (with --redis: INFO's change less "
        "other clients' background).",
    )
    cache_misses: int | None = Field(default=None, description="Misses, likewise.")
    generator_cpu_pct: float = Field(description="Highest mean CPU of one generator process.")
    host_cpu_pct: float | None = Field(
        default=None, description="Mean CPU of the generating machine (all cores, master's)."
    )
    saturated: bool = False
    notes: list[str] = Field(default_factory=list)
    verdicts: list[Verdict] = Field(default_factory=list)
    passed: bool
    interrupted: bool = False
    timeline: list[Point] = Field(default_factory=list)


class LoadtestReport(BaseModel):
    url: str
    mode: str = Field(description="closed (users) or open (--rate).")
    scenario: str
    profile: str
    workers: int
    stages: list[StageResult]
    per_worker_requests: dict[str, int] = Field(default_factory=dict)
    errors: dict[str, int] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
    cache_background_per_s: float | None = Field(
        default=None,
        description="With --redis: lookups per second other clients of that Redis made while "
        "no load ran (taken off each stage's figures).",
    )
    interrupted: bool = False
    passed: bool
    started_at: float
    duration_s: float
