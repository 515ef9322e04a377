"""Shared state of one generation run: the row plan, the parent keys, the bulk inserter."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from vendzz_migrate.sample.fake import Fake


@dataclass(frozen=True)
class Plan:
    """How many rows each table gets for a requested total (small tables grow like sqrt)."""

    users: int
    quizzes: int
    quiz_templates: int
    quiz_responses: int
    quiz_analytics: int
    sms_campaigns: int
    sms_logs: int
    email_campaigns: int
    email_logs: int
    email_automations: int
    whatsapp_campaigns: int
    whatsapp_logs: int
    stripe_subscriptions: int
    stripe_plans: int
    checkout_products: int
    credit_transactions: int
    push_subscriptions: int
    courses: int
    extension_pings: int

    @classmethod
    def for_rows(cls, rows: int) -> Plan:
        users = max(8, round(math.sqrt(rows) / 2))
        small = {
            "users": users,
            "quizzes": 2 * users,
            "quiz_templates": max(3, users // 10),
            "sms_campaigns": max(4, users // 2),
            "email_campaigns": max(3, users // 3),
            "email_automations": max(2, users // 5),
            "whatsapp_campaigns": max(3, users // 4),
            "stripe_subscriptions": max(3, users // 8),
            "stripe_plans": max(4, min(40, users // 10)),
            "checkout_products": max(6, users // 4),
            "push_subscriptions": max(3, users // 4),
            "courses": max(2, users // 25),
        }
        # lessons (5 per course) and subscription_plans (4) come on top of the small tables
        budget = max(rows - sum(small.values()) - 5 * small["courses"] - 4, 100)
        big = {  # response_variables adds about 1.4 x quiz_responses (0.434 of the budget)
            "quiz_responses": 0.31,
            "quiz_analytics": 0.02,
            "sms_logs": 0.09,
            "whatsapp_logs": 0.06,
            "email_logs": 0.035,
            "extension_pings": 0.03,
            "credit_transactions": 0.02,
        }
        return cls(**small, **{name: max(4, int(budget * share)) for name, share in big.items()})


@dataclass
class Context:
    """The plan, the keys children point at, and the inserter; one per generation."""

    conn: sqlite3.Connection
    seed: int
    plan: Plan
    counts: dict[str, int] = field(default_factory=dict)
    keys: dict[str, list[str]] = field(default_factory=dict)

    def fake(self, table: str) -> Fake:
        """A fresh RNG per table, so one table's volume never shifts another's values."""
        return Fake(f"vendzz-sample:{self.seed}:{table}")

    def insert(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        """Bulk-insert rows (streamed through executemany); returns and records the count."""
        names = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join("?" * len(columns))
        cursor = self.conn.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', rows)
        self.counts[table] = self.counts.get(table, 0) + cursor.rowcount
        return cursor.rowcount
