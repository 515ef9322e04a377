"""SQLite views as PostgreSQL views: sqlglot first, then the rewrites it does not make.

- tables and columns renamed by the mapping (a renamed output column keeps its old name);
- SQLite's date/time functions (``datetime()``, ``date()``, ``time()``, ``strftime()``,
  ``julianday()``, ``unixepoch()``, with the ``now``, ``unixepoch``, ``+N unit`` and ``start
  of ...`` modifiers) as ``to_char()`` text, as SQLite returns text, or as a timestamp where
  the other side of a comparison is a timestamp column;
- comparisons of columns whose type changed: a boolean with 0/1, a text column with a number
  (the number becomes text), two columns of different families (both compared as text);
- ``sum()`` / ``avg()`` / ``total()`` over a boolean count its true values;
- ``COLLATE BINARY`` as ``COLLATE "C"``; other collations dropped (NOCASE columns are citext);
- PostgreSQL's GROUP BY rule: a bare column SQLite allowed outside the GROUP BY is added to it;
- views in dependency order (:func:`ordered`).

A function PostgreSQL lacks (the application's own, ``printf``...) is reported by name; the
copier reports a view PostgreSQL still refuses with its reason and the SQL to fix by hand.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from vendzz_migrate.pg import qualified
from vendzz_migrate.source.introspect import View
from vendzz_migrate.source.reader import TablePlan
from vendzz_migrate.typemap.convert import Kind

if TYPE_CHECKING:
    import sqlglot.expressions as exp

_TIME_FUNCS = {"DATETIME", "DATE", "TIME", "JULIANDAY", "UNIXEPOCH", "STRFTIME"}
_FORMATS = {"DATETIME": "YYYY-MM-DD HH24:MI:SS", "DATE": "YYYY-MM-DD", "TIME": "HH24:MI:SS"}
_STRFTIME = {
    "%Y": "YYYY",
    "%m": "MM",
    "%d": "DD",
    "%H": "HH24",
    "%M": "MI",
    "%S": "SS",
    "%j": "DDD",
    "%f": "SS.MS",
    "%W": "WW",
    "%%": "%",
}
_MODIFIER = re.compile(r"\s*([+-]?\d+(?:\.\d+)?)\s+(year|month|day|hour|minute|second)s?\s*", re.I)
_START_OF = re.compile(r"\s*start of (year|month|day)\s*", re.I)
_FAMILY = {
    Kind.TEXT: "text",
    Kind.INTEGER: "number",
    Kind.FLOAT: "number",
    Kind.DECIMAL: "number",
    Kind.BOOLEAN: "boolean",
    Kind.TIMESTAMP: "time",
    Kind.JSON: "json",
    Kind.BYTES: "bytes",
}


class Untranslatable(Exception):
    """A view uses something PostgreSQL has no equivalent for; the message says what."""


@dataclass
class _Columns:
    """What the view's tables became: targets, renamed columns, conversions."""

    plans: dict[str, TablePlan]
    lower: dict[str, str] = field(default_factory=dict)  # lower-case source name -> name

    def __post_init__(self) -> None:
        self.lower = {name.lower(): name for name in self.plans}

    def plan(self, table: str | None) -> TablePlan | None:
        return self.plans.get(self.lower.get((table or "").lower(), ""))

    def column(self, plan: TablePlan, name: str) -> tuple[str, Kind, str] | None:
        for col in plan.columns:
            if col.source.lower() == name.lower():
                return col.target, col.conversion.kind, col.conversion.pg_type
        return None


def ordered(views: Sequence[View]) -> list[View]:
    """Views so that each comes after the views it reads (a cycle keeps the file's order)."""
    by_name = {v.name.lower(): v for v in views}
    needs = {
        v.name.lower(): {n for n in _names(v.sql) if n in by_name and n != v.name.lower()}
        for v in views
    }
    out: list[View] = []
    done: set[str] = set()

    def visit(name: str, path: set[str]) -> None:
        if name in done or name in path:
            return
        for dep in sorted(needs[name]):
            visit(dep, path | {name})
        done.add(name)
        out.append(by_name[name])

    for view in views:
        visit(view.name.lower(), set())
    return out


def _names(sql: str) -> set[str]:
    import sqlglot
    import sqlglot.expressions as exp

    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except Exception:  # unparsable: no known dependency
        return set()
    return {t.name.lower() for t in tree.find_all(exp.Table)}


