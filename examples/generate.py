#!/usr/bin/env python3
"""Write a sample Vendzz SQLite file with the library (same as `vendzz-migrate sample`).

python examples/generate.py vendzz-sample.db --rows 500000 --clean
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vendzz_migrate import console
from vendzz_migrate.cli.sample import render
from vendzz_migrate.errors import VendzzError
from vendzz_migrate.sample import generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out", type=Path, help="the SQLite file to write")
    parser.add_argument("--rows", type=int, default=20_000, help="about this many rows in all")
    parser.add_argument("--seed", type=int, default=42, help="same seed, same rows")
    parser.add_argument("--clean", action="store_true", help="no traps")
    parser.add_argument("--no-wal", dest="wal", action="store_false", help="no WAL mode")
    parser.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    args = parser.parse_args(argv)
    try:
        stats = generate(
            args.out,
            rows=args.rows,
            seed=args.seed,
            clean=args.clean,
            wal=args.wal,
            force=args.force,
        )
    except VendzzError as exc:
        console.err.print(f"error: {exc}", markup=False)
        return int(exc.exit_code)
    console.out.print(render(stats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
