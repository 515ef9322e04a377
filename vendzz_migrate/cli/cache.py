"""warm-cache and cache-stats: thin wrappers over :mod:`vendzz_migrate.cache`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vendzz_migrate import console
from vendzz_migrate.cli.common import (
    JsonOpt,
    RedisOpt,
    TargetOpt,
    check_output_path,
    guarded,
    rendered,
    write_json,
)

if TYPE_CHECKING:
    from vendzz_migrate.cache import CacheStats, WarmReport

WARM_HELP = "Fill Redis from PostgreSQL before traffic arrives (standalone, TLS or cluster)."
STATS_HELP = "Report the Redis hit rate (INFO keyspace hits/misses) against the spec's target."

SpecOpt = Annotated[
    Path | None,
    typer.Option("--spec", help="Cache spec YAML. [default: the Vendzz spec shipped inside]"),
]


def warm_cache(
    target: TargetOpt = None,
    redis: RedisOpt = None,
    spec: SpecOpt = None,
    only: Annotated[
        str | None, typer.Option("--only", help="Comma-separated cache names to warm.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only count rows, show sample keys and memory.")
    ] = False,
    skip_memory_check: Annotated[
        bool, typer.Option("--skip-memory-check", help="Write even if maxmemory looks too small.")
    ] = False,
    json_path: JsonOpt = None,
) -> None:
    from vendzz_migrate.cache import WarmOptions, load_spec, warm
    from vendzz_migrate.console import EventRenderer
    from vendzz_migrate.settings import load_settings

    def output(report: WarmReport) -> None:
        if str(json_path) != "-":
            _render_warm(report)
        write_json(json_path, report)

    def run() -> None:
        check_output_path(json_path)
        settings = load_settings(database_url=target, redis_url=redis)
        names = [n.strip() for n in only.split(",") if n.strip()] if only else None
        opts = WarmOptions.from_settings(
            settings, spec=load_spec(spec), only=names, dry_run=dry_run,
            check_memory=not skip_memory_check,
        )  # fmt: skip
        rendered(lambda: warm(opts, EventRenderer()), output)

    guarded(run, interrupted="keys written so far stay (each with its TTL); rerun it")


def cache_stats(redis: RedisOpt = None, spec: SpecOpt = None, json_path: JsonOpt = None) -> None:
    from vendzz_migrate.cache import load_spec, stats
    from vendzz_migrate.settings import load_settings

    result = guarded(lambda: stats(load_settings(redis_url=redis), load_spec(spec)))
    if str(json_path) != "-":
        _render_stats(result)
    write_json(json_path, result)


def _render_warm(report: WarmReport) -> None:
    from rich.markup import escape
    from rich.table import Table

    title = "warm-cache (dry run)" if report.dry_run else f"warm-cache -> {report.redis}"
    table = Table(title=escape(f"{title} [{report.mode}]"), title_justify="left")
    for col in ("cache", "status", "rows", "keys", "MB sent", "MB est.", "keys/s", "errors"):
        table.add_column(col, justify="left" if col in {"cache", "status"} else "right")
    table.add_column("pruned", justify="right")
    for c in report.caches:
        table.add_row(
            c.name, c.status, f"{c.rows:,}", f"{c.keys:,}", f"{c.bytes / 1e6:,.2f}",
            f"{c.estimated_bytes / 1e6:,.2f}", f"{c.keys_per_s:,.0f}", str(c.errors), str(c.pruned),
        )  # fmt: skip
    console.out.print(table)
    for c in report.caches:
        notes = [c.reason] if c.reason else []
        notes += (
            [f"sample keys: {', '.join(c.sample_keys)}"] if report.dry_run and c.sample_keys else []
        )
        notes += [f"first error: {c.first_error}"] if c.first_error else []
        for note in notes:
            console.out.print(f"  {c.name}: {note}", markup=False)
    if not report.dry_run:
        console.out.print(
            f"{report.keys:,} keys in {report.seconds:.2f}s ({report.keys_per_s:,.0f}/s)"
        )


def _render_stats(result: CacheStats) -> None:
    rate = "n/a" if result.hit_rate is None else f"{result.hit_rate:.1%}"
    console.out.print(
        f"hit rate {rate} ({result.hits:,} hits, {result.misses:,} misses) - target "
        f"{result.target:.0%}: {result.status} [{result.mode}, {result.redis}]",
        markup=False,
    )
    for node in result.nodes:
        console.out.print(
            f"  {node.address}: {node.hits:,} hits, {node.misses:,} misses, {node.keys:,} keys, "
            f"{node.used_memory / 1_048_576:,.1f} MB used",
            markup=False,
        )
