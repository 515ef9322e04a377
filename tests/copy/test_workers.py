"""Step 4's worker processes: forked from a process without other threads (every other copy
test), spawned from one that runs threads (here); both copy every row."""

from __future__ import annotations

import threading
from pathlib import Path

from tests.copy.helpers import copy, verified
from vendzz_migrate import procs
from vendzz_migrate.sample import generate


def test_a_copy_from_a_threaded_process_spawns_its_workers(pg_url: str, tmp_path: Path) -> None:
    stats = generate(tmp_path / "s.db", rows=3000, seed=3, clean=True)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert procs.context().get_start_method() == "spawn"
        report = copy(stats.path, pg_url, tmp_path / "work", workers=2, batch_rows=200)
    finally:
        stop.set()
        other.join()
    assert report.total.rejected_rows == 0
    assert report.total.copied_rows == report.total.source_rows > 2000
    verified(stats.path, pg_url)
