"""Injected host readings for the host-area tests."""

from __future__ import annotations

from vendzz_migrate.preflight.host import HostFacts

GIB = 1024**3


def host_facts(**over: object) -> HostFacts:
    """An 8-core 16 GiB machine on NVMe with a 10 Gbit/s NIC and a tuned kernel (it meets the
    production-1000 app minimums), but for ``over``."""
    base: dict[str, object] = {
        "cores": 8,
        "ram_bytes": 16 * GIB,
        "data_path": "/data",
        "disk_free_bytes": 200 * GIB,
        "rotational": False,
        "disk_device": "nvme0n1",
        "nic_mbps": 10000,
        "overcommit_memory": 1,
        "transparent_hugepages": "never",
        "somaxconn": 4096,
    }
    return HostFacts.model_validate({**base, **over})
