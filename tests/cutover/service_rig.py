"""The reference service (examples/service) under a cutover: started through its ctl on a
sample file, the writer client writing throughout, a plan that drives both."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from examples.service.client import Summary, Writer, read_ack_log
from tests.examples.service.helpers import Running, service
from vendzz_migrate.cutover import rehearsal


@dataclass
class ServiceRig:
    dir: Path
    source: Path
    plan_path: Path
    running: Running
    writer: Writer
    ack_log: Path
    thread: threading.Thread
    result: list[Summary]

    def acked(self) -> list[str]:
        """The ids of the writes the service acknowledged so far."""
        return read_ack_log(self.ack_log) if self.ack_log.exists() else []

    def stop_writer(self) -> Summary:
        self.writer.stop()
        self.thread.join(timeout=120)
        assert self.result, "the writer did not finish"
        return self.result[0]


def service_plan(dir: Path, source: Path, pg_url: str, running: Running, **over: Any) -> Path:
    plan = rehearsal.service_plan(source, pg_url, dir / "work", running.url, running.state.dir)
    plan["name"] = "svc"
    plan["hooks"]["drain"]["timeout_seconds"] = 10
    plan["budgets"] = {"max_freeze_seconds": 120, "catchup_backlog_rows": 50}
    plan["watch"] = {"seconds": 1, "interval_seconds": 0.2}
    path = dir / "cutover.yaml"
    path.write_text(yaml.safe_dump({**plan, **over}))
    return path


@contextmanager
def service_rig(dir: Path, pg_url: str, sample: Path, **over: Any) -> Iterator[ServiceRig]:
    source = dir / "vendzz.db"
    shutil.copyfile(sample, source)
    with service(dir / "run", f"sqlite:///{source}") as running:
        plan = service_plan(dir, source, pg_url, running, **over)
        ack_log = dir / "acked.txt"
        writer = Writer(
            running.url, rate=40, ack_log=ack_log, duration_s=600, max_retry_s=120, seed=1
        )
        result: list[Summary] = []
        thread = threading.Thread(target=lambda: result.append(writer.run()), daemon=True)
        thread.start()
        rig = ServiceRig(dir, source, plan, running, writer, ack_log, thread, result)
        try:
            yield rig
        finally:
            writer.stop()
            thread.join(timeout=120)
