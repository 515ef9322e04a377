"""Cache specs: the default one, validation errors that name the field, key templates."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import redis.crc

from vendzz_migrate.cache.redis_io import key_slot
from vendzz_migrate.cache.spec import CacheSpec, load_spec, parse_template
from vendzz_migrate.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
GOOD = """\
version: 1
caches:
  - name: quiz
    key: "vendzz:quiz:{id}"
    query: SELECT * FROM quizzes
"""


def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_default_spec_ships_in_the_package_with_its_sql() -> None:
    spec = load_spec(None)
    assert [c.name for c in spec.caches] == ["quiz", "user", "plan", "quiz-analytics", "session"]
    assert all(c.query and "SELECT" in c.query for c in spec.caches)
    assert spec.hit_rate_target == 0.85
    assert (spec.client.retry_delay_ms, spec.client.max_retries) == (100, 3)
    user = next(c for c in spec.caches if c.name == "user")
    assert {"password", "refreshToken", "twoFactorSecret"} <= set(user.exclude)


def test_every_shipped_cache_requires_the_tables_its_sql_reads() -> None:
    for cache in load_spec(None).caches:
        read = set(re.findall(r'^\s*(?:FROM|JOIN)\s+"([^"]+)"', cache.query or "", re.I | re.M))
        assert read, cache.name
        assert read <= set(cache.requires), (cache.name, read, cache.requires)


def test_unknown_field_is_named_with_its_cache(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "    ttl: 60\n")
    with pytest.raises(
        ConfigError, match=r"unknown field 'ttl' at caches\[0\]\.ttl \(cache 'quiz'\)"
    ):
        load_spec(path)


def test_unknown_top_level_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown field 'cachez'"):
        load_spec(write(tmp_path, GOOD + "cachez: []\n"))


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("vendzz:quiz", "names no column"),
        ("vendzz:quiz:{}", "must name a column"),
        ("vendzz:quiz:{0}", "must name a column"),
        ("vendzz:quiz:{id!r}", "no format spec or conversion"),
        ("vendzz:quiz:{id:>5}", "no format spec or conversion"),
        ("vendzz:quiz:{id", "bad key template"),
    ],
)
def test_bad_key_templates(tmp_path: Path, template: str, reason: str) -> None:
    text = GOOD.replace('"vendzz:quiz:{id}"', json.dumps(template))
    with pytest.raises(ConfigError, match=re.escape(reason)):
        load_spec(write(tmp_path, text))


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ("    ttl_s: 60\n    jitter_s: 60\n", "jitter_s (60) must be < ttl_s (60)"),
        ("    encoding: text\n", "encoding 'text' needs exactly one column"),
        ("    fields: [a]\n    exclude: [b]\n", "give 'fields' or 'exclude', not both"),
        ("    query_file: x.sql\n", "exactly one of 'query' and 'query_file'"),
        ("    encoding: xml\n", "caches[0].encoding"),
        ("    max_keys: 0\n", "caches[0].max_keys"),
    ],
)
def test_invalid_cache_definitions(tmp_path: Path, extra: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(reason)):
        load_spec(write(tmp_path, GOOD + extra))


def test_duplicate_and_overlapping_caches(tmp_path: Path) -> None:
    dup = GOOD + '  - name: quiz\n    key: "x:{id}"\n    query: SELECT 1 AS id\n'
    with pytest.raises(ConfigError, match="duplicate cache name 'quiz'"):
        load_spec(write(tmp_path, dup))
    overlap = GOOD + '  - name: other\n    key: "vendzz:{kind}:{id}"\n    query: SELECT 1 AS id\n'
    with pytest.raises(ConfigError, match="overlapping key templates"):
        load_spec(write(tmp_path, overlap))


def test_yaml_and_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_spec(write(tmp_path, "caches: [\n"))
    with pytest.raises(ConfigError, match="cannot read cache spec"):
        load_spec(tmp_path / "missing.yaml")
    missing_sql = GOOD.replace("query: SELECT * FROM quizzes", "query_file: nope.sql")
    with pytest.raises(ConfigError, match=re.escape("cannot read query_file 'nope.sql'")):
        load_spec(write(tmp_path, missing_sql))


def test_query_file_is_relative_to_the_spec(tmp_path: Path) -> None:
    (tmp_path / "sql").mkdir()
    (tmp_path / "sql" / "q.sql").write_text("SELECT 1 AS id;\n")
    spec = load_spec(
        write(tmp_path, GOOD.replace("query: SELECT * FROM quizzes", "query_file: sql/q.sql"))
    )
    assert spec.caches[0].query == "SELECT 1 AS id;\n"


def test_only_names_unknown_cache() -> None:
    spec = load_spec(None)
    assert [c.name for c in spec.select(["plan", "quiz"])] == ["quiz", "plan"]
    with pytest.raises(ConfigError, match="unknown cache 'nope' in --only"):
        spec.select(["nope"])


def test_template_glob_regex_and_braces() -> None:
    t = parse_template("vendzz:{{tag}}:quiz*:{id}:{date}")
    assert t.columns == ["id", "date"]
    assert t.glob() == "vendzz:{tag}:quiz\\*:*:*"
    assert t.regex().match("vendzz:{tag}:quiz*:q1:2025-01-01")
    assert not t.regex().match("vendzz:{tag}:quiz*:q1:2025-01-01:extra")


def test_key_slot_matches_redis_py_reference() -> None:
    keys = [b"", b"a", b"vendzz:quiz:q00001", b"{user1000}.following", b"foo{}{bar}", b"{}x",
            b"x{a}{b}", "ção:😀".encode()]  # fmt: skip
    keys += [f"vendzz:user:u{i:05d}".encode() for i in range(500)]
    for key in keys:
        assert key_slot(key) == redis.crc.key_slot(key), key


def test_json_schema_in_schemas_dir_is_current() -> None:
    path = ROOT / "schemas" / "cache" / "cache-spec.schema.json"
    assert json.loads(path.read_text()) == CacheSpec.model_json_schema(), (
        "regenerate: python -m vendzz_migrate.cache.spec > schemas/cache/cache-spec.schema.json"
    )


def test_example_spec_in_schemas_dir_is_valid() -> None:
    spec = load_spec(ROOT / "schemas" / "cache" / "example.yaml")
    assert spec.caches