def translate(schema: str, view: View, plans: dict[str, TablePlan]) -> str:
    """``CREATE OR REPLACE VIEW schema.name AS ...`` in PostgreSQL; raises
    :class:`Untranslatable` with the reason."""
    import sqlglot
    import sqlglot.expressions as exp

    try:
        tree = sqlglot.parse_one(view.sql, read="sqlite")
    except Exception as exc:  # sqlglot's parse errors have several types
        raise Untranslatable(f"SQL not understood ({str(exc).splitlines()[0][:120]})") from None
    if not isinstance(tree, exp.Create) or not isinstance(tree.expression, exp.Query):
        raise Untranslatable("not a CREATE VIEW ... AS SELECT")
    cols = _Columns(plans)
    query = tree.expression
    for select in list(query.find_all(exp.Select)):
        _rewrite_select(select, cols)
    _check_functions(query)
    body = query.sql(dialect="postgres", identify=True)
    return f"CREATE OR REPLACE VIEW {qualified(schema, view.name)} AS {body}"


def _scope(select: exp.Select, cols: _Columns) -> dict[str, TablePlan]:
    """alias or table name (lower case) -> plan, for the tables this SELECT reads."""
    import sqlglot.expressions as exp

    scope: dict[str, TablePlan] = {}
    for table in select.find_all(exp.Table):
        if table.find_ancestor(exp.Select) is not select:
            continue
        plan = cols.plan(table.name)
        if plan is None:
            continue
        scope[(table.alias or table.name).lower()] = plan
        scope.setdefault(table.name.lower(), plan)
    return scope


def _resolve(
    column: exp.Column, scope: dict[str, TablePlan], cols: _Columns
) -> tuple[str, Kind, str] | None:
    if column.table:
        plan = scope.get(column.table.lower())
        return cols.column(plan, column.name) if plan else None
    found = {cols.column(p, column.name) for p in set(scope.values())} - {None}
    return found.pop() if len(found) == 1 else None


def _rewrite_select(select: exp.Select, cols: _Columns) -> None:
    import sqlglot.expressions as exp

    scope = _scope(select, cols)
    kinds: dict[int, tuple[Kind, str]] = {}
    for column in list(select.find_all(exp.Column)):
        if column.find_ancestor(exp.Select) is not select:
            continue
        found = _resolve(column, scope, cols)
        if found is None:
            continue
        target, kind, pg_type = found
        kinds[id(column)] = (kind, pg_type)
        if target != column.name:
            was = column.name
            column.set("this", exp.to_identifier(target))
            if column.parent is select and column.arg_key == "expressions":
                alias = exp.alias_(exp.Null(), was)
                column.replace(alias)
                alias.set("this", column)
    for table in select.find_all(exp.Table):
        if table.find_ancestor(exp.Select) is not select:
            continue  # a subquery's: renamed by its own pass
        plan = cols.plan(table.name)
        if plan is not None and plan.target != table.name:
            if not table.alias:
                table.set("alias", exp.TableAlias(this=exp.to_identifier(table.name)))
            table.set("this", exp.to_identifier(plan.target))
    _rewrite_values(select, kinds)
    _group_by_rule(select)


def _kind(node: exp.Expr, kinds: dict[int, tuple[Kind, str]]) -> Kind | None:
    import sqlglot.expressions as exp

    if isinstance(node, exp.Paren):
        return _kind(node.this, kinds)
    found = kinds.get(id(node))
    return found[0] if found else None


def _rewrite_values(select: exp.Select, kinds: dict[int, tuple[Kind, str]]) -> None:
    import sqlglot.expressions as exp

    comparisons = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)

    def fix(node: exp.Expr) -> exp.Expr:
        if node is not select and node.find_ancestor(exp.Select) is not select:
            return node  # a subquery's own pass rewrites it
        if isinstance(node, comparisons):
            return _comparison(node, kinds)
        if isinstance(node, exp.Between):
            return _between(node, kinds)
        if isinstance(node, exp.Sum | exp.Avg) and _kind(node.this, kinds) is Kind.BOOLEAN:
            node.set("this", exp.cast(node.this.copy(), "int"))
        if isinstance(node, exp.Anonymous) and node.name.upper() == "TOTAL":
            arg = node.expressions[0].copy() if node.expressions else exp.Null()
            if _kind(node.expressions[0], kinds) is Kind.BOOLEAN:
                arg = exp.cast(arg, "int")
            return exp.cast(
                exp.Coalesce(this=exp.Sum(this=arg), expressions=[exp.Literal.number(0)]),
                "double precision",
            )
        if isinstance(node, exp.GroupConcat):  # string_agg() takes text only
            inner = node.this
            if isinstance(inner, exp.Distinct):
                inner.set("expressions", [exp.cast(e.copy(), "text") for e in inner.expressions])
            else:
                node.set("this", exp.cast(inner.copy(), "text"))
        if _is_time_function(node):
            return _time_function(node, kinds, as_text=True)
        if isinstance(node, exp.Collate):
            return _collate(node)
        return node

    select.transform(fix, copy=False)


