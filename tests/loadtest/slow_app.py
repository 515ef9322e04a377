"""A tiny HTTP service for load and monitor tests, run as its own process on loopback.

``/health``, Vendzz-like paths, ``/slow`` (always ``SLOW_APP_DELAY_S`` slow), ``/metrics``
(http_requests_total{status_code} and the http_request_duration_seconds histogram, as the
reference service and the provision rules name them) and ``POST /control`` to make every
answer slower (``{"delay_ms": 300}``) or failing (``{"fail": true}``) while it runs.

    python tests/loadtest/slow_app.py PORT
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections import defaultdict
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
STATE: dict[str, Any] = {"delay_s": 0.0, "fail": False}
COUNTS: dict[str, int] = defaultdict(int)
BUCKETS = [0] * (len(BOUNDS) + 1)
TOTAL = {"sum": 0.0, "count": 0}


async def _answer(body: dict[str, Any], status: int = 200) -> Response:
    if STATE["delay_s"]:
        await asyncio.sleep(STATE["delay_s"])
    if STATE["fail"]:
        return JSONResponse({"error": "failing on purpose"}, status_code=500)
    return JSONResponse(body, status_code=status)


async def health(_: Request) -> Response:
    return JSONResponse({"status": "ok", "timestamp": int(time.time() * 1000)})


async def quiz(request: Request) -> Response:
    return await _answer({"id": request.path_params["id"], "title": "quiz"})


async def quizzes(_: Request) -> Response:
    return await _answer({"ids": ["q1", "q2", "q3"]})


async def respond(request: Request) -> Response:
    return await _answer({"id": 1, "quizId": request.path_params["id"]}, 201)


async def login(_: Request) -> Response:
    return await _answer({"token": "t0k3n"})


async def slow(_: Request) -> Response:
    await asyncio.sleep(float(os.environ.get("SLOW_APP_DELAY_S", "0.3")))
    return JSONResponse({"slow": True})


async def control(request: Request) -> Response:
    body = await request.json()
    STATE["delay_s"] = float(body.get("delay_ms", STATE["delay_s"] * 1000)) / 1000
    STATE["fail"] = bool(body.get("fail", STATE["fail"]))
    return JSONResponse({"delay_ms": STATE["delay_s"] * 1000, "fail": STATE["fail"]})


async def metrics(_: Request) -> Response:
    lines = [f'http_requests_total{{status_code="{c}"}} {n}' for c, n in sorted(COUNTS.items())]
    cumulative = 0
    for bound, n in zip((*BOUNDS, float("inf")), BUCKETS, strict=True):
        cumulative += n
        le = "+Inf" if bound == float("inf") else f"{bound:g}"
        lines.append(f'http_request_duration_seconds_bucket{{le="{le}"}} {cumulative}')
    lines.append(f"http_request_duration_seconds_sum {TOTAL['sum']}")
    lines.append(f"http_request_duration_seconds_count {TOTAL['count']}")
    return PlainTextResponse("\n".join(lines) + "\n")


class Metrics:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in ("/metrics", "/control"):
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), [500]

        async def send_wrapper(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            COUNTS[str(status[0])] += 1
            BUCKETS[next((i for i, b in enumerate(BOUNDS) if elapsed <= b), len(BOUNDS))] += 1
            TOTAL["sum"] += elapsed
            TOTAL["count"] += 1


app = Metrics(
    Starlette(
        routes=[
            Route("/health", health),
            Route("/api/quizzes", quizzes),
            Route("/api/quizzes/{id}", quiz),
            Route("/api/quizzes/{id}/responses", respond, methods=["POST"]),
            Route("/api/auth/login", login, methods=["POST"]),
            Route("/slow", slow),
            Route("/metrics", metrics),
            Route("/control", control, methods=["POST"]),
        ]
    )
)

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
