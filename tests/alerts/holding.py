"""An SMTP server that can hold its 250: for tests that kill a sender after the server has the message.

Used by the alerts kill tests and by the ledger's report test (a resent report keeps its Message-ID).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.mail import free_port


class HoldingSmtp:
    """aiosmtpd whose DATA handler keeps each message, then (when `hold` is set) waits before it
    answers 250, so that a test can kill the client between "server has it" and "client knows"."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.hold = False
        self.got = threading.Event()
        self.release = threading.Event()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        self.messages.append(msg)  # type: ignore[arg-type]
        self.got.set()
        if self.hold:
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 30)
        return "250 Message accepted"
