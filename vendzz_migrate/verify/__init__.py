"""verify: prove that PostgreSQL holds exactly what SQLite held, or show exactly where not.

>>> from vendzz_migrate import verify
>>> report = verify.run(verify.VerifyOptions(source=path, target_url=url))  # doctest: +SKIP
"""

from __future__ import annotations

from vendzz_migrate.verify.model import (
    Difference,
    DiffKind,
    SchemaCheck,
    Status,
    TableResult,
    VerifyReport,
)
from vendzz_migrate.verify.run import VerifyOptions, run

__all__ = [
    "DiffKind",
    "Difference",
    "SchemaCheck",
    "Status",
    "TableResult",
    "VerifyOptions",
    "VerifyReport",
    "run",
]
