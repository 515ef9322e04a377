"""Fixed reports of the three gates (preflight, verify, loadtest) covering every JUnit outcome:
passed (with and without output), failure, error, skipped; strict and not; names to escape."""

from __future__ import annotations

from pathlib import Path

from vendzz_migrate.loadtest.model import LoadtestReport, StageResult, Verdict
from vendzz_migrate.preflight.fleet import FleetReport, MachineReport
from vendzz_migrate.preflight.model import Area, PreflightReport, Status, make_check, skip_check
from vendzz_migrate.preflight.profile import Role
from vendzz_migrate.verify import model as vm


def preflight(strict: bool = False, machine: str = "app-1") -> PreflightReport:
    checks = [
        make_check(Area.HOST, "cpus", "CPU cores", Status.PASS, "4", ">= 2", ""),
        make_check(Area.HOST, "memory", "Memory <&>", Status.WARN, "1.0 GiB", ">= 2 GiB", "add"),
        make_check(
            Area.POSTGRES,
            "max_connections",
            "max_connections",
            Status.FAIL,
            "20",
            ">= 100",
            'raise "max_connections"',
        ),
        skip_check(Area.REDIS, "skipped", "redis", "no --redis-url given", "pass --redis-url"),
        skip_check(Area.SQLITE, "skipped", "sqlite", "left out (--skip sqlite)"),
    ]
    return PreflightReport(
        profile="production-1000",
        role=Role.APP,
        machine=machine,
        strict=strict,
        checks=checks,
        duration_s=1.25,
    )


def fleet() -> FleetReport:
    items = [
        MachineReport(file="a.json", label="app-1/app", report=preflight()),
        MachineReport(file="b.json", label="db-1/app", report=preflight(True, "db-1")),
    ]
    return FleetReport(reports=items)


def _stage(index: int, **kw: object) -> StageResult:
    base: dict[str, object] = {
        "index": index,
        "duration_s": 10.5,
        "ramp_s": 1.0,
        "measured_s": 9.0,
        "requests": 100,
        "failures": 1,
        "p50_ms": 5.0,
        "p95_ms": 20.0,
        "p99_ms": 40.0,
        "max_ms": 80.0,
        "rps": 10.0,
        "error_rate": 0.01,
        "generator_cpu_pct": 30.0,
        "passed": True,
    }
    base.update(kw)
    return StageResult.model_validate(base)


def loadtest() -> LoadtestReport:
    verdicts = [
        Verdict(name="p95_ms", measured=20.0, expected="<= 200", passed=True),
        Verdict(name="error_rate", measured=0.01, expected="<= 0.001", passed=False),
        Verdict(name="cache_hit_rate", measured=None, expected=">= 0.9", passed=None),
    ]
    stages = [
        _stage(0, users=50, verdicts=verdicts, passed=False),
        _stage(
            1,
            rate=12.5,
            saturated=True,
            notes=["generator CPU 98 %", "a <note>"],
            verdicts=verdicts[:1],
        ),
        _stage(2, users=10, requests=0, verdicts=[]),
    ]
    return LoadtestReport(
        url="http://127.0.0.1:1",
        mode="closed",
        scenario="s.yaml",
        profile="small",
        workers=2,
        stages=stages,
        passed=False,
        started_at=0.0,
        duration_s=33.0,
    )


def _table(name: str, seconds: float, **counts: object) -> vm.TableResult:
    table = vm.TableResult.model_validate(
        {"table": name, "target": name, "source_rows": 3, "seconds": seconds, **counts}
    )
    table.settle()
    return table


def verify(strict: bool = False) -> vm.VerifyReport:
    changed = vm.Difference(kind=vm.DiffKind.CHANGED, key={"id": "7"}, columns=["email"])
    tables = [
        _table("users", 0.5, target_rows=3),
        _table("quizzes", 0.25, target_rows=2, quarantined=1),
        _table("a&b", 1.0, target_rows=3, changed=1, differences=[changed]),
    ]
    checks = [
        vm.SchemaCheck(kind="table", object="users", status=vm.Status.OK),
        vm.SchemaCheck(
            kind="index",
            object="ix_tags",
            status=vm.Status.DOCUMENTED,
            detail="replaced by a GIN index",
        ),
        vm.SchemaCheck(
            kind="column", object="users.age", status=vm.Status.MISMATCH, detail="integer <> bigint"
        ),
    ]
    report = vm.VerifyReport(
        source=Path("s.db"),
        target="postgresql://x",
        schema_name="public",
        mode="checksum",
        strict=strict,
        tables=tables,
        schema_checks=checks,
        seconds=2.0,
    )
    report.add_totals()
    return report
