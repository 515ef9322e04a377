"""What verify keeps out of its report unless ``--show-values``: the values of personal data.

Differing values are only shown with ``--show-values``. A row's key is always shown (it is how
a difference is found again), except the values of key columns the rules below cover: a
column named like personal data (e-mail, phone, name, address...), or a value that is an
e-mail address whatever its column's name (a table keyed by e-mail).
"""

from __future__ import annotations

import re
from typing import Any

from vendzz_migrate.verify.model import VerifyReport

REDACTED = "<redacted>"
_PERSONAL = re.compile(
    r"(?i)e[-_]?mail|phone|mobile|^tel$|telephone|whatsapp|(first|last|full|display|user|"
    r"given|family|sur)[-_]?name|^name$|address|^ip$|ip[-_]?addr|ssn|tax[-_]?id|iban|"
    r"passport|birth"
)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def covered(column: str, value: Any) -> bool:
    """Whether the rules cover this key value."""
    return bool(_PERSONAL.search(column)) or (
        isinstance(value, str) and _EMAIL.fullmatch(value.strip()) is not None
    )


def redact_keys(report: VerifyReport) -> None:
    """Replace the covered key values of every listed difference (in place)."""
    for table in report.tables:
        for diff in table.differences:
            diff.key = {
                column: REDACTED if value is not None and covered(column, value) else value
                for column, value in diff.key.items()
            }
