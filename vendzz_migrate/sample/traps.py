"""Dirty mode: plant the traps of real Vendzz files into the clean data, and record each one.

Every trap is an UPDATE of a few rows picked by the seeded RNG (or an INSERT of an extra row),
so a dirty file is its clean twin plus a small, listed minority of bad values.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from vendzz_migrate.sample.billing import SUBSCRIPTION_DATES
from vendzz_migrate.sample.core import structure
from vendzz_migrate.sample.fake import Fake, dumps
from vendzz_migrate.sample.models import Trap

ISO_SQL = "strftime('%Y-%m-%dT%H:%M:%fZ', {col}, 'unixepoch')"
FAT_CHARS = 1_040_000
STAMP = "2024-03-01T12:00:00.000Z"


class Planter:
    """Picks rows, rewrites a value and records the :class:`Trap`."""

    def __init__(self, conn: sqlite3.Connection, seed: int) -> None:
        self.conn = conn
        self.fake = Fake(f"vendzz-sample:{seed}:traps")
        self.traps: list[Trap] = []
        self._used: dict[tuple[str, str], set[int]] = {}

    def count(self, table: str) -> int:
        row = self.conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()
        return int(row[0])

    def pick(self, table: str, column: str, n: int, key: str = "id") -> list[tuple[int, str]]:
        """``n`` distinct (rowid, key) of rows whose ``column`` holds no trap yet."""
        used = self._used.setdefault((table, column), set())
        top = int(self.conn.execute(f'SELECT max(rowid) FROM "{table}"').fetchone()[0] or 0)
        free = [
            r
            for r in self.fake.rng.sample(range(1, top + 1), min(top, n + len(used)))
            if r not in used
        ][:n]
        used.update(free)
        if not key:
            return [(r, str(r)) for r in free]
        select = f'SELECT "{key}" FROM "{table}" WHERE rowid = ?'
        return [(r, str(self.conn.execute(select, (r,)).fetchone()[0])) for r in free]

    def record(self, table: str, key: str, column: str, kind: str) -> None:
        self.traps.append(Trap(table=table, key=key, column=column, kind=kind))

    def value(self, table: str, column: str, kind: str, value: Any, n: int = 1) -> None:
        """Set ``column`` to a bound Python value (or ``value(i)``) in ``n`` rows."""
        for i, (rowid, key) in enumerate(self.pick(table, column, n)):
            bound = value(i) if callable(value) else value
            sql = f'UPDATE "{table}" SET "{column}" = ? WHERE rowid = ?'
            self.conn.execute(sql, (bound, rowid))
            self.record(table, key, column, kind)

    def expr(self, table: str, column: str, kind: str, sql: str, n: int = 1) -> None:
        """Set ``column`` to a SQL expression (``{col}`` is the quoted column) in ``n`` rows."""
        sql = sql.format(col=f'"{column}"')
        for rowid, key in self.pick(table, column, n):
            self.conn.execute(f'UPDATE "{table}" SET "{column}" = {sql} WHERE rowid = ?', (rowid,))
            self.record(table, key, column, kind)

    def every_row(self, table: str, column: str, kind: str, sql: str) -> None:
        """Rewrite ``column`` in every row where it is not NULL (a whole-column habit)."""
        sql = sql.format(col=f'"{column}"')
        keys = self.conn.execute(
            f'UPDATE "{table}" SET "{column}" = {sql} WHERE "{column}" IS NOT NULL RETURNING id'
        ).fetchall()
        for (key,) in sorted(keys):
            self.record(table, str(key), column, kind)

    def scaled(self, table: str, per: int, floor: int = 1) -> int:
        """One trap per ``per`` rows of ``table``, at least ``floor``."""
        return max(floor, self.count(table) // per)


def timestamps(p: Planter) -> None:
    p.expr("users", "createdAt", "mixed_epoch_ms", "{col} * 1000 + 417", p.scaled("users", 16))
    responses = "quiz_responses"
    p.expr(
        responses,
        "submittedAt",
        "mixed_epoch_ms",
        "{col} * 1000 + rowid % 1000",
        p.scaled(responses, 400),
    )
    p.expr(responses, "submittedAt", "iso_text_in_integer", ISO_SQL, p.scaled(responses, 2000))
    p.expr(
        responses,
        "submittedAt",
        "sql_datetime_text",
        "datetime({col}, 'unixepoch')",
        p.scaled(responses, 2000),
    )
    for column in SUBSCRIPTION_DATES:
        p.every_row("stripe_subscriptions", column, "iso_text_in_integer", ISO_SQL)
    p.expr(
        "stripe_plans",
        "created_at",
        "sql_datetime_text",
        "datetime({col})",
        p.scaled("stripe_plans", 10),
    )


def numbers(p: Planter) -> None:
    p.value("sms_campaigns", "triggerDelay", "text_in_integer", "10 minutos")
    p.value("users", "smsCredits", "text_in_integer", "ilimitado")
    for text in ("Infinity", "-Infinity", "NaN"):
        p.value("quiz_analytics", "conversionRate", "infinity", text)
    p.expr("quiz_analytics", "conversionRate", "infinity", "9e999")
    p.expr(
        "quiz_analytics",
        "views",
        "int8_beyond_int4",
        "2147483648 + rowid * 7919",
        p.scaled("quiz_analytics", 500),
    )
    p.value("users", "aiCredits", "int8_beyond_int4", 9_007_199_254_740_993)


def text(p: Planter) -> None:
    p.value("users", "firstName", "nul_byte", "Ana\x00Maria")
    p.expr(
        "sms_logs", "message", "nul_byte", "{col} || char(0) || ' fim'", p.scaled("sms_logs", 5000)
    )
    p.expr("users", "lastName", "invalid_utf8", "CAST(X'53696c7661ff' AS TEXT)")
    p.expr("quiz_responses", "country", "invalid_utf8", "CAST(X'42ff52' AS TEXT)")
    p.value(
        "whatsapp_logs",
        "phone",
        "varchar_overflow",
        lambda i: (
            f"+55 ({p.fake.num(11, 99)}) 9{p.fake.num(0, 9999):04d}-"
            f"{p.fake.num(0, 9999):04d} ramal {i + 1}"
        ),
        p.scaled("whatsapp_logs", 2000),
    )
    p.value("quizzes", "description", "empty_vs_null", "", p.scaled("quizzes", 10))
    p.value("checkout_products", "category", "empty_vs_null", "")
    p.value("users", "whatsapp", "empty_vs_null", "")


def json_values(p: Planter) -> None:
    p.every_row("sms_campaigns", "phones", "double_encoded_json", "json_quote({col})")
    p.expr(
        "email_logs",
        "leadData",
        "double_encoded_json",
        "json_quote({col})",
        p.scaled("email_logs", 1000),
    )
    p.value(
        "quiz_responses", "metadata", "invalid_json", "{broken", p.scaled("quiz_responses", 3000)
    )
    p.value("sms_campaigns", "conditionalRules", "invalid_json", '[{"field":"isComplete",')
    p.value("quizzes", "structure", "json_scalar", '"invalid"', 3)
    fat = p.fake
    p.value("quizzes", "structure", "fat_json", lambda _: fat_structure(fat))


def fat_structure(f: Fake) -> str:
    """A quiz structure of about 1 MB (50+ pages), like the biggest real quiz."""
    pages: list[Any] = []
    size = 0
    while size < FAT_CHARS or len(pages) < 50:
        page = structure(f, 1, 40, options=8)["pages"][0]
        page["id"] = f"page{len(pages) + 1}"
        pages.append(page)
        size += len(dumps(page)) + 1
    return dumps({"pages": pages, "settings": {"theme": "light", "showProgress": True}})


def orphans(p: Planter) -> None:
    ghost = p.fake.nanoid
    p.value(
        "quiz_responses", "quizId", "orphan", lambda _: ghost(), p.scaled("quiz_responses", 2000)
    )
    p.value(
        "response_variables",
        "responseId",
        "orphan",
        lambda _: ghost(),
        p.scaled("response_variables", 2000),
    )
    p.value("sms_logs", "campaignId", "orphan", lambda _: p.fake.uuid(), p.scaled("sms_logs", 5000))
    p.value("whatsapp_logs", "campaign_id", "orphan", lambda _: ghost())
    p.value("quizzes", "userId", "orphan", lambda _: ghost())


def rows(p: Planter) -> None:
    """Extra rows: NULL text primary keys and exact duplicates in the keyless log."""
    for name in ("Produto sem id", "Produto importado", "Oferta antiga", "Teste"):
        cur = p.conn.execute(
            "INSERT INTO checkout_products (id, name, price, features, created_at, updated_at) "
            "VALUES (NULL, ?, 9.9, 'Bônus', ?, ?)",
            (name, STAMP, STAMP),
        )
        p.record("checkout_products", str(cur.lastrowid), "id", "null_pk")
    for rowid, _ in p.pick("extension_pings", "*", p.scaled("extension_pings", 500, 2), key=""):
        cur = p.conn.execute(
            "INSERT INTO extension_pings SELECT * FROM extension_pings WHERE rowid = ?", (rowid,)
        )
        p.record("extension_pings", str(cur.lastrowid), "*", "duplicate_row")


PLANTERS: tuple[Callable[[Planter], None], ...] = (
    timestamps,
    numbers,
    text,
    json_values,
    orphans,
    rows,
)


def plant(conn: sqlite3.Connection, seed: int) -> list[Trap]:
    """Plant every trap kind into the loaded tables; returns the traps in planting order."""
    planter = Planter(conn, seed)
    for step in PLANTERS:
        step(planter)
    return planter.traps
