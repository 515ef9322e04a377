"""A small client that plays users: logs in, reads quizzes and submits responses at a rate.

Every write the service acknowledged (201) is appended to the ack log as one ``quiz_responses``
id per line, flushed and fsync'd before the next request, so a test can prove after a cutover
or a rollback that every acknowledged write is in the database the service ends on. A 503 is
retried after its ``Retry-After`` (maintenance mode, database restarting), and so is a refused
connection (the service restarting), each write for at most ``max_retry_s``; any other failure
is counted in the summary, never written to the ack log.

Library: ``Writer(url, rate=..., duration_s=..., ack_log=...).run() -> Summary``.
CLI: ``python -m examples.service.client --url URL --rate R --duration S --ack-log FILE``
(SIGTERM or Ctrl-C stop it cleanly: the write in progress is finished or abandoned, the summary
is printed as JSON on stdout).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from vendzz_migrate.errors import ExitCode

MAX_RETRY_AFTER_S = 5.0
CONNECT_BACKOFF_S = 0.2


@dataclass
class Summary:
    attempted: int = 0  # writes started
    acknowledged: int = 0  # 201s, each one line in the ack log
    failed: int = 0  # non-503 errors (4xx, 5xx, a connection lost without an answer, ...)
    abandoned: int = 0  # stopped or out of retry time while still retrying
    retried_503: int = 0
    retried_connection: int = 0
    failures: dict[str, int] = field(default_factory=dict)  # "500", "404", "connection"...
    reads_ok: int = 0
    reads_failed: int = 0
    login: str = "skipped"  # ok | failed | skipped
    duration_s: float = 0.0
    ack_log: str = ""

    def fail(self, reason: str) -> None:
        self.failed += 1
        self.failures[reason] = self.failures.get(reason, 0) + 1


class LoginFailed(RuntimeError):
    """The service refused the writer's login (or never answered it): nothing is written."""


class _Retry(Exception):
    def __init__(self, wait_s: float, connection: bool) -> None:
        super().__init__()
        self.wait_s = wait_s
        self.connection = connection


