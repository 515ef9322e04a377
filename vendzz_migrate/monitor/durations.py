"""Durations as Prometheus writes them (``30s``, ``5m``, ``1h30m``, ``24h``); bare numbers are
seconds."""

from __future__ import annotations

import re

from vendzz_migrate.errors import ConfigError

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")


def parse_duration(text: str) -> float:
    """Seconds in ``text``; a one-line ConfigError for anything else."""
    value = text.strip()
    try:
        return float(value)
    except ValueError:
        pass
    parts = _PART.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise ConfigError(f"not a duration: {text!r} (e.g. 30s, 5m, 1h30m, 24h)")
    return sum(float(n) * _UNITS[u] for n, u in parts)
