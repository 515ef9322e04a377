"""``monitor``: watch a running service against the spec's alerts and uptime target.

``run(Options(url=...))`` returns a typed :class:`MonitorReport`; the cutover's watch window
can call it directly.
"""

from __future__ import annotations

from vendzz_migrate.monitor.alerts import AlertState, Rule, rules
from vendzz_migrate.monitor.runner import AlertRecord, MonitorReport, Options, run

__all__ = ["AlertRecord", "AlertState", "MonitorReport", "Options", "Rule", "rules", "run"]
