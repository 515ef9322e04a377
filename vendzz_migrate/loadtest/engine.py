"""The Locust side of ``loadtest``, run in processes of its own.

Locust patches the standard library with gevent when it is imported, so this module is never
imported by the CLI, the library or the test process: :mod:`vendzz_migrate.loadtest.runner`
starts it as ``python -m vendzz_migrate.loadtest.engine run CONFIG OUT`` (the local runner, or
a Locust master when workers are expected) and ``... worker HOST:PORT`` (a Locust worker, on
this machine or another one; it receives the scenario from the master).

Every request is recorded by start time in quarter-second buckets holding a count, a failure
count and a latency histogram (about 1 % resolution); workers send theirs to the master with
Locust's own stats reports. The parent process turns the buckets into per-stage percentiles,
rates and plots. Progress goes to stdout as JSON lines; the result is written to OUT.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import signal
import sys
import time
from collections import defaultdict
from typing import Any

import gevent
import gevent.lock
import gevent.pool
import locust.runners
import psutil
from locust import User, task
from locust.contrib.fasthttp import FastHttpSession, FastHttpUser
from locust.env import Environment

BUCKETS_PER_S = 4
_TEMPLATE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

CONFIG: dict[str, Any] = {}
STATE: dict[str, Any] = {"rate_per_user": 0.0, "stop": False}


def latency_key(ms: float) -> int:
    return round(math.log1p(max(ms, 0.0)) * 100)


class Aggregator:
    """Requests by start-time bucket: [count, failures, {latency key: count}]; arrivals too."""

    def __init__(self) -> None:
        self.buckets: dict[int, list[Any]] = {}
        self.arrivals: dict[int, int] = defaultdict(int)
        self.errors: dict[str, int] = defaultdict(int)

    def add(self, start: float, ms: float, failed: bool, error: str | None) -> None:
        idx = int(start * BUCKETS_PER_S)
        b = self.buckets.get(idx)
        if b is None:
            b = self.buckets[idx] = [0, 0, defaultdict(int)]
        b[0] += 1
        b[1] += int(failed)
        b[2][latency_key(ms)] += 1
        if error is not None and (error in self.errors or len(self.errors) < 50):
            self.errors[error] += 1

    def drain(self) -> dict[str, Any]:
        data = {
            "buckets": [[i, b[0], b[1], list(b[2].items())] for i, b in self.buckets.items()],
            "arrivals": list(self.arrivals.items()),
            "errors": dict(self.errors),
        }
        self.buckets, self.arrivals, self.errors = {}, defaultdict(int), defaultdict(int)
        return data

    def merge(self, data: dict[str, Any]) -> int:
        count = 0
        for idx, n, fail, hist in data["buckets"]:
            b = self.buckets.get(idx)
            if b is None:
                b = self.buckets[idx] = [0, 0, defaultdict(int)]
            b[0] += n
            b[1] += fail
            for key, c in hist:
                b[2][key] += c
            count += n
        for idx, n in data["arrivals"]:
            self.arrivals[idx] += n
        for error, n in data["errors"].items():
            self.errors[error] += n
        return count


AGG = Aggregator()


def emit(event: str, **data: Any) -> None:
    print(json.dumps({"event": event, "t": time.time(), **data}), flush=True)


# --- journeys ---------------------------------------------------------------------------------


def _value(env: dict[str, Any], name: str, raw: str) -> str:
    value = env.get(name, raw)
    if isinstance(value, list):
        return str(random.choice(value)) if value else raw
    return str(value)


def _fill(value: Any, env: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return _TEMPLATE.sub(lambda m: _value(env, m.group(1), m.group(0)), value)
    if isinstance(value, list):
        return [_fill(v, env) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, env) for k, v in value.items()}
    return value


def _dig(document: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(document, dict):
            document = document.get(part)
        elif isinstance(document, list) and part.isdigit() and int(part) < len(document):
            document = document[int(part)]
        else:
            return None
    return document


def _pick_journey() -> dict[str, Any]:
    journeys = CONFIG["journeys"]
    weights = [j["weight"] for j in journeys]
    return random.choices(journeys, weights=weights)[0]  # type: ignore[no-any-return]


def _think(journey: dict[str, Any]) -> float:
    think = journey.get("think_time") or CONFIG["think_time"]
    return random.uniform(think["min"], think["max"])


def run_setup(client: FastHttpSession, user_no: int) -> dict[str, Any]:
    """The scenario's setup steps, once per simulated user; what they save lasts."""
    env: dict[str, Any] = {"user": user_no}
    for step in CONFIG["setup"]:
        if not _run_step(client, step, env, {}):
            break
    return env


