"""Messaging tables: SMS, e-mail and WhatsApp campaigns with their per-recipient logs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from vendzz_migrate.sample.context import Context
from vendzz_migrate.sample.fake import Fake, dumps

HTML = (
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>{subject}</title></head>'
    '<body style="font-family:Arial,sans-serif;background:#f4f4f4;margin:0;padding:0">'
    '<table width="100%" cellpadding="0" cellspacing="0"><tr><td align="center">'
    '<table width="600" style="background:#ffffff;border-radius:8px;padding:24px">'
    '<tr><td><h1 style="color:#222">Olá, {name}!</h1>'
    '<p style="font-size:16px;color:#444">{body}</p>'
    '<p><a href="https://vendzz.com.br/q/{quiz}?utm_source=email&utm_campaign={campaign}" '
    'style="background:#10b981;color:#fff;padding:12px 24px;border-radius:6px;'
    'text-decoration:none">Ver meu resultado</a></p>'
    '<p style="font-size:12px;color:#999">Você recebeu este e-mail porque respondeu ao nosso quiz. '
    '<a href="https://vendzz.com.br/unsubscribe/{token}">Descadastrar</a></p>'
    "</td></tr></table></td></tr></table></body></html>"
)


def build(ctx: Context) -> None:
    sms_campaigns(ctx)
    sms_logs(ctx)
    email_campaigns(ctx)
    email_logs(ctx)
    email_automations(ctx)
    whatsapp_campaigns(ctx)
    whatsapp_logs(ctx)


def _lead(f: Fake, submitted: int) -> dict[str, Any]:
    return {
        "id": f.nanoid(),
        "name": " ".join(f.name()),
        "phone": f.phone(),
        "status": f.pick(("pending", "sent")),
        "submittedAt": submitted,
        "isComplete": f.chance(0.7),
        "completionPercentage": f.num(10, 100),
    }


def _owner(ctx: Context, f: Fake) -> tuple[str, str]:
    return f.pick(ctx.keys["quizzes"]), f.pick(ctx.keys["users"])


def sms_campaigns(ctx: Context) -> None:
    f = ctx.fake("sms_campaigns")
    columns = (
        "id",
        "name",
        "quizId",
        "userId",
        "message",
        "phones",
        "status",
        "sent",
        "delivered",
        "replies",
        "scheduledAt",
        "triggerDelay",
        "triggerUnit",
        "targetAudience",
        "createdAt",
        "updatedAt",
        "campaignMode",
        "campaignType",
        "conditionalRules",
    )
    rows = []
    for _ in range(ctx.plan.sms_campaigns):
        created, (quiz, user) = f.ts(), _owner(ctx, f)
        phones = [_lead(f, created) if f.chance(0.2) else f.phone() for _ in range(f.num(1, 40))]
        rules = f.maybe(0.3, dumps([{"field": "isComplete", "op": "eq", "value": True}]))
        rows.append(
            (
                f.uuid(),
                f.title(),
                quiz,
                user,
                f.words(8, 30)[:1000],
                dumps(phones),
                f.pick(("pending", "active", "paused", "completed")),
                len(phones),
                f.num(0, len(phones)),
                f.num(0, 5),
                f.maybe(0.3, created),
                10,
                f.pick(("minutes", "seconds", "hours")),
                f.pick(("all", "completed", "abandoned")),
                created,
                created + 60,
                f.pick(("leads_ja_na_base", "modo_ao_vivo")),
                f.pick(("standard", "ultra_personalized")),
                rules,
            )
        )
    ctx.keys["sms_campaigns"] = [row[0] for row in rows]
    ctx.insert("sms_campaigns", columns, rows)
    # rows written without campaignType get the DDL default written as "standard"
    ctx.conn.execute(
        "INSERT INTO sms_campaigns (id, name, quizId, userId, message, phones, "
        "createdAt, updatedAt) VALUES (?, ?, ?, ?, ?, '[]', ?, ?)",
        (f.uuid(), "Campanha padrão", *_owner(ctx, f), "Oi!", 1_735_689_600, 1_735_689_600),
    )
    ctx.counts["sms_campaigns"] += 1


def _log_times(f: Fake, status: str) -> tuple[int, int | None]:
    created = f.ts()
    return created, (created + f.num(1, 600) if status in ("sent", "delivered") else None)


def sms_logs(ctx: Context) -> None:
    f = ctx.fake("sms_logs")
    campaigns = ctx.keys["sms_campaigns"]

    def rows() -> Iterator[tuple[Any, ...]]:
        for _ in range(ctx.plan.sms_logs):
            status = f.pick(("pending", "scheduled", "sent", "delivered", "delivered", "failed"))
            created, sent = _log_times(f, status)
            yield (
                f.nanoid(),
                f.pick(campaigns),
                f.phone(),
                f.words(6, 25),
                status,
                f"SM{f.hex32()}" if sent else None,
                "Número inválido" if status == "failed" else None,
                sent,
                created + 600 if status in ("pending", "scheduled") else None,
                created,
                "Brasil",
                "+55",
            )

    ctx.insert(
        "sms_logs",
        (
            "id",
            "campaignId",
            "phone",
            "message",
            "status",
            "twilioSid",
            "errorMessage",
            "sentAt",
            "scheduledAt",
            "createdAt",
            "country",
            "countryCode",
        ),
        rows(),
    )


def email_campaigns(ctx: Context) -> None:
    f = ctx.fake("email_campaigns")
    columns = (
        "id",
        "name",
        "subject",
        "content",
        "quizId",
        "userId",
        "status",
        "campaignType",
        "triggerType",
        "triggerDelay",
        "triggerUnit",
        "variables",
        "sent",
        "opened",
        "createdAt",
        "updatedAt",
    )
    rows = []
    for _ in range(ctx.plan.email_campaigns):
        created, (quiz, user) = f.ts(), _owner(ctx, f)
        subject = f.title()
        html = HTML.format(
            subject=subject,
            name="{{nome}}",
            body=f.words(20, 60),
            quiz=quiz,
            campaign=f.token(6),
            token="{{token}}",
        )
        rows.append(
            (
                f.nanoid(),
                f.title(),
                subject,
                html,
                quiz,
                user,
                f.pick(("draft", "active", "paused")),
                f.pick(("remarketing", "live", "standard")),
                f.pick(("immediate", "delayed", "scheduled")),
                f.num(0, 48),
                "hours",
                dumps(["nome", "email"]),
                f.num(0, 900),
                f.num(0, 300),
                created,
                created + 120,
            )
        )
    ctx.keys["email_campaigns"] = [row[0] for row in rows]
    ctx.insert("email_campaigns", columns, rows)


def email_logs(ctx: Context) -> None:
    """One row per recipient with the whole rendered HTML (the fat log)."""
    f = ctx.fake("email_logs")
    campaigns = ctx.keys["email_campaigns"]

    def rows() -> Iterator[tuple[Any, ...]]:
        for n in range(ctx.plan.email_logs):
            first, last = f.name()
            email = f.email(first, last, n)
            subject = f"{first}, {f.words(3, 6)}"
            html = HTML.format(
                subject=subject,
                name=first,
                body=f.words(20, 60),
                quiz=f.nanoid(),
                campaign=f.token(6),
                token=f.token(24),
            )
            status = f.pick(("sent", "sent", "delivered", "opened", "failed", "pending"))
            created, sent = _log_times(f, status)
            lead = dumps({"nome": first, "email": email, "telefone": f.phone()})
            yield (
                f.uuid(),
                f.pick(campaigns),
                email,
                subject,
                html,
                lead,
                status,
                f.token(22) if sent else None,
                "bounce" if status == "failed" else None,
                sent,
                sent + 3600 if sent and status == "opened" else None,
                created,
            )

    ctx.insert(
        "email_logs",
        (
            "id",
            "campaignId",
            "email",
            "personalizedSubject",
            "personalizedContent",
            "leadData",
            "status",
            "sendgridId",
            "errorMessage",
            "sentAt",
            "openedAt",
            "createdAt",
        ),
        rows(),
    )


def email_automations(ctx: Context) -> None:
    f = ctx.fake("email_automations")
    rows = []
    for _ in range(ctx.plan.email_automations):
        created, (quiz, user) = f.ts(), _owner(ctx, f)
        steps = [
            {"delay": f.num(1, 72), "unit": "hours", "subject": f.title()}
            for _ in range(f.num(1, 4))
        ]
        rows.append(
            (
                f.nanoid(),
                f.title(),
                f.maybe(0.5, f.words(4, 12)),
                user,
                quiz,
                f.pick(("quiz_completed", "quiz_abandoned", "lead_created")),
                f.maybe(0.5, dumps({"minCompletion": f.num(0, 100)})),
                dumps(steps),
                int(f.chance(0.8)),
                created,
                created,
            )
        )
    ctx.insert(
        "email_automations",
        (
            "id",
            "name",
            "description",
            "userId",
            "quizId",
            "trigger",
            "conditions",
            "sequence",
            "isActive",
            "createdAt",
            "updatedAt",
        ),
        rows,
    )


def whatsapp_campaigns(ctx: Context) -> None:
    f = ctx.fake("whatsapp_campaigns")
    columns = (
        "id",
        "name",
        "quiz_id",
        "message",
        "user_id",
        "phones",
        "status",
        "scheduled_at",
        "trigger_delay",
        "trigger_unit",
        "target_audience",
        "extension_settings",
        "created_at",
        "updated_at",
        "campaign_mode",
    )
    rows = []
    for _ in range(ctx.plan.whatsapp_campaigns):
        created_ms, (quiz, user) = f.ts_ms(), _owner(ctx, f)
        phones = [
            {
                "phone": (p := f.phone()),
                "telefone": p,
                "status": "pending",
                "submittedAt": created_ms,
                "completionPercentage": f.num(10, 100),
            }
            for _ in range(f.num(1, 30))
        ]
        settings = {"delay": f.num(5, 60), "maxRetries": 3, "enabled": True}
        rows.append(
            (
                f.nanoid(),
                f.title(),
                quiz,
                dumps([f.words(5, 15) for _ in range(3)]),
                user,
                dumps(phones),
                f.pick(("active", "paused", "completed")),
                f.maybe(0.3, created_ms // 1000),
                f.num(0, 60),
                f.pick(("minutes", "hours")),
                f.pick(("all", "completed", "abandoned")),
                dumps(settings),
                created_ms,
                created_ms + 5000,
                f.pick(("leads_ja_na_base", "modo_ao_vivo")),
            )
        )
    ctx.keys["whatsapp_campaigns"] = [row[0] for row in rows]
    ctx.insert("whatsapp_campaigns", columns, rows)


def whatsapp_logs(ctx: Context) -> None:
    f = ctx.fake("whatsapp_logs")
    campaigns = ctx.keys["whatsapp_campaigns"]

    def rows() -> Iterator[tuple[Any, ...]]:
        for _ in range(ctx.plan.whatsapp_logs):
            status = f.pick(("pending", "scheduled", "sent", "sent", "failed"))
            created, sent = _log_times(f, status)
            yield (
                f.nanoid(),
                f.pick(campaigns),
                f.phone(),
                f.words(5, 20),
                status,
                created + 300,
                sent,
                f.pick(("delivered", "read", None)),
                "timeout" if status == "failed" else None,
                created,
                sent or created,
                "Brasil",
                "BR",
            )

    ctx.insert(
        "whatsapp_logs",
        (
            "id",
            "campaign_id",
            "phone",
            "message",
            "status",
            "scheduled_at",
            "sent_at",
            "extension_status",
            "error",
            "created_at",
            "updated_at",
            "country",
            "country_code",
        ),
        rows(),
    )
