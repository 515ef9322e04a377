"""Core tables: users, quizzes, quiz_templates, quiz_responses, response_variables, analytics."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from vendzz_migrate.sample.context import Context
from vendzz_migrate.sample.fake import DOMAINS, Fake, dumps, iso

ELEMENT_TYPES = (
    "heading",
    "text",
    "multiple_choice",
    "email",
    "phone",
    "name",
    "number",
    "rating",
    "image",
    "button",
    "checkbox",
    "date",
)
CHUNK = 5_000
VARIABLES_PER_RESPONSE = (0, 1, 1, 1, 1, 1, 2, 2, 2, 3)  # 1.4 on average, as in the real file
USER_COLUMNS = (
    "id",
    "email",
    "password",
    "firstName",
    "lastName",
    "profileImageUrl",
    "stripeCustomerId",
    "plan",
    "role",
    "refreshToken",
    "subscriptionStatus",
    "smsCredits",
    "emailCredits",
    "whatsappCredits",
    "aiCredits",
    "twoFactorEnabled",
    "twoFactorSecret",
    "twoFactorBackupCodes",
    "planExpiresAt",
    "isBlocked",
    "whatsapp",
    "createdAt",
    "updatedAt",
)


def build(ctx: Context) -> None:
    users(ctx)
    quizzes(ctx)
    quiz_templates(ctx)
    responses_and_variables(ctx)
    quiz_analytics(ctx)


def _user_row(f: Fake, n: int) -> tuple[Any, ...]:
    first, last = f.name()
    created = f.ts()
    two_factor = f.chance(0.1)
    codes = dumps([f.token(8) for _ in range(8)]) if two_factor else None
    jwt = f"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.{f.token(150)}.{f.token(43)}"
    plan = f.pick(("free", "free", "free", "premium", "enterprise"))
    return (
        f.nanoid(),
        f.email(first, last, n),
        f"$2b$10${f.token(53)}",
        first,
        last,
        f.maybe(0.3, f"https://cdn.vendzz.com.br/avatars/{f.token(16)}.png"),
        f.maybe(0.4, f"cus_{f.token(14)}"),
        plan,
        f.pick(("user",) * 12 + ("admin", "editor")),
        f.maybe(0.7, jwt),
        f.maybe(0.4, f.pick(("active", "trialing", "canceled"))),
        f.num(0, 5000),
        f.num(0, 5000),
        f.num(0, 1000),
        f.num(0, 100),
        int(two_factor),
        f.token(32) if two_factor else None,
        codes,
        None if plan == "free" else created + 30 * 86400,
        int(f.chance(0.02)),
        f.maybe(0.5, f.phone()),
        created,
        created + f.num(0, 90 * 86400),
    )


def users(ctx: Context) -> None:
    f = ctx.fake("users")
    rows = [_user_row(f, n) for n in range(ctx.plan.users)]
    ctx.keys["users"] = [row[0] for row in rows]
    ctx.insert("users", USER_COLUMNS, rows)


def _element_id(f: Fake) -> str | int:
    kind = f.num(0, 2)
    if kind == 0:
        return f"el_{f.token(8)}"
    if kind == 1:
        return f.num(1, 60)
    return f.ts_ms()


def _element(f: Fake, options: int = 4) -> dict[str, Any]:
    kind = f.pick(ELEMENT_TYPES)
    element: dict[str, Any] = {"id": _element_id(f), "type": kind, "question": f.words(3, 9) + "?"}
    if kind in ("multiple_choice", "checkbox"):
        element["options"] = [{"id": f"opt{i}", "text": f.words(1, 4)} for i in range(options)]
    element["required"] = f.chance(0.5)
    return element


def structure(f: Fake, pages: int, elements: int, options: int = 4) -> dict[str, Any]:
    """A quiz structure ``{pages:[{id, title, elements:[...]}], settings:{...}}``."""
    page_ids = (lambda i: f"page{i + 1}", lambda i: i + 1, lambda _: f.ts_ms())
    make_id = f.pick(page_ids)
    return {
        "pages": [
            {
                "id": make_id(i),
                "title": f.title(),
                "elements": [_element(f, options) for _ in range(f.num(1, elements))],
            }
            for i in range(pages)
        ],
        "settings": {"theme": f.pick(("light", "dark")), "showProgress": f.chance(0.7)},
    }


def quizzes(ctx: Context) -> None:
    f = ctx.fake("quizzes")
    owners = ctx.keys["users"]
    columns = (
        "id",
        "title",
        "description",
        "structure",
        "userId",
        "isPublished",
        "settings",
        "design",
        "facebookPixel",
        "ga4Pixel",
        "trackingPixels",
        "redirectDelay",
        "pixelDelay",
        "safeMode",
        "cloakerMode",
        "createdAt",
        "updatedAt",
    )
    rows = []
    for n in range(ctx.plan.quizzes):
        created = f.ts()
        pixels = dumps([{"type": "facebook", "id": str(f.num(0, 10**15 - 1))}])
        rows.append(
            (
                f.nanoid(),
                f.title(),
                f.maybe(0.6, f.words(5, 15)),
                dumps(structure(f, f.num(1, 8), 6)),
                owners[n % len(owners)],
                int(f.chance(0.7)),
                f.maybe(0.2, dumps({"allowBack": f.chance(0.5)})),
                None,
                f.maybe(0.3, str(f.num(0, 10**15 - 1))),
                f.maybe(0.2, f"G-{f.token(10).upper()}"),
                f.maybe(0.3, pixels),
                f.pick((0, 0, 3, 5)),
                int(f.chance(0.2)),
                1,
                f.pick(("simple", "simple", "advanced")),
                created,
                created + f.num(0, 86400 * 30),
            )
        )
    ctx.keys["quizzes"] = [row[0] for row in rows]
    ctx.insert("quizzes", columns, rows)


def quiz_templates(ctx: Context) -> None:
    f = ctx.fake("quiz_templates")
    columns = ("name", "description", "structure", "category", "createdAt", "updatedAt")
    rows = []
    for _ in range(ctx.plan.quiz_templates):
        created = f.ts()
        rows.append(
            (
                f.title(),
                f.maybe(0.5, f.words(4, 10)),
                dumps(structure(f, 3, 4)),
                f.pick(("lead", "ecommerce", "saude", "infoproduto")),
                created,
                created,
            )
        )
    ctx.insert("quiz_templates", columns, rows)


def _answer(f: Fake, first: str, last: str) -> Any:
    kind = f.num(0, 4)
    if kind == 0:
        return f"{first} {last}"
    if kind == 1:
        return f.phone()
    if kind == 2:
        return f.num(1, 10)
    if kind == 3:
        return f"{first.lower()}{f.num(0, 998)}@{f.pick(DOMAINS)}"
    return f.words(1, 3)


def responses_json(f: Fake, submitted: int) -> str:
    """The ``responses`` JSON in one of the six shapes seen in the real file."""
    first, last = f.name()
    count = f.num(1, 6)
    shape = f.num(0, 6)
    if shape == 0:
        return dumps(
            {
                "nome_completo": f"{first} {last}",
                "email_contato": f"{first.lower()}@{f.pick(DOMAINS)}",
                "telefone_contato": f.phone(),
            }
        )
    if shape == 1:
        return dumps({"name": f"{first} {last}"})
    items = [_item(f, shape, i, _answer(f, first, last), submitted) for i in range(count)]
    return dumps(items)


def _item(f: Fake, shape: int, i: int, answer: Any, submitted: int) -> dict[str, Any]:
    element, page = f"el_{f.token(8)}", f"page{i + 1}"
    if shape == 2:
        return {"elementId": element, "elementFieldId": f"f{i}", "answer": answer}
    if shape == 3:
        return {"responseId": element, "value": answer}
    if shape == 4:
        return {"elementFieldId": element, "pageId": page, "value": answer}
    if shape == 5:
        return {
            "answer": answer,
            "elementId": element,
            "elementType": f.pick(ELEMENT_TYPES),
            "pageId": page,
            "pageTitle": f.title(),
            "timestamp": iso(submitted + i),
        }
    return {"elementId": element, "answer": answer}


def metadata_json(f: Fake, submitted: int) -> str:
    complete = f.chance(0.7)
    meta: dict[str, Any] = {
        "isComplete": complete,
        "isPartial": not complete,
        "completionPercentage": 100 if complete else f.num(5, 95),
    }
    shape = f.num(0, 4)
    if shape >= 1:
        meta["submittedAt"] = iso(submitted, f.num(0, 999))
    if shape >= 2:
        meta["ip"] = f"{f.num(100, 200)}.{f.num(0, 255)}.{f.num(0, 255)}.1"
        meta["userAgent"] = f.pick(
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)",
                "Mozilla/5.0 (Linux; Android 14; SM-A546E)",
            )
        )
    if shape >= 3:
        meta["timeSpent"] = f.num(5, 900)
        meta["totalPages"] = f.num(1, 12)
    if shape == 4:
        meta["leadData"] = {"name": " ".join(f.name()), "phone": f.phone()}
    return dumps(meta)


def _variables(f: Fake, response_id: str, quiz_id: str, created: int) -> Iterator[tuple[Any, ...]]:
    for order in range(f.pick(VARIABLES_PER_RESPONSE)):
        numeric = f.chance(0.9)
        name = f"{order + 1}.0" if numeric else f.pick(("nome", "email", "telefone", "idade"))
        value = dumps({"answer": f.words(1, 3), "elementId": f"el_{f.token(8)}"})
        yield (
            f.nanoid(),
            response_id,
            quiz_id,
            name,
            value,
            f.pick(ELEMENT_TYPES),
            name,
            name,
            order,
            f.maybe(0.8, f.words(3, 8) + "?"),
            created,
        )


def responses_and_variables(ctx: Context) -> None:
    """quiz_responses and their response_variables (1.4 each on average), chunk by chunk."""
    f = ctx.fake("quiz_responses")
    quiz_ids = ctx.keys["quizzes"]
    r_cols = (
        "id",
        "quizId",
        "responses",
        "metadata",
        "submittedAt",
        "country",
        "phoneCountryCode",
        "affiliateId",
        "userId",
    )
    v_cols = (
        "id",
        "responseId",
        "quizId",
        "variableName",
        "variableValue",
        "elementType",
        "pageId",
        "elementId",
        "pageOrder",
        "question",
        "createdAt",
    )
    total = ctx.plan.quiz_responses
    for start in range(0, total, CHUNK):
        responses: list[tuple[Any, ...]] = []
        variables: list[tuple[Any, ...]] = []
        for _ in range(min(CHUNK, total - start)):
            rid, quiz, submitted = f.nanoid(), f.pick(quiz_ids), f.ts()
            brazil = f.chance(0.6)
            responses.append(
                (
                    rid,
                    quiz,
                    responses_json(f, submitted),
                    metadata_json(f, submitted),
                    submitted,
                    "BR" if brazil else None,
                    "+55" if brazil else None,
                    f.maybe(0.05, f.nanoid(10)),
                    None,
                )
            )
            variables.extend(_variables(f, rid, quiz, submitted))
        ctx.insert("quiz_responses", r_cols, responses)
        ctx.insert("response_variables", v_cols, variables)


def quiz_analytics(ctx: Context) -> None:
    """One row per quiz per day (quizzes x days)."""
    f = ctx.fake("quiz_analytics")
    quiz_ids = ctx.keys["quizzes"]
    day0 = 1_735_689_600  # 2025-01-01

    def rows() -> Iterator[tuple[Any, ...]]:
        for i in range(ctx.plan.quiz_analytics):
            views = f.num(0, 5000)
            completions = f.num(0, views)
            rate = round(100.0 * completions / views, 2) if views else 0.0
            yield (
                f.nanoid(),
                quiz_ids[i % len(quiz_ids)],
                iso(day0 + 86400 * (i // len(quiz_ids)))[:10],
                views,
                completions,
                rate,
                f.maybe(0.3, dumps({"sources": {"facebook": f.num(0, views)}})),
            )

    ctx.insert(
        "quiz_analytics",
        ("id", "quizId", "date", "views", "completions", "conversionRate", "metadata"),
        rows(),
    )