def run_journey(
    client: FastHttpSession, base: dict[str, Any], sched: float | None, think: bool
) -> None:
    journey = _pick_journey()
    env = dict(base)
    for name, span in CONFIG["vars"].items():
        env[name] = random.randint(span["min"], span["max"])
    for i, step in enumerate(journey["steps"]):
        context = {"vz_sched": sched} if (sched is not None and i == 0) else {}
        ok = _run_step(client, step, env, context)
        if not ok:
            return
        if think:
            gevent.sleep(_think(journey))


def _run_step(
    client: FastHttpSession, step: dict[str, Any], env: dict[str, Any], context: dict[str, Any]
) -> bool:
    path = _fill(step["path"], env)
    kwargs: dict[str, Any] = {"headers": _fill(step["headers"], env) or None}
    if step.get("json") is not None:
        kwargs["json"] = _fill(step["json"], env)
    with client.request(
        step["method"],
        path,
        name=step.get("name") or step["path"],
        catch_response=True,
        context=context,
        **kwargs,
    ) as resp:
        code = resp.status_code or 0
        expect = step["expect"]
        good = code in expect if expect else 200 <= code < 400
        if not good:
            resp.failure(f"HTTP {code}" if code else f"{resp.error or 'no response'}")
            return False
        resp.success()
        if step["save"]:
            try:
                document = resp.json()
            except Exception:
                document = None
            for name, where in step["save"].items():
                env[name] = _dig(document, where)
    return True


class ClosedUser(FastHttpUser):
    """One simulated user: journeys one after another, think time after each step."""

    abstract = False
    network_timeout = 30.0
    connection_timeout = 10.0
    max_retries = 0
    concurrency = 2
    _count = 0

    def wait_time(self) -> float:
        return 0.0

    def on_start(self) -> None:
        ClosedUser._count += 1
        self.base = run_setup(self.client, ClosedUser._count)

    @task
    def journey(self) -> None:
        run_journey(self.client, self.base, None, think=True)


class OpenUser(User):
    """An arrival process: journeys started at a fixed rate, whatever the answers (no think time).

    The first request of each journey is timed from its scheduled arrival, so time spent
    waiting for a free slot (``max_inflight``) or for the service counts as latency.
    """

    abstract = False

    def wait_time(self) -> float:
        return 0.0

    def on_start(self) -> None:
        inflight = int(CONFIG["max_inflight_per_user"])
        self.session = FastHttpSession(
            base_url=self.environment.host,
            request_event=self.environment.events.request,
            user=None,
            network_timeout=30.0,
            connection_timeout=10.0,
            max_retries=0,
            concurrency=inflight,
        )
        self.slots = gevent.lock.BoundedSemaphore(inflight)
        self.arrivals_group = gevent.pool.Group()
        self.base = run_setup(self.session, 0)

    def on_stop(self) -> None:
        self.arrivals_group.kill(block=False)

    def _arrive(self, sched: float) -> None:
        try:
            with self.slots:
                run_journey(self.session, self.base, sched, think=False)
        except gevent.GreenletExit:
            AGG.add(sched, (time.time() - sched) * 1000, True, "unfinished at stage end")
            raise

    @task
    def arrivals(self) -> None:
        rate, anchor, k = 0.0, time.time(), 0
        while not STATE["stop"]:
            if STATE["rate_per_user"] != rate:
                rate, anchor, k = STATE["rate_per_user"], time.time(), 0
            if rate <= 0:
                gevent.sleep(0.05)
                continue
            sched = anchor + k / rate
            delay = sched - time.time()
            if delay > 0:
                gevent.sleep(min(delay, 0.05))
                continue
            k += 1
            AGG.arrivals[int(sched * BUCKETS_PER_S)] += 1
            self.arrivals_group.spawn(self._arrive, sched)


