"""provision: render the configuration files the spec calls for, from a profile and the environment.

    from vendzz_migrate import provision
    report = provision.run(settings, "production-1000", Path("deploy/"), force=False)

Files: pgbouncer.ini and userlist.txt (hashed secrets, 0600), nginx-vendzz.conf (upstream with
weights, keepalive 32, HTTP/1.1), redis.conf (AOF + RDB), .env (0600) and prometheus-alerts.yml.
"""

from __future__ import annotations

from vendzz_migrate.provision.runner import ProvisionReport, WrittenFile, render_all, run

__all__ = ["ProvisionReport", "WrittenFile", "render_all", "run"]
