"""The few PromQL functions the alert rules use, with Prometheus 2.x's own semantics.

``rate`` extrapolates like Prometheus (``extrapolatedRate``: counter resets added back,
extrapolation to the window's edges limited to 1.1 sample intervals and to where the counter
would reach zero), range selectors include both ends, an instant selector takes the newest
sample of the last 5 minutes, ``histogram_quantile`` interpolates linearly inside the bucket
(``bucketQuantile``). Holding these to Prometheus is what lets ``tests/monitor`` check the
monitor's verdicts against ``promtool test rules`` on the same series.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping

Labels = tuple[tuple[str, str], ...]
Vector = dict[Labels, float]
Matcher = Callable[[Mapping[str, str]], bool]
LOOKBACK_S = 300.0


def labels_of(items: Mapping[str, str]) -> Labels:
    return tuple(sorted(items.items()))


def match(**want: str) -> Matcher:
    """Equality matchers; a value written ``~regex`` is a fully anchored regex (``=~``)."""
    compiled = {k: re.compile(v[1:]) for k, v in want.items() if v.startswith("~")}

    def ok(labels: Mapping[str, str]) -> bool:
        for key, value in want.items():
            have = labels.get(key, "")
            if key in compiled:
                if not compiled[key].fullmatch(have):
                    return False
            elif have != value:
                return False
        return True

    return ok


class Store:
    """Samples per series (name + labels), oldest first, pruned past the longest window."""

    def __init__(self, keep_s: float = 6 * 3600 + 600) -> None:
        self.keep_s = keep_s
        self.series: dict[tuple[str, Labels], list[tuple[float, float]]] = defaultdict(list)

    def add(self, name: str, labels: Mapping[str, str], t: float, value: float) -> None:
        points = self.series[(name, labels_of(labels))]
        if points and points[-1][0] >= t:
            return
        points.append((t, value))
        if points[0][0] < t - self.keep_s:
            cut = next(i for i, p in enumerate(points) if p[0] >= t - self.keep_s)
            del points[:cut]

    def select(
        self, name: str, matcher: Matcher
    ) -> Iterable[tuple[Labels, list[tuple[float, float]]]]:
        for (n, labels), points in self.series.items():
            if n == name and matcher(dict(labels)):
                yield labels, points

    def instant(self, name: str, matcher: Matcher, t: float) -> Vector:
        out: Vector = {}
        for labels, points in self.select(name, matcher):
            last = bisect.bisect_right(points, t, key=lambda p: p[0])
            if last and points[last - 1][0] > t - LOOKBACK_S:
                out[labels] = points[last - 1][1]
        return out

    def rate(self, name: str, matcher: Matcher, t: float, window_s: float) -> Vector:
        out: Vector = {}
        for labels, points in self.select(name, matcher):
            first = bisect.bisect_left(points, t - window_s, key=lambda p: p[0])
            last = bisect.bisect_right(points, t, key=lambda p: p[0])
            value = extrapolated_rate(points[first:last], t - window_s, t, window_s)
            if value is not None:
                out[labels] = value
        return out


def extrapolated_rate(
    points: list[tuple[float, float]], start: float, end: float, window_s: float
) -> float | None:
    """Prometheus's ``rate()`` of one counter over ``[start, end]``."""
    if len(points) < 2:
        return None
    result = points[-1][1] - points[0][1]
    previous = points[0][1]
    for _, value in points:
        if value < previous:
            result += previous
        previous = value
    first_t, first_v, last_t = points[0][0], points[0][1], points[-1][0]
    to_start, to_end, sampled = first_t - start, end - last_t, last_t - first_t
    average = sampled / (len(points) - 1)
    if result > 0 and first_v >= 0:
        to_zero = sampled * (first_v / result)
        to_start = min(to_start, to_zero)
    threshold = average * 1.1
    interval = sampled
    interval += to_start if to_start < threshold else average / 2
    interval += to_end if to_end < threshold else average / 2
    return result * (interval / sampled) / window_s


def sum_by(vector: Vector, keys: tuple[str, ...]) -> Vector:
    out: Vector = defaultdict(float)
    for labels, value in vector.items():
        out[tuple((k, v) for k, v in labels if k in keys)] += value
    return dict(out)


def avg_by(vector: Vector, keys: tuple[str, ...]) -> Vector:
    sums, counts = sum_by(vector, keys), sum_by(dict.fromkeys(vector, 1.0), keys)
    return {k: sums[k] / counts[k] for k in sums}


def max_by(vector: Vector, keys: tuple[str, ...]) -> Vector:
    out: Vector = {}
    for labels, value in vector.items():
        key = tuple((k, v) for k, v in labels if k in keys)
        out[key] = max(out.get(key, -math.inf), value)
    return out


def divide(a: Vector, b: Vector) -> Vector:
    """``a / b`` matched on identical label sets (x/0 is +Inf, 0/0 NaN, as in PromQL)."""
    out: Vector = {}
    for labels, num in a.items():
        if labels in b:
            den = b[labels]
            out[labels] = (
                num / den if den else (math.nan if num == 0 else math.copysign(math.inf, num))
            )
    return out


def greater(vector: Vector, threshold: float) -> Vector:
    return {k: v for k, v in vector.items() if not math.isnan(v) and v > threshold}


def histogram_quantile(q: float, buckets: Vector) -> Vector:
    """``histogram_quantile(q, v)`` where ``v`` holds ``le`` buckets, grouped by other labels."""
    groups: dict[Labels, list[tuple[float, float]]] = defaultdict(list)
    for labels, count in buckets.items():
        le = dict(labels).get("le")
        if le is None:
            continue
        rest = tuple((k, v) for k, v in labels if k != "le")
        groups[rest].append((float(le), count))
    return {rest: bucket_quantile(q, points) for rest, points in groups.items()}


def bucket_quantile(q: float, points: list[tuple[float, float]]) -> float:
    merged: dict[float, float] = defaultdict(float)
    for upper, count in points:
        merged[upper] += count
    buckets = sorted(merged.items())
    if not buckets or not math.isinf(buckets[-1][0]) or len(buckets) < 2:
        return math.nan
    monotonic, high = [], -math.inf
    for upper, count in buckets:
        high = max(high, count)
        monotonic.append((upper, high))
    total = monotonic[-1][1]
    if total == 0:
        return math.nan
    rank = q * total
    b = next((i for i in range(len(monotonic) - 1) if monotonic[i][1] >= rank), len(monotonic) - 1)
    if b == len(monotonic) - 1:
        return monotonic[-2][0]
    if b == 0 and monotonic[0][0] <= 0:
        return monotonic[0][0]
    start, end, count = 0.0, monotonic[b][0], monotonic[b][1]
    if b > 0:
        start = monotonic[b - 1][0]
        count -= monotonic[b - 1][1]
        rank -= monotonic[b - 1][1]
    return start + (end - start) * (rank / count)
