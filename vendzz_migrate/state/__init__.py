"""Run state kept in the target's own ``vendzz_migrate`` schema (progress, rejects, orphans)."""
