"""Helpers to start throwaway servers (imported by conftest.py and tests; not a conftest)."""

from __future__ import annotations

import psycopg


def pg_connects(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.Error:
        return False
