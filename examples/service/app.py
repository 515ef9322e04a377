"""The ASGI app: login, quizzes (read-through cache), responses (the write path), health,
metrics and maintenance mode. Endpoints are plain functions run in Starlette's thread pool, so
SQLAlchemy and redis-py are used synchronously, one code path for SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import math
import os
import threading
import time
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import bcrypt
import psutil
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from examples.service import codec
from examples.service.config import ServiceConfig
from examples.service.db import Database, DatabaseDown, QuizNotFound
from examples.service.maintenance import Frozen, Maintenance
from examples.service.metrics import Metrics, MetricsMiddleware
from examples.service.models import Login, ResponseIn, first_error
from examples.service.redis_side import RedisSide

log = logging.getLogger("vendzz.service")
TOKEN_TTL_S = 24 * 3600
USER_FIELDS = ("id", "email", "firstName", "lastName", "plan", "role")
M = TypeVar("M", bound=BaseModel)


class Service:
    """Everything a request needs, built once per process."""

    def __init__(self, cfg: ServiceConfig) -> None:
        self.cfg = cfg
        self.db = Database(cfg)
        self.redis = RedisSide(cfg)
        self.maintenance = Maintenance(cfg.maintenance_file, self.redis.maintenance_key)
        self.metrics = Metrics()
        self.started = time.monotonic()

    def start(self) -> None:
        """Load the schema now when the database answers (a config error stops the start)."""
        try:
            self.db.tables()
        except DatabaseDown as exc:
            log.warning("database unreachable at start, will retry on use: %s", exc)

    def close(self) -> None:
        self.db.close()
        self.redis.close()


def error(status: int, message: str, **extra: Any) -> JSONResponse:
    headers = {"Retry-After": "1"} if status == 503 else None
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


def _svc(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text} is out of range")
    return value


async def _json_body(request: Request) -> Any:
    """The body as JSON, or None when it is not JSON (NaN and Infinity are not: jsonb and the
    copy refuse them)."""
    raw = await request.body()
    try:
        return json.loads(raw, parse_constant=_no_constant, parse_float=_finite) if raw else None
    except ValueError:
        return None


def _nul_field(value: Any, path: str = "") -> str | None:
    """The dotted path of the first key or string holding a NUL character (PostgreSQL's text
    and jsonb cannot store one), else None."""
    if isinstance(value, str):
        return (path or "body") if "\x00" in value else None
    items: Any = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        where = f"{path}.{key}" if path else str(key)
        if "\x00" in str(key):
            return path or "body"
        found = _nul_field(item, where)
        if found is not None:
            return found
    return None


def _refused_body(body: Any) -> JSONResponse | None:
    """A 422 for a body that is not a JSON object or holds a NUL character, else None."""
    if not isinstance(body, dict):
        return error(422, "the body must be a JSON object", field="body")
    field = _nul_field(body)
    if field is not None:
        return error(
            422, f"invalid {field}: a NUL character (\\u0000) cannot be stored", field=field
        )
    return None


def _token(cfg: ServiceConfig, user_id: str) -> str:
    payload = f"{codec.b64(user_id.encode())}.{int(time.time()) + TOKEN_TTL_S}"
    sig = hmac.new(cfg.secret.encode(), payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{codec.b64(sig)}"


def _password_ok(password: str, stored: Any) -> bool:
    if not isinstance(stored, str) or not stored:
        return False
    try:
        return bcrypt.checkpw(password.encode(), stored.encode())
    except ValueError:  # not a bcrypt hash
        return False


async def _validated(request: Request, model: type[M]) -> M | Response:
    """The body as ``model``, or the 422 that names the field at fault."""
    body = await _json_body(request)
    refused = _refused_body(body)
    if refused is not None:
        return refused
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        field, reason = first_error(exc)
        return error(422, f"invalid {field}: {reason}", field=field)


async def login(request: Request) -> Response:
    creds = await _validated(request, Login)
    if isinstance(creds, Response):
        return creds
    return await _run(request, _login, creds)


def _login(service: Service, creds: Login) -> Response:
    allowed, wait_s = service.redis.allow_login(creds.email.strip().lower())
    if not allowed:
        return JSONResponse(
            {"error": "too many login attempts"},
            status_code=429,
            headers={"Retry-After": str(wait_s)},
        )
    user = service.db.user_by_email(creds.email.strip())
    if user is None or not _password_ok(creds.password, user.get("password")):
        return error(401, "invalid e-mail or password")
    if user.get("isBlocked") is True or user.get("isBlocked") == 1:
        return error(403, "this account is blocked")
    public = {k: user.get(k) for k in USER_FIELDS}
    return JSONResponse({"token": _token(service.cfg, str(user["id"])), "user": public})


async def _run(request: Request, fn: Any, *args: Any) -> Response:
    """Run a blocking handler in the thread pool; database failures become 503s."""
    from starlette.concurrency import run_in_threadpool

    try:
        response: Response = await run_in_threadpool(fn, _svc(request), *args)
    except DatabaseDown as exc:
        return error(503, "database unavailable", detail=str(exc))
    except Exception as exc:  # a bug or a refused statement: one line in the log, a JSON 500
        first = (str(exc).strip().splitlines() or [""])[0]
        log.error(
            "%s %s failed: %s: %s", request.method, request.url.path, type(exc).__name__, first
        )
        return error(500, "internal error")
    return response


async def get_quiz(request: Request) -> Response:
    return await _run(request, _get_quiz, str(request.path_params["id"]))


def _get_quiz(service: Service, quiz_id: str) -> Response:
    if "\x00" in quiz_id:  # no quiz has one; PostgreSQL would refuse the lookup
        return error(404, "quiz not found", id=quiz_id)
    cached = service.redis.get_quiz(quiz_id)
    if cached is not None:
        service.metrics.cache.labels("hit").inc()
        return Response(cached, media_type="application/json", headers={"X-Cache": "HIT"})
    service.metrics.cache.labels("miss").inc()
    quiz = service.db.quiz(quiz_id)
    if quiz is None:
        return error(404, "quiz not found", id=quiz_id)
    body = json.dumps(codec.row_json(quiz), ensure_ascii=False).encode()
    if quiz.get("isPublished") == 1:  # true or 1: the rows warm-cache's quiz query selects
        service.redis.put_quiz(quiz_id, body)
    return Response(body, media_type="application/json", headers={"X-Cache": "MISS"})


async def list_quizzes(request: Request) -> Response:
    try:
        limit = max(1, min(int(request.query_params.get("limit", "100")), 1000))
    except ValueError:
        return error(422, "invalid limit: not an integer", field="limit")
    published = request.query_params.get("published", "1") not in ("0", "false")

    def run(service: Service) -> Response:
        return JSONResponse({"ids": service.db.quiz_ids(limit, published)})

    return await _run(request, run)


async def post_response(request: Request) -> Response:
    answer = await _validated(request, ResponseIn)
    if isinstance(answer, Response):
        return answer
    return await _run(request, _post_response, str(request.path_params["id"]), answer)


def _post_response(service: Service, quiz_id: str, answer: ResponseIn) -> Response:
    if "\x00" in quiz_id:  # no quiz has one; PostgreSQL would refuse the lookup
        return error(404, "quiz not found", id=quiz_id)
    try:
        with service.maintenance.write():
            service.metrics.writes_in_flight.set(service.maintenance.writes_in_flight)
            new_id, at = service.db.submit(
                quiz_id,
                answer.responses,
                answer.metadata,
                answer.variables(),
                answer.extra_columns(),
            )
    except Frozen:
        return error(503, "maintenance: writes are paused", maintenance=True)
    except QuizNotFound:
        return error(404, "quiz not found", id=quiz_id)
    finally:
        service.metrics.writes_in_flight.set(service.maintenance.writes_in_flight)
    return JSONResponse(
        {
            "id": new_id,
            "quizId": quiz_id,
            "submittedAt": codec.pg_timestamp(at),
            "variables": len(answer.variables()),
        },
        status_code=201,
    )


async def maintenance(request: Request) -> Response:
    service = _svc(request)
    if request.method == "POST":
        body = await _json_body(request)
        enabled = body.get("enabled") if isinstance(body, dict) else None
        if not isinstance(enabled, bool):
            return error(422, "invalid enabled: must be true or false", field="enabled")
        service.maintenance.set(enabled)
    from starlette.concurrency import run_in_threadpool

    state = await run_in_threadpool(service.maintenance.state)
    service.metrics.maintenance.set(1 if state["maintenance"] else 0)
    return JSONResponse(state)


def _database_check(service: Service) -> dict[str, Any]:
    """Ping the database in a thread, never waiting longer than the health timeout."""
    result: dict[str, Any] = {"ok": False, "error": "timed out"}

    def ping() -> None:
        try:
            service.db.ping()
            result.update(ok=True, error=None)
        except DatabaseDown as exc:
            result.update(error=str(exc))

    thread = threading.Thread(target=ping, daemon=True)
    thread.start()
    thread.join(service.cfg.health_timeout_s)
    return dict(result)


def _health(service: Service) -> Response:
    db = _database_check(service)
    redis_state = service.redis.status()
    pool = service.db.pool()
    service.metrics.pool_in_use.set(pool.in_use)
    degraded = not db["ok"] or redis_state == "down"
    memory = psutil.Process(os.getpid()).memory_info()
    body = {
        "status": "degraded" if degraded else "ok",
        "timestamp": int(time.time() * 1000),
        "uptime": round(time.monotonic() - service.started, 3),
        "memory": {"rss": memory.rss, "vms": memory.vms},
        "connections": pool.in_use,
        "pool": {"in_use": pool.in_use, "idle": pool.idle, "max": pool.max},
        "cache": {
            **service.redis.cache_stats(),
            "redis": redis_state,
            "redis_error": service.redis.last_error if redis_state == "down" else None,
        },
        "database": {
            "kind": service.db.kind,
            "url": service.db.url,
            "schema": service.db.schema_name,
            **db,
        },
        **service.maintenance.state(),
    }
    return JSONResponse(body, status_code=200 if db["ok"] else 503)


async def health(request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool

    response: Response = await run_in_threadpool(_health, _svc(request))
    return response


async def metrics(request: Request) -> Response:
    service = _svc(request)
    service.metrics.writes_in_flight.set(service.maintenance.writes_in_flight)
    return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)


async def server_error(_request: Request, exc: Exception) -> Response:
    log.error("unhandled error: %s: %s", type(exc).__name__, exc)
    return error(500, "internal error")


ROUTES = [
    Route("/api/auth/login", login, methods=["POST"]),
    Route("/api/quizzes", list_quizzes, methods=["GET"]),
    Route("/api/quizzes/{id}", get_quiz, methods=["GET"]),
    Route("/api/quizzes/{id}/responses", post_response, methods=["POST"]),
    Route("/health", health, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
    Route("/admin/maintenance", maintenance, methods=["GET", "POST"]),
]


def create_app(cfg: ServiceConfig | None = None, service: Service | None = None) -> Starlette:
    """The app for ``service``, else for ``cfg`` (default: from the environment)."""
    if service is None:
        service = Service(cfg or ServiceConfig.from_env())
        service.start()
    ready = service

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.service = ready
        yield
        ready.close()

    return Starlette(
        routes=ROUTES,
        middleware=[Middleware(MetricsMiddleware, metrics=ready.metrics, routes=ROUTES)],
        exception_handlers={Exception: server_error},
        lifespan=lifespan,
    )
