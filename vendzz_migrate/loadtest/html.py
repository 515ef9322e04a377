"""A self-contained HTML report: the stage table and, per stage, latency-over-time and
throughput plots as inline SVG (no script, no stylesheet or font from elsewhere)."""

from __future__ import annotations

import html
from collections.abc import Sequence

from vendzz_migrate.loadtest.model import LoadtestReport, StageResult

_W, _H, _PAD = 640, 220, 40
_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
.pass{color:#18794e}.fail{color:#c62828}.note{color:#8a6d00}
svg{background:#fafafa;border:1px solid #ddd;margin:4px}
"""


def _fmt(value: float | None, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:,.2f}{unit}"


def _polyline(
    xs: Sequence[float], ys: Sequence[float | None], x_max: float, y_max: float, color: str
) -> str:
    points = []
    for x, y in zip(xs, ys, strict=True):
        if y is None:
            continue
        px = _PAD + (_W - 2 * _PAD) * (x / x_max if x_max else 0)
        py = _H - _PAD - (_H - 2 * _PAD) * (y / y_max if y_max else 0)
        points.append(f"{px:.1f},{py:.1f}")
    return f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{" ".join(points)}"/>'


def plot(
    title: str, xs: Sequence[float], series: dict[str, Sequence[float | None]], unit: str
) -> str:
    """One SVG line chart; ``series`` maps a legend label to its values."""
    colors = ["#1565c0", "#c62828", "#2e7d32"]
    values = [v for ys in series.values() for v in ys if v is not None]
    y_max = max(values, default=1.0) * 1.1 or 1.0
    x_max = max(xs, default=1.0) or 1.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" '
        f'role="img" aria-label="{html.escape(title)}">',
        f'<text x="{_PAD}" y="20" font-size="14">{html.escape(title)}</text>',
        f'<line x1="{_PAD}" y1="{_H - _PAD}" x2="{_W - _PAD}" y2="{_H - _PAD}" stroke="#999"/>',
        f'<line x1="{_PAD}" y1="{_PAD}" x2="{_PAD}" y2="{_H - _PAD}" stroke="#999"/>',
        f'<text x="4" y="{_PAD + 4}" font-size="11">{y_max:,.0f} {unit}</text>',
        f'<text x="{_W - _PAD}" y="{_H - 10}" font-size="11">{x_max:g} s</text>',
    ]
    for i, (label, ys) in enumerate(series.items()):
        color = colors[i % len(colors)]
        parts.append(_polyline(xs, ys, x_max, y_max, color))
        parts.append(
            f'<text x="{_W - 150}" y="{20 + 14 * i}" font-size="12" fill="{color}">'
            f"{html.escape(label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _stage_label(stage: StageResult) -> str:
    return f"{stage.users} users" if stage.users is not None else f"{stage.rate:g} arrivals/s"


def _row(stage: StageResult) -> str:
    verdict = "pass" if stage.passed else "fail"
    cells = [
        _stage_label(stage),
        f"{stage.requests:,}",
        _fmt(stage.p50_ms),
        _fmt(stage.p95_ms),
        _fmt(stage.p99_ms),
        _fmt(stage.rps),
        f"{stage.error_rate * 100:.3f} %",
        _fmt(None if stage.cache_hit_rate is None else stage.cache_hit_rate * 100, " %"),
        f"{stage.generator_cpu_pct:g} %",
    ]
    tds = "".join(f"<td>{html.escape(c)}</td>" for c in cells)
    return f'<tr>{tds}<td class="{verdict}">{verdict.upper()}</td></tr>'


def _section(stage: StageResult) -> str:
    xs = [p.t for p in stage.timeline]
    latency = plot(
        f"{_stage_label(stage)}: latency over time",
        xs,
        {"p50": [p.p50_ms for p in stage.timeline], "p95": [p.p95_ms for p in stage.timeline]},
        "ms",
    )
    rps = plot(
        f"{_stage_label(stage)}: throughput",
        xs,
        {"req/s": [p.rps for p in stage.timeline]},
        "req/s",
    )
    notes = "".join(f'<p class="note">{html.escape(n)}</p>' for n in stage.notes)
    verdicts = "".join(
        f"<li>{html.escape(v.name)}: {html.escape(_fmt(v.measured))} (expected "
        f"{html.escape(v.expected)}) {'' if v.passed is None else ('ok' if v.passed else 'MISSED')}"
        "</li>"
        for v in stage.verdicts
    )
    return (
        f"<h2>Stage {stage.index + 1}: {html.escape(_stage_label(stage))}</h2>{notes}"
        f"<ul>{verdicts}</ul>{latency}{rps}"
    )


def render_html(report: LoadtestReport) -> str:
    head = (
        "<tr><th>stage</th><th>requests</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th>"
        "<th>req/s</th><th>errors</th><th>cache hits</th><th>generator CPU</th>"
        "<th>verdict</th></tr>"
    )
    rows = "".join(_row(s) for s in report.stages)
    verdict = "PASSED" if report.passed else "FAILED"
    notes = "".join(f'<p class="note">{html.escape(n)}</p>' for n in report.notes)
    sections = "".join(_section(s) for s in report.stages)
    title = f"vendzz-migrate loadtest: {report.url}"
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p>{report.mode} model, scenario {html.escape(report.scenario)}, profile "
        f"{html.escape(report.profile)}, {report.workers} worker process(es): "
        f'<b class="{"pass" if report.passed else "fail"}">{verdict}</b>'
        f"{' (interrupted: partial report)' if report.interrupted else ''}</p>{notes}"
        f"<table>{head}{rows}</table>{sections}</body></html>\n"
    )
