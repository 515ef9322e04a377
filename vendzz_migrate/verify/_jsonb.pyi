"""jsonb's text of a parsed JSON document, in C: see _jsonb.c."""

from typing import Any

class Unsure(ValueError): ...

def text(doc: dict[str, Any] | list[Any], /) -> bytes: ...
