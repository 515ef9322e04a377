"""The monitor's alerts and the Prometheus rules `provision` renders give the same verdicts.

One set of series (a latency spike, a 5xx burst, a counter reset from a restart, a CPU and a
memory peak, a connection pile-up) is fed to the monitor's evaluator; its firing alerts at each
minute become the expectations of a `promtool test rules` file over the rendered rules and the
same series (every evaluation, 15 s apart). promtool passes only if Prometheus fires exactly the
same alerts at the same times.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from vendzz_migrate.monitor import promql as pq
from vendzz_migrate.monitor.alerts import AlertState, rules
from vendzz_migrate.preflight.profile import load_profile
from vendzz_migrate.provision.render import alert_rules

pytestmark = pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")

STEP = 15
STEPS = 100  # 25 minutes
LE = ("0.1", "0.5", "1", "2.5", "5", "+Inf")


def _between(i: int, a_min: float, b_min: float) -> bool:
    return a_min * 60 <= i * STEP < b_min * 60


def series() -> dict[str, list[float]]:
    """Series name{labels} -> one value per step."""
    out: dict[str, list[float]] = {}
    ok = err = 0.0
    buckets = dict.fromkeys(LE, 0.0)
    idle = 0.0
    oks, errs, cpus, avail, active, idle_conns = [], [], [], [], [], []
    hist: dict[str, list[float]] = {le: [] for le in LE}
    for i in range(STEPS):
        if i == 40:  # the service restarts: its counters start again from zero
            ok = err = 0.0
            buckets = dict.fromkeys(LE, 0.0)
        ok += 100
        err += 6 if _between(i, 4, 8) else 0
        slow = _between(i, 12, 16)
        for le in LE:  # all under 100 ms; while slow: 90 % between 2.5 and 5 s
            if not slow:
                buckets[le] += 100
            else:
                buckets[le] += 100 if le in ("5", "+Inf") else (10 if le != "0.1" else 0)
        idle += STEP * (0.05 if _between(i, 2, 9) else 0.6)
        oks.append(ok)
        errs.append(err)
        cpus.append(idle)
        avail.append(10.0 if _between(i, 18, 21) else 50.0)
        active.append(60.0 if _between(i, 6, 10) else 20.0)
        idle_conns.append(25.0)
        for le in LE:
            hist[le].append(buckets[le])
    out['http_requests_total{status_code="200"}'] = oks
    out['http_requests_total{status_code="503"}'] = errs
    for le in LE:
        out[f'http_request_duration_seconds_bucket{{le="{le}"}}'] = hist[le]
    out['node_cpu_seconds_total{cpu="0",instance="app1",mode="idle"}'] = cpus
    out['node_memory_MemAvailable_bytes{instance="app1"}'] = avail
    out['node_memory_MemTotal_bytes{instance="app1"}'] = [100.0] * STEPS
    out['pg_stat_activity_count{instance="db1",state="active"}'] = active
    out['pg_stat_activity_count{instance="db1",state="idle"}'] = idle_conns
    out['pg_settings_max_connections{instance="db1"}'] = [100.0] * STEPS
    return out


def _parse(name: str) -> tuple[str, dict[str, str]]:
    metric, _, rest = name.partition("{")
    labels = {}
    for part in rest.rstrip("}").split(","):
        if part:
            k, _, v = part.partition("=")
            labels[k] = v.strip('"')
    return metric, labels


def ours(data: dict[str, list[float]]) -> dict[int, list[tuple[str, dict[str, str]]]]:
    """Firing alerts (name, labels) at each evaluation time, by the monitor's evaluator."""
    store = pq.Store()
    state = AlertState(rules(load_profile("production-1000")))
    firing: dict[int, list[tuple[str, dict[str, str]]]] = {}
    for i in range(STEPS):
        t = float(i * STEP)
        for name, values in data.items():
            metric, labels = _parse(name)
            store.add(metric, labels, t, values[i])
        state.evaluate(store, t)
        firing[i * STEP] = [(a.rule, dict(a.labels)) for a in state.firing()]
    return firing


def _expected(rule: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    summary = rule["annotations"]["summary"].replace(
        "{{ $labels.instance }}", labels.get("instance", "")
    )
    return {
        "exp_labels": {**labels, **rule["labels"]},
        "exp_annotations": {**rule["annotations"], "summary": summary},
    }


def promtool_file(
    rules_path: Path,
    data: dict[str, list[float]],
    firing: dict[int, list[tuple[str, dict[str, str]]]],
) -> dict[str, Any]:
    rendered = yaml.safe_load(rules_path.read_text())["groups"][0]["rules"]
    by_name = {r["alert"]: r for r in rendered}
    tests = []
    for t in range(0, STEPS * STEP, STEP):
        for name, rule in by_name.items():
            alerts = [_expected(rule, labels) for n, labels in firing[t] if n == name]
            tests.append({"eval_time": f"{t}s", "alertname": name, "exp_alerts": alerts})
    return {
        "rule_files": [str(rules_path)],
        "evaluation_interval": f"{STEP}s",
        "tests": [
            {
                "interval": f"{STEP}s",
                "input_series": [
                    {"series": name, "values": " ".join(f"{v:g}" for v in values)}
                    for name, values in data.items()
                ],
                "alert_rule_test": tests,
            }
        ],
    }


def _promtool(tmp_path: Path, document: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "test.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False, width=10_000))
    return subprocess.run(
        ["promtool", "test", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def rules_path(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yml"
    path.write_text(alert_rules(load_profile("production-1000")))
    return path


def test_same_verdicts_as_promtool(tmp_path: Path, rules_path: Path) -> None:
    data = series()
    firing = ours(data)
    fired = {name for alerts in firing.values() for name, _ in alerts}
    assert {
        "VendzzHighCpu",
        "VendzzHighMemory",
        "VendzzDatabaseConnections",
        "VendzzErrorRate",
        "VendzzSlowResponses",
    } <= fired
    assert any(not alerts for alerts in firing.values())  # and they resolve
    result = _promtool(tmp_path, promtool_file(rules_path, data, firing))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_promtool_catches_a_different_verdict(tmp_path: Path, rules_path: Path) -> None:
    data = series()
    firing = ours(data)
    t = next(t for t, alerts in firing.items() if any(n == "VendzzErrorRate" for n, _ in alerts))
    firing[t] = [(n, labels) for n, labels in firing[t] if n != "VendzzErrorRate"]
    result = _promtool(tmp_path, promtool_file(rules_path, data, firing))
    assert result.returncode != 0
    assert "VendzzErrorRate" in result.stdout + result.stderr
