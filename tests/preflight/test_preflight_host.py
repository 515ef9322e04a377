"""Host readings from a /sys + /proc tree on disk, and the thresholds on injected HostFacts."""

from __future__ import annotations

import os
from pathlib import Path

from tests.preflight.hosts import GIB, host_facts
from vendzz_migrate.preflight.host import HostFacts, host_checks, read_host_facts
from vendzz_migrate.preflight.model import Status
from vendzz_migrate.preflight.profile import load_profile

facts = host_facts


def statuses(f: HostFacts, profile: str = "production-1000") -> dict[str, Status]:
    return {c.id: c.status for c in host_checks(f, load_profile(profile).host)}


def test_spec_machine_passes_everything() -> None:
    assert set(statuses(facts()).values()) == {Status.PASS}


def test_thresholds_minimum_fails_and_recommended_warns() -> None:
    s = statuses(facts(cores=4, ram_bytes=8 * GIB, disk_free_bytes=50 * GIB, nic_mbps=100))
    assert s == {
        "host.cores": Status.WARN,
        "host.ram": Status.WARN,
        "host.disk_free": Status.WARN,
        "host.ssd": Status.PASS,
        "host.nic": Status.WARN,
    }
    s = statuses(facts(cores=2, ram_bytes=4 * GIB, disk_free_bytes=5 * GIB, rotational=True))
    assert s["host.cores"] is s["host.ram"] is s["host.disk_free"] is s["host.ssd"] is Status.FAIL


def test_unknown_readings_warn_and_dev_skips_ssd_and_nic() -> None:
    s = statuses(facts(rotational=None, nic_mbps=None))
    assert s["host.ssd"] is s["host.nic"] is Status.WARN
    assert set(statuses(facts(cores=1, rotational=True), "dev")) == {
        "host.cores",
        "host.ram",
        "host.disk_free",
    }


def _sys_tree(root: Path, rotational: dict[str, str], speeds: dict[str, str]) -> None:
    for disk, flag in rotational.items():
        (root / f"sys/block/{disk}/queue").mkdir(parents=True)
        (root / f"sys/block/{disk}/queue/rotational").write_text(flag + "\n")
    for nic, speed in speeds.items():
        (root / f"sys/class/net/{nic}").mkdir(parents=True)
        (root / f"sys/class/net/{nic}/speed").write_text(speed + "\n")
    (root / "proc/sys/vm").mkdir(parents=True)
    (root / "proc/sys/vm/overcommit_memory").write_text("1\n")
    (root / "proc/sys/net/core").mkdir(parents=True)
    (root / "proc/sys/net/core/somaxconn").write_text("1024\n")
    (root / "sys/kernel/mm/transparent_hugepage").mkdir(parents=True)
    (root / "sys/kernel/mm/transparent_hugepage/enabled").write_text("always [madvise] never\n")


def test_read_host_facts_from_a_sys_tree(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _sys_tree(root, {"sda": "0", "loop0": "1", "zram0": "0"}, {"eth0": "1000", "eth1": "-1"})
    f = read_host_facts(tmp_path / "not" / "yet" / "there", sys_root=root)
    assert f.rotational is False
    assert f.disk_device == "sda"
    assert f.nic_mbps == 1000
    assert f.overcommit_memory == 1
    assert f.somaxconn == 1024
    assert f.transparent_hugepages == "madvise"
    assert f.data_path == str(tmp_path)
    assert f.cores >= 1
    assert f.ram_bytes > 0
    vfs = os.statvfs(tmp_path)
    assert abs(f.disk_free_bytes - vfs.f_bavail * vfs.f_frsize) < 1024**3  # other writers


def test_mixed_or_missing_disks_are_unknown(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _sys_tree(root, {"sda": "0", "sdb": "1"}, {})
    f = read_host_facts(tmp_path, sys_root=root)
    assert f.rotational is None
    assert f.nic_mbps is None


def test_read_this_machine() -> None:
    f = read_host_facts(Path.cwd())
    assert f.cores == len(os.sched_getaffinity(0))
    assert f.disk_free_bytes > 0
