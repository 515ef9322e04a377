"""Load scenarios: weighted journeys of HTTP steps with think time, or a plain URL list.

A scenario is a YAML file validated by :class:`Scenario` (unknown fields are errors naming the
field); ``schemas/loadtest/scenario.schema.json`` is its JSON schema. The reference service's
journeys ship inside the package (``scenarios/vendzz-reference.yaml``, the default) next to an
example for the real Node service (``scenarios/vendzz-node.yaml``) and a URL list
(``scenarios/urls-example.yaml``).

Templates: ``{name}`` in a path, header or JSON string is replaced by a variable: one of
``vars`` (a random integer in ``[min, max]`` drawn once per journey run), ``user`` (the
simulated user's number) or a value saved from an earlier step's JSON answer (``save``; from
a ``setup`` step it lasts for the user, and a saved list gives one element at random per use).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vendzz_migrate.errors import ConfigError
from vendzz_migrate.modelfile import from_yaml

DEFAULT_SCENARIO = "vendzz-reference"
PACKAGED = ("vendzz-reference", "vendzz-node", "urls-example")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ThinkTime(_Strict):
    """Pause after each step, drawn uniformly in [min, max] seconds (closed model only)."""

    min: float = Field(default=0.25, ge=0, le=600)
    max: float = Field(default=1.25, ge=0, le=600)

    @model_validator(mode="after")
    def _order(self) -> ThinkTime:
        if self.min > self.max:
            raise ValueError("think_time.min is greater than think_time.max")
        return self


class IntVar(_Strict):
    min: int = Field(description="Smallest value (inclusive).")
    max: int = Field(description="Largest value (inclusive).")


class Step(_Strict):
    """One HTTP request of a journey."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    path: str = Field(min_length=1, description="Path (or absolute URL) with {templates}.")
    name: str | None = Field(default=None, description="Name in the stats (default: the path).")
    headers: dict[str, str] = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json", description="JSON body with {templates}.")
    expect: list[int] = Field(
        default_factory=list, description="Accepted status codes (default: any 2xx or 3xx)."
    )
    save: dict[str, str] = Field(
        default_factory=dict,
        description="Variables to save from the JSON answer: name -> dotted path (data.token).",
    )


class Journey(_Strict):
    name: str = Field(min_length=1)
    weight: int = Field(default=1, ge=0, le=1000)
    think_time: ThinkTime | None = Field(default=None, description="Default: the scenario's.")
    steps: list[Step] = Field(min_length=1)


class Scenario(_Strict):
    """A load scenario: journeys (Vendzz paths) or urls (any HTTP service)."""

    name: str = Field(min_length=1)
    description: str = ""
    think_time: ThinkTime = ThinkTime()
    vars: dict[str, IntVar] = Field(default_factory=dict)
    setup: list[Step] = Field(
        default_factory=list,
        description="Steps run once per simulated user before its journeys; what they save "
        "(e.g. a list of ids, of which each use takes one at random) lasts for that user.",
    )
    journeys: list[Journey] = Field(default_factory=list)
    urls: list[str] = Field(
        default_factory=list, description="Plain URL list: each a GET journey of weight 1."
    )

    @model_validator(mode="after")
    def _something(self) -> Scenario:
        if not self.journeys and not self.urls:
            raise ValueError("a scenario needs journeys or urls")
        if self.journeys and sum(j.weight for j in self.journeys) == 0:
            raise ValueError("every journey has weight 0")
        return self

    def foreign_urls(self, base: str) -> list[str]:
        """Where (``urls.1``, ``journeys.0.steps.2.path``...) an absolute URL names another
        origin than ``base``: the load goes only where ``--url`` says."""
        places = [(f"setup.{i}.path", s.path) for i, s in enumerate(self.setup)]
        places += [
            (f"journeys.{i}.steps.{k}.path", s.path)
            for i, j in enumerate(self.journeys)
            for k, s in enumerate(j.steps)
        ]
        places += [(f"urls.{i}", u) for i, u in enumerate(self.urls)]
        return [where for where, path in places if not _same_origin(path, base)]

    def all_journeys(self) -> list[Journey]:
        """The journeys, the URL list included (one GET journey per URL)."""
        from_urls = [Journey(name=url, steps=[Step(path=url)]) for url in self.urls]
        return [*self.journeys, *from_urls]


def _origin(url: str, scheme: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme or scheme
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    return scheme, parts.hostname, port


def _same_origin(path: str, base: str) -> bool:
    """A relative path, or an absolute URL on ``base``'s scheme, host and port."""
    if not urlsplit(path).netloc:
        return True
    scheme = urlsplit(base).scheme
    return _origin(path, scheme) == _origin(base, scheme)


def load_scenario(name_or_path: str | Path | None) -> Scenario:
    """A packaged scenario by name, or a YAML file by path; errors name the field."""
    text, where = _read(str(name_or_path or DEFAULT_SCENARIO))
    return from_yaml(Scenario, text, f"scenario {where}", unknown_first=False)


def _read(name_or_path: str) -> tuple[str, str]:
    if name_or_path in PACKAGED:
        ref = resources.files("vendzz_migrate.loadtest") / "scenarios" / f"{name_or_path}.yaml"
        return ref.read_text(encoding="utf-8"), name_or_path
    path = Path(name_or_path)
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except (OSError, UnicodeDecodeError) as exc:
        known = ", ".join(PACKAGED)
        raise ConfigError(
            f"scenario {path}: cannot read ({exc.__class__.__name__}; packaged: {known})"
        ) from None


if __name__ == "__main__":  # python -m vendzz_migrate.loadtest.scenario > schemas/loadtest/...
    import json

    print(json.dumps(Scenario.model_json_schema(by_alias=True), indent=2))
