"""View translation (copy/views.py) without a database: order, rewrites, refusals."""

from __future__ import annotations

import pytest

from vendzz_migrate.copy import views
from vendzz_migrate.copy.plan import build
from vendzz_migrate.source.introspect import Schema, View, introspect
from vendzz_migrate.typemap.infer import infer


@pytest.fixture(scope="module")
def plans_and_schema() -> tuple[dict, Schema]:  # type: ignore[type-arg]
    import sqlite3

    conn = sqlite3.connect(":memory:")
    conn.executescript("""
        CREATE TABLE orders (id INTEGER PRIMARY KEY, placedAt DATETIME, paid INTEGER,
                             isPaid INTEGER, code TEXT, qty INTEGER);
        INSERT INTO orders VALUES (1, '2024-01-02 10:00:00', 1, 0, '7', 3);
    """)
    schema = introspect(conn)
    mapping = infer(conn, schema)
    mapping.tables["orders"].rename = "shop_orders"
    mapping.tables["orders"].columns["placedAt"].rename = "placed_at"
    return build(mapping, schema), schema


def _sql(plans: dict, body: str) -> str:  # type: ignore[type-arg]
    return views.translate("s", View("v", f"CREATE VIEW v AS {body}"), plans)


def test_views_come_after_the_views_they_read() -> None:
    order = views.ordered(
        [
            View("b", "CREATE VIEW b AS SELECT * FROM a"),
            View("c", "CREATE VIEW c AS SELECT * FROM b JOIN t"),
            View("a", "CREATE VIEW a AS SELECT 1 AS x"),
        ]
    )
    assert [v.name for v in order] == ["a", "b", "c"]


def test_renames_dates_and_comparisons(plans_and_schema: tuple[dict, Schema]) -> None:  # type: ignore[type-arg]
    plans, _ = plans_and_schema
    sql = _sql(
        plans,
        "SELECT placedAt, strftime('%Y-%m', placedAt) AS month, code FROM orders"
        " WHERE isPaid = 1 AND code = 7 AND placedAt > datetime('now', '-7 days')",
    )
    assert '"shop_orders" AS "orders"' in sql
    assert '"placed_at" AS "placedAt"' in sql  # the view keeps its column's name
    assert "TO_CHAR" in sql.upper() and "YYYY-MM" in sql
    assert '"isPaid" = TRUE' in sql
    assert "\"code\" = '7'" in sql
    # compared with a timestamp column: a timestamptz, not to_char() text
    assert (
        "\"placed_at\" > (((CURRENT_TIMESTAMP AT TIME ZONE 'UTC') + INTERVAL '-7 DAY')"
        " AT TIME ZONE 'UTC')" in sql
    )


def test_group_by_rule(plans_and_schema: tuple[dict, Schema]) -> None:  # type: ignore[type-arg]
    plans, _ = plans_and_schema
    sql = _sql(plans, "SELECT id, code, sum(qty) AS n FROM orders GROUP BY id")
    assert sql.endswith('GROUP BY "orders"."id", "orders"."code"') or 'GROUP BY "id", "code"' in sql


@pytest.mark.parametrize(
    "body",
    [
        "SELECT strftime('%Y', placedAt) AS y, count(*) AS n FROM orders"
        " GROUP BY strftime('%Y', placedAt)",
        "SELECT strftime('%Y', placedAt) AS y, count(*) AS n FROM orders GROUP BY 1",
        "SELECT strftime('%Y', placedAt) AS y, count(*) AS n FROM orders GROUP BY y",
    ],
)
def test_group_by_an_expression_adds_nothing(
    plans_and_schema: tuple[dict, Schema],  # type: ignore[type-arg]
    body: str,
) -> None:
    plans, _ = plans_and_schema
    sql = _sql(plans, body)
    assert (
        '"placed_at"' not in sql.split("GROUP BY", 1)[1]
        or sql.split("GROUP BY", 1)[1].count('"placed_at"') == 1
    )
    assert ', "orders"."placed_at"' not in sql and ', "placed_at"' not in sql


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("SELECT title_sort(code) FROM orders", "title_sort()"),
        ("SELECT printf('%d', qty) FROM orders", "PRINTF()"),
        ("SELECT date(placedAt, 'weekday 0') FROM orders", "modifier 'weekday 0'"),
    ],
)
def test_untranslatable_says_why(
    plans_and_schema: tuple[dict, Schema],
    body: str,  # type: ignore[type-arg]
    reason: str,
) -> None:
    plans, _ = plans_and_schema
    with pytest.raises(views.Untranslatable) as info:
        _sql(plans, body)
    assert reason.lower() in str(info.value).lower()


def test_collate_clauses(plans_and_schema: tuple[dict, Schema]) -> None:  # type: ignore[type-arg]
    plans, _ = plans_and_schema
    sql = _sql(
        plans,
        "SELECT code FROM orders WHERE code = 'x' COLLATE NOCASE"
        " ORDER BY code COLLATE unicase, code COLLATE BINARY",
    )
    assert "nocase" not in sql.lower() and "unicase" not in sql.lower()
    assert sql.endswith('ORDER BY "code" NULLS FIRST, "code" COLLATE "C" NULLS FIRST')
