"""Step 4's workers: processes, each with its own snapshot reader and PostgreSQL connection
(why processes, and how they start and end: :mod:`vendzz_migrate.procs`).

A worker copies one unit at a time (see :mod:`vendzz_migrate.copy.unit`: the unit, its rejects
and its "done" mark commit together) and returns its counts; the parent schedules the units and
reports progress. A worker that dies (killed, out of memory) fails the run with a one-line
error; the units it did not commit are copied again by ``--resume``.
"""

from __future__ import annotations

import functools
import multiprocessing.util
import sqlite3
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vendzz_migrate import errors, procs, retry
from vendzz_migrate.copy import large
from vendzz_migrate.copy.unit import UnitResult, copy_unit
from vendzz_migrate.pg import LOAD_SESSION, TIMEOUT_S, classify, connect
from vendzz_migrate.source import snapshot, source_error
from vendzz_migrate.source.reader import TablePlan
from vendzz_migrate.state.store import Store, Unit

if TYPE_CHECKING:
    import psycopg


@dataclass(frozen=True)
class Job:
    """What every worker needs to copy any unit of the run."""

    url: str
    state_schema: str
    run_id: str
    source: Path  # the user's file, named in errors
    snapshot: Path
    plans: dict[str, TablePlan]
    copy_sql: dict[str, bytes]
    data_only: bool
    timeout_s: int = TIMEOUT_S  # connect_timeout_s

    @functools.cached_property
    def sources(self) -> dict[str, str]:
        """Source table of each target table of the run."""
        return {plan.target: name for name, plan in self.plans.items()}

    def loaded(self, store: Store, target: str) -> bool:
        """Whether a target table (a foreign key's parent) is fully loaded; a table that is not
        this run's belongs to the application: all there."""
        return target not in self.sources or store.table_loaded(self.run_id, self.sources[target])


class Copier:
    """One worker's connections, opened on first use and again after a failure, and the copy
    of one unit under the project's retry policy, its errors made one-line errors."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.pg: psycopg.Connection | None = None
        self.lite: sqlite3.Connection | None = None

    def copy(self, unit: Unit) -> UnitResult:
        import psycopg

        try:
            return retry.policy()(self._once, unit)
        except psycopg.Error as exc:
            raise classify(exc) from None
        except sqlite3.Error as exc:
            raise source_error(self.job.source, exc) from None

    def _once(self, unit: Unit) -> UnitResult:
        job = self.job
        if self.pg is None or self.pg.closed:
            self.pg = connect(
                job.url,
                command="sqlite-to-pg",
                role="data",
                timeout_s=job.timeout_s,
                session=LOAD_SESSION,
            )
        if self.lite is None:
            self.lite = large.bound(snapshot.open_snapshot(job.snapshot))
        store = Store(self.pg, job.state_schema)
        loaded = functools.partial(job.loaded, store) if job.data_only else None
        try:
            return copy_unit(
                self.pg,
                self.lite,
                store,
                job.run_id,
                job.plans[unit.table],
                unit,
                job.copy_sql[unit.table],
                loaded,
            )
        except Exception:
            self.pg.close()
            raise

    def run(self, units: Iterable[Unit]) -> Iterator[tuple[Unit, UnitResult]]:
        """Copy ``units`` one after another, in this process (``--workers 1``)."""
        for unit in units:
            yield unit, self.copy(unit)

    def close(self, *, wait: bool = True) -> None:  # noqa: ARG002 (same call as Pool.close)
        if self.pg is not None:
            self.pg.close()
        if self.lite is not None:
            self.lite.close()


_COPIER: list[Copier] = []  # in a worker process: its one copier


def _start(job: Job) -> None:
    copier = Copier(job)
    _COPIER.append(copier)
    multiprocessing.util.Finalize(copier, copier.close, exitpriority=10)


def _copy(unit: Unit) -> UnitResult:
    return _COPIER[0].copy(unit)


class Pool:
    """``count`` copy workers (:class:`vendzz_migrate.procs.WorkerPool`)."""

    def __init__(self, job: Job, count: int) -> None:
        self._pool = procs.WorkerPool(count, _start, (job,))

    def run(self, units: Iterable[Unit]) -> Iterator[tuple[Unit, UnitResult]]:
        """Copy ``units``, yielding each with its result as it completes; on the first
        failure, the units not started are cancelled, those running finish, and it raises."""
        futures: dict[Future[UnitResult], Unit] = {
            self._pool.submit(_copy, unit): unit for unit in units
        }
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                failed = next((f for f in done if f.exception() is not None), None)
                if failed is not None:
                    for fut in pending:
                        fut.cancel()
                    wait(pending)
                    _raise(failed)
                for fut in done:
                    yield futures[fut], fut.result()
        finally:
            for fut in pending:
                fut.cancel()

    def close(self, *, wait: bool) -> None:
        """Stop the workers; with ``wait=False`` (Ctrl-C, an error elsewhere) at once: a
        unit in progress is rolled back by the server and copied again by ``--resume``."""
        self._pool.close(wait=wait)


def _raise(failed: Future[UnitResult]) -> None:
    try:
        failed.result()
    except BrokenProcessPool:
        raise errors.CapacityError(
            "a copy worker process died (killed, or out of memory?); rerun with --resume"
        ) from None
