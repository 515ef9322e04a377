"""/metrics parses with prometheus-client's parser and carries the series that provision's alert
rules query: promtool evaluates those very rules over the scraped series and they fire."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.examples.service.conftest import Sample
from tests.examples.service.helpers import service


def _scrape(sample: Sample, tmp_path: Path) -> dict[str, Any]:
    with service(tmp_path / "svc", sample.url) as svc, svc.http() as http:
        quiz_id = http.get("/api/quizzes", params={"limit": 1}).json()["ids"][0]
        for _ in range(3):
            assert http.get(f"/api/quizzes/{quiz_id}").status_code == 200
        assert http.get("/api/quizzes/nope").status_code == 404
        http.post("/admin/maintenance", json={"enabled": True})
        frozen = http.post(f"/api/quizzes/{quiz_id}/responses", json={"responses": {"a": 1}})
        assert frozen.status_code == 503
        text = http.get("/metrics").text
    return {f.name: f for f in text_string_to_metric_families(text)}


def _series(sample: Any) -> str:
    labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
    return f"{sample.name}{{{labels}}}"


def test_metrics_carry_the_series_the_alert_rules_query(sample: Sample, tmp_path: Path) -> None:
    families = _scrape(sample, tmp_path)
    requests = families["http_requests"]  # the parser names a counter without _total
    assert requests.type == "counter"
    counted = {
        (s.labels["route"], s.labels["status_code"]): s.value
        for s in requests.samples
        if s.name == "http_requests_total"
    }
    assert counted[("/api/quizzes/{id}", "200")] == 3
    assert counted[("/api/quizzes/{id}", "404")] == 1  # a template, never the id
    assert counted[("/api/quizzes/{id}/responses", "503")] == 1
    duration = families["http_request_duration_seconds"]
    assert duration.type == "histogram"
    bounds = {s.labels["le"] for s in duration.samples if s.name.endswith("_bucket")}
    assert {"0.5", "2.0", "+Inf"} <= bounds  # the spec's P95 target and alert threshold


def test_promtool_fires_the_http_alerts_on_the_scraped_series(
    sample: Sample, tmp_path: Path
) -> None:
    from vendzz_migrate.preflight.profile import load_profile
    from vendzz_migrate.provision.render import alert_rules

    families = _scrape(sample, tmp_path / "scrape")
    series = []
    for s in families["http_requests"].samples:
        if s.name == "http_requests_total":  # every series grows by 1/s, the 5xx one included
            series.append({"series": _series(s), "values": "0+60x30"})
    for s in families["http_request_duration_seconds"].samples:
        if s.name.endswith("_bucket"):  # every request slower than 2 s
            slow = s.labels["le"] == "+Inf" or float(s.labels["le"]) > 2
            series.append({"series": _series(s), "values": "0+60x30" if slow else "0+0x30"})
    rules = tmp_path / "rules.yml"
    rules.write_text(alert_rules(load_profile("production-1000")))
    by_name = {r["alert"]: r for r in yaml.safe_load(rules.read_text())["groups"][0]["rules"]}

    def expected(name: str) -> dict[str, Any]:
        rule = by_name[name]
        return {
            "eval_time": "10m",
            "alertname": name,
            "exp_alerts": [{"exp_labels": rule["labels"], "exp_annotations": rule["annotations"]}],
        }

    test = {
        "rule_files": [str(rules)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "alert_rule_test": [expected("VendzzErrorRate"), expected("VendzzSlowResponses")],
            }
        ],
    }
    test_file = tmp_path / "test.yml"
    test_file.write_text(yaml.safe_dump(test, sort_keys=False))
    done = subprocess.run(
        ["promtool", "test", "rules", str(test_file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
