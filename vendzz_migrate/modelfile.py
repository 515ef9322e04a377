"""Files of settings (YAML) read into pydantic models, for profiles, scenarios and reports: a
one-line :class:`~vendzz_migrate.errors.ConfigError` naming the file and the first bad field."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from vendzz_migrate.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def first_error(exc: ValidationError, *, unknown_first: bool = True) -> tuple[str, str, int]:
    """(field, message, how many errors); an unknown field first (a misspelt name is usually
    what the other errors come from) unless ``unknown_first`` is off."""
    errors = exc.errors()
    if unknown_first:
        errors = sorted(errors, key=lambda e: e["type"] != "extra_forbidden")
    field = ".".join(str(p) for p in errors[0]["loc"]) or "(top level)"
    return field, str(errors[0]["msg"]), len(errors)


def from_yaml(model: type[M], text: str, what: str, *, unknown_first: bool = True) -> M:
    """``text`` as ``model``; errors start with ``what`` (``profile dev``, ``scenario F``)."""
    import yaml

    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what}: not valid YAML: {exc}".replace("\n", " ")) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{what}: expected a mapping at the top level")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        field, message, count = first_error(exc, unknown_first=unknown_first)
        more = f" (and {count - 1} more)" if count > 1 else ""
        raise ConfigError(f"{what}: {field}: {message}{more}", field=field) from None
