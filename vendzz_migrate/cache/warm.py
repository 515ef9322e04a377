"""warm-cache: fill Redis from PostgreSQL before traffic arrives.

Steps: validate every selected cache against PostgreSQL (columns, ``requires``) and estimate it;
stop here for ``dry_run``; otherwise connect to Redis, check ``maxmemory`` headroom, then write
each cache (streamed, pipelined by node), then prune stale keys in one SCAN. Reruns are idempotent.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from vendzz_migrate import events
from vendzz_migrate.cache import query, render
from vendzz_migrate.cache.models import OVERHEAD_PER_KEY, CacheReport, WarmReport
from vendzz_migrate.cache.redis_io import SCRIPT_SHA, Target, open_target, redis_errors
from vendzz_migrate.cache.spec import CacheDef, CacheSpec, glob_escape, parse_template
from vendzz_migrate.cache.writer import OutOfMemory, Row, Writer
from vendzz_migrate.errors import CapacityError, ConnectionFailed, KeysNotWritten
from vendzz_migrate.options import CommandOptions
from vendzz_migrate.settings import Settings
from vendzz_migrate.urls import mask

if TYPE_CHECKING:
    from vendzz_migrate.cache.query import PgConn


class WarmOptions(CommandOptions):
    """warm-cache's options (the shared ones: :class:`CommandOptions`); ``spec`` None is the
    Vendzz spec shipped inside."""

    redis_url: str | None = None
    redis_max_connections: int = 20
    spec: CacheSpec | None = None
    only: list[str] | None = None
    dry_run: bool = False
    check_memory: bool = True


@dataclass
class Plan:
    cache: CacheDef
    ttl: tuple[int, int]
    columns: list[query.Column]
    estimate: query.Estimate | None
    skip_reason: str | None = None
    seen: set[int] | None = field(default_factory=set)  # hashes of the keys written

    @property
    def estimated_bytes(self) -> int:
        if self.estimate is None:
            return 0
        return int(self.estimate.keys * (self.estimate.avg_bytes + OVERHEAD_PER_KEY))


def warm(opts: WarmOptions, on_event: events.Sink = events.discard) -> WarmReport:
    """Warm the caches of ``opts.spec`` (or only those named) and return what was written;
    raise :class:`KeysNotWritten` (carrying the report) when Redis refused some keys.
    Progress (keys per cache) goes to ``on_event``."""
    with events.progress(on_event, verb="warming", unit="keys") as progress:
        report = _warm(opts, progress)
    failed = [c for c in report.caches if c.errors]
    if failed:
        first = failed[0]
        raise KeysNotWritten(
            f"{sum(c.errors for c in failed):,} keys were not written "
            f"(cache {first.name!r}, first error: {first.first_error})",
            report,
        )
    return report


def _warm(opts: WarmOptions, progress: events.Progress) -> WarmReport:
    from vendzz_migrate.cache.spec import load_spec

    settings = opts.settings()
    spec = opts.spec or load_spec(None)
    caches = spec.select(opts.only)
    started = time.monotonic()
    conn = query.connect(settings)
    streams = render.Streams(settings, spec.defaults.streams)  # opened for the first cache
    try:
        plans = [_plan(conn, settings, spec, c) for c in caches]
        if opts.dry_run:
            return _dry_report(settings, plans)
        target = open_target(settings, spec.client)
        try:
            if opts.check_memory:
                check_headroom(target, plans)
            report = WarmReport(
                database=mask(settings.database_url),
                redis=target.url,
                mode="cluster" if target.cluster else "standalone",
                nodes=sorted(target.nodes),
            )
            # Keys can only be stale if Redis held keys before this run (not on a fresh Redis).
            stale_possible = target.dbsize() > 0
            for plan in plans:
                if not stale_possible:
                    plan.seen = None  # nothing to prune: do not remember keys
                result = _run(streams, spec, target, plan, report, progress=progress)
                report.caches.append(result)
            if stale_possible:
                _record_pruned(report, prune(target, plans))
        finally:
            target.close()
    finally:
        streams.close()
        conn.close()
    report.seconds = round(time.monotonic() - started, 3)
    report.keys = sum(c.keys for c in report.caches)
    report.keys_per_s = round(report.keys / max(report.seconds, 1e-9), 1)
    return report


def _plan(conn: PgConn, settings: Settings, spec: CacheSpec, cache: CacheDef) -> Plan:
    ttl = spec.ttl_of(cache)
    missing = query.missing_tables(conn, settings.schema_name, cache.requires)
    if missing:
        reason = f"table {missing[0]!r} not found in schema {settings.schema_name!r}"
        return Plan(cache, ttl, [], None, reason)
    columns = query.probe(conn, cache)
    estimate = query.estimate(conn, spec, cache, columns, SCRIPT_SHA)
    return Plan(cache, ttl, columns, estimate)


def _base(plan: Plan) -> CacheReport:
    est = plan.estimate
    return CacheReport(
        name=plan.cache.name,
        encoding=plan.cache.encoding,
        status="skipped" if plan.skip_reason else "planned",
        reason=plan.skip_reason,
        rows=est.rows if est else 0,
        skipped_rows=est.rows - est.keys if est else 0,
        estimated_bytes=plan.estimated_bytes,
        ttl_s=plan.ttl[0],
        jitter_s=plan.ttl[1],
        sample_keys=est.sample_keys if est else [],
    )


def _dry_report(settings: Settings, plans: list[Plan]) -> WarmReport:
    caches = []
    for plan in plans:
        report = _base(plan)
        report.keys = plan.estimate.keys if plan.estimate else 0
        caches.append(report)
    return WarmReport(
        database=mask(settings.database_url),
        redis=mask(settings.redis_url) or None,
        mode="none",
        dry_run=True,
        caches=caches,
        keys=sum(c.keys for c in caches),
    )


def check_headroom(target: Target, plans: list[Plan]) -> None:
    """Refuse to start when the estimate does not fit under ``maxmemory`` on some master."""
    need = sum(p.estimated_bytes for p in plans) / max(len(target.nodes), 1)
    for address, info in target.info("memory").items():
        maxmemory = int(info.get("maxmemory", 0))
        used = int(info.get("used_memory", 0))
        if maxmemory and need > maxmemory - used:
            raise CapacityError(
                f"Redis {target.url} ({address}) has {_mb(maxmemory - used)} free under maxmemory "
                f"{_mb(maxmemory)} but the caches need about {_mb(need)}; nothing was written "
                "(raise maxmemory, use --only or max_keys, or --skip-memory-check)"
            )


def _mb(n: float) -> str:
    return f"{n / 1_048_576:,.1f} MB"


def _run(
    streams: render.Streams,
    spec: CacheSpec,
    target: Target,
    plan: Plan,
    report: WarmReport,
    *,
    progress: events.Progress,
) -> CacheReport:
    result = _base(plan)
    if plan.skip_reason:
        return result
    name = plan.cache.name
    progress.add(name, plan.estimate.keys if plan.estimate else None)
    writer = Writer(target, spec.client, lambda n: progress.advance(name, n))
    sha = writer.load_script() if plan.cache.encoding == "hash" else SCRIPT_SHA
    seen = plan.seen
    started = time.monotonic()
    try:
        with render.batches(streams, spec, plan.cache, plan.columns, sha) as batches:
            written = writer.write(_remember(batches, seen))
    except OutOfMemory as exc:
        raise _oom(exc, target, plan, writer.result.keys, report) from None
    except ConnectionFailed as exc:  # Redis stopped mid-warm: say how far it got
        raise ConnectionFailed(
            f"{exc}; {_progress(plan, writer.result.keys, report)}; rerun "
            "once Redis is back (reruns are idempotent)",
            report=report,
            cache=plan.cache.name,
            keys_written=writer.result.keys,
        ) from None
    progress.finish(name)
    result.seconds = round(time.monotonic() - started, 3)
    result.status = "written"
    result.keys, result.bytes = written.keys, written.bytes
    result.errors, result.first_error = written.errors, written.first_error
    result.keys_per_s = round(written.keys / max(result.seconds, 1e-9), 1)
    return result


def _remember(batches: Iterator[list[Row]], seen: set[int] | None) -> Iterator[list[Row]]:
    if seen is None:
        yield from batches
        return
    for rows in batches:
        seen.update([hash(k) for k, _ in rows])
        yield rows


def _progress(plan: Plan, keys: int, report: WarmReport) -> str:
    done = [c.name for c in report.caches if c.status == "written"]
    total = f" of {plan.estimate.keys:,}" if plan.estimate else ""
    finished = f"; caches finished: {', '.join(done)}" if done else ""
    return f"cache {plan.cache.name!r}: {keys:,}{total} keys written{finished}"


def _oom(
    exc: OutOfMemory, target: Target, plan: Plan, keys: int, report: WarmReport
) -> CapacityError:
    done = [c.name for c in report.caches if c.status == "written"]
    total = plan.estimate.keys if plan.estimate else 0
    finished = f"; caches finished: {', '.join(done)}" if done else ""
    return CapacityError(
        f"Redis {target.url} ran out of memory (OOM) while warming cache {plan.cache.name!r}: "
        f"{keys:,} of {total:,} keys written{finished}; free memory or raise maxmemory, then "
        "rerun (reruns are idempotent)",
        report=report,
        cache=plan.cache.name,
        keys_written=keys,
        redis_message=str(exc),
    )


def prune(target: Target, plans: list[Plan]) -> dict[str, int]:
    """Delete keys of the written caches' templates that this run did not write (rows gone
    since the last run), in one SCAN of the keys under the templates' common prefix."""
    written = [p for p in plans if p.seen is not None and p.skip_reason is None]
    templates = [parse_template(p.cache.key) for p in written]
    caches = [
        (p.cache.name, t.regex(), p.seen or set()) for p, t in zip(written, templates, strict=True)
    ]
    if not caches:
        return {}
    pattern = glob_escape(_common_prefix([t.prefix for t in templates])) + "*"
    deleted = dict.fromkeys((name for name, _, _ in caches), 0)
    for address, node in target.nodes.items():
        with redis_errors(f"{target.url} ({address})"):
            stale: list[bytes] = []
            for raw in node.client.scan_iter(match=pattern, count=5000):
                key = raw.decode("utf-8", "surrogateescape")
                owner = next((c for c in caches if c[1].match(key)), None)
                if owner is not None and hash(raw) not in owner[2]:
                    stale.append(raw)
                    deleted[owner[0]] += 1
                if len(stale) >= 1000:
                    _unlink(node.client, stale)
                    stale = []
            _unlink(node.client, stale)
    return deleted


def _common_prefix(texts: list[str]) -> str:
    low, high = min(texts), max(texts)
    n = 0
    while n < min(len(low), len(high)) and low[n] == high[n]:
        n += 1
    return low[:n]


def _record_pruned(report: WarmReport, deleted: dict[str, int]) -> None:
    for cache in report.caches:
        cache.pruned = deleted.get(cache.name, 0)


def _unlink(client: object, keys: list[bytes]) -> int:
    if not keys:
        return 0
    pipe = client.pipeline(transaction=False)  # type: ignore[attr-defined]
    for key in keys:
        pipe.unlink(key)
    return sum(int(n) for n in pipe.execute())
