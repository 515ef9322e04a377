"""Deterministic fake values shaped like Vendzz data (ids, people, timestamps, JSON text).

Everything comes from one seeded :class:`random.Random`; nothing reads the clock.
"""

from __future__ import annotations

import base64
import json
import random
import uuid
from datetime import UTC, datetime
from typing import Any

NANOID = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
FIRST = (
    "Ana",
    "João",
    "Maria",
    "Pedro",
    "Lucas",
    "Júlia",
    "Mateus",
    "Beatriz",
    "Rafael",
    "Camila",
    "Gabriel",
    "Larissa",
    "Felipe",
    "Fernanda",
    "Thiago",
    "Letícia",
    "Bruno",
    "Aline",
)
LAST = (
    "Silva",
    "Santos",
    "Oliveira",
    "Souza",
    "Lima",
    "Pereira",
    "Costa",
    "Ferreira",
    "Almeida",
    "Ribeiro",
    "Carvalho",
    "Gomes",
    "Martins",
    "Araújo",
    "Rocha",
    "Barbosa",
)
DOMAINS = ("gmail.com", "hotmail.com", "outlook.com", "yahoo.com.br", "uol.com.br", "bol.com.br")
WORDS = (
    "quiz",
    "oferta",
    "emagrecer",
    "renda",
    "extra",
    "curso",
    "grátis",
    "agora",
    "descubra",
    "seu",
    "perfil",
    "ideal",
    "saúde",
    "beleza",
    "dinheiro",
    "online",
    "resultado",
    "método",
    "secreto",
    "passo",
    "simples",
    "hoje",
    "vagas",
    "limitadas",
    "bônus",
    "exclusivo",
)

TEXT = random.Random("vendzz-sample:words").choices(WORDS, k=4096)
"""A fixed pseudo-random word stream: ``words()`` slices it (two RNG calls, not one per word)."""
ALNUM = str.maketrans("-_", "xZ")

START_S = 1_704_067_200  # 2024-01-01T00:00:00Z
END_S = 1_753_056_000  # 2025-07-21T00:00:00Z


def dumps(value: Any) -> str:
    """JSON the way the Node service writes it (``JSON.stringify``: compact, UTF-8 kept)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


_DATES: dict[int, str] = {}


def iso(seconds: int, millis: int = 0) -> str:
    """``Date.prototype.toISOString()`` text: ``2025-01-02T03:04:05.678Z``."""
    day, rest = divmod(seconds, 86_400)
    date = _DATES.get(day)
    if date is None:
        date = _DATES[day] = datetime.fromtimestamp(day * 86_400, UTC).strftime("%Y-%m-%d")
    hour, rest = divmod(rest, 3600)
    return f"{date}T{hour:02d}:{rest // 60:02d}:{rest % 60:02d}.{millis:03d}Z"


def sql_datetime(seconds: int) -> str:
    """SQLite ``CURRENT_TIMESTAMP`` text: ``2025-01-02 03:04:05`` (UTC)."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")


class Fake:
    """Value factory over one seeded RNG."""

    def __init__(self, seed: int | str) -> None:
        self.rng = random.Random(seed)

    def nanoid(self, size: int = 21) -> str:
        """A nanoid: ``size`` characters of the URL-safe base64 alphabet (6 random bits each)."""
        raw = self.rng.getrandbits(8 * ((size * 3) // 4 + 3)).to_bytes((size * 3) // 4 + 3)
        return base64.urlsafe_b64encode(raw)[:size].decode("ascii")

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def hex32(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def token(self, size: int) -> str:
        """Letters and digits only."""
        return self.nanoid(size).translate(ALNUM)

    def num(self, low: int, high: int) -> int:
        """Like ``randint`` (both ends included) but one C call: this is the hot path."""
        return low + int(self.rng.random() * (high - low + 1))

    def ts(self, low: int = START_S, high: int = END_S) -> int:
        """Epoch seconds in the sample window."""
        return self.num(low, high)

    def ts_ms(self, low: int = START_S, high: int = END_S) -> int:
        return self.num(low, high) * 1000 + self.num(0, 999)

    def name(self) -> tuple[str, str]:
        return self.pick(FIRST), self.pick(LAST)

    def email(self, first: str, last: str, n: int) -> str:
        local = f"{first}.{last}{n}".lower().encode("ascii", "ignore").decode()
        return f"{local}@{self.pick(DOMAINS)}"

    def phone(self) -> str:
        """Brazilian mobile, digits only (``55`` + DDD + 9 digits)."""
        return f"55{self.num(11, 99)}9{self.num(0, 10**8 - 1):08d}"

    def words(self, low: int, high: int) -> str:
        start = self.num(0, len(TEXT) - high - 1)
        return " ".join(TEXT[start : start + self.num(low, high)])

    def title(self) -> str:
        return self.words(2, 5).capitalize()

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def maybe(self, p: float, value: Any) -> Any:
        """``value`` with probability ``p``, else None (never ``''``: that is a dirty trap)."""
        return value if self.rng.random() < p else None

    def pick(self, seq: Any) -> Any:
        return seq[int(self.rng.random() * len(seq))]
