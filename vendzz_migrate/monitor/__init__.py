"""``monitor``: watch a running service against the spec's alerts and uptime target."""
