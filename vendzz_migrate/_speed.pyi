"""verify's hot loops in C: see _speed.c (each function names its Python twin)."""

from collections.abc import Iterable
from typing import Any

def json_text(data: bytes, /) -> bytes | None: ...
def md5(data: bytes, /) -> bytes: ...
def sums(
    rows: Iterable[Any],
    ops: tuple[tuple[int, Any], ...],
    json: tuple[bool, ...],
    width: int,
    key: tuple[int, ...],
    marks: list[tuple[tuple[int, Any], ...]],
    rejected: set[int] | frozenset[int] | None,
    reject: type[Exception],
    segments: int,
    /,
) -> tuple[list[int], list[int], list[Any], int]: ...
