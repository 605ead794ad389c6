"""A real SMTP server (aiosmtpd) on loopback that keeps what it receives, parsed."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes


class _Collector:
    def __init__(self, server: SmtpServer):
        self.server = server

    async def handle_RCPT(self, srv: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if address in self.server.refuse:
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, srv: Any, session: Any, envelope: Any) -> str:
        if self.server.temp_fail:
            return "451 4.3.0 try again later"
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        with self.server.lock:
            self.server.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), msg, raw))  # type: ignore[arg-type]
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpServer:
    """Start with `.start()`, read `.messages`; `refuse` recipients or set `temp_fail` to test failures."""

    def __init__(self, port: int | None = None, **controller_kw: Any):
        self.messages: list[Received] = []
        self.refuse: set[str] = set()
        self.temp_fail = False
        self.lock = threading.Lock()
        self.port = port or free_port()
        self.controller = Controller(_Collector(self), hostname="127.0.0.1", port=self.port, **controller_kw)

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        """Stop the server (a test may stop it early to play an outage; stopping twice is fine)."""
        if getattr(self.controller, "_thread", None) is not None:
            self.controller.stop()
