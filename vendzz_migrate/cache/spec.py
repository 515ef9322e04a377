"""Cache specs: which rows go to which Redis keys, how they are encoded and for how long.

A spec is a YAML file validated by :class:`CacheSpec` (unknown fields are errors that name the
field). The default spec for Vendzz ships inside the package (``specs/vendzz.yaml``); its SQL
lives in ``specs/sql/*.sql`` so a human can run it in psql. See ``schemas/cache/`` for the JSON
schema of the format.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vendzz_migrate.errors import ConfigError

DEFAULT_SPEC = "vendzz.yaml"
_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClientBehaviour(_Strict):
    """The service's Redis client behaviour, applied to warm-cache's own writes."""

    retry_delay_ms: int = Field(default=100, ge=0, le=60_000, description="Delay before a retry.")
    max_retries: int = Field(
        default=3, ge=0, le=20, description="Retries per request after the first try."
    )


class Defaults(_Strict):
    ttl_s: int = Field(default=3600, ge=1, description="Time to live of every key, in seconds.")
    jitter_s: int = Field(
        default=300, ge=0, description="TTL is ttl_s plus or minus up to jitter_s."
    )
    batch_size: int = Field(default=5000, ge=1, le=100_000, description="Rows per pipelined batch.")
    streams: int = Field(
        default=2,
        ge=1,
        le=16,
        description="PostgreSQL connections rendering a cache in parallel (split by key hash, "
        "one snapshot; with max_keys, order_by must be deterministic).",
    )


class CacheDef(_Strict):
    """One cache: rows of one query, one key each."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")
    description: str = ""
    key: str = Field(description="Key template naming returned columns: vendzz:quiz:{id}.")
    query: str | None = Field(default=None, description="SELECT returning one row per key.")
    query_file: str | None = Field(
        default=None, description="File holding the query (relative to spec)."
    )
    encoding: Literal["json", "hash", "text"] = Field(
        "json", description="json: row object; hash: one field per column; text: one column."
    )
    fields: list[str] | None = Field(
        default=None, description="Columns in the value (default: all)."
    )
    exclude: list[str] = Field(default_factory=list, description="Columns never in the value.")
    ttl_s: int | None = Field(default=None, ge=1)
    jitter_s: int | None = Field(default=None, ge=0)
    ttl_column: str | None = Field(
        default=None, description="Column holding a per-row TTL in seconds."
    )
    order_by: str | None = Field(
        default=None, description="SQL ORDER BY expression: hottest first."
    )
    max_keys: int | None = Field(
        default=None, ge=1, description="Keep only the first max_keys rows."
    )
    requires: list[str] = Field(
        default_factory=list, description="Tables that must exist, else the cache is skipped."
    )

    @model_validator(mode="after")
    def _check(self) -> CacheDef:
        if (self.query is None) == (self.query_file is None):
            raise ValueError("give exactly one of 'query' and 'query_file'")
        if self.fields is not None and self.exclude:
            raise ValueError("give 'fields' or 'exclude', not both")
        if self.encoding == "text" and (self.fields is None or len(self.fields) != 1):
            raise ValueError("encoding 'text' needs exactly one column in 'fields'")
        parse_template(self.key)
        return self


class CacheSpec(_Strict):
    """A whole spec file."""

    version: Literal[1] = 1
    description: str = ""
    hit_rate_target: float = Field(
        default=0.85, gt=0, le=1, description="cache-stats target (0..1)."
    )
    client: ClientBehaviour = ClientBehaviour()
    defaults: Defaults = Defaults()
    caches: list[CacheDef] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> CacheSpec:
        names = [c.name for c in self.caches]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate cache name {dupes[0]!r}")
        for cache in self.caches:
            ttl, jitter = self.ttl_of(cache)
            if jitter >= ttl:
                raise ValueError(
                    f"cache {cache.name!r}: jitter_s ({jitter}) must be < ttl_s ({ttl})"
                )
        _check_overlaps(self.caches)
        return self

    def ttl_of(self, cache: CacheDef) -> tuple[int, int]:
        ttl = cache.ttl_s if cache.ttl_s is not None else self.defaults.ttl_s
        jitter = cache.jitter_s if cache.jitter_s is not None else self.defaults.jitter_s
        return ttl, jitter

    def select(self, only: list[str] | None) -> list[CacheDef]:
        """The caches named by ``--only`` (all when None), in spec order."""
        if not only:
            return list(self.caches)
        known = {c.name for c in self.caches}
        unknown = [n for n in only if n not in known]
        if unknown:
            raise ConfigError(
                f"unknown cache {unknown[0]!r} in --only; the spec has: {', '.join(sorted(known))}"
            )
        return [c for c in self.caches if c.name in only]


