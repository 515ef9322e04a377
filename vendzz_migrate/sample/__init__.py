"""Deterministic generator of realistic Vendzz SQLite files, traps included, and a live writer.

>>> from vendzz_migrate.sample import generate
>>> stats = generate(Path("vendzz.db"), rows=20_000, seed=42)   # doctest: +SKIP
"""

from __future__ import annotations

from vendzz_migrate.sample.generate import generate
from vendzz_migrate.sample.models import TRAP_KINDS, SampleStats, Trap
from vendzz_migrate.sample.writer import live_writer

__all__ = ["TRAP_KINDS", "SampleStats", "Trap", "generate", "live_writer"]
