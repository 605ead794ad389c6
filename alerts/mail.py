"""The e-mail channel: SMTP with plain, STARTTLS or implicit TLS, AUTH, several recipients.

Builds the message from the outbox row exactly as recorded (same Message-ID and Date on a resend,
so mail clients fold a message that a crash made us send twice). Recipients that already have it are
skipped on a retry; a recipient refused for good (5xx) is reported, not retried; a temporary answer
(4xx), a refused connection or a timeout is retried by the outbox with backoff.
"""

from __future__ import annotations

import base64
import smtplib
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path
from typing import ClassVar

from yuqing.config import Settings, SmtpSettings

from .channel import NotConfigured, Outgoing, Progress, Result, Target


def build_message(smtp: SmtpSettings, m: Outgoing) -> EmailMessage:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = Address("yuqing 舆情监测", addr_spec=smtp.sender)
    msg["To"] = ", ".join(m.recipients)
    msg["Subject"] = m.subject  # already one line (render.one_line); the SMTP policy refuses CR/LF
    msg["Date"] = format_datetime(m.created_at)
    msg["Message-ID"] = m.message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Yuqing-Delivery"] = str(m.delivery_id)
    msg.set_content(m.text, subtype="plain", charset="utf-8")
    if m.html:
        msg.add_alternative(m.html, subtype="html", charset="utf-8")
        html_part = msg.get_body(("html",))
        assert html_part is not None
        # multipart/alternative[text, multipart/related[html, images...]]: what every client shows.
        for image in m.inline:
            maintype, _, subtype = image.mime.partition("/")
            html_part.add_related(image.data, maintype, subtype, cid=f"<{image.cid}>", disposition="inline",
                                  filename=image.cid.split("@", 1)[0] + "." + subtype)
    return msg


def _code(exc: BaseException) -> int:
    return int(getattr(exc, "smtp_code", 0) or 0)


class EmailChannel:
    """E-mail over SMTP to the unit's `emails` (or the operator's)."""

    format: ClassVar[str] = "email"
    max_bytes: ClassVar[int] = 0
    rate_key = None

    def __init__(self, smtp: SmtpSettings, keep_eml: Path | None = None):
        self.smtp = smtp
        self.keep_eml = keep_eml

    @classmethod
    def configure(cls, settings: Settings, target: Target) -> EmailChannel:
        if settings.smtp is None:
            raise NotConfigured("e-mail needs an 'smtp' section in settings")
        keep = settings.resolve(settings.alerts.keep_eml) if settings.alerts.keep_eml else None
        return cls(settings.smtp, keep)

    @property
    def where(self) -> str:
        return f"{self.smtp.host}:{self.smtp.port}"

    def _context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.smtp.ca_file)
        if not self.smtp.verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def _connect(self) -> smtplib.SMTP:
        timeout = self.smtp.timeout.total_seconds()
        conn: smtplib.SMTP
        if self.smtp.tls:
            conn = smtplib.SMTP_SSL(self.smtp.host, self.smtp.port, timeout=timeout, context=self._context())
        else:
            conn = smtplib.SMTP(self.smtp.host, self.smtp.port, timeout=timeout)
            if self.smtp.starttls:
                conn.starttls(context=self._context())
        if self.smtp.username:
            _login(conn, self.smtp.username, self.smtp.password or "")
        return conn

    def send(self, message: Outgoing, progress: Progress) -> Result:
        todo = [r for r in message.recipients if r not in message.done]
        if not todo:
            return Result("sent")
        msg = build_message(self.smtp, message)
        try:
            conn = self._connect()
        except smtplib.SMTPAuthenticationError as exc:
            return Result("permanent", f"mail server {self.where} refused the login: {exc.smtp_code} {exc.smtp_error!r}")
        except (OSError, smtplib.SMTPException) as exc:
            return Result("temporary", f"mail server {self.where} is unreachable ({exc.__class__.__name__}: {exc})")
        try:
            refused = conn.send_message(msg, from_addr=self.smtp.sender, to_addrs=todo)
        except smtplib.SMTPRecipientsRefused as exc:
            refused = exc.recipients
        except smtplib.SMTPResponseException as exc:
            kind = "permanent" if _code(exc) >= 500 else "temporary"
            return Result(kind, f"mail server {self.where} answered {exc.smtp_code} {_text(exc.smtp_error)}")
        except (OSError, smtplib.SMTPException) as exc:
            return Result("temporary", f"mail server {self.where} failed during sending ({exc.__class__.__name__}: {exc})")
        finally:
            try:
                conn.quit()
            except (OSError, smtplib.SMTPException):
                conn.close()
        for rcpt in todo:
            if rcpt not in refused:
                progress(rcpt)
        if self.keep_eml is not None and len(refused) < len(todo):
            self.keep_eml.mkdir(parents=True, exist_ok=True)
            (self.keep_eml / f"{message.delivery_id:06d}-{message.kind}.eml").write_bytes(msg.as_bytes())
        if not refused:
            return Result("sent")
        gone = tuple(r for r, (code, _) in refused.items() if code >= 500)
        later = {r: v for r, v in refused.items() if r not in gone}
        detail = "; ".join(f"{r}: {code} {_text(text)}" for r, (code, text) in refused.items())
        if later:
            return Result("temporary", f"mail server {self.where} deferred recipients: {detail}", refused=gone)
        if len(gone) == len(todo) and not message.done:
            return Result("permanent", f"mail server {self.where} refused every recipient: {detail}", refused=gone)
        return Result("sent", f"refused for good: {detail}", refused=gone)


def _login(conn: smtplib.SMTP, user: str, password: str) -> None:
    """AUTH PLAIN (RFC 4616) when offered, else smtplib's own choice.

    Sent by hand because smtplib encodes credentials as ASCII (PLAIN carries UTF-8, e.g. a password
    "密码2024"), and because after a refused PLAIN smtplib goes on to try LOGIN with the same wrong
    password, which some servers answer by waiting until the connection times out.
    """
    conn.ehlo_or_helo_if_needed()
    if not conn.has_extn("auth"):
        raise smtplib.SMTPNotSupportedError("SMTP AUTH extension not supported by server.")
    if "PLAIN" not in conn.esmtp_features["auth"].upper().split():
        conn.login(user, password)
        return
    token = base64.b64encode(b"\0" + user.encode("utf-8") + b"\0" + password.encode("utf-8")).decode("ascii")
    code, resp = conn.docmd("AUTH", "PLAIN " + token)
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, resp)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
