"""alerts/ delivers from stored rows: it never imports Scrapy or Twisted (checked in a fresh process)."""

from __future__ import annotations

import subprocess
import sys


def test_alerts_does_not_import_scrapy_or_twisted():
    code = (
        "import sys, alerts.outbox, alerts.channel, alerts.mail, alerts.robots, alerts.webhooks, yuqing.cli.alerts\n"
        "alerts.channel.registry()\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('scrapy', 'twisted', 'apscheduler'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True).stdout.strip()
    assert out == ""


def test_the_channel_registry_names_every_webhook_kind_settings_allow():
    from typing import get_args

    from alerts.channel import registry
    from yuqing.config import WebhookKind

    assert set(get_args(WebhookKind)) | {"email"} == set(registry())
