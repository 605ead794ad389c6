"""The follow-up re-read (`crawler.run.recheck`): an edited article is updated, a deleted page is
marked gone, a forum thread's new replies are stored as new posts; on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.run import crawl, recheck
from tests.crawler.crawl_world import by_path, posts, write_settings
from tests.crawler.fixture_site import PAGES, mount
from tests.support.site import LocalSite, Page, html_page
from yuqing.storage import open_database

pytestmark = pytest.mark.slow


def test_recheck_reports_edited_gone_unchanged_and_new_replies(site: LocalSite, db_url: str, tmp_path: Path):
    mount(site)
    settings = write_settings(
        tmp_path,
        db_url,
        f"  - {{id: news, kind: news, start_urls: ['{site.url('/list.html')}'], follow: '/content/\\d+'}}\n"
        f"  - {{id: bbs, kind: forum, start_urls: ['{site.url('/forum.php?mod=forumdisplay&fid=7')}']}}\n",
    )
    db = open_database(settings.database_url())
    crawl(settings, db=db)
    stored = by_path(posts(db))
    edited = stored["/content/1002.html"]
    deleted = stored["/content/1004.html"]
    same = stored["/content/1001.html"]
    reply = stored["/forum.php?mod=viewthread&page=2&tid=101#post_5005"]
    gone_thread = stored["/forum.php?mod=viewthread&tid=102#post_5101"]

    # The site changes: one article edited, one deleted, a new reply on the thread's last page, a thread removed.
    text = (PAGES / "article_1002.gbk.html").read_bytes().decode("gbk").replace("共5个工作日", "共7个工作日")
    site.add("/content/1002.html", html_page(text, "gbk", declare=""))
    site.add("/content/1004.html", Page(b"gone", 410, {"Content-Type": "text/plain"}))
    page2 = (PAGES / "thread_101_2.html").read_text(encoding="utf-8")
    new_reply = page2.replace(
        "</div></body>",
        '<div id="post_5006"><table id="pid5006"><tr><td class="pls"><div class="authi"><a class="xw1" href="#">后来者</a></div></td>'
        '<td class="plc"><div class="authi"><em id="authorposton5006">发表于 2024-5-6 08:00:00</em></div>'
        '<td class="t_f" id="postmessage_5006">合同已经解除，集体资产重新公开招租。</td></td></tr></table></div></div></body>',
    )
    routes = dict(site.routes)
    forum = routes["/forum.php"]

    def changed_forum(request):  # type: ignore[no-untyped-def]
        if "tid=101" in request.path and "page=2" in request.path:
            return html_page(new_reply)
        if "tid=102" in request.path:
            return Page(b"deleted", 404, {"Content-Type": "text/plain"})
        return forum(request)

    site.add("/forum.php", changed_forum)

    verdicts = recheck(settings, [edited.id, deleted.id, same.id, reply.id, gone_thread.id, 999_999], db=db)
    assert verdicts == {
        edited.id: "edited",
        deleted.id: "gone",
        same.id: "unchanged",
        reply.id: "new_replies:1",
        gone_thread.id: "gone",
        999_999: "error",  # no such post
    }
    after = by_path(posts(db))
    assert "共7个工作日" in after["/content/1002.html"].text and after["/content/1002.html"].updated_at is not None
    assert after["/content/1004.html"].gone_at is not None and after["/content/1001.html"].gone_at is None
    added = after["/forum.php?mod=viewthread&page=2&tid=101#post_5006"]
    assert added.author == "后来者" and added.thread_title == "村里的集体资产被低价处置了，有人管吗？"
    assert added.text == "合同已经解除，集体资产重新公开招租。"
    db.dispose()
