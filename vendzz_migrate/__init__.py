"""vendzz-migrate: move a live Vendzz SQLite file to PostgreSQL + Redis, and prove it."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
