from __future__ import annotations

HELP = "Generate a sample Vendzz file and run the whole migration on embedded servers."


def demo() -> None:
    raise NotImplementedError("work in progress")
