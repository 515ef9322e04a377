"""``python -m examples.service``: the Vendzz-shaped service on ``PORT`` (default 5000).

Configured by the environment (``DATABASE_URL``, ``REDIS_URL``, ``PORT``, ``PGPOOL_*``,
``REDIS_MAX_CONNECTIONS``, ``VENDZZ_*``: see examples/service/README.md). A bad setting or
database is one line on stderr and a documented exit code; SIGTERM stops it gracefully
(in-flight requests finish, at most ``GRACE_S`` seconds).
"""

from __future__ import annotations

import logging
import sys

from vendzz_migrate.errors import ExitCode, VendzzError

GRACE_S = 20
UVICORN_STARTUP_FAILURE = 3


def main() -> int:
    try:
        import uvicorn

        from examples.service.app import Service, create_app
        from examples.service.config import ServiceConfig
    except ImportError as exc:
        print(
            f"error: {exc}: install the service's extra: pip install -e '.[service]'",
            file=sys.stderr,
        )
        return int(ExitCode.CONFIG)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        cfg = ServiceConfig.from_env()
        service = Service(cfg)
        service.start()
    except VendzzError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    app = create_app(service=service)
    try:
        uvicorn.run(
            app,
            host=cfg.host,
            port=cfg.port,
            log_level="info",
            access_log=False,
            timeout_graceful_shutdown=GRACE_S,
            lifespan="on",
        )
    except SystemExit as exc:  # uvicorn's 3: it could not start (the port is taken), as ctl's 7
        if exc.code == UVICORN_STARTUP_FAILURE:
            return int(ExitCode.STATE)
        raise
    return int(ExitCode.OK)


if __name__ == "__main__":
    sys.exit(main())
