"""`schema infer` as a library call."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from vendzz_migrate.errors import ConfigError
from vendzz_migrate.fileio import atomic_write_text
from vendzz_migrate.source import introspect as insp
from vendzz_migrate.source import open_readonly, source_error
from vendzz_migrate.typemap import infer as inferrer
from vendzz_migrate.typemap.mapping import dump_yaml

HEADER = (
    "# vendzz-migrate mapping: review, edit, then pass with --mapping.\n"
    "# Per column: type (PostgreSQL), convert (text|integer|float|decimal|boolean|timestamp|json|"
    "bytes),\n# rename, not_null, default (PostgreSQL expression), on_error (reject|null|wrap).\n"
    "# 'note' says what the profile saw; values that do not fit go to vendzz_migrate.rejects.\n"
)


def infer_file(
    source: Path, output: Path | None, *, snake_case: bool = False, force: bool = False
) -> str:
    """Profile ``source`` and return (and write to ``output``) the mapping YAML."""
    if output is not None and output.exists() and not force:
        raise ConfigError(f"{output} exists; pass --force to overwrite it")
    lite = open_readonly(source)
    lite.text_factory = bytes
    try:
        schema = insp.introspect(lite)
        mapping = inferrer.infer(
            lite, schema, source=str(source), rename=inferrer.snake_case if snake_case else None
        )
    except sqlite3.Error as exc:  # e.g. corrupt pages met while profiling
        raise source_error(source, exc) from None
    finally:
        lite.close()
    text = HEADER + dump_yaml(mapping)
    if output is not None:
        atomic_write_text(output, text)
    return text
