"""SQLite files of other frameworks (Django, Rails, Prisma, Drizzle, Strapi, sakila, Northwind,
FTS, collations): the declared types survive, every foreign key and view is created, and
verify vouches for the result (exit 0), or fails (exit 9) when an object goes missing."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from tests.copy import wild
from tests.copy.helpers import copy, rows
from vendzz_migrate.cli import app
from vendzz_migrate.errors import ExitCode
from vendzz_migrate.report.copy import CopyReport

runner = CliRunner()


def _copied(name: str, pg_url: str, tmp_path: Path) -> tuple[Path, CopyReport, dict[str, str]]:
    source = wild.build(tmp_path / f"{name}.db", name)
    report = copy(source, pg_url, tmp_path / "work")
    assert report.total.rejected_rows == 0, report.model_dump_json(indent=1)[:3000]
    assert report.total.copied_rows == report.total.source_rows
    return source, report, wild.types(rows(pg_url, wild.TYPES_SQL))


def _verify_exit(source: Path, pg_url: str) -> int:
    result = runner.invoke(app, ["verify", str(source), "--target", pg_url])
    return result.exit_code


def _execute(pg_url: str, sql: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.encode())


def _fks(pg_url: str) -> list[tuple[str, str, bool]]:
    return sorted(rows(pg_url, wild.FKS_SQL))


def _views(pg_url: str) -> set[str]:
    return {v for (v,) in rows(pg_url, wild.VIEWS_SQL)}


def _notes(report: CopyReport) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for note in report.notes:
        out.setdefault(note.object, []).append(note.message)
    return out


def test_django(pg_url: str, tmp_path: Path) -> None:
    source, _report, t = _copied("django", pg_url, tmp_path)
    assert t["auth_user.is_superuser"] == "boolean"  # bool, named like no flag
    assert t["auth_user.last_login"] == "timestamp with time zone"
    assert t["shop_product.price"] == "numeric"  # Django's plain "decimal"
    assert t["shop_product.released"] == "date"
    assert t["shop_product.in_stock"] == "boolean"
    assert t["shop_product.created_by_id"] == "bigint"  # *_id, a foreign key: never a time
    # an empty table keeps its declared types
    assert t["shop_review.stars"] == "numeric(3,1)"
    assert t["shop_review.is_verified"] == "boolean"
    assert t["shop_review.published"] == "date"
    assert t["shop_review.product_id"] == "bigint"
    assert len(_fks(pg_url)) == 4 and all(valid for _c, _p, valid in _fks(pg_url))
    assert _verify_exit(source, pg_url) == ExitCode.OK


def test_rails(pg_url: str, tmp_path: Path) -> None:
    source, _report, t = _copied("rails", pg_url, tmp_path)
    assert t["users.admin"] == "boolean"
    assert t["users.created_at"] == "timestamp with time zone"  # datetime(6)
    assert t["articles.published_on"] == "date"
    assert t["articles.rating"] == "numeric(4,2)"
    assert t["articles.settings"] == "jsonb"
    assert t["articles.user_id"] == "bigint"
    assert t["active_storage_blobs.thumbnail"] == "bytea"  # an empty blob column
    (micros,) = rows(pg_url, "SELECT to_char(created_at, 'US') FROM users WHERE id = 1")[0]
    assert micros == "000001"
    assert _fks(pg_url) == [("articles", "users", True)]
    assert _verify_exit(source, pg_url) == ExitCode.OK


def test_prisma(pg_url: str, tmp_path: Path) -> None:
    source, _report, t = _copied("prisma", pg_url, tmp_path)
    assert t["User.createdAt"] == "timestamp with time zone"  # epoch ms in a DATETIME
    assert t["User.isAdmin"] == "boolean"
    assert t["User.balance"] == "numeric"
    assert t["User.avatar"] == "bytea"
    assert t["Post.authorId"] == "bigint"
    assert t["_prisma_migrations.rolled_back_at"] == "timestamp with time zone"  # all NULL
    (year,) = rows(pg_url, 'SELECT extract(year FROM "createdAt")::int FROM "User" WHERE id = 1')[0]
    assert year == 2023
    assert _fks(pg_url) == [('"Post"', '"User"', True)]
    assert _verify_exit(source, pg_url) == ExitCode.OK


def test_drizzle(pg_url: str, tmp_path: Path) -> None:
    source, report, t = _copied("drizzle", pg_url, tmp_path)
    assert t["users.created_at"] == "timestamp with time zone"  # epoch seconds: evidence
    assert t["posts.updated_at"] == "bigint"  # INTEGER, all NULL: no evidence, no timestamp
    assert t["users.is_active"] == "boolean"
    assert t["posts.author_id"] == "bigint"
    assert t["posts.tags"] == "jsonb"
    assert "__drizzle_migrations" not in {k.split(".")[0] for k in t}
    assert any("skip_tables" in m for m in _notes(report)["__drizzle_migrations"])
    assert _fks(pg_url) == [("posts", "users", True)]
    assert _verify_exit(source, pg_url) == ExitCode.OK


def test_strapi(pg_url: str, tmp_path: Path) -> None:
    source, _report, t = _copied("strapi", pg_url, tmp_path)
    for table in ("admin_users", "articles", "strapi_webhooks"):
        assert t[f"{table}.created_by_id"] == "bigint", table
        assert t[f"{table}.created_at"] == "timestamp with time zone", table
    assert t["admin_users.updated_by_id"] == "bigint"
    assert t["articles.price"] == "numeric(10,2)"
    assert t["articles.birthday"] == "date"
    assert t["articles.meta"] == "jsonb"
    assert t["articles.cover"] == "bytea"
    assert t["strapi_webhooks.enabled"] == "boolean"  # an empty table
    fks = _fks(pg_url)
    assert len(fks) == 4 and all(valid for _c, _p, valid in fks)
    assert _verify_exit(source, pg_url) == ExitCode.OK


def test_sakila(pg_url: str, tmp_path: Path) -> None:
    source, _report, t = _copied("sakila", pg_url, tmp_path)
    assert t["payment.amount"] == "numeric(5,2)"
    assert t["payment.payment_date"] == "timestamp with time zone"
    assert t["city.country_id"] == t["country.country_id"]
    assert t["film.rental_rate"] == "numeric(4,2)"
    assert t["film_actor.actor_id"] == t["actor.actor_id"]  # the referenced key's type
    assert len(_fks(pg_url)) == 11 and all(valid for _c, _p, valid in _fks(pg_url))
    assert _views(pg_url) == {
        "customer_list",
        "sales_by_store",
        "sales_by_customer",
        "film_list",
        "staff_list",
        "actor_info",
    }
    info = rows(pg_url, "SELECT categories, films FROM actor_info ORDER BY actor_id")
    assert [(sorted(c.split(",")), n) for c, n in info] == [
        (["Action", "Comedy"], 2),
        (["Comedy"], 1),
    ]
    by_customer = rows(
        pg_url,
        "SELECT customer_id, name, total, payments, last_month FROM sales_by_customer ORDER BY 1",
    )
    assert [tuple(map(str, r)) for r in by_customer] == [
        ("1", "MARY SMITH", "3.98", "2", "2005-05"),
        ("2", "JOHN DOE", "5.99", "1", "2005-06"),
    ]
    assert rows(pg_url, 'SELECT notes FROM customer_list ORDER BY "ID"') == [("active",), ("",)]
    assert _verify_exit(source, pg_url) == ExitCode.OK


NORTHWIND_VIEWS = {
    "Alphabetical list of products",
    "Current Product List",
    "Category Sales for 1997",
    "Product Sales for 1997",
    "Orders Qry",
    "Quarterly Orders",
    "Summary of Sales by Year",
    "Late Orders",
    "Order Subtotals",
    "Product Labels",
    "Customer and Suppliers by City",
    "Products Above Average Price",
    "Products by Category",
    "Order Details Extended",
    "Sales by Category",
    "Sales Totals by Amount",
    "Summary of Sales by Quarter",
}


def test_northwind(pg_url: str, tmp_path: Path) -> None:
    source, report, t = _copied("northwind", pg_url, tmp_path)
    assert t["Orders.OrderDate"] == "timestamp with time zone"
    assert t["Categories.Picture"] == "bytea"
    assert len(_fks(pg_url)) == 4 and all(valid for _c, _p, valid in _fks(pg_url))
    assert _views(pg_url) == NORTHWIND_VIEWS, _notes(report)
    current = rows(pg_url, 'SELECT "ProductName" FROM "Current Product List" ORDER BY 1')
    assert current == [("Aniseed Syrup",), ("Chai",)]
    assert rows(pg_url, 'SELECT "OrderYear" FROM "Orders Qry" ORDER BY 1') == [("1996",), ("1997",)]
    assert rows(pg_url, 'SELECT "CategoryName" FROM "Category Sales for 1997" ORDER BY 1') == [
        ("Beverages",),
        ("Condiments",),
    ]
    assert rows(
        pg_url, 'SELECT "ShippedDate", "DaysToShip"::int FROM "Summary of Sales by Year"'
    ) == [("1997-07-16", 12)]
    assert rows(
        pg_url, 'SELECT "Relationship" FROM "Customer and Suppliers by City" ORDER BY "City"'
    ) == [("Customers",), ("Suppliers",), ("Customers",)]
    assert rows(pg_url, 'SELECT "ProductName" FROM "Sales by Category" ORDER BY 1') == [
        ("Aniseed Syrup",),
        ("Chai",),
    ]
    assert _verify_exit(source, pg_url) == ExitCode.OK


def test_full_text_tables(pg_url: str, tmp_path: Path) -> None:
    source, report, t = _copied("fts", pg_url, tmp_path)
    tables = {k.split(".")[0] for k in t}
    assert tables == {"notes", "docs", "old_docs"}  # no shadow table, no external-content one
    assert {k for k in t if k.startswith("docs.")} == {"docs.title", "docs.body"}  # no rank
    notes = _notes(report)
    assert any("external content" in m for m in notes["notes_fts"])
    assert any("shadow table" in m for m in notes["docs_data"])
    assert any("GIN index" in m for m in notes["docs"])
    hits = rows(
        pg_url,
        "SELECT title FROM docs WHERE to_tsvector('simple',"
        " coalesce(title::text, '') || ' ' || coalesce(body::text, ''))"
        " @@ plainto_tsquery('simple', 'prove')",
    )
    assert hits == [("Verify",)]
    (gin,) = rows(
        pg_url,
        "SELECT count(*) FROM pg_indexes WHERE tablename = 'docs'"
        " AND indexdef LIKE '%%USING gin%%'",
    )[0]
    assert gin == 1
    # the external-content one: its GIN index on the content table, under its own name
    assert rows(
        pg_url,
        "SELECT tablename FROM pg_indexes WHERE indexname = 'notes_fts'"
        " AND indexdef LIKE '%%USING gin%%'",
    ) == [("notes",)]
    assert any("GIN index notes_fts on notes" in m for m in notes["notes_fts"])
    assert _verify_exit(source, pg_url) == ExitCode.OK


def test_collations_nocase_and_custom(pg_url: str, tmp_path: Path) -> None:
    source = wild.build(tmp_path / "anki.db", "collations")
    out = tmp_path / "mapping.yaml"
    infer = runner.invoke(app, ["schema", "infer", str(source), "-o", str(out)])
    assert infer.exit_code == 0, infer.output  # no "no such collation sequence: unicase"
    dry = runner.invoke(
        app,
        [
            "sqlite-to-pg",
            str(source),
            "--target",
            pg_url,
            "--dry-run",
            "--work-dir",
            str(tmp_path / "dry"),
        ],
    )
    assert dry.exit_code == 0, dry.output
    _source, _report, t = _copied("collations", pg_url, tmp_path)
    assert t["notetypes.name"] == "citext"  # unicase: case-insensitive by its name
    assert t["tags.tag"] == "citext"
    assert t["decks.name"] == "citext"
    assert t["decks.kind"] == "text"  # RTRIM: noted, not carried over
    assert rows(pg_url, "SELECT id FROM decks WHERE name = 'DEFAULT'") == [(1,)]
    assert rows(pg_url, "SELECT usn FROM tags WHERE tag LIKE 'verb%%'") == [(0,)]
    assert "deck_names" in _views(pg_url)
    assert _verify_exit(source, pg_url) == ExitCode.OK


def _unknown_module(path: Path) -> Path:
    conn = wild.sqlite3.connect(path)
    conn.execute("CREATE TABLE plain (id INTEGER PRIMARY KEY)")
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute(
        "INSERT INTO sqlite_master VALUES ('table', 'spell', 'spell', 0,"
        " 'CREATE VIRTUAL TABLE spell USING spellfix1(word)')"
    )
    conn.commit()
    conn.close()
    return path


@pytest.mark.parametrize("command", ["sqlite-to-pg", "schema infer", "verify"])
def test_a_missing_sqlite_module_is_one_exit_code_everywhere(
    command: str, pg_url: str, tmp_path: Path
) -> None:
    source = _unknown_module(tmp_path / "spell.db")
    work = tmp_path / "work"
    args = {
        "sqlite-to-pg": ["sqlite-to-pg", str(source), "--target", pg_url, "--work-dir", str(work)],
        "schema infer": ["schema", "infer", str(source), "-o", str(tmp_path / "m.yaml")],
        "verify": ["verify", str(source), "--target", pg_url],
    }[command]
    result = runner.invoke(app, args)
    assert result.exit_code == ExitCode.SOURCE, result.output
    assert "spellfix1" in result.output and "Traceback" not in result.output


def test_a_view_on_the_applications_own_function_is_named_and_fails_verify(
    pg_url: str, tmp_path: Path
) -> None:
    """Calibre's views call functions the application registers (title_sort()...): they cannot
    be translated, the note says so by name, and verify does not vouch for the schema."""
    source = tmp_path / "calibre.db"
    conn = wild.sqlite3.connect(source)
    conn.executescript(
        "CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT NOT NULL,"
        " info JSON);"
        "INSERT INTO books VALUES (1, 'The Hobbit', '{}');"
        "CREATE VIEW meta AS SELECT id, title_sort(title) AS sort FROM books;"
        "CREATE VIEW odd AS SELECT id FROM books WHERE info = 'x';"
    )
    conn.close()
    report = copy(source, pg_url, tmp_path / "work")
    (note,) = _notes(report)["view meta"]
    assert "title_sort()" in note and "CREATE VIEW meta" in note
    # translated, but refused by PostgreSQL: its reason, DETAIL and the SQL to fix by hand
    (refused,) = _notes(report)["view odd"]
    assert refused.startswith("not created: invalid input syntax for type json")
    assert (
        "DETAIL:" in refused
        and 'fix by hand and run: CREATE OR REPLACE VIEW "public"."odd"' in refused
    )
    result = runner.invoke(app, ["verify", str(source), "--target", pg_url])
    assert result.exit_code == ExitCode.MISMATCH
    assert "title_sort()" in result.output


def test_verify_fails_on_a_dropped_view_or_foreign_key(pg_url: str, tmp_path: Path) -> None:
    source, _report, _t = _copied("sakila", pg_url, tmp_path)
    _execute(pg_url, "DROP VIEW customer_list")
    assert _verify_exit(source, pg_url) == ExitCode.MISMATCH
    # a mapping that drops the view: verify accepts its absence
    mapping = tmp_path / "m.yaml"
    assert runner.invoke(app, ["schema", "infer", str(source), "-o", str(mapping)]).exit_code == 0
    mapping.write_text(mapping.read_text().replace("drop: []", "drop:\n- customer_list"))
    result = runner.invoke(
        app, ["verify", str(source), "--target", pg_url, "--mapping", str(mapping)]
    )
    assert result.exit_code == ExitCode.OK, result.output
    (fk,) = rows(
        pg_url,
        "SELECT conname FROM pg_constraint WHERE conrelid = 'payment'::regclass AND contype = 'f'",
    )[0]
    _execute(pg_url, f'ALTER TABLE payment DROP CONSTRAINT "{fk}"')
    assert _verify_exit(source, pg_url) == ExitCode.MISMATCH


def test_vendzz_shaped_file_lands_whole_with_each_decision_named(
    pg_url: str, tmp_path: Path
) -> None:
    """As on the real Vendzz file: text primary keys left NULL and plain text in an otherwise
    JSON column land (no quarantine), and the mapping and the summary say what was done."""
    from vendzz_migrate.sample import generate
    from vendzz_migrate.typemap import mapping as maps

    stats = generate(tmp_path / "vendzz.db", rows=300, seed=5, clean=True)
    conn = wild.sqlite3.connect(stats.path)
    conn.execute(
        "UPDATE response_variables SET variableValue = 'Test Simple' WHERE rowid IN"
        " (SELECT rowid FROM response_variables WHERE variableValue LIKE '{%' LIMIT 2)"
    )
    conn.execute(
        "UPDATE checkout_products SET id = NULL WHERE rowid IN"
        " (SELECT rowid FROM checkout_products LIMIT 2)"
    )
    conn.commit()
    conn.close()
    out = tmp_path / "mapping.yaml"
    assert runner.invoke(app, ["schema", "infer", str(stats.path), "-o", str(out)]).exit_code == 0
    mapping = maps.load(out)
    value = mapping.tables["response_variables"].columns["variableValue"]
    assert (value.type, value.on_error) == ("jsonb", "wrap")
    assert "not JSON" in (value.note or "")
    products = mapping.tables["checkout_products"]
    assert products.primary_key == [] and products.null_key == "unique"
    assert "NULL" in (products.note or "")
    report = copy(stats.path, pg_url, tmp_path / "work")
    assert report.total.rejected_rows == 0
    notes = _notes(report)
    assert any("wrap" in m for m in notes["response_variables.variableValue"])
    assert any("UNIQUE" in m for m in notes["checkout_products primary key"])
    assert rows(pg_url, "SELECT count(*) FROM checkout_products WHERE id IS NULL") == [(2,)]
    assert rows(
        pg_url,
        'SELECT count(*) FROM response_variables WHERE "variableValue"'
        " = to_jsonb('Test Simple'::text)",
    ) == [(2,)]
    assert _verify_exit(stats.path, pg_url) == ExitCode.OK


def test_a_refused_foreign_key_carries_postgres_detail(pg_url: str, tmp_path: Path) -> None:
    source = wild.build(tmp_path / "drizzle.db", "drizzle")
    out = tmp_path / "mapping.yaml"
    assert runner.invoke(app, ["schema", "infer", str(source), "-o", str(out)]).exit_code == 0
    text = out.read_text()
    head, tail = text.split("author_id:", 1)
    tail = tail.replace("type: bigint", "type: text", 1).replace(
        "convert: integer", "convert: text", 1
    )
    out.write_text(head + "author_id:" + tail)
    report = copy(source, pg_url, tmp_path / "work", mapping_path=out)
    (note,) = [m for o, ms in _notes(report).items() if o.startswith("posts_fk") for m in ms]
    assert note.startswith("not created: ") and "DETAIL: Key columns" in note
    result = runner.invoke(app, ["verify", str(source), "--target", pg_url, "--mapping", str(out)])
    assert result.exit_code == ExitCode.MISMATCH
    assert "incompatible types" in result.output