@dataclass(frozen=True)
class KeyTemplate:
    """A parsed key template: literal text and column names, in order."""

    parts: tuple[tuple[str, str | None], ...]

    @property
    def columns(self) -> list[str]:
        return [f for _, f in self.parts if f is not None]

    def glob(self) -> str:
        """The SCAN MATCH pattern of every key this template can produce."""
        return "".join(glob_escape(lit) + ("*" if f else "") for lit, f in self.parts)

    @property
    def prefix(self) -> str:
        """The literal text before the first column."""
        return self.parts[0][0]

    def regex(self) -> re.Pattern[str]:
        """Keys of this template whose fields hold no ':' (used to prune stale keys safely)."""
        body = "".join(re.escape(lit) + ("[^:]+" if f else "") for lit, f in self.parts)
        return re.compile(f"^{body}$")

    def sample(self) -> str:
        return "".join(lit + ("x" if f else "") for lit, f in self.parts)


def glob_escape(text: str) -> str:
    """Escape SCAN MATCH wildcards in literal text."""
    return _GLOB_SPECIAL.sub(r"\\\1", text)


def parse_template(text: str) -> KeyTemplate:
    """Parse ``vendzz:quiz:{id}``; ``{{`` and ``}}`` are literal braces."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ValueError(f"bad key template {text!r}: {exc}") from None
    parts: list[tuple[str, str | None]] = []
    for literal, field, spec, conversion in parsed:
        if field is not None and (field == "" or field.isdigit()):
            raise ValueError(f"bad key template {text!r}: every {{}} must name a column")
        if spec or conversion:
            raise ValueError(f"bad key template {text!r}: no format spec or conversion allowed")
        parts.append((literal, field))
    template = KeyTemplate(tuple(parts))
    if not template.columns:
        raise ValueError(f"bad key template {text!r}: it names no column, so every row is one key")
    return template


def _check_overlaps(caches: list[CacheDef]) -> None:
    templates = {c.name: parse_template(c.key) for c in caches}
    for a, ta in templates.items():
        for b, tb in templates.items():
            if a != b and ta.regex().match(tb.sample()):
                raise ValueError(f"caches {a!r} and {b!r} have overlapping key templates")


def load_spec(path: Path | None = None) -> CacheSpec:
    """Load and validate a spec file; ``None`` loads the default Vendzz spec from the package."""
    if path is None:
        base: Traversable | Path = resources.files("vendzz_migrate.cache") / "specs"
        where, label = base / DEFAULT_SPEC, f"<package>/{DEFAULT_SPEC}"
    else:
        base, where, label = path.parent, path, str(path)
    raw = _read_yaml(where, label)
    try:
        spec = CacheSpec.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"invalid cache spec {label}: {_describe(exc, raw)}") from None
    caches = [_resolve_query(c, base, label) for c in spec.caches]
    return spec.model_copy(update={"caches": caches})


def _read_yaml(where: Traversable | Path, label: str) -> Any:
    try:
        text = where.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read cache spec {label}: {exc.strerror or exc}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"cache spec {label}{line}: not valid YAML") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"cache spec {label}: expected a mapping with 'caches'")
    return raw


def _describe(exc: ValidationError, raw: Any) -> str:
    first = exc.errors()[0]
    loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"]).lstrip(".")
    name = _cache_name(raw, first["loc"])
    where = f"{loc} (cache {name!r})" if name else loc
    if first["type"] == "extra_forbidden":
        return f"unknown field {first['loc'][-1]!r} at {where}"
    msg = str(first["msg"]).removeprefix("Value error, ")
    return f"{where}: {msg}" if where else msg


def _cache_name(raw: Any, loc: tuple[int | str, ...]) -> str | None:
    if len(loc) >= 2 and loc[0] == "caches" and isinstance(loc[1], int):
        try:
            name = raw["caches"][loc[1]].get("name")
        except (KeyError, IndexError, TypeError, AttributeError):
            return None
        return str(name) if name else None
    return None


def _resolve_query(cache: CacheDef, base: Traversable | Path, label: str) -> CacheDef:
    if cache.query_file is None:
        return cache
    node = base
    for part in Path(cache.query_file).parts:
        node = node / part
    try:
        text = node.read_text(encoding="utf-8")
    except OSError:
        raise ConfigError(
            f"cache spec {label}: cache {cache.name!r}: cannot read query_file {cache.query_file!r}"
        ) from None
    return cache.model_copy(update={"query": text})


if __name__ == "__main__":  # python -m vendzz_migrate.cache.spec > schemas/cache/...schema.json
    import json

    print(json.dumps(CacheSpec.model_json_schema(), indent=2))
