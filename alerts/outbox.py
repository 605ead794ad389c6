"""The outbox: what must be told is recorded first, sent from the record, and marked after.

This is the interface the rest of yuqing calls (the crawl job, the daemon, the ledger, the CLI):
planning (`plan_digests`, `plan_urgent`, `enqueue_message`, `preview_digests`) lives in
`alerts.planning`, sending (`send_pending`, `retry`) in `alerts.sending`. A delivery goes
pending -> sending -> sent, or back to pending with a backoff, or failed after `max_attempts`, or
parked when refused for good; a crash between sending and marking re-sends the same bytes under
the same Message-ID and never drops a match.
"""

from __future__ import annotations

from .channel import InlineImage
from .planning import Draft, enqueue_message, notify_operator, plan_digests, plan_urgent, preview_digests
from .sending import SendReport, retry, send_pending

__all__ = ["Draft", "InlineImage", "SendReport", "enqueue_message", "notify_operator", "plan_digests", "plan_urgent", "preview_digests", "retry", "send_pending"]
