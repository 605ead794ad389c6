"""Fixtures for the daemon tests: the real `yuqing daemon` as a process, a site whose pages a test
can add while the daemon runs, and bounded waiting on conditions (never a fixed sleep)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import create_engine, text

from tests.support.mail import free_port
from tests.support.site import LocalSite, Page, html_page
from tests.test_end_to_end import SITE, serve_folder

ROOT = Path(__file__).resolve().parents[2]
YUQING = str(ROOT / ".venv" / "bin" / "yuqing")
T = TypeVar("T")


def wait_for(what: str, check: Callable[[], T], timeout: float = 30.0, every: float = 0.2) -> T:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


class ProbeSite:
    """The bundled sample site plus a small news section whose articles a test adds as it goes."""

    def __init__(self, site: LocalSite):
        self.site = site
        self.articles: list[tuple[int, str, str]] = []
        serve_folder(site, SITE)
        self._publish()

    def _publish(self) -> None:
        links = "".join(
            f'<li><a href="/probe/content/{n}.html">{title}</a></li>' for n, title, _ in self.articles
        )
        self.site.add(
            "/probe/list.html", html_page(f"<html><body><h1>县里动态</h1><ul>{links}</ul></body></html>")
        )

    def add_article(self, n: int, title: str, body: str) -> str:
        paragraphs = "".join(f"<p>{body}</p>" for _ in range(4))
        page = (
            f"<html><head><title>{title}</title></head><body><h1>{title}</h1>"
            f'<div class="time">2026-11-20 09:00</div><div class="content">{paragraphs}</div></body></html>'
        )
        url = self.site.add(f"/probe/content/{n}.html", html_page(page))
        self.articles.append((n, title, body))
        self._publish()
        return url


PROBE_RULES = """topic: daemon_probe
name: 守护进程测试
rules:
  - id: probe.words
    any: [{words}]
"""


STUCK_SOURCE = """
  - id: stuck
    kind: news
    start_urls: [{url}]
    every: 3s
"""


def settings_text(
    tmp: Path,
    site: LocalSite,
    smtp_port: int,
    listen_port: int,
    *,
    urgent: str,
    digest: str,
    stuck: bool = False,
) -> str:
    # With a stuck source, the crawl time limit (45 s: a normal crawl takes a few seconds, more on a
    # busy machine) is shorter than Scrapy's own download timeout, so it is the limit that ends that
    # crawl; a third crawl slot keeps the other sources going.
    crawl = "job_time_limit: 45s, timeout: 300s, parallel_sources: 3" if stuck else "job_time_limit: 60s"
    extra = STUCK_SOURCE.format(url=site.url("/stuck/list.html")) if stuck else ""
    return f"""
