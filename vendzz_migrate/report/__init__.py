"""Typed reports returned by library calls (the CLI renders them; ``--json`` dumps them)."""
