"""provision.run: render every file, refuse to overwrite without ``force``, write atomically."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field

from vendzz_migrate.errors import StateError
from vendzz_migrate.fileio import atomic_write_text
from vendzz_migrate.preflight.profile import Profile, load_profile
from vendzz_migrate.provision import render
from vendzz_migrate.settings import Settings

SECRET_MODE = 0o600
PUBLIC_MODE = 0o644


class WrittenFile(BaseModel):
    name: str
    path: str
    mode: int
    bytes: int


class ProvisionReport(BaseModel):
    profile: str
    out_dir: str
    files: list[WrittenFile] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


def _pools(settings: Settings, profile: Profile) -> render.Pools:
    """Pool sizes: the environment when it sets them, else the profile."""
    given = settings.model_fields_set
    return render.Pools(
        instances=profile.app.instances,
        pgpool_min=settings.pgpool_min_connections
        if "pgpool_min_connections" in given
        else profile.pools.pgpool_min,
        pgpool_max=settings.pgpool_max_connections
        if "pgpool_max_connections" in given
        else profile.pools.pgpool_max,
        redis_max=settings.redis_max_connections
        if "redis_max_connections" in given
        else profile.pools.redis_max_connections,
    )


def render_all(settings: Settings, profile: Profile) -> dict[str, tuple[str, int]]:
    """Every file's name -> (text, mode). Raises ConfigError when DATABASE_URL is unusable."""
    pg = render.pg_target(settings.database_url)
    pools = _pools(settings, profile)
    redis_secret = "@" in (settings.redis_url or "")
    return {
        "pgbouncer.ini": (render.pgbouncer_ini(profile, pg, pools), PUBLIC_MODE),
        "userlist.txt": (render.userlist(profile, pg), SECRET_MODE),
        "nginx-vendzz.conf": (render.nginx_conf(profile), PUBLIC_MODE),
        "redis.conf": (
            render.redis_conf(profile, settings.redis_url, pools),
            SECRET_MODE if redis_secret else PUBLIC_MODE,
        ),
        ".env": (render.env_file(profile, pg, settings.redis_url, pools), SECRET_MODE),
        "prometheus-alerts.yml": (render.alert_rules(profile), PUBLIC_MODE),
    }


def run(
    settings: Settings,
    profile: str | Path | Profile | None,
    out: Path,
    *,
    force: bool = False,
) -> ProvisionReport:
    """Render the configs into ``out``; files already there without ``force``: StateError."""
    prof = (
        profile
        if isinstance(profile, Profile)
        else load_profile(profile or settings.preflight_profile)
    )
    files = render_all(settings, prof)
    existing = sorted(name for name in files if (out / name).exists())
    if existing and not force:
        raise StateError(
            f"{out}: {', '.join(existing)} already exist; nothing written (use --force)",
            existing=existing,
        )
    report = ProvisionReport(profile=prof.name, out_dir=str(out))
    for name, (text, mode) in files.items():
        path = out / name
        atomic_write_text(path, text)
        os.chmod(path, mode)
        report.files.append(WrittenFile(name=name, path=str(path), mode=mode, bytes=len(text)))
    if not settings.redis_url:
        report.notes.append(f"REDIS_URL not set: .env uses {render.default_redis_url(prof)}")
    if prof.pgbouncer.auth_type == "scram-sha-256":
        report.notes.append(
            "SCRAM: PostgreSQL must hold the same secret for pass-through "
            "(ALTER ROLE ... PASSWORD '<the secret in userlist.txt>')"
        )
    return report
