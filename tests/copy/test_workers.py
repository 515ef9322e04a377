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


def test_progress_advances_as_units_finish(pg_url: str, tmp_path: Path) -> None:
    """Results come back from the workers unit by unit (the progress display moves during the
    copy), not once every unit of the wave is done."""
    import psycopg

    from vendzz_migrate.events import Event

    stats = generate(tmp_path / "p.db", rows=6000, seed=4, clean=True)
    seen: list[tuple[int, int]] = []  # (units done, units in all) at each advance

    def on_event(event: Event) -> None:
        if event.kind != "progress" or event.fields["action"] != "advance":
            return
        with psycopg.connect(pg_url) as conn:
            done, total = conn.execute(
                "SELECT count(*) FILTER (WHERE done), count(*) FROM vendzz_migrate.units"
            ).fetchone() or (0, 0)
        seen.append((done, total))

    report = copy(
        stats.path, pg_url, tmp_path / "work", workers=2, batch_rows=50, on_event=on_event
    )
    assert report.total.rejected_rows == 0
    assert len(seen) > 40
    first_done, total = seen[0]
    assert first_done < total / 2, seen[:3]
