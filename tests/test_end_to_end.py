"""From a public page to an officer's inbox: the whole path, every stage real.

The project's own sample site is served by a real HTTP server on loopback, crawled by the real
crawl processes into SQLite (and PostgreSQL where it runs), matched by the shipped rules, and the
digests are delivered through the outbox to a real SMTP server, whose received messages are parsed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import corpus_dir
from tests.support.mail import SmtpServer
from tests.support.site import LocalSite, Page

SITE = Path(__file__).resolve().parent.parent / "yuqing" / "demo_site"


def serve_folder(site: LocalSite, root: Path) -> None:
    types = {".html": "text/html", ".xml": "application/rss+xml", ".txt": "text/plain"}
    for path in root.rglob("*"):
        if path.is_file() and path.suffix in types:
            # No charset in the header: the bytes and the page's own declaration must decide.
            site.add("/" + path.relative_to(root).as_posix(), Page(path.read_bytes(), headers={"Content-Type": types[path.suffix]}))


def yuqing(settings: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "yuqing", "--config", str(settings), *args], capture_output=True, text=True, timeout=300
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"yuqing {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def settings_text(db_url: str, site: LocalSite, smtp_port: int) -> str:
    return f"""
database: {db_url}
timezone: Asia/Shanghai
allow_networks: [127.0.0.0/8]
smtp: {{host: 127.0.0.1, port: {smtp_port}, sender: yuqing@example.org}}
crawl: {{contact: https://example.org/yuqing-test, delay: 0.05s}}
units:
  - id: zzb
    name: 县委组织部
    emails: [zzb@example.org, zzb-deputy@example.org]
    urgent_severity: "off"     # this path is the digest's; urgent alerts have their own tests
    topics: [cadre_appointment, public_recruitment, talent_introduction, party_member_development]
  - id: nyb
    name: 县农业农村局
    emails: [nyb@example.org]
    urgent_severity: "off"
    topics: [collective_assets, village_affairs]
sources:
  - id: county-news
    kind: news
    start_urls: [{site.url('/news/list.html')}]
    follow: '/news/content/\\d+\\.html'
    every: 30m
  - id: county-feed
    kind: rss
    start_urls: [{site.url('/feed/rss.xml')}]
    every: 15m
"""


@pytest.fixture
def world(db_url, site, smtp, tmp_path):
    serve_folder(site, SITE)
    path = tmp_path / "settings.yaml"
    path.write_text(settings_text(db_url, site, smtp.port), encoding="utf-8")
    return path, site, smtp


def test_a_crawl_then_a_digest_reaches_each_unit_once(world):
    settings, site, smtp = world

    crawl = json.loads(yuqing(settings, "crawl", "--json").stdout)
    by_source = {s["source_id"]: s for s in crawl["sources"]} if isinstance(crawl, dict) else {s["source_id"]: s for s in crawl}
    assert by_source["county-news"]["new_posts"] == 8
    assert by_source["county-feed"]["new_posts"] == 3
    assert all(s["errors"] == 0 for s in by_source.values())

    # The GBK page (declared gb2312) and the GB2312 feed come out as correct text.
    posts = [json.loads(line) for line in yuqing(settings, "export", "posts", "--format", "jsonl").stdout.splitlines()]
    by_url = {p["url"]: p for p in posts}
    gbk = by_url[site.url("/news/content/1003.html")]
    assert gbk["title"].startswith("村民反映：柳林村集体土地被低价转让")
    assert "村务公开栏" in gbk["text"]
    assert gbk["published_at"].startswith("2026-11-23T10:12") and gbk["published_at"].endswith("+08:00")
    assert "collective_assets" in gbk["topics"]
    hiring = by_url[site.url("/news/content/1006.html")]
    assert hiring["topics"] == []  # a company's campus hiring is not public-institution recruitment
    assert any("南庄村低保" in p["title"] for p in posts)

    yuqing(settings, "digest", "send")
    to_zzb = [m for m in smtp.messages if "zzb@example.org" in m.rcpt_tos]
    to_nyb = [m for m in smtp.messages if "nyb@example.org" in m.rcpt_tos]
    assert len(to_zzb) == 1 and len(to_nyb) == 1
    assert set(to_zzb[0].rcpt_tos) == {"zzb@example.org", "zzb-deputy@example.org"}
    msg = to_zzb[0].message
    assert "县委组织部" in msg["Subject"]
    html = msg.get_body(("html",)).get_content()
    plain = msg.get_body(("plain",)).get_content()
    assert "萝卜坑" in html and "带病提拔" in html
    assert "<mark" in html or "<strong" in html or "<b" in html  # matched words highlighted
    assert site.url("/news/content/1005.html") in plain
    assert "星辰科技" not in html
    assert "柳林村" in to_nyb[0].message.get_body(("html",)).get_content()

    # Nothing new: a second crawl stores nothing, and no empty digest is sent.
    again = json.loads(yuqing(settings, "crawl", "--json").stdout)
    again_sources = again["sources"] if isinstance(again, dict) else again
    assert sum(s["new_posts"] for s in again_sources) == 0
    yuqing(settings, "digest", "send")
    assert len(smtp.messages) == 2


def test_mail_server_down_loses_nothing_and_the_next_send_delivers(world, tmp_path):
    settings, site, smtp = world
    yuqing(settings, "crawl")
    smtp.stop()
    down = yuqing(settings, "digest", "send", check=False)
    assert down.returncode != 0
    assert len(down.stderr.strip().splitlines()) == 1, down.stderr
    assert "Traceback" not in down.stderr
    assert not smtp.messages

    # The mail server comes back on the same port: the held digests go out, once each.
    back = SmtpServer(port=smtp.port).start()
    try:
        yuqing(settings, "digest", "send")
        yuqing(settings, "digest", "send")
        recipients = sorted(r for m in back.messages for r in m.rcpt_tos)
        assert recipients == ["nyb@example.org", "zzb-deputy@example.org", "zzb@example.org"]
    finally:
        back.stop()


def test_real_gbk_news_pages_from_the_corpus_are_crawled_as_correct_text(site, smtp, tmp_path):
    corpus = corpus_dir("news_html")
    manifest = json.loads((corpus.parent / "manifest.json").read_text(encoding="utf-8"))
    gb_pages = []
    for e in manifest:
        if e.get("split") == "holdout" or e.get("folder") != "news_html":
            continue  # the evaluation split is never read by tests
        name = Path(e["file"]).name
        enc = str(e.get("byte_encoding", ""))
        if name.endswith(".html") and enc.lower() in ("gbk", "gb2312", "gb18030") and (corpus / name).exists():
            gold = corpus / name.replace(".html", ".gold.json")
            if gold.exists():
                gb_pages.append((name, json.loads(gold.read_text(encoding="utf-8"))))
    gb_pages = gb_pages[:6]
    assert gb_pages, "the corpus manifest lists GB-encoded pages with gold"
    links = []
    for i, (name, _) in enumerate(gb_pages):
        site.add(f"/content/{i}.html", Page((corpus / name).read_bytes(), headers={"Content-Type": "text/html"}))
        links.append(f'<a href="/content/{i}.html">{i}</a>')
    site.add("/list.html", "<html><body>" + " ".join(links) + "</body></html>")
    settings = tmp_path / "settings.yaml"
    settings.write_text(
        f"database: sqlite:///{tmp_path / 'y.db'}\nallow_networks: [127.0.0.0/8]\n"
        f"sources:\n  - {{id: gb, kind: news, start_urls: ['{site.url('/list.html')}'], follow: '/content/\\d+'}}\n",
        encoding="utf-8",
    )
    yuqing(settings, "crawl")
    posts = {p["url"]: p for p in map(json.loads, yuqing(settings, "export", "posts").stdout.splitlines())}
    for i, (name, gold) in enumerate(gb_pages):
        text = posts[site.url(f"/content/{i}.html")]["text"]
        assert "\ufffd" not in text[:200], name
        content = gold.get("content") or ""
        if content:
            # The first gold sentence appears in what we stored: decoding and extraction both right.
            first = next((line.strip() for line in content.splitlines() if len(line.strip()) >= 12), "")
            assert first[:12] in text, (name, first[:12], text[:120])


def test_the_demo_runs_end_to_end(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "yuqing", "demo", "--out", str(tmp_path / "demo")], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    emls = sorted((tmp_path / "demo" / "mail").glob("*.eml"))
    assert len(emls) >= 2
    assert "Where to look" in proc.stdout
