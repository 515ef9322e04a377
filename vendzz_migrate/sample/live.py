"""``python -m vendzz_migrate.sample.live PATH --max-rows N``: the live writer as its own process.

Prints ``started`` on stderr after its first commit and the number of rows inserted on stdout
at the end. SIGTERM / SIGINT stop it cleanly between two transactions.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from vendzz_migrate.errors import VendzzError
from vendzz_migrate.sample.writer import live_writer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vendzz_migrate.sample.live",
        description="Keep writing quiz_responses like the service.",
    )
    parser.add_argument("path", type=Path)
    parser.add_argument("--max-rows", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        first = live_writer(args.path, stop=stop, max_rows=min(1, args.max_rows), seed=args.seed)
        print("started", file=sys.stderr, flush=True)
        rest = live_writer(args.path, stop=stop, max_rows=args.max_rows - first, seed=args.seed)
    except VendzzError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    print(first + rest, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
