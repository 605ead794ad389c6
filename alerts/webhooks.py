"""Slack-style and generic JSON webhooks.

Slack-style: `{"text": ...}` in mrkdwn, success is any 2xx. Generic JSON: one POST per message with
the delivery's id, unit, subject, text and HTML, and an `Idempotency-Key` header carrying the stable
Message-ID so that a receiver can fold a resend after a crash.
"""

from __future__ import annotations

from typing import Any, ClassVar

from yuqing.config import Settings, WebhookSettings

from .channel import NotConfigured, Outgoing, Progress, Result, Target
from .post import post_json


class _Webhook:
    format: ClassVar[str] = "text"
    max_bytes: ClassVar[int] = 0

    def __init__(self, hook: WebhookSettings, timeout: float):
        self.hook = hook
        self.timeout = timeout
        self.rate_key: str | None = hook.url  # one robot, one limit

    @classmethod
    def configure(cls, settings: Settings, target: Target) -> Any:
        if target.webhook is None:
            raise NotConfigured(f"channel '{target.name}' has no webhook settings")
        return cls(target.webhook, settings.alerts.webhook_timeout.total_seconds())

    def body(self, message: Outgoing, k: int, part: str) -> dict[str, Any]:
        raise NotImplementedError

    def send(self, message: Outgoing, progress: Progress) -> Result:
        for k, part in enumerate(message.parts, 1):
            if f"part:{k}" in message.done:
                continue
            answer = post_json(
                self.hook.url,
                self.body(message, k, part),
                timeout=self.timeout,
                headers={"Idempotency-Key": f"{message.message_id}#{k}"},
            )
            if isinstance(answer, Result):
                return answer
            progress(f"part:{k}")
        return Result("sent")


class SlackWebhook(_Webhook):
    """Slack-style incoming webhook (mrkdwn text; Slack's limit is 40,000 characters)."""

    format = "slack"
    max_bytes = 39000

    def body(self, message: Outgoing, k: int, part: str) -> dict[str, Any]:
        return {"text": part}


class JsonWebhook(_Webhook):
    """Generic JSON webhook: the whole message in one structured POST."""

    format = "text"
    max_bytes = 0

    def body(self, message: Outgoing, k: int, part: str) -> dict[str, Any]:
        return {
            "id": message.message_id,
            "delivery": message.delivery_id,
            "kind": message.kind,
            "unit": message.unit_id,
            "channel": message.channel,
            "subject": message.subject,
            "text": part,
            "html": message.html,
            "part": k,
            "parts": len(message.parts),
            "matches": message.extra.get("match_ids", []),
        }