def _collate(node: exp.Collate) -> exp.Expr:
    """SQLite's BINARY is PostgreSQL's "C"; NOCASE-like columns became citext (compared
    case-insensitively already) and other collations are not carried over: the clause goes."""
    import sqlglot.expressions as exp

    if node.expression.name.lower() == "binary":
        return exp.Collate(this=node.this, expression=exp.Identifier(this="C", quoted=True))
    inner: exp.Expr = node.this
    return inner


def _comparison(node: exp.Binary, kinds: dict[int, tuple[Kind, str]]) -> exp.Expr:
    import sqlglot.expressions as exp

    left, right = node.left, node.right
    lk, rk = _kind(left, kinds), _kind(right, kinds)
    if lk is None and rk is not None:
        left, right, lk, rk = right, left, rk, lk
        swapped = True
    else:
        swapped = False
    if (
        lk is Kind.BOOLEAN
        and isinstance(right, exp.Literal)
        and right.this in ("0", "1")
        and isinstance(node, exp.EQ | exp.NEQ)
    ):
        right = exp.Boolean(this=right.this == "1")
    elif lk is Kind.TEXT and isinstance(right, exp.Literal) and not right.is_string:
        right = exp.Literal.string(right.this)
    elif lk is Kind.TIMESTAMP and _is_time_function(right):
        right = _time_function(right, kinds, as_text=False)
    elif lk is not None and rk is not None and _FAMILY[lk] != _FAMILY[rk]:
        left, right = exp.cast(left.copy(), "text"), exp.cast(right.copy(), "text")
    elif _is_time_function(right):
        right = _time_function(right, kinds, as_text=True)
    if swapped:
        left, right = right, left
    if left is not node.left:
        node.set("this", left)
    if right is not node.right:
        node.set("expression", right)
    return node


def _between(node: exp.Between, kinds: dict[int, tuple[Kind, str]]) -> exp.Expr:
    if _kind(node.this, kinds) is Kind.TIMESTAMP:
        for arg in ("low", "high"):
            value = node.args.get(arg)
            if value is not None and _is_time_function(value):
                node.set(arg, _time_function(value, kinds, as_text=False))
    return node


def _is_time_function(node: exp.Expr) -> bool:
    import sqlglot.expressions as exp

    if isinstance(node, exp.Date | exp.TimeToStr):
        return True
    return isinstance(node, exp.Anonymous) and node.name.upper() in _TIME_FUNCS


def _time_function(
    node: exp.Expr, kinds: dict[int, tuple[Kind, str]], *, as_text: bool
) -> exp.Expr:
    """One SQLite date/time function call as PostgreSQL."""
    import sqlglot
    import sqlglot.expressions as exp

    if isinstance(node, exp.TimeToStr):
        value = node.this.this if isinstance(node.this, exp.TsOrDsToTimestamp) else node.this
        name, fmt, args = "STRFTIME", node.args.get("format"), [value]
    else:
        name = "DATE" if isinstance(node, exp.Date) else node.name.upper()
        args = ([node.this] if isinstance(node, exp.Date) else []) + list(node.expressions)
        fmt = None
        if name == "STRFTIME":
            fmt, args = args[0], args[1:]
    if not args:
        args = [exp.Literal.string("now")]
    moment = _moment(args[0], [_literal(a) for a in args[1:]], kinds)
    if name == "JULIANDAY":
        sql = f"(extract(epoch FROM {moment}) / 86400.0 + 2440587.5)"
    elif name == "UNIXEPOCH":
        sql = f"extract(epoch FROM {moment})::bigint"
    elif not as_text:
        sql = f"({moment} AT TIME ZONE 'UTC')"  # timestamptz, compared with a timestamp column
    elif name == "STRFTIME":
        sql = _strftime(_literal(fmt) if fmt is not None else "", moment)
    else:
        sql = f"to_char({moment}, '{_FORMATS[name]}')"
    return sqlglot.parse_one(sql, read="postgres")


def _literal(node: exp.Expr | None) -> str:
    import sqlglot.expressions as exp

    if isinstance(node, exp.Literal) and node.is_string:
        return str(node.this)
    raise Untranslatable("a date/time modifier or format that is not a constant string")


