"""One HTTP POST of a JSON body to a robot or webhook, with transport failures turned into Results.

Shared by the robot and webhook channels: a refused connection, a timeout, HTTP 429 and 5xx are
temporary (429's Retry-After is kept); other 4xx are permanent. A 2xx answer is handed back for the
channel to read, since the robots report their own errors inside a 200 body.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from .channel import Result

USER_AGENT = "yuqing-alerts/0.1"


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any  # parsed JSON, or None
    text: str


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        from datetime import UTC, datetime

        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def where(url: str) -> str:
    """The scheme and host of a hook URL, for messages and logs. Robots carry their access token in
    the query (WeCom, DingTalk) or in the path (Feishu, Slack): neither is shown."""
    p = urlsplit(url)
    return f"{p.scheme}://{p.netloc}" + ("/…" if p.path not in ("", "/") or p.query else "")


def post_json(url: str, body: dict[str, Any], *, timeout: float, headers: dict[str, str] | None = None) -> Answer | Result:
    """The answer for a 2xx, else the Result that the failure comes to."""
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    hdrs = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT, **(headers or {})}
    try:
        resp = requests.post(url, data=data, headers=hdrs, timeout=timeout, allow_redirects=False)
    except requests.Timeout:
        return Result("temporary", f"{where(url)} did not answer within {timeout:g}s")
    except requests.RequestException as exc:
        return Result("temporary", f"{where(url)} is unreachable ({exc.__class__.__name__})")
    text = resp.text[:500]
    if resp.status_code == 429:
        return Result("temporary", f"{where(url)} answered 429 (rate limited)", retry_after=_retry_after(resp.headers.get("Retry-After")))
    if resp.status_code >= 500:
        return Result("temporary", f"{where(url)} answered {resp.status_code}: {text[:200]}")
    if not 200 <= resp.status_code < 300:
        return Result("permanent", f"{where(url)} answered {resp.status_code}: {text[:200]}")
    try:
        parsed = resp.json()
    except ValueError:
        parsed = None
    return Answer(resp.status_code, parsed, text)
