"""Request bodies, validated by pydantic: a bad one is a 422 that names the field."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class Login(BaseModel):
    model_config = ConfigDict(extra="ignore")

    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class ResponseIn(BaseModel):
    """A visitor's answers to one quiz, as the public quiz page posts them."""

    model_config = ConfigDict(extra="ignore")

    responses: list[dict[str, Any]] | dict[str, Any]
    metadata: dict[str, Any] | None = None
    country: str | None = Field(default=None, max_length=64)
    phoneCountryCode: str | None = Field(default=None, max_length=16)
    affiliateId: str | None = Field(default=None, max_length=64)
    userId: str | None = Field(default=None, max_length=64)

    def extra_columns(self) -> dict[str, Any]:
        names = ("country", "phoneCountryCode", "affiliateId", "userId")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}

    def variables(self) -> list[dict[str, Any]]:
        """One response_variables row per answered element."""
        if isinstance(self.responses, dict):
            return [
                _variable(i, {"variableName": k, "answer": v})
                for i, (k, v) in enumerate(self.responses.items())
            ]
        return [_variable(i, item) for i, item in enumerate(self.responses)]


def _variable(index: int, item: dict[str, Any]) -> dict[str, Any]:
    answer = next((item[k] for k in ("answer", "value", "variableValue") if k in item), None)
    name = item.get("variableName") or item.get("elementFieldId") or item.get("elementId")
    order = item.get("pageOrder")
    return {
        "variableName": str(name if name is not None else index),
        "variableValue": answer if answer is not None else "",
        "elementType": str(item.get("elementType") or "text"),
        "pageId": str(item.get("pageId") or ""),
        "elementId": str(item.get("elementId") or ""),
        "pageOrder": order if isinstance(order, int) and 0 <= order < 2**31 else index,
        "question": item.get("question") if isinstance(item.get("question"), str) else None,
    }


def first_error(exc: ValidationError) -> tuple[str, str]:
    """(field, reason) of the first validation error: ``responses.0``, ``email``..."""
    error = exc.errors()[0]
    parts = [str(p) for p in error["loc"] if not (isinstance(p, str) and "[" in p)]
    field = ".".join(parts) or "body"  # union member tags (list[...]) left out
    return field, str(error["msg"])
