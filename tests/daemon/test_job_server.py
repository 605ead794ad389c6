"""The crawl job server (`crawler.job --serve`, kept by the daemon): a crawl handed to it runs in a
process forked from it, gives the same summary, dies with the process that asked for it, and a crawl
with no server to hand to runs in its own process as before."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.job import SERVER_ENV
from crawler.run import crawl
from scheduler import JobServer
from tests.daemon.conftest import wait_for
from tests.support.site import LocalSite, Page, html_page
from yuqing.config import load_settings

ROOT = Path(__file__).resolve().parents[2]


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def _children_cpu(pid: int) -> float:
    """CPU seconds of the finished (reaped) children of `pid`."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


@pytest.fixture
def site() -> Iterator[LocalSite]:
    s = LocalSite().start()
    body = "".join(
        "<p>县委组织部发布干部任前公示，拟提拔人选名单如下，公示期五个工作日。</p>" for _ in range(4)
    )
    s.add(
        "/news/content/1.html",
        html_page(
            f"<html><head><title>干部任前公示</title></head><body><h1>干部任前公示</h1>"
            f"<div class='content'>{body}</div></body></html>"
        ),
    )
    s.add("/news/list.html", html_page('<html><body><a href="/news/content/1.html">公示</a></body></html>'))
    s.add("/stuck/list.html", Page(b"<html></html>", headers={"Content-Type": "text/html"}, delay=120))
    yield s
    s.stop()


@pytest.fixture
def settings_path(tmp_path: Path, site: LocalSite) -> Path:
    path = tmp_path / "settings.yaml"
    path.write_text(
        f"""
database: sqlite:///{tmp_path / "yuqing.db"}
allow_networks: [127.0.0.0/8]
crawl: {{contact: https://example.org/yuqing-test, delay: 0.01s, extract_workers: 0, timeout: 300s}}
sources:
  - id: news
    kind: news
    start_urls: [{site.url("/news/list.html")}]
    follow: '/news/content/\\d+\\.html'
  - id: stuck
    kind: news
    start_urls: [{site.url("/stuck/list.html")}]
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[JobServer]:
    monkeypatch.delenv(SERVER_ENV, raising=False)  # restored after the test: start() sets it
    js = JobServer().start()
    wait_for("the job server listening", lambda: Path(js.path).exists(), 120)
    yield js
    js.stop()


def test_a_crawl_runs_in_a_process_forked_by_the_server(settings_path: Path, server: JobServer) -> None:
    assert server.proc is not None
    pid = server.proc.pid
    before = _children_cpu(pid)
    (summary,) = crawl(load_settings(str(settings_path)), ["news"])
    assert summary.status == "ok", summary
    assert summary.new_posts == 1
    # The crawl's work was done by a child of the server (reaped there), not by the client process.
    wait_for("the forked crawl reaped by the server", lambda: _children_cpu(pid) > before, 10)
    # Crawling again finds nothing new: the forked crawl read and wrote the same database.
    (again,) = crawl(load_settings(str(settings_path)), ["news"])
    assert again.status == "ok" and again.new_posts == 0


def test_a_forked_crawl_gets_its_clients_sigterm_and_dies_with_it(
    settings_path: Path, server: JobServer, site: LocalSite, tmp_path: Path
) -> None:
    assert server.proc is not None
    pid = server.proc.pid
    cmd = [sys.executable, "-m", "crawler.job", "--config", str(settings_path), "--source", "stuck"]
    log = tmp_path / "crawl.log"
    with log.open("wb") as err:
        client = subprocess.Popen(
            cmd, cwd=ROOT, env={**os.environ, SERVER_ENV: server.path}, stdout=subprocess.PIPE, stderr=err
        )
        (worker,) = wait_for("the forked crawl", lambda: _children(pid), 60)
        wait_for("the stuck page asked for", lambda: site.fetched("/stuck/list.html"), 60)
        # SIGTERM to the client (the daemon stopping) reaches the crawl: Scrapy starts its clean stop
        # and says so on the client's stderr.
        client.send_signal(signal.SIGTERM)
        wait_for("the crawl told of SIGTERM", lambda: b"SIGTERM" in log.read_bytes(), 30)
        # SIGKILL of the client (the time limit in crawler.run, the daemon's stop): the crawl goes too.
        client.kill()
        client.communicate(timeout=10)
    wait_for("the forked crawl gone", lambda: worker not in _children(pid), 15)


def test_without_a_server_the_crawl_runs_in_its_own_process(
    settings_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SERVER_ENV, str(tmp_path / "no-such.sock"))
    (summary,) = crawl(load_settings(str(settings_path)), ["news"])
    assert summary.status == "ok" and summary.new_posts == 1
