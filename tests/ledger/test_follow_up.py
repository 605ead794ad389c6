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
        assert c.follow_up["trend"] in ("stable", "cooling")  # the machine word, for --json
        assert c.follow_up["trend_text"].startswith({"stable": "平稳（", "cooling": "降温（"}[c.follow_up["trend"]])
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


def _thread(replies: list[tuple[str, str]]) -> str:
    """A Discuz!-style thread page (the layout the forum spider knows) with these (author, text) floors."""
    posts = []
    for i, (author, text) in enumerate(replies, start=1):
        pid = 7000 + i
        posts.append(
            f'<div id="post_{pid}"><table id="pid{pid}" class="plhin"><tr>'
            f'<td class="pls"><div class="pi"><div class="authi"><a href="#" class="xw1">{author}</a></div></div></td>'
            f'<td class="plc"><div class="pi"><strong><a href="#" id="postnum{pid}"><em>{i}#</em></a></strong>'
            f'<div class="authi"><em id="authorposton{pid}">发表于 2026-3-2 10:{i:02d}:00</em></div></div>'
            f'<div class="pct"><table><tr><td class="t_f" id="postmessage_{pid}">{text}</td></tr></table></div>'
            f"</td></tr></table></div>"
        )
    return ('<!DOCTYPE html><html><head><meta charset="utf-8"><title>村集体土地低价发包 - 某县论坛</title></head><body>'
            '<h1><span id="thread_subject">村集体土地低价发包给村干部亲属</span></h1><div id="postlist">'
            + "".join(posts) + "</div></body></html>")


@pytest.mark.slow
def test_follow_up_counts_new_forum_replies_on_the_case(db_url, tmp_path) -> None:
    from crawler.run import crawl

    opening = ("村民反映村集体两百亩耕地未经村民代表大会表决，以远低于市场价的价格发包给村支书的亲属，"
               "合同期长达三十年，要求公开合同并重新招标。")
    floors = [("老王头", opening), ("热心网友", "集体资产处置必须经过民主程序。")]
    site = LocalSite().start()
    try:
        board = ('<html><head><meta charset="utf-8"></head><body><table><tbody id="normalthread_9">'
                 '<tr><th><a href="/forum.php?mod=viewthread&amp;tid=9" class="s xst">村集体土地低价发包给村干部亲属</a>'
                 "</th></tr></tbody></table></body></html>")
        site.add("/forum.php", lambda req: html_page(board if "forumdisplay" in req.path else _thread(floors)))
        path = tmp_path / "settings.yaml"
        path.write_text(f"""
database: '{db_url}'
allow_networks: [127.0.0.0/8]
crawl: {{contact: https://example.org/yuqing-test, delay: 0.05s, max_crawl_delay: 3s}}
units:
  - {{id: nyb, name: 农业农村局, topics: [collective_assets], leader: 陈局长, handler: 刘股长}}
sources:
  - {{id: county-bbs, kind: forum, start_urls: ["{site.url('/forum.php?mod=forumdisplay&fid=7')}"]}}
""", encoding="utf-8")
        settings = load_settings(str(path))
        db = open_database(settings.database_url())
        [summary] = crawl(settings, ["county-bbs"], db=db)
        assert summary.status == "ok", summary.error
        with db.session() as s:
            rows = list(s.scalars(select(PostRow).order_by(PostRow.floor)))
            assert [r.floor for r in rows] == [1, 2]
            opener = rows[0]
            if not s.scalars(select(MatchRow).where(MatchRow.post_id == opener.id)).first():
                s.add(MatchRow(post_id=opener.id, unit_id="nyb", topic="collective_assets", rule_id="t", severity="high",
                               score=1, negative=True, negativity=1, hits=[], created_at=opener.fetched_at))
            opener_id = opener.id
        now = datetime.now(UTC)
        cluster_posts(db, settings, now=now)
        with db.session() as s:
            event_id = s.get(PostRow, opener_id).event_id
            assert {r.event_id for r in s.scalars(select(PostRow))} == {event_id}  # the reply joined its thread
        case_id = open_case(db, settings, unit_id="nyb", event_id=event_id, by="王干事", now=now)
        reply(db, settings, case_id, text="镇政府已暂停该合同", where="镇政府公众号", by="刘股长", now=now)
        c = show_case(db, settings, case_id, now)
        assert c.event is not None and c.event.replies == 1

        floors.extend([("村民甲", "暂停不够，要追责。"), ("村民乙", "合同什么时候公开？")])
        result = daily_check(db, settings, now + timedelta(days=1, minutes=1))
        assert result.followed_up == (case_id,)
        c = show_case(db, settings, case_id, now + timedelta(days=1, minutes=1))
        assert c.follow_up["results"] == {str(opener_id): "new_replies:2"}
        assert c.follow_up["new_replies"] == 2 and c.follow_up["posts"] == 4
        assert c.event is not None and c.event.replies == 3
        assert "2 new replies" in c.log[-1].text and "event now 4 posts on 1 sites" in c.log[-1].text
        db.dispose()
    finally:
        site.stop()