database: sqlite:///{tmp / "yuqing.db"}
timezone: Asia/Shanghai
allow_networks: [127.0.0.0/8]
smtp: {{host: 127.0.0.1, port: {smtp_port}, sender: yuqing@example.org}}
crawl: {{contact: https://example.org/yuqing-test, delay: 0.05s, {crawl}}}
rules: {{paths: [probe.yaml]}}
daemon: {{listen: "127.0.0.1:{listen_port}", jitter: 1s, stop_timeout: 10s, misfire_grace: 30s}}
units:
  - id: zzb
    name: 县委组织部
    emails: [zzb@example.org]
    topics: [cadre_appointment, public_recruitment, daemon_probe]
    digest: "{digest}"
    urgent_severity: "{urgent}"
sources:
  - id: county-news
    kind: news
    start_urls: [{site.url("/news/list.html")}]
    follow: '/news/content/\\d+\\.html'
    every: 3s
  - id: probe-news
    kind: news
    start_urls: [{site.url("/probe/list.html")}]
    follow: '/probe/content/\\d+\\.html'
    every: 3s
{extra}"""


class DaemonProcess:
    """`yuqing --config FILE daemon` in its own session, its log in a file."""

    def __init__(self, settings: Path, listen_port: int):
        self.settings = settings
        self.port = listen_port
        self.log_path = settings.parent / f"daemon-{time.monotonic_ns()}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> DaemonProcess:
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [YUQING, "--config", str(self.settings), "daemon"],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.settings.parent,
            start_new_session=True,
        )
        log.close()
        wait_for(
            "the daemon to answer /healthz", lambda: self.healthz() is not None or self.exited(), timeout=40
        )
        assert not self.exited(), f"the daemon exited at once:\n{self.log()}"
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def exited(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def get(self, path: str) -> tuple[int, str] | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except OSError:
            return None

    def healthz(self) -> dict[str, Any] | None:
        got = self.get("/healthz")
        return json.loads(got[1]) if got else None

    def metric(self, name: str, **labels: str) -> float | None:
        """One sample of /metrics, e.g. metric('yuqing_config_reloads_total', result='invalid')."""
        got = self.get("/metrics")
        if not got:
            return None
        want = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
        for line in got[1].splitlines():
            if line.startswith(want + " "):
                return float(line.split()[-1])
        return None

    def signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def wait_exit(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def kill_session(self) -> None:
        """Whatever is left of the daemon's session (an orphaned crawl process after SIGKILL)."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.proc is not None:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass


def run_yuqing(settings: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [YUQING, "--config", str(settings), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=settings.parent,
    )


class Db:
    """Read-only SQL on the test's SQLite file (a separate connection, as an operator would)."""

    def __init__(self, path: Path):
        self.engine = create_engine(f"sqlite:///{path}")

    def rows(self, sql: str, **params: Any) -> list[Any]:
        if not Path(str(self.engine.url.database)).exists():
            return []
        try:
            with self.engine.connect() as conn:
                return list(conn.execute(text(sql), params))
        except Exception as exc:  # the schema is being created by the daemon right now
            if "no such table" in str(exc):
                return []
            raise

    def scalar(self, sql: str, **params: Any) -> Any:
        rows = self.rows(sql, **params)
        return rows[0][0] if rows else None


class World:
    """A settings file, the probe site, the database, and the daemons a test starts."""

    def __init__(self, tmp: Path, site: LocalSite, smtp: Any):
        self.tmp, self.site, self.smtp = tmp, site, smtp
        self.probe = ProbeSite(site)
        self.settings = tmp / "settings.yaml"
        self.port = free_port()
        self.db = Db(tmp / "yuqing.db")
        self.daemons: list[DaemonProcess] = []

    def configure(
        self, *, urgent: str = "off", digest: str = "* * * * *", words: str = "蓝鲸计划", stuck: bool = False
    ) -> World:
        """Write settings and rules; `stuck` adds a source whose list page never answers in time."""
        self.write_rules(words)
        if stuck:
            self.site.add(
                "/stuck/list.html", Page(b"<html></html>", headers={"Content-Type": "text/html"}, delay=300)
            )
        self.settings.write_text(
            settings_text(
                self.tmp, self.site, self.smtp.port, self.port, urgent=urgent, digest=digest, stuck=stuck
            ),
            encoding="utf-8",
        )
        return self

    def write_rules(self, words: str) -> None:
        (self.tmp / "probe.yaml").write_text(PROBE_RULES.format(words=words), encoding="utf-8")

    def daemon(self) -> DaemonProcess:
        d = DaemonProcess(self.settings, self.port)
        self.daemons.append(d)
        return d.start()

    def close(self) -> None:
        for d in self.daemons:
            if d.proc is not None and d.proc.poll() is None:
                d.signal(signal.SIGTERM)
                try:
                    d.wait_exit(20)
                except subprocess.TimeoutExpired:
                    pass
            d.kill_session()


@pytest.fixture
def world(tmp_path: Path, smtp: Any) -> Iterator[World]:
    site = LocalSite().start()
    w = World(tmp_path, site, smtp)
    yield w
    w.close()
    site.stop()
