"""Logging for the long-running commands (`daemon`, `run-once`): text or JSON lines, secrets redacted.

A `RedactFilter` on the handler removes passwords, robot keys and signing secrets before anything is
written: the literal secret values the settings hold, `access_token=` / `key=` / `secret=` / `sign=`
query parameters, `user:password@` in URLs and `password: ...` pairs, in messages and tracebacks alike.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from .config import Settings

MASK = "***"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # secrets in URL query strings (WeCom/DingTalk/Feishu robot keys and tokens, signatures)
    (
        re.compile(
            r"(?i)([?&](?:access_token|token|key|secret|sign|signature|password|passwd|pwd|apikey|api_key)=)[^&\s'\"<>]+"
        ),
        rf"\1{MASK}",
    ),
    # user:password@ in URLs (database and SMTP URLs)
    (re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s/]+@"), rf"\1{MASK}@"),
    # password=..., "secret": "...", password: ... in free text and reprs
    (
        re.compile(
            r"(?i)(['\"]?\b(?:password|passwd|secret|token|api_key)['\"]?\s*[:=]\s*['\"]?)(?!\*\*\*)[^\s,'\"}&]+"
        ),
        rf"\1{MASK}",
    ),
)


def settings_secrets(settings: Settings | None) -> list[str]:
    """The secret values in the settings (after ${ENV} expansion), longest first."""
    if settings is None:
        return []
    found: list[str] = []
    if settings.smtp and settings.smtp.password:
        found.append(settings.smtp.password)
    for unit in settings.units:
        for hook in unit.webhooks:
            if hook.secret:
                found.append(hook.secret)
            # A robot's URL is its credential: whoever has it can post to the group.
            for m in re.finditer(r"(?i)[?&](?:access_token|key|token)=([^&]+)", hook.url):
                found.append(m.group(1))
    return sorted({s for s in found if len(s) >= 4}, key=len, reverse=True)


def redact(text: str, secrets: list[str] | tuple[str, ...] = ()) -> str:
    for secret in secrets:
        text = text.replace(secret, MASK)
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


class RedactFilter(logging.Filter):
    """Rewrites each record's message (and traceback text) with the secrets masked."""

    def __init__(self, secrets: list[str] | None = None):
        super().__init__()
        self.secrets = list(secrets or [])
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage(), self.secrets)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line (hand-written: ten lines do not justify another dependency)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(settings: Settings, verbose: int = 0, quiet: bool = False) -> RedactFilter:
    """Replace the root handlers with one (stderr or `daemon.log_file`) in the configured format.

    `quiet` (run-once under cron, which mails any output): warnings only unless -v is given.
    """
    if settings.daemon.log_file:
        path = settings.resolve(settings.daemon.log_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if settings.daemon.log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    redactor = RedactFilter(settings_secrets(settings))
    handler.addFilter(redactor)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    base = logging.WARNING if quiet else logging.INFO
    root.setLevel(logging.DEBUG if verbose >= 2 else (logging.INFO if verbose else base))
    # Third-party chatter stays at warnings unless asked for.
    for noisy in ("alembic", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose >= 2 else logging.WARNING)
    # The daemon logs skipped and missed runs itself, once and in its own words (and counts them).
    for name in ("apscheduler.executors", "apscheduler.scheduler"):
        logging.getLogger(name).setLevel(logging.DEBUG if verbose >= 2 else logging.ERROR)
    return redactor
