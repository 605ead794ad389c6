"""Follow-up of a replied case against a local site whose pages change between crawls.

The crawl stores the article for real (crawler.run.crawl, its own process); after the official
reply, the daily check re-reads the case's posts through crawler.run.recheck: an edit, then the
page's deletion, show on the case.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.ledger.test_events import STORY
from tests.support.site import LocalSite, Page, html_page
from yuqing.config import load_settings
from yuqing.events import cluster_posts
from yuqing.ledger import daily_check, open_case, reply, show_case
from yuqing.storage import MatchRow, PostRow, open_database

ARTICLE = """<html><head><title>{title}</title></head><body>
<div class="nav"><a href="/news/">新闻</a></div>
<article><h1>{title}</h1><p class="time">2026-03-02 09:30</p>
{paras}
</article><div class="footer">版权所有 县新闻网</div></body></html>"""
TITLE = "县人社局招聘拟聘名单引质疑"


def page(extra: str = "") -> str:
    paras = "".join(f"<p>{s}。</p>" for s in STORY.split("。") if s) + (f"<p>{extra}</p>" if extra else "")
    return ARTICLE.format(title=TITLE, paras=paras)


@pytest.mark.slow
def test_follow_up_reports_edits_and_deletion_on_the_case(db_url, tmp_path) -> None:
    from crawler.run import crawl

    site = LocalSite().start()
    try:
        site.add("/news/", html_page('<html><body><a href="/news/1.html">县人社局招聘拟聘名单引质疑</a></body></html>'))
        site.add("/news/1.html", html_page(page()))
        path = tmp_path / "settings.yaml"
        path.write_text(f"""
database: '{db_url}'
allow_networks: [127.0.0.0/8]
crawl: {{contact: https://example.org/yuqing-test, delay: 0.05s, max_crawl_delay: 3s}}
units:
  - {{id: zzb, name: 组织部, topics: [public_recruitment], leader: 张部长, handler: 李科长}}
sources:
  - {{id: county-news, kind: news, start_urls: ["{site.url('/news/')}"], follow: '/news/\\d+\\.html'}}
ledger: {{follow_up_every: 1d, follow_up_for: 10d}}
""", encoding="utf-8")
        settings = load_settings(str(path))
        db = open_database(settings.database_url())
        [summary] = crawl(settings, ["county-news"], db=db)
        assert summary.status == "ok", summary.error
        with db.session() as s:
            post = s.scalars(select(PostRow).where(PostRow.url == site.url("/news/1.html"))).one()
            post_id = post.id
            if not s.scalars(select(MatchRow).where(MatchRow.post_id == post_id)).first():
                # The follow-up is what is tested here, not the rules: make the post a match if the
                # shipped rules did not.
                s.add(MatchRow(post_id=post_id, unit_id="zzb", topic="public_recruitment", rule_id="t", severity="high",
                               score=1, negative=True, negativity=1, hits=[], created_at=post.fetched_at))
        now = datetime.now(UTC)
        cluster_posts(db, settings, now=now)
        with db.session() as s:
            event_id = s.get(PostRow, post_id).event_id
        case_id = open_case(db, settings, unit_id="zzb", event_id=event_id, by="王干事", now=now)
        reply(db, settings, case_id, text="人社局已发布情况说明", where="县政府网站", by="李科长", now=now)

        # Before the follow-up is due nothing is fetched.
        fetched = len(site.fetched("/news/1.html"))
        assert daily_check(db, settings, now + timedelta(hours=12)).followed_up == ()
        assert len(site.fetched("/news/1.html")) == fetched

        # The site edits the article: the next follow-up sees it.
        site.add("/news/1.html", html_page(page("更新：县人社局已启动复核，结果将于近日公布。")))
        first = daily_check(db, settings, now + timedelta(days=1, minutes=1))
        assert first.followed_up == (case_id,)
        c = show_case(db, settings, case_id, now + timedelta(days=1, minutes=1))
        assert (c.follow_up["checked"], c.follow_up["edited"], c.follow_up["gone"]) == (1, 1, 0)
        assert c.follow_up["results"] == {str(post_id): "edited"}
        assert "stable" in c.follow_up["trend"] or "cooling" in c.follow_up["trend"]
        assert c.log[-1].action == "follow-up" and "1 edited, 0 deleted" in c.log[-1].text
        with db.session() as s:
            assert "已启动复核" in s.get(PostRow, post_id).text

        # Then the page is taken down.
        site.add("/news/1.html", Page(b"gone", 404, {"Content-Type": "text/plain"}))
        second = daily_check(db, settings, now + timedelta(days=2, minutes=2))
        assert second.followed_up == (case_id,)
        c = show_case(db, settings, case_id, now + timedelta(days=2, minutes=2))
        assert c.follow_up["gone"] == 1 and "1 deleted" in c.log[-1].text
        with db.session() as s:
            assert s.get(PostRow, post_id).gone_at is not None
        # A gone post is not fetched again: the next follow-up has nothing to re-check.
        third = daily_check(db, settings, now + timedelta(days=3, minutes=3))
        assert third.followed_up == (case_id,)
        assert show_case(db, settings, case_id, now + timedelta(days=3, minutes=3)).follow_up["checked"] == 0
        db.dispose()
    finally:
        site.stop()
