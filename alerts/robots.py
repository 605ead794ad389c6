"""Group robots of WeCom (企业微信), DingTalk (钉钉) and Feishu (飞书).

They answer HTTP 200 with their own error code in the body, so each reads that code: 0 is success,
a "too fast" code is a deferral (retried after a minute), anything else is permanent (a wrong token,
a failed signature or keyword check does not fix itself). DingTalk signs with a timestamp and an
HMAC-SHA256 of it in the query; Feishu puts the timestamp and signature in the body. Message sizes
are in UTF-8 bytes; the outbox splits longer messages before they reach here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any, ClassVar
from urllib.parse import quote_plus

from yuqing.config import Settings, WebhookSettings

from .channel import NotConfigured, Outgoing, Progress, Result, Target
from .post import Answer, post_json, where

RATE_LIMITED_WAIT = 60.0  # the robots count about 20 messages per minute


class Robot:
    """Posts each part of a message in turn; subclasses say how to wrap a part and read the answer."""

    format: ClassVar[str] = "markdown"
    max_bytes: ClassVar[int] = 4096
    ok_codes: ClassVar[frozenset[int]] = frozenset({0})
    later_codes: ClassVar[frozenset[int]] = frozenset()

    def __init__(self, hook: WebhookSettings, timeout: float):
        self.hook = hook
        self.timeout = timeout
        self.rate_key: str | None = hook.url  # one robot, one limit

    @classmethod
    def configure(cls, settings: Settings, target: Target) -> Robot:
        if target.webhook is None:
            raise NotConfigured(f"channel '{target.name}' has no webhook settings")
        return cls(target.webhook, settings.alerts.webhook_timeout.total_seconds())

    def body(self, message: Outgoing, part: str) -> dict[str, Any]:
        raise NotImplementedError

    def url(self) -> str:
        return self.hook.url

    def code(self, body: Any) -> tuple[int, str]:
        if not isinstance(body, dict):
            return -999, "the robot's answer is not JSON"
        return int(body.get("errcode", -999)), str(body.get("errmsg", ""))

    def send(self, message: Outgoing, progress: Progress) -> Result:
        for k, part in enumerate(message.parts, 1):
            if f"part:{k}" in message.done:
                continue
            answer = post_json(self.url(), self.body(message, part), timeout=self.timeout)
            if isinstance(answer, Result):
                return answer
            result = self.judge(answer)
            if result is not None:
                return result
            progress(f"part:{k}")
        return Result("sent")

    def judge(self, answer: Answer) -> Result | None:
        code, msg = self.code(answer.body)
        if code in self.ok_codes:
            return None
        text = f"{where(self.hook.url)} answered error {code}: {msg}"
        if code in self.later_codes:
            return Result("deferred", text, retry_after=RATE_LIMITED_WAIT)
        return Result("permanent", text)


class WecomRobot(Robot):
    """WeCom group robot (markdown, 4096 bytes; 45009 = too frequent)."""

    max_bytes = 4096
    later_codes = frozenset({45009, 45033, -1})

    def body(self, message: Outgoing, part: str) -> dict[str, Any]:
        return {"msgtype": "markdown", "markdown": {"content": part}}


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode("utf-8"), to_sign, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def feishu_sign(secret: str, timestamp_s: int) -> str:
    # Feishu's scheme: the key is "timestamp\nsecret" and the message is empty.
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode("ascii")


class DingTalkRobot(Robot):
    """DingTalk custom robot (markdown, 20000 bytes; signed when a secret is set; 130101 = too fast)."""

    max_bytes = 20000
    later_codes = frozenset({130101, -1})

    def url(self) -> str:
        if not self.hook.secret:
            return self.hook.url
        ts = int(time.time() * 1000)  # the robot checks it against its own clock (within an hour)
        sep = "&" if "?" in self.hook.url else "?"
        return f"{self.hook.url}{sep}timestamp={ts}&sign={quote_plus(dingtalk_sign(self.hook.secret, ts))}"

    def body(self, message: Outgoing, part: str) -> dict[str, Any]:
        title = message.subject[:60]
        return {"msgtype": "markdown", "markdown": {"title": title, "text": part}}


class FeishuRobot(Robot):
    """Feishu custom bot (interactive card with markdown, ~30 KB; signed in the body; 9499/11232 = too fast)."""

    max_bytes = 29000
    later_codes = frozenset({9499, 11232, 11233})

    def code(self, body: Any) -> tuple[int, str]:
        if not isinstance(body, dict):
            return -999, "the robot's answer is not JSON"
        if "code" in body:
            return int(body["code"]), str(body.get("msg", ""))
        return int(body.get("StatusCode", -999)), str(body.get("StatusMessage", ""))

    def body(self, message: Outgoing, part: str) -> dict[str, Any]:
        # Card markdown has no headings: the part's "### " heading line becomes the card's title.
        first, _, rest = part.partition("\n")
        title = first[4:] if first.startswith("### ") else message.subject
        content = rest if first.startswith("### ") else part
        body: dict[str, Any] = {
            "msg_type": "interactive",
            "card": {
                "config": {"wide_screen_mode": True},
                "header": {"title": {"tag": "plain_text", "content": title}, "template": "red" if message.kind == "alert" else "blue"},
                "elements": [{"tag": "markdown", "content": content}],
            },
        }
        if self.hook.secret:
            ts = int(time.time())
            body["timestamp"] = str(ts)
            body["sign"] = feishu_sign(self.hook.secret, ts)
        return body