class Writer:
    """Writes at ``rate`` per second until ``duration_s`` or ``count`` (one must be given)."""

    def __init__(
        self,
        url: str,
        *,
        rate: float,
        ack_log: Path,
        duration_s: float | None = None,
        count: int | None = None,
        email: str | None = None,
        password: str | None = None,
        reads_per_write: int = 1,
        max_retry_s: float = 60.0,
        timeout_s: float = 10.0,
        quiz_ids: list[str] | None = None,
        seed: int | None = None,
        ack_times: Path | None = None,
    ) -> None:
        if duration_s is None and count is None:
            raise ValueError("give duration_s or count: the writer's run must be bounded")
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.url = url.rstrip("/")
        self.rate = rate
        self.ack_log = Path(ack_log)
        self.ack_times = Path(ack_times) if ack_times else None
        self.duration_s = duration_s
        self.count = count
        self.email, self.password = email, password
        self.reads_per_write = reads_per_write
        self.max_retry_s = max_retry_s
        self.quiz_ids = list(quiz_ids or [])
        self.stop_event = threading.Event()
        self._times: Any = None
        self.summary = Summary(ack_log=str(self.ack_log))
        self._random = random.Random(seed)
        self._http = httpx.Client(base_url=self.url, timeout=timeout_s)

    def stop(self) -> None:
        """Ask the run to finish (from a signal handler or another thread)."""
        self.stop_event.set()

    def run(self) -> Summary:
        start = time.monotonic()
        self.ack_log.parent.mkdir(parents=True, exist_ok=True)
        try:
            with contextlib.ExitStack() as files:
                ack = files.enter_context(self.ack_log.open("a", encoding="utf-8"))
                if self.ack_times is not None:
                    self._times = files.enter_context(self.ack_times.open("a", encoding="utf-8"))
                self._login()
                self._pick_quizzes()
                self._loop(ack, start)
        finally:
            self._http.close()
            self.summary.duration_s = round(time.monotonic() - start, 3)
        return self.summary

    def _login(self) -> None:
        """Log in when an e-mail and password are given; :class:`LoginFailed` when refused."""
        if not self.email or not self.password:
            return
        try:
            resp = self._http.post(
                "/api/auth/login", json={"email": self.email, "password": self.password}
            )
        except httpx.HTTPError as exc:
            self.summary.login = "failed"
            raise LoginFailed(f"login as {self.email} failed: {type(exc).__name__}") from None
        if resp.status_code != 200:
            self.summary.login = "failed"
            raise LoginFailed(f"login as {self.email} failed: HTTP {resp.status_code}")
        self.summary.login = "ok"
        self._http.headers["Authorization"] = f"Bearer {resp.json()['token']}"

    def _pick_quizzes(self) -> None:
        if self.quiz_ids:
            return
        for published in ("1", "0"):
            resp = self._http.get("/api/quizzes", params={"limit": 200, "published": published})
            resp.raise_for_status()
            self.quiz_ids = list(resp.json()["ids"])
            if self.quiz_ids:
                return
        raise RuntimeError("the service has no quizzes to answer")

    def _done(self, start: float, n: int) -> bool:
        if self.stop_event.is_set():
            return True
        if self.count is not None and n >= self.count:
            return True
        return self.duration_s is not None and time.monotonic() - start >= self.duration_s

    def _loop(self, ack: Any, start: float) -> None:
        n, due = 0, start
        while not self._done(start, n):
            if self.stop_event.wait(max(due - time.monotonic(), 0)):
                break
            due = max(due + 1 / self.rate, time.monotonic())  # no burst after a freeze
            quiz = self._random.choice(self.quiz_ids)
            for _ in range(self.reads_per_write):
                self._read(quiz)
            self._write(ack, quiz, n, start)
            n += 1

    def _read(self, quiz_id: str) -> None:
        try:
            ok = self._http.get(f"/api/quizzes/{quiz_id}").status_code == 200
        except httpx.HTTPError:
            ok = False
        if ok:
            self.summary.reads_ok += 1
        else:
            self.summary.reads_failed += 1

    def _write(self, ack: Any, quiz_id: str, n: int, start: float) -> None:
        self.summary.attempted += 1
        body = _answer(n, self._random)
        give_up = time.monotonic() + self.max_retry_s
        while True:
            try:
                new_id = self._post(quiz_id, body)
            except _Retry as retry:
                if retry.connection:
                    self.summary.retried_connection += 1
                else:
                    self.summary.retried_503 += 1
                late = time.monotonic() + retry.wait_s > give_up
                if late or self.stop_event.wait(retry.wait_s) or self._out_of_time(start):
                    self.summary.abandoned += 1
                    return
                continue
            except _Failed as failed:
                self.summary.fail(failed.reason)
                return
            ack.write(new_id + "\n")
            ack.flush()
            os.fsync(ack.fileno())
            self.summary.acknowledged += 1
            if self._times is not None:  # id <TAB> when the 201 arrived (UTC)
                self._times.write(f"{new_id}\t{datetime.now(UTC).isoformat()}\n")
                self._times.flush()
            return

    def _out_of_time(self, start: float) -> bool:
        # a write keeps retrying past the run's duration, but not past max_retry_s after it
        return (
            self.duration_s is not None
            and time.monotonic() - start >= self.duration_s + self.max_retry_s
        )

    def _post(self, quiz_id: str, body: dict[str, Any]) -> str:
        try:
            resp = self._http.post(f"/api/quizzes/{quiz_id}/responses", json=body)
        except httpx.ConnectError:
            raise _Retry(CONNECT_BACKOFF_S, connection=True) from None
        except httpx.HTTPError as exc:  # sent, no answer: it may or may not have been written
            raise _Failed(f"no answer: {type(exc).__name__}") from None
        if resp.status_code == 503:
            raise _Retry(_retry_after(resp), connection=False)
        if resp.status_code != 201:
            raise _Failed(str(resp.status_code))
        try:
            return str(resp.json()["id"])
        except (ValueError, KeyError, TypeError):
            raise _Failed("201 without an id") from None