def on_request(
    start_time: float,
    response_time: float,
    exception: BaseException | None,
    context: dict[str, Any],
    **_: Any,
) -> None:
    sched = context.get("vz_sched") if context else None
    if sched is not None:
        start, ms = sched, (start_time - sched) * 1000 + response_time
    else:
        start, ms = start_time, response_time
    error = None if exception is None else str(exception).splitlines()[0][:120]
    AGG.add(start, ms, exception is not None, error)


# --- the run (local or master) ----------------------------------------------------------------


class Run:
    def __init__(self, config: dict[str, Any]) -> None:
        CONFIG.update(config)
        self.expect = int(config["expect_workers"])
        classes: list[type[User]] = [OpenUser] if config["mode"] == "open" else [ClosedUser]
        self.env = Environment(user_classes=classes, host=config["url"], catch_exceptions=True)
        self.env.events.request.add_listener(on_request)
        if self.expect:
            self.runner: Any = self.env.create_master_runner(
                config["master_bind"], int(config["master_port"])
            )
            self.env.events.worker_report.add_listener(self._worker_report)
        else:
            self.runner = self.env.create_local_runner()
        self.env.events.cpu_warning.add_listener(self._cpu_warning)
        self.per_worker: dict[str, int] = defaultdict(int)
        self.cpu: list[list[Any]] = []
        self.host_cpu: list[list[float]] = []
        psutil.cpu_percent()
        self.cpu_warnings: list[float] = []
        self.stages: list[dict[str, Any]] = []
        self.proc = psutil.Process()
        self.proc.cpu_percent()

    def _worker_report(self, client_id: str, data: dict[str, Any]) -> None:
        if "vz" in data:
            self.per_worker[client_id] += AGG.merge(data["vz"])
            if "cpu" in data["vz"]:
                self.cpu.append([time.time(), f"worker {client_id}", float(data["vz"]["cpu"])])

    def _cpu_warning(self, **_: Any) -> None:
        self.cpu_warnings.append(time.time())

    def _sample(self) -> None:
        now = time.time()
        label = "master" if self.expect else "generator"
        self.cpu.append([now, label, self.proc.cpu_percent()])
        self.host_cpu.append([now, psutil.cpu_percent()])
        if self.expect:  # a worker's CPU comes with its reports; Locust's warning from here
            for node in list(self.runner.clients.values()):
                if node.cpu_usage > locust.runners.CPU_WARNING_THRESHOLD:
                    self.cpu_warnings.append(now)

    def _cache(self) -> list[int] | None:
        """Cache hits and misses so far: Redis INFO with --redis, else the service's /health
        (``cache.hits`` / ``cache.misses``, as the reference service reports them)."""
        try:
            if CONFIG.get("redis_url"):
                from vendzz_migrate.loadtest.lookups import redis_lookups

                return list(redis_lookups(CONFIG["redis_url"]))
            import urllib.request

            from vendzz_migrate.urls import http_request

            with urllib.request.urlopen(
                http_request(CONFIG["url"] + "/health"), timeout=3
            ) as response:
                cache = json.loads(response.read()).get("cache") or {}
            return [int(cache["hits"]), int(cache["misses"])]
        except Exception:
            return None

    def _wait(self, until: float) -> None:
        while not STATE["stop"] and time.time() < until:
            self._sample()
            gevent.sleep(min(0.5, max(0.0, until - time.time())))

    def wait_for_workers(self) -> None:
        deadline = time.time() + float(CONFIG["worker_timeout_s"])
        while self.runner.worker_count < self.expect:
            if STATE["stop"] or time.time() > deadline:
                emit(
                    "error",
                    message=f"only {self.runner.worker_count} of {self.expect} workers connected",
                )
                raise SystemExit(3)
            gevent.sleep(0.2)
        self.runner.send_message("vz_config", CONFIG)
        emit("workers", count=self.runner.worker_count)
        gevent.sleep(0.5)

    def stages_loop(self) -> None:
        users = 0
        for i, stage in enumerate(CONFIG["stages"]):
            if STATE["stop"]:
                break
            start = time.time()
            ramp, end = start + stage["ramp_s"], start + stage["duration_s"]
            record: dict[str, Any] = {
                "index": i,
                "start": start,
                "measure_start": ramp,
                "users": stage.get("users"),
                "rate": stage.get("rate"),
            }
            self.stages.append(record)
            emit("stage_start", index=i, users=stage.get("users"), rate=stage.get("rate"))
            if CONFIG["mode"] == "open":
                n = max(self.expect, 1)
                self._set_rate(float(stage["rate"]) / n)
                if users == 0:
                    self.runner.start(n, spawn_rate=n)
                    users = n
            else:
                target = int(stage["users"])
                spawn_rate = max(abs(target - users) / max(stage["ramp_s"], 0.1), 1.0)
                self.runner.start(target, spawn_rate=spawn_rate)
                users = target
            self._wait(ramp)
            record["users_reached"] = self.runner.user_count
            record["redis_start"] = self._cache()
            self._wait(end)
            record["end"] = min(time.time(), end)
            record["redis_end"] = self._cache()
            record["interrupted"] = bool(STATE["stop"])
            emit("stage_end", index=i)

    def _set_rate(self, rate_per_user: float) -> None:
        STATE["rate_per_user"] = rate_per_user
        if self.expect:
            self.runner.send_message("vz_rate", rate_per_user)

    def finish(self, out: str) -> None:
        STATE["stop"] = True
        self.runner.stop()
        if self.expect:
            gevent.sleep(1.5)  # workers report every 0.5 s
        else:
            gevent.sleep(0.2)
        data = AGG.drain()
        result = {
            "stages": self.stages,
            "data": data,
            "cpu": self.cpu,
            "cpu_warnings": self.cpu_warnings,
            "host_cpu": self.host_cpu,
            "per_worker": dict(self.per_worker),
            "workers": self.expect,
            "cpu_count": psutil.cpu_count(),
        }
        tmp = out + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(result, f)
        os.replace(tmp, out)
        self.runner.quit()
        emit("done")


