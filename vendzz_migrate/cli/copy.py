from __future__ import annotations

HELP = "Copy a SQLite file into PostgreSQL: batched COPY, resumable, lossless."


def sqlite_to_pg() -> None:
    raise NotImplementedError("work in progress")