def _moment(value: exp.Expr, modifiers: list[str], kinds: dict[int, tuple[Kind, str]]) -> str:
    """A PostgreSQL ``timestamp`` (UTC wall time) for a SQLite time value and modifiers."""
    import sqlglot.expressions as exp

    kind = kinds.get(id(value))
    text = value.sql(dialect="postgres", identify=True)
    epoch = any(m.strip().lower() == "unixepoch" for m in modifiers)
    if isinstance(value, exp.Literal) and value.is_string and value.this.lower() == "now":
        out = "(now() AT TIME ZONE 'UTC')"
    elif kind and kind[0] is Kind.TIMESTAMP:
        out = f"({text})::timestamp" if kind[1] == "date" else f"({text} AT TIME ZONE 'UTC')"
    elif epoch:
        out = f"(to_timestamp({text}) AT TIME ZONE 'UTC')"
    else:
        out = f"CAST({text} AS timestamp)"
    for mod in modifiers:
        low = mod.strip().lower()
        if low in ("unixepoch", "utc", "auto"):
            continue
        if (step := _MODIFIER.fullmatch(mod)) is not None:
            out = f"({out} + interval '{step.group(1)} {step.group(2).lower()}')"
        elif (start := _START_OF.fullmatch(mod)) is not None:
            out = f"date_trunc('{start.group(1).lower()}', {out})"
        else:
            raise Untranslatable(f"the date/time modifier {mod!r}")
    return out


def _strftime(fmt: str, moment: str) -> str:
    if fmt == "%s":
        return f"extract(epoch FROM {moment})::bigint::text"
    parts, i = [], 0
    while i < len(fmt):
        if fmt[i] == "%":
            token = fmt[i : i + 2]
            if token not in _STRFTIME:
                raise Untranslatable(f"the strftime() format {token!r}")
            parts.append(_STRFTIME[token])
            i += 2
        else:
            j = fmt.find("%", i)
            j = len(fmt) if j < 0 else j
            text = fmt[i:j]  # punctuation is literal in to_char(), letters need quotes
            quoted = any(c.isalnum() for c in text) or '"' in text
            parts.append('"' + text.replace('"', '\\"') + '"' if quoted else text)
            i = j
    pattern = "".join(parts).replace("'", "''")
    return f"to_char({moment}, '{pattern}')"


def _group_by_rule(select: exp.Select) -> None:
    """Add to the GROUP BY every bare column of the select list used outside an aggregate and
    outside a grouped expression (``GROUP BY strftime('%Y', d)`` does not add ``d``)."""
    import sqlglot.expressions as exp

    group = select.args.get("group")
    if group is None:
        return
    grouped = {e.sql() for e in group.expressions}
    for e in group.expressions:  # GROUP BY 1 / GROUP BY alias: that select-list entry
        for i, projection in enumerate(select.expressions):
            position = isinstance(e, exp.Literal) and not e.is_string and e.this == str(i + 1)
            if position or (
                isinstance(e, exp.Column) and not e.table and projection.alias_or_name == e.name
            ):
                grouped.add(projection.unalias().sql())
    for projection in select.expressions:
        for column in projection.find_all(exp.Column):
            if column.find_ancestor(exp.AggFunc, exp.Select) is not select:
                continue  # inside an aggregate, or a subquery's
            if _under_grouped(column, projection, grouped) or column.sql() in grouped:
                continue
            group.append("expressions", column.copy())
            grouped.add(column.sql())


def _under_grouped(column: exp.Expr, top: exp.Expr, grouped: set[str]) -> bool:
    node = column.parent
    while node is not None:
        if node.sql() in grouped:
            return True
        if node is top:
            return False
        node = node.parent
    return False


# functions PostgreSQL has under the name sqlglot prints (sqlglot maps the others it knows)
_PG_FUNCTIONS = {"NOW", "TO_CHAR", "DATE_TRUNC", "TO_TIMESTAMP", "EXTRACT"}


def _check_functions(query: exp.Expr) -> None:
    import sqlglot.expressions as exp

    for node in query.find_all(exp.Anonymous):
        name = str(node.name).upper()
        if name not in _PG_FUNCTIONS:
            raise Untranslatable(
                f"uses the function {node.name}(), which PostgreSQL does not"
                " have (the application's own, or SQLite's only)"
            )
    if query.find(exp.Typeof) is not None:
        raise Untranslatable("uses typeof(), which has no PostgreSQL equivalent")