def _stop(*_: Any) -> None:
    STATE["stop"] = True


def main_run(config_path: str, out: str) -> int:
    with open(config_path, encoding="utf-8") as f:
        config = json.load(f)
    run = Run(config)
    gevent.signal_handler(signal.SIGINT, _stop)
    gevent.signal_handler(signal.SIGTERM, _stop)
    if run.expect:
        emit("master", port=int(config["master_port"]))
        run.wait_for_workers()
    try:
        run.stages_loop()
    finally:
        run.finish(out)
    return 0


def main_worker(master: str) -> int:
    host, _, port = master.rpartition(":")
    locust.runners.WORKER_REPORT_INTERVAL = 0.5
    env = Environment(user_classes=[ClosedUser, OpenUser], catch_exceptions=True)
    env.events.request.add_listener(on_request)

    process = psutil.Process()
    process.cpu_percent()

    def report(client_id: str, data: dict[str, Any]) -> None:
        del client_id
        data["vz"] = {**AGG.drain(), "cpu": process.cpu_percent()}

    env.events.report_to_master.add_listener(report)
    runner = env.create_worker_runner(host, int(port))

    def on_config(environment: Environment, msg: Any, **_: Any) -> None:
        CONFIG.update(msg.data)
        environment.host = msg.data["url"]

    def on_rate(msg: Any, **_: Any) -> None:
        STATE["rate_per_user"] = float(msg.data)

    runner.register_message("vz_config", on_config)
    runner.register_message("vz_rate", on_rate)
    gevent.signal_handler(signal.SIGTERM, runner.quit)
    runner.greenlet.join()
    return 0


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "run":
        return main_run(argv[1], argv[2])
    if len(argv) == 2 and argv[0] == "worker":
        return main_worker(argv[1])
    print(
        "usage: python -m vendzz_migrate.loadtest.engine run CONFIG OUT | worker HOST:PORT",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
