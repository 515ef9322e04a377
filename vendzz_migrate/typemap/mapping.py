"""The mapping file: per table and column, the PostgreSQL type, the conversion, renames and the
policy for values that do not fit. Written by ``schema infer``, reviewed by a human, validated
by pydantic (errors name the field), used by ``sqlite-to-pg`` and ``verify``.
"""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vendzz_migrate.errors import ConfigError
from vendzz_migrate.typemap.convert import Conversion, Kind, OnError, make

PG_NAME_MAX = 63
_TYPES_BY_KIND: dict[Kind, re.Pattern[str]] = {
    Kind.TEXT: re.compile(
        r"text|(character varying|varchar|char|character)\s*\(\d+\)|uuid|citext", re.I
    ),
    Kind.INTEGER: re.compile(r"smallint|integer|int|bigint|int2|int4|int8", re.I),
    Kind.FLOAT: re.compile(r"double precision|real|float8|float4", re.I),
    Kind.DECIMAL: re.compile(r"(numeric|decimal)(\s*\(\s*\d+\s*(,\s*\d+\s*)?\))?", re.I),
    Kind.BOOLEAN: re.compile(r"boolean|bool", re.I),
    Kind.TIMESTAMP: re.compile(r"timestamptz|timestamp( with(out)? time zone)?|date", re.I),
    Kind.JSON: re.compile(r"jsonb|json", re.I),
    Kind.BYTES: re.compile(r"bytea", re.I),
}


class NullKey(StrEnum):
    REJECT = "reject"  # rows whose primary key is NULL go to the rejects table
    UNIQUE = "unique"  # the rows land: the source's key becomes a UNIQUE constraint (NULLs
    # allowed and distinct, as in SQLite); set with primary_key: []


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ColumnMap(_Model):
    type: str = Field(description="PostgreSQL type, e.g. text, bigint, timestamptz, jsonb")
    convert: Kind = Field(description="how SQLite values become that type")
    rename: str | None = Field(default=None, description="PostgreSQL column name, if different")
    not_null: bool = False
    default: str | None = Field(default=None, description="PostgreSQL default expression")
    on_error: OnError = OnError.REJECT
    note: str | None = Field(default=None, description="what the profile saw (informational)")

    @model_validator(mode="after")
    def _type_fits_conversion(self) -> ColumnMap:
        if not _TYPES_BY_KIND[self.convert].fullmatch(self.type.strip()):
            raise ValueError(f"type {self.type!r} does not fit convert: {self.convert.value}")
        if self.on_error is OnError.WRAP and self.convert is not Kind.JSON:
            raise ValueError("on_error: wrap is only for convert: json")
        if self.on_error is OnError.NULL and self.not_null:
            raise ValueError("on_error: null needs a nullable column")
        return self

    def conversion(self) -> Conversion:
        return make(self.convert, self.type, self.not_null, self.on_error)


class TableMap(_Model):
    rename: str | None = None
    skip: bool = False
    primary_key: list[str] = Field(default_factory=list)
    null_key: NullKey = NullKey.REJECT
    columns: dict[str, ColumnMap]
    note: str | None = None


class Mapping(_Model):
    version: Literal[1] = 1
    source: str | None = None
    skip_tables: list[str] = Field(default_factory=lambda: ["sqlite_*", "__drizzle_migrations"])
    drop: list[str] = Field(
        default_factory=list,
        description=(
            "glob patterns of source indexes and views, and of foreign keys (their PostgreSQL"
            " constraint names), not to create; verify accepts them as absent"
        ),
    )
    tables: dict[str, TableMap]

    def drops(self, name: str) -> bool:
        """Whether the mapping says not to create the object ``name``."""
        import fnmatch

        return any(fnmatch.fnmatchcase(name, p) for p in self.drop)

    @model_validator(mode="after")
    def _names_fit_postgres(self) -> Mapping:
        targets: dict[str, str] = {}
        for tname, table in self.tables.items():
            _check_name(table.rename or tname, f"tables.{tname}")
            _unique(targets, table.rename or tname, tname, "tables", "table")
            columns: dict[str, str] = {}
            for cname, col in table.columns.items():
                _check_name(col.rename or cname, f"tables.{tname}.columns.{cname}")
                _unique(columns, col.rename or cname, cname, f"tables.{tname}", "column")
        return self

    def digest(self) -> str:
        return hashlib.sha256(dump_yaml(self).encode()).hexdigest()

    def target_table(self, name: str) -> str:
        return self.tables[name].rename or name

    def target_column(self, table: str, column: str) -> str:
        return self.tables[table].columns[column].rename or column


def _unique(seen: dict[str, str], target: str, name: str, where: str, what: str) -> None:
    """Two sources mapped to one PostgreSQL name (a rename onto another's name) is an error
    naming both; compared as PostgreSQL compares quoted names (exactly)."""
    other = seen.setdefault(target, name)
    if other != name:
        raise ValueError(
            f"{where}: {what}s {other!r} and {name!r} would both be named "
            f"{target!r} in PostgreSQL; rename one of them"
        )


def _check_name(name: str, where: str) -> None:
    if len(name.encode("utf-8")) > PG_NAME_MAX:
        raise ValueError(
            f"{where}: name {name[:20]!r}... is longer than PostgreSQL's {PG_NAME_MAX} bytes; "
            "give it a rename"
        )
    if "\x00" in name:
        raise ValueError(f"{where}: name contains a NUL byte")


def load(path: Path) -> Mapping:
    """Read and validate a mapping file; errors name the file and the field."""
    try:
        data = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_SafeLoader)
    except FileNotFoundError:
        raise ConfigError(f"no such mapping file: {path}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    return parse(data, str(path))


def parse(data: Any, where: str = "mapping") -> Mapping:
    if data is None:
        raise ConfigError(
            f"{where}: the mapping is empty; write one with `vendzz-migrate "
            "schema infer FILE -o mapping.yaml`"
        )
    if not isinstance(data, dict):
        raise ConfigError(
            f"{where}: a mapping is a YAML mapping with a 'tables' key, not a {type(data).__name__}"
        )
    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        msg = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{where}: {loc}: {msg}" if loc else f"{where}: {msg}") from None


def dump_yaml(mapping: Mapping) -> str:
    data = mapping.model_dump(mode="json", exclude_defaults=False)
    return yaml.dump(data, Dumper=_SafeDumper, sort_keys=False, allow_unicode=True, width=100)


# libyaml's C loader and dumper when PyYAML was built with it (a large mapping loads ~10x
# faster); the same safe subset of YAML either way
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SafeDumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
