"""Hypothesis round trips through a real copy: SQLite -> COPY -> PostgreSQL -> Python.

Every value either arrives with the same meaning (checked against an independent oracle), or
its row is in the rejects table with the raw value encoded losslessly. Never anything else.
"""

from __future__ import annotations

import json
import math
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.copy.helpers import copy, rows
from vendzz_migrate.typemap.values import decode_raw

JSON_DOCS = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=10),
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=5), kids, max_size=4)
    ),
    max_leaves=10,
).filter(lambda d: isinstance(d, dict | list))

ROW = st.fixed_dictionaries(
    {
        "i": st.none() | st.integers(-(2**63), 2**63 - 1) | st.sampled_from([2**31, -(2**31) - 1]),
        "r": st.none() | st.floats(allow_nan=False) | st.sampled_from([-0.0, 1e308, 5e-324]),
        "s": st.none() | st.text() | st.sampled_from(["", "nul\x00", "tab\tnl\n\\"]),
        "u": st.none() | st.binary(max_size=8),  # bytes stored as TEXT: maybe invalid UTF-8
        "b": st.none() | st.binary(max_size=16),
        "j": st.none()
        | JSON_DOCS.map(json.dumps)
        | JSON_DOCS.map(lambda d: json.dumps(json.dumps(d)))
        | st.sampled_from(["{broken", ""]),
        "t": st.none()
        | st.integers(0, 10**14 - 1)
        | st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1)).map(
            lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"
        ),
    }
)

MAPPING = {
    "version": 1,
    "tables": {
        "t": {
            "primary_key": ["id"],
            "columns": {
                "id": {"type": "bigint", "convert": "integer", "not_null": True},
                "i": {"type": "bigint", "convert": "integer"},
                "r": {"type": "double precision", "convert": "float"},
                "s": {"type": "text", "convert": "text"},
                "u": {"type": "text", "convert": "text"},
                "b": {"type": "bytea", "convert": "bytes"},
                "j": {"type": "jsonb", "convert": "json"},
                "t": {"type": "timestamptz", "convert": "timestamp"},
            },
        }
    },
}


def expected_time(value: int | str) -> datetime:
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + (timedelta(seconds=value) if value < 10**11 else timedelta(milliseconds=value))


def oracle(row: dict[str, Any]) -> dict[str, Any] | None:
    """What PostgreSQL must hold for ``row``, or None when the row must be rejected."""
    out = dict(row)
    if row["r"] == 0:
        out["r"] = 0.0  # a REAL column stores -0.0 as integer 0: SQLite itself keeps no sign
    if isinstance(row["s"], str) and "\x00" in row["s"]:
        return None
    if row["u"] is not None:
        try:
            out["u"] = row["u"].decode("utf-8")
        except UnicodeDecodeError:
            return None
        if "\x00" in out["u"]:
            return None
    if row["j"] is not None:
        try:
            doc = json.loads(row["j"])
        except ValueError:
            return None
        out["j"] = json.loads(doc) if isinstance(doc, str) else doc
        if "\\u0000" in json.dumps(out["j"]):
            return None  # jsonb cannot hold U+0000
    if row["t"] is not None:
        out["t"] = expected_time(row["t"])
    return out


def make_source(path: Path, data: list[dict[str, Any]]) -> None:
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, i INTEGER, r REAL, s TEXT, u TEXT,"
        " b BLOB, j TEXT, t INTEGER)"
    )
    for n, row in enumerate(data, 1):
        conn.execute(
            "INSERT INTO t VALUES (?, ?, ?, ?, CAST(? AS TEXT), ?, ?, ?)",
            (n, row["i"], row["r"], row["s"], row["u"], row["b"], row["j"], row["t"]),
        )
    conn.commit()
    conn.close()


def same(column: str, got: Any, want: Any) -> bool:
    if column == "r" and want is not None:
        return bool(got == want and math.copysign(1, got) == math.copysign(1, want))
    if column == "b" and want is not None:
        return bytes(got) == want
    return bool(got == want)


@settings(
    max_examples=25,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.lists(ROW, min_size=1, max_size=30))
def test_every_value_arrives_or_is_quarantined(
    data: list[dict[str, Any]], pg_url: str, tmp_path: Path
) -> None:
    work = tmp_path / uuid.uuid4().hex
    work.mkdir()
    source = work / "src.db"
    make_source(source, data)
    (work / "m.yaml").write_text(yaml.safe_dump(MAPPING))
    schema = "s" + uuid.uuid4().hex[:10]
    report = copy(
        source,
        pg_url,
        work,
        schema_name=schema,
        mapping_path=work / "m.yaml",
        workers=1,
        batch_rows=7,
    )
    assert report.total.source_rows == len(data)
    got = {r[0]: r[1:] for r in rows(pg_url, f'SELECT id, i, r, s, u, b, j, t FROM "{schema}".t')}
    rejected = {
        json.loads(json.dumps(k))["id"]: raw
        for k, raw in rows(
            pg_url,
            "SELECT source_key, raw_row FROM vendzz_migrate.rejects r JOIN"
            " vendzz_migrate.runs USING (run_id) WHERE target_schema = %s",
            (schema,),
        )
    }
    for n, row in enumerate(data, 1):
        want = oracle(row)
        if want is None:
            assert n in rejected, f"row {n} should be rejected: {row!r}"
            assert n not in got
            raw = rejected[n]
            assert decode_raw(raw["i"]).value == row["i"]
            assert decode_raw(raw["s"]).value == (
                None if row["s"] is None else row["s"].encode("utf-8", "surrogatepass")
            )
            assert decode_raw(raw["u"]).value == row["u"]
            continue
        assert n in got, f"row {n} lost: {row!r}"
        for column, value in zip("irsubjt", got[n], strict=True):
            assert same(column, value, want[column]), (column, value, want[column])


@pytest.mark.parametrize("value", [2**63 - 1, -(2**63), 0, -1])
def test_int64_edges(value: int, pg_url: str, tmp_path: Path) -> None:
    row = {"i": value, "r": None, "s": None, "u": None, "b": None, "j": None, "t": None}
    make_source(tmp_path / "src.db", [row])
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(MAPPING))
    report = copy(tmp_path / "src.db", pg_url, tmp_path, mapping_path=tmp_path / "m.yaml")
    assert report.total.copied_rows == 1
    assert rows(pg_url, "SELECT i FROM t") == [(value,)]
