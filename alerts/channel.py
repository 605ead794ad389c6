"""Delivery channels: the one small interface every channel implements, and their registry.

A unit's channels are named in settings: "email" when it has `emails`, and one per webhook,
"<kind>:<name or index>". The registry maps a kind alias to its class; each class is built from
settings through one `configure` constructor and raises `NotConfigured` when it cannot work.
The outbox hands a channel one `Outgoing` message and gets back a `Result`; the channel calls
`progress` after each recipient batch or message part it has delivered, so that a crash in the
middle of a multi-part message never sends the finished parts again.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

from yuqing.config import Settings, UnitSettings, WebhookSettings
from yuqing.errors import UsageError, did_you_mean


class NotConfigured(Exception):
    """The channel lacks what it needs in settings (e.g. no smtp section)."""


@dataclass(frozen=True)
class Target:
    """Where a unit's channel delivers: its name in the outbox and its settings."""

    name: str  # "email" or "<kind>:<name or index>"
    kind: str  # registry alias
    recipients: tuple[str, ...] = ()
    webhook: WebhookSettings | None = None


@dataclass(frozen=True)
class InlineImage:
    """An image the HTML part shows as `<img src="cid:{cid}">`, sent as a related part.

    Mail clients such as Gmail, Outlook on the web and most Chinese webmail do not show `data:` URI
    images; a Content-ID part in multipart/related is what they all display.
    """

    cid: str  # without the angle brackets: "volume.report@yuqing"
    mime: str  # "image/png"
    data: bytes

    def as_json(self) -> dict[str, str]:
        """As the delivery row's JSON payload keeps it (base64), so a resend sends the same bytes."""
        return {"cid": self.cid, "type": self.mime, "data": base64.b64encode(self.data).decode("ascii")}

    @classmethod
    def from_json(cls, d: dict[str, str]) -> InlineImage:
        return cls(d["cid"], d["type"], base64.b64decode(d["data"]))


@dataclass(frozen=True)
class Outgoing:
    """One outbox row as a channel sees it: exactly what was recorded, sent as recorded."""

    delivery_id: int
    kind: str
    unit_id: str | None
    channel: str
    recipients: tuple[str, ...]
    subject: str
    text: str
    html: str | None
    parts: tuple[str, ...]
    message_id: str
    created_at: datetime
    done: frozenset[str] = frozenset()  # recipients or "part:N" already delivered
    inline: tuple[InlineImage, ...] = ()  # e-mail only: images the HTML refers to by cid:
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Result:
    """What a send attempt came to.

    status: "sent"; "temporary" (retry with backoff); "permanent" (park, tell the operator);
    "deferred" (a rate limit: try again at `retry_after` without counting an attempt).
    """

    status: str
    error: str | None = None
    retry_after: float | None = None  # seconds the far end asked us to wait
    refused: tuple[str, ...] = ()  # recipients the mail server refused for good


Progress = Callable[[str], None]


class Channel(Protocol):
    """A way to deliver a recorded message. `format` names how the outbox renders for it."""

    format: ClassVar[str]  # "email" | "markdown" | "slack" | "text"
    max_bytes: ClassVar[int]  # per message part, in UTF-8 bytes (0: no limit)
    rate_key: str | None  # messages to one robot share one rate limit

    @classmethod
    def configure(cls, settings: Settings, target: Target) -> Channel: ...

    def send(self, message: Outgoing, progress: Progress) -> Result: ...


def unit_targets(unit: UnitSettings) -> list[Target]:
    targets = [Target("email", "email", tuple(unit.emails))] if unit.emails else []
    for i, hook in enumerate(unit.webhooks):
        targets.append(Target(f"{hook.kind}:{hook.name or i}", hook.kind, webhook=hook))
    return targets


def target_for(settings: Settings, unit_id: str | None, channel: str, recipients: tuple[str, ...] = ()) -> Target:
    """The target a stored delivery names; unknown names are a user error with the known ones."""
    if channel == "email":
        return Target("email", "email", recipients)
    if unit_id is None:
        raise UsageError(f"channel '{channel}' needs a unit (only 'email' goes to the operator)")
    try:
        unit = settings.unit(unit_id)
    except KeyError:
        raise UsageError(f"no unit '{unit_id}'{did_you_mean(unit_id, [u.id for u in settings.units])}") from None
    targets = {t.name: t for t in unit_targets(unit)}
    if channel not in targets:
        raise UsageError(f"unit '{unit_id}' has no channel '{channel}'{did_you_mean(channel, targets)}")
    return targets[channel]


def registry() -> dict[str, type[Channel]]:
    """Channel kind alias -> class (the aliases a webhook's `kind` may name)."""
    from .mail import EmailChannel
    from .robots import DingTalkRobot, FeishuRobot, WecomRobot
    from .webhooks import JsonWebhook, SlackWebhook

    return {
        "email": EmailChannel,
        "wecom": WecomRobot,
        "dingtalk": DingTalkRobot,
        "feishu": FeishuRobot,
        "slack": SlackWebhook,
        "json": JsonWebhook,
    }


def build(settings: Settings, target: Target) -> Channel:
    channels = registry()
    cls = channels.get(target.kind)
    if cls is None:
        raise UsageError(f"unknown channel kind '{target.kind}'{did_you_mean(target.kind, channels)}")
    return cls.configure(settings, target)
