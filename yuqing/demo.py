"""`yuqing demo`: the whole path on one machine, with nothing but the repository.

Serves the bundled sample site (`yuqing/demo_site`: news pages, one in GBK bytes, a GB2312 feed and a
Discuz!-style forum, all written for this project) on loopback, starts a local SMTP server that keeps
every message it receives as an .eml file, writes a settings file for both, then runs the real job:
crawl (each source in its own crawl process), match, plan the per-unit digests and deliver them
through the outbox. It ends by saying where to look.
"""

from __future__ import annotations

import email
import email.policy
import functools
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .config import load_settings

SITE = Path(__file__).parent / "demo_site"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def serve_site(root: Path = SITE) -> Iterator[str]:
    """Serve a folder on 127.0.0.1 at a free port; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _MailKeeper:
    """aiosmtpd handler: every accepted message is written to `folder` as an .eml file."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        with self.lock:
            self.count += 1
            n = self.count
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        to = (envelope.rcpt_tos or ["unknown"])[0].split("@")[0]
        (self.folder / f"{n:03d}-{to}.eml").write_bytes(raw)
        del msg
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(folder: Path) -> Iterator[int]:
    """A real SMTP server on 127.0.0.1 that keeps what it receives; yields its port."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(_MailKeeper(folder), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def demo_settings(base_url: str, smtp_port: int, out: Path) -> str:
    """The settings file the demo runs with: SQLite in `out`, the sample site, the local mail server."""
    return f"""# Written by `yuqing demo`: the sample site on loopback and a local mail server.
database: sqlite:///{(out / 'yuqing.db').resolve()}
timezone: Asia/Shanghai
allow_networks: [127.0.0.0/8]
smtp: {{host: 127.0.0.1, port: {smtp_port}, sender: yuqing-demo@example.org}}
crawl:
  contact: https://example.org/yuqing-demo
  delay: 0.1s
alerts:
  keep_eml: {(out / 'sent').resolve()}
units:
  - id: zzb
    name: 县委组织部
    emails: [zzb-officer@example.org]
    topics: [cadre_appointment, public_recruitment, talent_introduction, party_member_development]
  - id: nyb
    name: 县农业农村局
    emails: [nyb-officer@example.org]
    topics: [collective_assets, village_affairs, party_member_development]
sources:
  - id: qinghe-news
    name: 清河新闻网
    kind: news
    start_urls: [{base_url}/news/list.html]
    follow: '/news/content/\\d+\\.html'
    every: 30m
  - id: qinghe-gov-feed
    name: 清河县政务公开
    kind: rss
    start_urls: [{base_url}/feed/rss.xml]
    every: 15m
  - id: qinghe-bbs
    name: 清河论坛
    kind: forum
    start_urls: [{base_url}/bbs/forum-1.html]
    every: 10m
    units: [nyb]
"""


def run_demo(out_dir: str = "demo-out") -> int:
    """Run the demo end to end; returns the exit code."""
    from . import jobs

    out = Path(out_dir).resolve()
    for stale in ("yuqing.db", "yuqing.db-wal", "yuqing.db-shm", "mail", "sent"):
        target = out / stale
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    mail_dir = out / "mail"
    mail_dir.mkdir(parents=True, exist_ok=True)
    with serve_site() as base_url, smtp_server(mail_dir) as smtp_port:
        settings_file = out / "settings.yaml"
        settings_file.write_text(demo_settings(base_url, smtp_port, out), encoding="utf-8")
        settings = load_settings(str(settings_file))
        from .storage import open_database

        db = open_database(settings.database_url())
        print(f"sample site: {base_url}/news/list.html  (a news list, a GB2312 feed and a forum board)")
        print("crawling (each source in its own crawl process) ...", flush=True)
        result = jobs.crawl_job(settings, db)
        for s in result.summaries:
            line = f"  {s.source_id:<16} {s.status:<7} pages {s.pages:>3}  new posts {s.new_posts:>3}  new matches {s.new_matches:>3}"
            if s.error:
                line += f"  error: {s.error}"
            print(line)
        print("planning and sending the per-unit digests ...", flush=True)
        from alerts import outbox

        now = datetime.now(UTC)
        planned = outbox.plan_digests(db, settings, now)
        report = outbox.send_pending(db, settings, now)
        print(f"  digests planned {len(planned)}, sent {report.sent}, failed {report.failed}")
        for err in report.errors:
            print(f"  error: {err}")
        received = sorted(mail_dir.glob("*.eml"))
        print()
        print(f"The local mail server received {len(received)} message(s), kept as .eml files in {mail_dir}:")
        for path in received:
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            print(f"  {path.name}: To {msg['To']} | {msg['Subject']}")
        print()
        print("Where to look:")
        print(f"  digests as received:   {mail_dir}/*.eml (open them in a mail client)")
        print(f"  database (SQLite):     {out / 'yuqing.db'}")
        print(f"  settings used:         {settings_file}")
        print(f"  posts:                 .venv/bin/yuqing --config {settings_file} export posts")
        print(f"  outbox:                .venv/bin/yuqing --config {settings_file} deliveries")
        db.dispose()
        if not received:
            print("yuqing demo: no digest was delivered; see the errors above", flush=True)
            return 1
    return 0
