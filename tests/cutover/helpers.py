"""Helpers shared by the cutover tests: a small Vendzz-shaped live file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg

SCHEMA = """
PRAGMA journal_mode = WAL;
CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, created_at TEXT);
CREATE TABLE quizzes (id TEXT PRIMARY KEY, owner_id INTEGER NOT NULL REFERENCES users(id),
                      title TEXT, settings TEXT);
CREATE TABLE quiz_responses (id INTEGER PRIMARY KEY, quiz_id TEXT NOT NULL REFERENCES quizzes(id),
                             answers TEXT, score REAL, submitted_at TEXT);
"""


def make_source(path: Path, users: int = 20, quizzes: int = 10, responses: int = 300) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    conn.executemany(
        "INSERT INTO users VALUES (?, ?, ?)",
        [(i, f"u{i}@example.com", "2024-01-01 10:00:00") for i in range(1, users + 1)],
    )
    conn.executemany(
        "INSERT INTO quizzes VALUES (?, ?, ?, ?)",
        [(f"q{i}", 1 + i % users, f"Quiz {i}", '{"timed": true}') for i in range(1, quizzes + 1)],
    )
    conn.executemany(
        "INSERT INTO quiz_responses VALUES (?, ?, ?, ?, ?)",
        [
            (i, f"q{1 + i % quizzes}", '{"a": [1, 2]}', i / 7, "2024-02-01 12:00:00")
            for i in range(1, responses + 1)
        ],
    )
    conn.commit()
    conn.close()
    return path


def write(path: Path, sql: str, params: tuple[object, ...] = ()) -> None:
    conn = sqlite3.connect(path, timeout=10)
    try:
        conn.execute(sql, params)
        conn.commit()
    finally:
        conn.close()


def pg_rows(url: str, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql.encode(), params).fetchall()
