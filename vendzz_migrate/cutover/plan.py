"""The cutover plan file: what to move, how to reach the running service, and the budgets.

    plan = load(Path("cutover.yaml"))

YAML validated by pydantic; an unknown field is an error that names it (``extra="forbid"``
everywhere). The JSON schema in ``schemas/cutover/plan.schema.json`` is generated from
:class:`CutoverPlan` (``python -m vendzz_migrate.cutover.plan``); see
``examples/cutover/cutover.yaml`` for an annotated plan driving the reference service.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vendzz_migrate.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HttpCall(_Strict):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    url: str
    json_body: Any = Field(default=None, alias="json", description="request body, sent as JSON")
    expect_status: int = 200


class RedisKey(_Strict):
    key: str
    value: str | None = Field(default=None, description="None deletes the key")


class FlagFile(_Strict):
    path: Path
    present: bool = Field(default=True, description="create the file (true) or remove it")


class Hook(_Strict):
    """Exactly one way of telling the service something."""

    http: HttpCall | None = None
    command: list[str] | None = Field(default=None, description="argv; $VARS expanded")
    redis_key: RedisKey | None = None
    file: FlagFile | None = None

    @model_validator(mode="after")
    def _one(self) -> Hook:
        given = [n for n in ("http", "command", "redis_key", "file") if getattr(self, n)]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of http, command, redis_key, file (got "
                f"{', '.join(given) or 'none'})"
            )
        return self


class Drain(_Strict):
    """How to wait for the writes in flight when the freeze began."""

    kind: Literal["sqlite-lock", "http"] = Field(
        default="sqlite-lock",
        description="sqlite-lock: take the file's write lock once "
        "(every write transaction begun before it has ended); http: poll url until field is 0",
    )
    url: str | None = None
    field: str = "writes_in_flight"
    timeout_seconds: float = Field(default=10.0, gt=0)


class Hooks(_Strict):
    freeze: Hook
    unfreeze: Hook
    switch_to_pg: Hook
    switch_to_sqlite: Hook
    drain: Drain = Field(default_factory=Drain)


class SmokeRequest(_Strict):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    path: str
    json_body: Any = Field(default=None, alias="json")
    expect_status: int = 200
    body_contains: str | None = None


class Budgets(_Strict):
    max_freeze_seconds: float = Field(default=5.0, gt=0, description="freeze -> unfreeze")
    step_seconds: dict[str, float] = Field(
        default_factory=dict, description="per-step time limits (step name -> seconds)"
    )
    catchup_backlog_rows: int = Field(
        default=1000, ge=0, description="catch-up deltas run until at most this many changes wait"
    )
    catchup_rounds: int = Field(default=10, ge=1)
    delta_batch_keys: int = Field(default=2000, ge=1)


class Watch(_Strict):
    seconds: float = Field(default=30.0, ge=0, description="watch window after the switch")
    interval_seconds: float = Field(default=2.0, gt=0)
    max_error_rate: float = Field(default=0.01, ge=0, le=1)
    max_p95_ms: float | None = Field(default=None, description="P95 ceiling (from /metrics)")
    monitor_profile: str | None = Field(
        default=None,
        description="watch with `vendzz-migrate monitor` instead: the spec's alert rules (as "
        "`provision` renders them) from this check profile (a name in checks/ or a file), over "
        "the service's /health and /metrics, PostgreSQL connections and Redis; the window "
        "fails when an alert fires or uptime misses its target",
    )


class Flags(_Strict):
    postpone_file: Path | None = Field(
        default=None,
        description="while it exists, the run holds before the freeze (gh-ost's postpone flag)",
    )
    panic_file: Path | None = Field(
        default=None, description="when it appears, abort to SQLite at once"
    )


class Service(_Strict):
    url: str = Field(description="base URL of the running service")
    health_path: str = "/health"
    metrics_path: str = "/metrics"


class CutoverPlan(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="names the journal")
    source: Path = Field(description="the live SQLite file")
    database_url: str | None = Field(default=None, description="else env DATABASE_URL")
    redis_url: str | None = Field(default=None, description="else env REDIS_URL")
    schema_name: str = "public"
    state_schema: str = "vendzz_migrate"
    mapping: Path | None = None
    cache_spec: Path | None = Field(default=None, description="warm-cache spec; none: no warm")
    preflight_profile: str | None = Field(default=None, description="none: skip preflight")
    work_dir: Path = Path(".vendzz-migrate")
    workers: int = Field(default=2, ge=1, le=64)
    allow_rejects: bool = False
    service: Service
    hooks: Hooks
    smoke: list[SmokeRequest] = Field(default_factory=list)
    budgets: Budgets = Field(default_factory=Budgets)
    watch: Watch = Field(default_factory=Watch)
    flags: Flags = Field(default_factory=Flags)
    rollback: dict[str, Any] = Field(
        default_factory=dict,
        description="settings of the rollback after the switch (cutover.rollback)",
    )

    def target_url(self) -> str | None:
        return self.database_url or os.environ.get("DATABASE_URL")

    def cache_url(self) -> str | None:
        return self.redis_url or os.environ.get("REDIS_URL")

    def journal_path(self) -> Path:
        return self.work_dir / f"cutover-{self.name}.journal.jsonl"

    def postpone_path(self) -> Path:
        return self.flags.postpone_file or self.work_dir / f"cutover-{self.name}.postpone"

    def panic_path(self) -> Path:
        return self.flags.panic_file or self.work_dir / f"cutover-{self.name}.panic"

    def digest(self) -> str:
        data = self.model_dump(mode="json", exclude={"database_url", "redis_url"})
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def load(path: Path) -> CutoverPlan:
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read the plan {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    plan = parse(data, str(path))
    base = Path(path).resolve().parent
    return _relative_to(plan, base)


def parse(data: Any, where: str = "plan") -> CutoverPlan:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of plan fields")
    try:
        return CutoverPlan.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(top)"
        msg = "unknown field" if first["type"] == "extra_forbidden" else first["msg"]
        raise ConfigError(f"{where}: {loc}: {msg}") from None


def _relative_to(plan: CutoverPlan, base: Path) -> CutoverPlan:
    """Relative paths in a plan file are relative to the file."""

    def fix(p: Path | None) -> Path | None:
        return None if p is None or p.is_absolute() else base / p

    updates: dict[str, Any] = {}
    for name in ("source", "mapping", "cache_spec", "work_dir"):
        value = getattr(plan, name)
        if value is not None and not value.is_absolute():
            updates[name] = fix(value)
    flags = plan.flags.model_copy(
        update={
            k: fix(getattr(plan.flags, k)) or getattr(plan.flags, k)
            for k in ("postpone_file", "panic_file")
        }
    )
    return plan.model_copy(update={**updates, "flags": flags})


def json_schema() -> dict[str, Any]:
    return CutoverPlan.model_json_schema(by_alias=True)


if __name__ == "__main__":  # regenerate schemas/cutover/plan.schema.json
    print(json.dumps(json_schema(), indent=2))
