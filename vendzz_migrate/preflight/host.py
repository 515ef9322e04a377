"""The machine preflight runs on: readings (:class:`HostFacts`, injectable) and their checks.

:func:`read_host_facts` reads the real machine (``/proc``, ``/sys``, psutil); every check takes a
:class:`HostFacts`, so tests and other callers can pass any machine they like.
"""

from __future__ import annotations

import os
import shutil
import socket
from functools import partial
from pathlib import Path

from pydantic import BaseModel

from vendzz_migrate.preflight.model import (
    Area,
    Check,
    Status,
    floor_status,
    floor_text,
    gib,
    human_bytes,
    make_check,
    on_miss,
)
from vendzz_migrate.preflight.profile import HostProfile

_VIRTUAL_DISKS = ("loop", "ram", "zram", "nbd", "sr", "fd")
_check = partial(make_check, Area.HOST)


class HostFacts(BaseModel):
    """Readings of one machine. ``None`` means "could not be read here"."""

    hostname: str = ""
    cores: int
    ram_bytes: int
    data_path: str
    disk_free_bytes: int
    rotational: bool | None = None
    disk_device: str | None = None
    nic_mbps: int | None = None
    overcommit_memory: int | None = None
    transparent_hugepages: str | None = None
    somaxconn: int | None = None


def read_host_facts(data_path: Path, sys_root: Path = Path("/")) -> HostFacts:
    """Read this machine; ``sys_root`` lets a test point the /sys and /proc readings elsewhere."""
    import psutil

    path = _existing_parent(data_path)
    device, rotational = _rotational(path, sys_root)
    return HostFacts(
        hostname=socket.gethostname(),
        cores=_cores_available(),
        ram_bytes=int(psutil.virtual_memory().total),
        data_path=str(path),
        disk_free_bytes=shutil.disk_usage(path).free,
        rotational=rotational,
        disk_device=device,
        nic_mbps=_nic_speed(sys_root / "sys/class/net"),
        overcommit_memory=_read_int(sys_root / "proc/sys/vm/overcommit_memory"),
        transparent_hugepages=_thp(sys_root / "sys/kernel/mm/transparent_hugepage/enabled"),
        somaxconn=_read_int(sys_root / "proc/sys/net/core/somaxconn"),
    )


def _cores_available() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _existing_parent(path: Path) -> Path:
    path = path.expanduser().absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _read_int(path: Path) -> int | None:
    text = _read(path)
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _thp(path: Path) -> str | None:
    text = _read(path)
    if text is None:
        return None
    chosen = [word for word in text.split() if word.startswith("[")]
    return chosen[0].strip("[]") if chosen else text


def _rotational(path: Path, sys_root: Path) -> tuple[str | None, bool | None]:
    """The block device behind ``path`` and whether it spins; else every real disk of /sys/block."""
    dev = os.stat(path).st_dev
    link = sys_root / f"sys/dev/block/{os.major(dev)}:{os.minor(dev)}"
    if os.major(dev) != 0 and link.exists():
        real = link.resolve()
        for candidate in (real, real.parent):
            flag = _read_int(candidate / "queue/rotational")
            if flag is not None:
                return candidate.name, bool(flag)
    return _all_disks(sys_root / "sys/block")


def _all_disks(block: Path) -> tuple[str | None, bool | None]:
    flags: dict[str, int] = {}
    for disk in sorted(block.glob("*")) if block.is_dir() else []:
        flag = _read_int(disk / "queue/rotational")
        if flag is not None and not disk.name.startswith(_VIRTUAL_DISKS):
            flags[disk.name] = flag
    if not flags or len(set(flags.values())) > 1:
        return None, None
    return ",".join(flags), bool(next(iter(flags.values())))


def _nic_speed(net: Path) -> int | None:
    speeds = []
    for nic in sorted(net.glob("*")) if net.is_dir() else []:
        speed = _read_int(nic / "speed") if nic.name != "lo" else None
        if speed is not None and speed > 0:
            speeds.append(speed)
    return max(speeds) if speeds else None


def host_checks(
    facts: HostFacts, profile: HostProfile, machine: str = "the app server"
) -> list[Check]:
    """This machine against one role's minimums; ``machine`` names it in the remedies."""
    checks = [
        _cores(facts, profile, machine),
        _ram(facts, profile, machine),
        _disk(facts, profile),
    ]
    if profile.ssd != "off":
        checks.append(_ssd(facts, profile))
    if profile.nic != "off":
        checks.append(_nic(facts, profile))
    return checks


def work_dir_check(work_dir: Path) -> Check:
    """What sqlite-to-pg keeps in its work dir (snapshots of runs that may still be resumed),
    reported so that a disk filling up with them is seen before it is full."""
    snapshots = work_dir.expanduser() / "snapshots"
    files = [p for p in snapshots.iterdir() if p.is_file()] if snapshots.is_dir() else []
    size = sum(p.stat().st_size for p in files)
    return _check(
        "work_dir",
        "work dir (snapshots)",
        Status.PASS,
        f"{len(files)} file(s), {human_bytes(size)} in {snapshots}",
        "snapshots only of runs that may still be resumed",
        "sqlite-to-pg --restart removes a run's snapshot; a finished run removes its own",
    )


def _cores(facts: HostFacts, profile: HostProfile, machine: str) -> Check:
    return _check(
        "cores",
        "CPU cores",
        floor_status(facts.cores, profile.cores),
        f"{facts.cores} cores",
        floor_text(profile.cores),
        f"give {machine} more cores (a larger machine or VM size)",
    )


def _ram(facts: HostFacts, profile: HostProfile, machine: str) -> Check:
    return _check(
        "ram",
        "RAM",
        floor_status(gib(facts.ram_bytes), profile.ram_gb),
        human_bytes(facts.ram_bytes),
        floor_text(profile.ram_gb, " GiB"),
        f"give {machine} more memory",
    )


def _disk(facts: HostFacts, profile: HostProfile) -> Check:
    return _check(
        "disk_free",
        "free disk on the data path",
        floor_status(gib(facts.disk_free_bytes), profile.disk_free_gb),
        f"{human_bytes(facts.disk_free_bytes)} free at {facts.data_path}",
        floor_text(profile.disk_free_gb, " GiB"),
        "free space or grow the volume that holds the data path",
    )


def _ssd(facts: HostFacts, profile: HostProfile) -> Check:
    if facts.rotational is None:
        status, measured = Status.WARN, "unknown (no /sys/block rotational flag for this path)"
    else:
        status = on_miss(profile.ssd) if facts.rotational else Status.PASS
        kind = "rotational" if facts.rotational else "SSD"
        measured = f"{kind} ({facts.disk_device})"
    return _check(
        "ssd",
        "SSD storage",
        status,
        measured,
        "SSD (queue/rotational = 0)",
        "put the data path on SSD storage (spec: SSD with high IOPS)",
    )


def _nic(facts: HostFacts, profile: HostProfile) -> Check:
    if facts.nic_mbps is None:
        status, measured = Status.WARN, "unknown (no readable /sys/class/net/*/speed)"
    else:
        status = floor_status(facts.nic_mbps, profile.nic_mbps)
        measured = f"{facts.nic_mbps} Mbit/s"
    return _check(
        "nic",
        "network speed",
        status,
        measured,
        floor_text(profile.nic_mbps, " Mbit/s"),
        "use a 1 Gbit/s or faster network interface",
    )
