"""Billing, credits, push, courses and the keyless extension event log."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from vendzz_migrate.sample.context import Context
from vendzz_migrate.sample.fake import dumps, iso

PLANS = (  # subscription_plans: hand-written slugs
    ("free", "Gratuito", 0.0),
    ("basic", "Básico", 29.9),
    ("premium", "Premium", 97.0),
    ("enterprise", "Empresarial", 297.0),
)
DAY = 86_400
SUBSCRIPTION_DATES = (  # stripe_subscriptions' epoch-second columns (dirty mode: some ISO text)
    "trialStartDate",
    "trialEndDate",
    "currentPeriodStart",
    "currentPeriodEnd",
    "nextBillingDate",
    "canceledAt",
)


def build(ctx: Context) -> None:
    stripe_subscriptions(ctx)
    stripe_plans(ctx)
    subscription_plans(ctx)
    checkout_products(ctx)
    credit_transactions(ctx)
    push_subscriptions(ctx)
    courses_and_lessons(ctx)
    extension_pings(ctx)
    ctx.counts["__drizzle_migrations"] = 0


def stripe_subscriptions(ctx: Context) -> None:
    """Date columns are INTEGER epoch seconds here; dirty mode rewrites them as ISO text."""
    f = ctx.fake("stripe_subscriptions")
    columns = (
        "id",
        "userId",
        "stripeSubscriptionId",
        "stripeCustomerId",
        "stripePaymentMethodId",
        "status",
        "planName",
        "activationFee",
        "monthlyPrice",
        "trialDays",
        *SUBSCRIPTION_DATES,
        "cancelAtPeriodEnd",
        "customerEmail",
        "metadata",
        "createdAt",
        "updatedAt",
    )
    rows = []
    for _ in range(ctx.plan.stripe_subscriptions):
        start = f.ts()
        canceled = f.chance(0.2)
        rows.append(
            (
                f.nanoid(),
                f.pick(ctx.keys["users"]),
                f"sub_{f.token(24)}",
                f"cus_{f.token(14)}",
                f"pm_{f.token(24)}",
                "canceled" if canceled else f.pick(("trialing", "active", "past_due")),
                f.pick(("Premium", "Empresarial")),
                1.0,
                f.pick((97.0, 297.0)),
                7,
                start,
                start + 7 * DAY,
                start + 7 * DAY,
                start + 37 * DAY,
                start + 37 * DAY,
                start + 20 * DAY if canceled else None,
                int(canceled),
                f"cliente{f.num(0, 10**6 - 1)}@gmail.com",
                dumps({"source": "checkout", "utm": f.token(6)}),
                start * 1000,
                start * 1000 + 5000,
            )
        )
    ctx.insert("stripe_subscriptions", columns, rows)


def stripe_plans(ctx: Context) -> None:
    """created_at/updated_at are ISO-T text (the code path); dirty mode mixes in SQL datetimes."""
    f = ctx.fake("stripe_plans")
    rows = []
    for n in range(ctx.plan.stripe_plans):
        created = f.ts()
        price = f.pick((29.9, 47.0, 97.0, 197.0))
        rows.append(
            (
                f"plan_{n + 1}_{f.token(6)}",
                f"Plano {f.title()}",
                f.maybe(0.6, f.words(4, 10)),
                price,
                "BRL",
                f.pick(("month", "year")),
                7,
                1.0,
                f.pick(("stripe", "pagarme")),
                int(f.chance(0.8)),
                f"price_{f.token(14)}",
                f"prod_{f.token(14)}",
                iso(created),
                iso(created + DAY),
            )
        )
    ctx.insert(
        "stripe_plans",
        (
            "id",
            "name",
            "description",
            "price",
            "currency",
            "interval",
            "trial_days",
            "trial_price",
            "gateway",
            "active",
            "stripe_price_id",
            "stripe_product_id",
            "created_at",
            "updated_at",
        ),
        rows,
    )


def subscription_plans(ctx: Context) -> None:
    f = ctx.fake("subscription_plans")
    rows = []
    for slug, name, price in PLANS:
        created = f.ts_ms()
        limits = {"quizzes": 3 if slug == "free" else 1000, "responses": f.num(100, 10**6)}
        rows.append(
            (
                slug,
                name,
                price,
                "BRL",
                "monthly",
                dumps(["Quizzes ilimitados", "SMS", "E-mail"][: f.num(1, 3)]),
                dumps(limits),
                None if slug == "free" else f"price_{f.token(14)}",
                1,
                created,
                created,
            )
        )
    ctx.insert(
        "subscription_plans",
        (
            "id",
            "name",
            "price",
            "currency",
            "billingInterval",
            "features",
            "limits",
            "stripePriceId",
            "isActive",
            "createdAt",
            "updatedAt",
        ),
        rows,
    )


def checkout_products(ctx: Context) -> None:
    """``features`` is comma-separated text (not JSON), timestamps ISO text."""
    f = ctx.fake("checkout_products")
    rows = []
    for _ in range(ctx.plan.checkout_products):
        created = f.ts()
        features = ",".join(
            f.rng.sample(
                ("Acesso vitalício", "Suporte", "Bônus", "Certificado", "Comunidade"), f.num(1, 4)
            )
        )
        rows.append(
            (
                f.nanoid(),
                f.pick(ctx.keys["users"]),
                f.title(),
                f.maybe(0.6, f.words(5, 15)),
                f.pick((19.9, 47.0, 97.0, 497.0)),
                "BRL",
                f.maybe(0.6, f.pick(("curso", "ebook", "mentoria"))),
                features,
                int(f.chance(0.9)),
                iso(created),
                iso(created + DAY),
            )
        )
    ctx.insert(
        "checkout_products",
        (
            "id",
            "user_id",
            "name",
            "description",
            "price",
            "currency",
            "category",
            "features",
            "active",
            "created_at",
            "updated_at",
        ),
        rows,
    )


def credit_transactions(ctx: Context) -> None:
    f = ctx.fake("credit_transactions")

    def rows() -> Iterator[tuple[Any, ...]]:
        for _ in range(ctx.plan.credit_transactions):
            kind = f.pick(("sms", "email", "whatsapp", "ai"))
            add = f.chance(0.3)
            yield (
                f.uuid(),
                f.pick(ctx.keys["users"]),
                kind,
                f.num(1, 500),
                "add" if add else "use",
                "Compra de créditos" if add else f"Envio de {kind}",
                f.maybe(0.5, dumps({"campaignId": f.nanoid()})),
                f.ts(),
            )

    ctx.insert(
        "credit_transactions",
        ("id", "userId", "type", "amount", "operation", "reason", "metadata", "createdAt"),
        rows(),
    )


def push_subscriptions(ctx: Context) -> None:
    """ids are what ``DEFAULT (lower(hex(randomblob(16))))`` makes, but from the seeded RNG."""
    f = ctx.fake("push_subscriptions")
    rows = []
    for _ in range(ctx.plan.push_subscriptions):
        created = f.ts()
        rows.append(
            (
                f.hex32(),
                f.pick(ctx.keys["users"]),
                f"https://fcm.googleapis.com/fcm/send/{f.token(22)}:{f.token(60)}",
                f"B{f.token(86)}",
                f.token(22),
                int(f.chance(0.9)),
                iso(created),
                iso(created),
            )
        )
    ctx.insert(
        "push_subscriptions",
        (
            "id",
            "user_id",
            "endpoint",
            "p256dh_key",
            "auth_key",
            "is_active",
            "created_at",
            "updated_at",
        ),
        rows,
    )


def courses_and_lessons(ctx: Context) -> None:
    f = ctx.fake("courses")
    courses, lessons = [], []
    for _ in range(ctx.plan.courses):
        created, course = f.ts(), f.nanoid()
        courses.append(
            (
                course,
                f.pick(ctx.keys["users"]),
                f.title(),
                f.maybe(0.7, f.words(5, 20)),
                int(f.chance(0.6)),
                created,
                created,
            )
        )
        for order in range(1, 6):
            kind = f.pick(("video", "text", "quiz"))
            lessons.append(
                (
                    f.nanoid(),
                    course,
                    f.title(),
                    f.words(10, 40),
                    f"https://vimeo.com/{f.num(0, 10**9 - 1)}" if kind == "video" else None,
                    order,
                    kind,
                    f.num(60, 3600),
                    created,
                    created,
                )
            )
    ctx.insert(
        "courses",
        ("id", "userId", "title", "description", "isPublished", "createdAt", "updatedAt"),
        courses,
    )
    ctx.insert(
        "lessons",
        (
            "id",
            "courseId",
            "title",
            "content",
            "videoUrl",
            "order",
            "type",
            "duration",
            "createdAt",
            "updatedAt",
        ),
        lessons,
    )


def extension_pings(ctx: Context) -> None:
    """Keyless event log; created_at strictly increases, so clean mode has no duplicate rows."""
    f = ctx.fake("extension_pings")
    users = ctx.keys["users"]
    start = 1_740_000_000

    def rows() -> Iterator[tuple[Any, ...]]:
        for n in range(ctx.plan.extension_pings):
            yield (
                f.pick(users),
                f.pick(("1.4.2", "1.5.0", "1.5.1")),
                f.pick(("online", "online", "idle", "sending")),
                f.num(0, 50),
                start + n * 7 + f.num(0, 6),
            )

    ctx.insert(
        "extension_pings", ("user_id", "version", "status", "pending_count", "created_at"), rows()
    )