class _Failed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _retry_after(resp: httpx.Response) -> float:
    try:
        return min(max(float(resp.headers.get("Retry-After", "1")), 0.05), MAX_RETRY_AFTER_S)
    except ValueError:
        return 1.0


def _answer(n: int, rnd: random.Random) -> dict[str, Any]:
    """A visitor's answers in one of the shapes Vendzz stores."""
    return {
        "responses": [
            {
                "elementId": f"e{i}",
                "elementType": "multiple_choice",
                "pageId": f"page{i + 1}",
                "pageOrder": i,
                "question": f"question {i + 1}?",
                "answer": rnd.choice(["sim", "não", "talvez", 3, 7]),
            }
            for i in range(rnd.randint(1, 4))
        ],
        "metadata": {"isComplete": True, "client": "vendzz-writer", "seq": n},
    }


def read_ack_log(path: Path) -> list[str]:
    """The acknowledged ids, in order (a torn last line is ignored)."""
    text = Path(path).read_text(encoding="utf-8") if Path(path).exists() else ""
    lines = text.split("\n")
    return [line for line in lines[:-1] if line]  # the part after the last \n is incomplete


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m examples.service.client",
        description="Play users against the service: read, write.",
    )
    parser.add_argument("--url", required=True, help="the service, e.g. http://127.0.0.1:5000")
    parser.add_argument("--rate", type=float, required=True, help="writes per second")
    parser.add_argument("--duration", type=float, help="seconds to run")
    parser.add_argument("--count", type=int, help="writes to make")
    parser.add_argument("--ack-log", type=Path, required=True, help="acknowledged ids go here")
    parser.add_argument(
        "--ack-times",
        type=Path,
        help="also write 'id<TAB>ISO time' of each acknowledged write here",
    )
    parser.add_argument("--email", help="log in as this user first")
    parser.add_argument("--password", help="(or env VENDZZ_WRITER_PASSWORD)")
    parser.add_argument("--reads-per-write", type=int, default=1)
    parser.add_argument(
        "--max-retry",
        type=float,
        default=60.0,
        help="seconds one write may keep retrying 503s and refused connections",
    )
    args = parser.parse_args(argv)
    if args.duration is None and args.count is None:
        parser.error("give --duration or --count")
    if not args.url.startswith(("http://", "https://")):
        parser.error(f"--url must be an http:// or https:// URL, not {args.url!r}")
    for flag, value in (
        ("--rate", args.rate),
        ("--duration", args.duration),
        ("--count", args.count),
    ):
        if value is not None and value <= 0:
            parser.error(f"{flag} must be positive, not {value}")
    if args.max_retry < 0 or args.reads_per_write < 0:
        parser.error("--max-retry and --reads-per-write cannot be negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    writer = Writer(
        args.url,
        rate=args.rate,
        ack_log=args.ack_log,
        duration_s=args.duration,
        count=args.count,
        email=args.email,
        password=args.password or os.environ.get("VENDZZ_WRITER_PASSWORD"),
        reads_per_write=args.reads_per_write,
        max_retry_s=args.max_retry,
        ack_times=args.ack_times,
    )
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: writer.stop())
    try:
        summary = writer.run()
    except OSError as exc:  # the ack log (or --ack-times) cannot be written: nothing was sent
        times = args.ack_times is not None and str(exc.filename) == str(args.ack_times)
        print(
            f"error: cannot write {args.ack_times if times else args.ack_log}: "
            f"{exc.strerror or exc} ({exc.filename})",
            file=sys.stderr,
        )
        print(json.dumps(asdict(writer.summary)))
        return int(ExitCode.CONFIG)
    except (httpx.HTTPError, RuntimeError) as exc:
        print(f"error: {str(exc) or type(exc).__name__}", file=sys.stderr)
        print(json.dumps(asdict(writer.summary)))
        return int(ExitCode.CONNECTION)
    print(json.dumps(asdict(summary)))
    return int(ExitCode.OK)


if __name__ == "__main__":
    sys.exit(main())
