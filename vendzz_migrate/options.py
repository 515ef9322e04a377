"""The options every command's library entry point shares, resolved from settings in one place.

Each command has one options model over :class:`CommandOptions` (``CopyOptions``,
``VerifyOptions``, ``WarmOptions``, ``PreflightOptions``). Build one with
:meth:`CommandOptions.from_settings` to take the shared values the way the CLI does
(defaults < ``vendzz-migrate.toml`` < environment < flags, see :mod:`vendzz_migrate.settings`)::

    settings = load_settings(database_url=url)          # reads VENDZZ_SCHEMA, ...
    opts = CopyOptions.from_settings(settings, source=Path("vendzz.db"))
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel

from vendzz_migrate.settings import Settings

WORK_DIR = Path(".vendzz-migrate")


class CommandOptions(BaseModel):
    """Source, target, schema, state schema, work dir and connection timeout: the same names
    in every command."""

    source: Path | None = None
    target_url: str | None = None
    schema_name: str = "public"
    state_schema: str = "vendzz_migrate"
    work_dir: Path = WORK_DIR
    connect_timeout_s: int = 10  # every PostgreSQL (and Redis) connection of the command

    @classmethod
    def from_settings(cls, settings: Settings, **fields: Any) -> Self:
        """The shared values from ``settings`` (``fields`` set the command's own, and may
        override a shared one)."""
        return cls(**{**cls.taken_from(settings), **fields})

    @classmethod
    def taken_from(cls, settings: Settings) -> dict[str, Any]:
        """Every field of this model named like a setting takes its value (see
        :data:`SETTING_OF` for the names that differ): the one mapping of names."""
        return {
            name: getattr(settings, setting)
            for name in cls.model_fields
            if (setting := SETTING_OF.get(name, name)) in Settings.model_fields
        }

    def settings(self) -> Settings:
        """The same values as :class:`Settings`, for the connection helpers that take them
        (nothing is read from the environment or the config file here)."""
        return Settings.model_construct(
            **{
                setting: getattr(self, name)
                for name in type(self).model_fields
                if (setting := SETTING_OF.get(name, name)) in Settings.model_fields
            }
        )


#: option name -> setting name, where they differ
SETTING_OF = {"target_url": "database_url", "profile": "preflight_profile"}
