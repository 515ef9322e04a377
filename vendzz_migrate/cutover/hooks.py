"""Talking to the running service: freeze, drain, switch, smoke requests, health.

A hook is one HTTP call, one command (argv, ``$VARS`` expanded, no shell), one Redis key, or one
flag file (see :class:`~vendzz_migrate.cutover.plan.Hook`). Every hook is idempotent on the
service's side (turning maintenance on twice is harmless), so a resumed run may repeat one.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from vendzz_migrate.cutover.plan import CutoverPlan, Hook, HttpCall, SmokeRequest
from vendzz_migrate.errors import ExitCode, VendzzError
from vendzz_migrate.urls import mask_text


class HookError(VendzzError):
    """A hook into the service failed (exit code TARGET)."""

    exit_code = ExitCode.TARGET


def http(method: str, url: str, body: Any = None, timeout: float = 10.0) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"} if data else {}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return int(resp.status), bytes(resp.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), bytes(exc.read() or b"")
    except (urllib.error.URLError, OSError) as exc:
        raise HookError(f"{method} {mask_text(url)}: {getattr(exc, 'reason', exc)}") from None


def _call(call: HttpCall, timeout: float) -> None:
    status, body = http(call.method, call.url, call.json_body, timeout)
    if status != call.expect_status:
        raise HookError(
            f"{call.method} {mask_text(call.url)} answered {status}, expected "
            f"{call.expect_status}: {body[:200].decode('utf-8', 'replace')}"
        )


def run_hook(hook: Hook, plan: CutoverPlan, *, timeout: float = 60.0) -> None:
    if hook.http is not None:
        _call(hook.http, timeout)
    elif hook.command is not None:
        env = hook_env(plan)
        argv = [_expand(a, env) for a in hook.command]
        try:
            done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False, env=env)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise HookError(f"command {argv[0]}: {exc}") from None
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).decode("utf-8", "replace").strip()[-300:]
            raise HookError(
                f"command {' '.join(argv)[:120]} exited {done.returncode}: {mask_text(tail)}"
            )
    elif hook.redis_key is not None:
        _redis(hook, plan)
    elif hook.file is not None:
        if hook.file.present:
            hook.file.path.parent.mkdir(parents=True, exist_ok=True)
            hook.file.path.touch()
        else:
            hook.file.path.unlink(missing_ok=True)


def _redis(hook: Hook, plan: CutoverPlan) -> None:
    import redis

    assert hook.redis_key is not None
    url = plan.cache_url()
    if not url:
        raise HookError("a redis_key hook needs redis_url (or REDIS_URL)")
    try:
        client = redis.Redis.from_url(url, socket_timeout=5)
        if hook.redis_key.value is None:
            client.delete(hook.redis_key.key)
        else:
            client.set(hook.redis_key.key, hook.redis_key.value)
        client.close()
    except redis.RedisError as exc:
        raise HookError(f"Redis {hook.redis_key.key}: {exc}") from None


def hook_env(plan: CutoverPlan) -> dict[str, str]:
    """What a command hook sees (and may name as ``$VAR``): the environment plus the plan's
    ``DATABASE_URL``, ``REDIS_URL``, ``VENDZZ_SOURCE`` and ``VENDZZ_SQLITE_URL``."""
    env = dict(os.environ)
    env["DATABASE_URL"] = plan.target_url() or ""
    env["REDIS_URL"] = plan.cache_url() or ""
    env["VENDZZ_SOURCE"] = str(plan.source)
    env["VENDZZ_SQLITE_URL"] = f"sqlite:///{plan.source}"
    return env


def _expand(arg: str, env: dict[str, str]) -> str:
    return re.sub(
        r"\$\{(\w+)\}|\$(\w+)", lambda m: env.get(m.group(1) or m.group(2), m.group(0)), arg
    )


def freeze(plan: CutoverPlan) -> None:
    run_hook(plan.hooks.freeze, plan)


def unfreeze(plan: CutoverPlan) -> None:
    run_hook(plan.hooks.unfreeze, plan)


def switch_to_pg(plan: CutoverPlan) -> None:
    run_hook(plan.hooks.switch_to_pg, plan, timeout=plan.budgets.step_seconds.get("switch", 60))


def switch_to_sqlite(plan: CutoverPlan) -> None:
    run_hook(plan.hooks.switch_to_sqlite, plan, timeout=plan.budgets.step_seconds.get("switch", 60))


def drain(plan: CutoverPlan) -> float:
    """Wait until no write begun before the freeze is in flight; returns the seconds waited."""
    started = time.monotonic()
    spec = plan.hooks.drain
    if spec.kind == "sqlite-lock":
        # every write transaction begun before this lock is taken has ended when it is granted
        conn = sqlite3.connect(plan.source, timeout=spec.timeout_seconds, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            raise HookError(
                f"drain: the SQLite write lock was not granted within "
                f"{spec.timeout_seconds}s ({exc})"
            ) from None
        finally:
            conn.close()
        return time.monotonic() - started
    assert spec.url is not None
    while True:
        status, body = http("GET", spec.url, timeout=spec.timeout_seconds)
        try:
            left = int(json.loads(body).get(spec.field, 1)) if status == 200 else 1
        except (ValueError, AttributeError):
            left = 1
        if left == 0:
            return time.monotonic() - started
        if time.monotonic() - started > spec.timeout_seconds:
            raise HookError(f"drain: {left} write(s) still in flight after {spec.timeout_seconds}s")
        time.sleep(0.05)


@dataclass
class SmokeResult:
    request: str
    status: int
    ok: bool
    detail: str = ""


def smoke(plan: CutoverPlan) -> list[SmokeResult]:
    out: list[SmokeResult] = []
    for req in plan.smoke:
        out.append(_smoke_one(plan, req))
    return out


def _smoke_one(plan: CutoverPlan, req: SmokeRequest) -> SmokeResult:
    name = f"{req.method} {req.path}"
    try:
        status, body = http(req.method, plan.service.url.rstrip("/") + req.path, req.json_body)
    except HookError as exc:
        return SmokeResult(name, 0, False, str(exc))
    if status != req.expect_status:
        return SmokeResult(name, status, False, f"expected {req.expect_status}")
    if req.body_contains and req.body_contains not in body.decode("utf-8", "replace"):
        return SmokeResult(name, status, False, f"body lacks {req.body_contains!r}")
    return SmokeResult(name, status, True)


def health(plan: CutoverPlan) -> tuple[bool, str]:
    url = plan.service.url.rstrip("/") + plan.service.health_path
    try:
        status, body = http("GET", url, timeout=5)
    except HookError as exc:
        return False, str(exc)
    return status == 200, f"{status} {body[:120].decode('utf-8', 'replace')}"
