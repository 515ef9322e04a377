"""All configuration in one place: defaults < ``vendzz-migrate.toml`` < environment < flags.

The spec's own names are the environment variables (``DATABASE_URL``, ``REDIS_URL``,
``PGPOOL_MIN_CONNECTIONS``, ``PGPOOL_MAX_CONNECTIONS``, ``REDIS_MAX_CONNECTIONS``); anything of
ours is ``VENDZZ_*``. Flags are applied by the CLI with :meth:`Settings.with_overrides`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from vendzz_migrate.errors import ConfigError

CONFIG_FILE = "vendzz-migrate.toml"


def default_work_dir() -> Path:
    return Path.home() / ".cache" / "vendzz-migrate"


class Settings(BaseSettings):
    """Settings shared by every command."""

    model_config = SettingsConfigDict(
        env_prefix="VENDZZ_",
        toml_file=CONFIG_FILE,
        extra="ignore",
        populate_by_name=True,
    )

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "database_url")
    )
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "redis_url")
    )
    pgpool_min_connections: int = Field(
        default=10,
        ge=0,
        validation_alias=AliasChoices("PGPOOL_MIN_CONNECTIONS", "pgpool_min_connections"),
    )
    pgpool_max_connections: int = Field(
        default=50,
        ge=1,
        validation_alias=AliasChoices("PGPOOL_MAX_CONNECTIONS", "pgpool_max_connections"),
    )
    redis_max_connections: int = Field(
        default=20,
        ge=1,
        validation_alias=AliasChoices("REDIS_MAX_CONNECTIONS", "redis_max_connections"),
    )
    work_dir: Path = Field(default_factory=default_work_dir)
    schema_name: str = Field(default="public", validation_alias=AliasChoices("VENDZZ_SCHEMA"))
    state_schema: str = "vendzz_migrate"
    connect_timeout_s: int = 10
    preflight_profile: str = "production-1000"  # VENDZZ_PREFLIGHT_PROFILE: name or YAML file
    pgbouncer_admin_url: str | None = None  # VENDZZ_PGBOUNCER_ADMIN_URL: admin console

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,  # noqa: ARG003 (pydantic's signature)
        file_secret_settings: PydanticBaseSettingsSource,  # noqa: ARG003
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    def with_overrides(self, **flags: Any) -> Settings:
        """Apply command-line flags (``None`` means "not given")."""
        given = {k: v for k, v in flags.items() if v is not None}
        return self.model_copy(update=given)


def check_config_file(path: Path = Path(CONFIG_FILE)) -> None:
    """A ``vendzz-migrate.toml`` that is not TOML, or holds a key no setting has, is an error
    that names the file and the key (a misspelt key would otherwise be ignored silently)."""
    import tomllib

    if not path.is_file():
        return
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    known = set(Settings.model_fields)
    for info in Settings.model_fields.values():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            known.update(str(choice) for choice in alias.choices)
    unknown = sorted(key for key in data if key not in known)
    if unknown:
        raise ConfigError(
            f"{path}: unknown setting {unknown[0]!r} (known: "
            f"{', '.join(sorted(Settings.model_fields))})"
        )


def load_settings(**flags: Any) -> Settings:
    """Build settings from file and environment, then apply flags; errors name the field."""
    check_config_file()
    try:
        base = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"invalid setting {where}: {first['msg']}") from None
    return base.with_overrides(**flags)
