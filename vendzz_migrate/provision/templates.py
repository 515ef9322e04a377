"""The packaged templates (``templates.yaml``) and the schema of a Prometheus rule file."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

_DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AlertTemplate(_Strict):
    alert: str
    expr: str
    for_: str = Field(alias="for")
    severity: Literal["info", "warning", "critical"]
    summary: str


class Templates(_Strict):
    pgbouncer_ini: str
    nginx_conf: str
    redis_conf: str
    env: str
    alert_rules: list[AlertTemplate]


@cache
def templates() -> Templates:
    text = (resources.files("vendzz_migrate.provision") / "templates.yaml").read_text("utf-8")
    return Templates.model_validate(yaml.safe_load(text))


class PromRule(_Strict):
    """One alerting rule as Prometheus' rule-file format defines it (no recording rules here)."""

    alert: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    expr: str = Field(min_length=1)
    for_: str | None = Field(default=None, alias="for")
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)

    @field_validator("for_")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None and not _DURATION.match(value):
            raise ValueError(f"not a Prometheus duration: {value!r}")
        return value


class PromGroup(_Strict):
    name: str = Field(min_length=1)
    interval: str | None = None
    rules: list[PromRule] = Field(min_length=1)


class PromRuleFile(_Strict):
    groups: list[PromGroup] = Field(min_length=1)
