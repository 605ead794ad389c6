"""Clustering posts into events on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.ledger.factory import add_post
from yuqing.config import Settings
from yuqing.events import cluster_posts, fold, list_events, similarity, sketch, timeline
from yuqing.ledger_models import EventRow
from yuqing.storage import PostRow, open_database

STORY = (
    "某县人社局近日发布事业单位公开招聘工作人员拟聘用人员名单公示，网友反映其中一名考生笔试成绩排名靠后，"
    "面试成绩却异常偏高，最终进入拟聘用名单。该考生系当地某局领导亲属，面试考官中有两人与其存在同事关系。"
    "多名落选考生表示，面试过程未全程录像，评分表也未公开，希望上级部门介入调查，还招聘一个公平公正的环境。"
    "记者致电县人社局，工作人员称已经关注到网上反映的情况，正在核实，将依法依规处理并及时公布结果。"
)
OTHER = (
    "某市委组织部发布干部任前公示，拟提拔任用三名同志担任乡镇党委书记。公示期间，如对公示对象有不同意见，"
    "可通过来信来电来访等方式向市委组织部反映。反映问题要实事求是，以个人名义反映的提倡署真实姓名。"
    "公示时间为五个工作日，受理电话为市委组织部干部监督科，来信请寄市委组织部干部监督科收。"
)
T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
M = [("zzb", "public_recruitment", "high", True)]


@pytest.fixture
def db(db_url: str):
    d = open_database(db_url)
    yield d
    d.dispose()


def test_reposts_gather_into_one_event_and_others_do_not(db) -> None:
    settings = Settings()
    a = add_post(db, source="county-news", title="县人社局招聘拟聘名单引质疑", text=STORY, at=T0, matches=M)
    # A repost on another site: its own header and footer, a source line, Traditional script.
    import opencc

    trad = opencc.OpenCC("s2t").convert(STORY)
    b = add_post(db, source="city-forum", title="轉載：招聘名單引質疑", at=T0 + timedelta(hours=3), matches=M,
                 text="首页 > 社会新闻\n来源：县融媒体中心\n" + trad + "\n（责任编辑：王五）\n版权所有 城市论坛")
    c = add_post(db, source="county-news", title="干部任前公示", text=OTHER, at=T0 + timedelta(hours=1),
                 matches=[("zzb", "cadre_appointment", "low", False)])
    unmatched = add_post(db, source="county-news", title="天气", text="明天多云转晴。" * 20, at=T0)

    assert cluster_posts(db, settings) == 3
    assert cluster_posts(db, settings) == 0  # nothing left to cluster
    with db.session() as s:
        ev = {p.id: p.event_id for p in s.scalars(select(PostRow))}
        assert ev[a] == ev[b] and ev[a] != ev[c]
        assert ev[unmatched] is None
        story = s.get(EventRow, ev[a])
        assert (story.posts, story.sites, story.severity, story.negative_share) == (2, 2, "high", 1.0)
        assert story.title == "县人社局招聘拟聘名单引质疑"
        assert story.first_seen == T0 and story.last_seen == T0 + timedelta(hours=3)
    events = list_events(db)
    assert [e.id for e in events][0] == ev[a]  # hottest first: two sites, all negative
    assert [t[1] for t in timeline(db, ev[a])] == ["county-news", "city-forum"]


def test_later_crawl_joins_the_existing_event_and_forum_replies_join_their_thread(db) -> None:
    settings = Settings()
    a = add_post(db, source="county-news", title="招聘质疑", text=STORY, at=T0, matches=M)
    cluster_posts(db, settings, [a])
    cut = STORY[: len(STORY) // 2]  # a repost that keeps only the first half
    b = add_post(db, source="tieba", title="有人知道这事吗", text=cut, at=T0 + timedelta(days=1), matches=M,
                 kind="reply", thread_url="https://tieba.example.org/t/1", floor=1)
    reply = add_post(db, source="tieba", title="有人知道这事吗", text="顶，同问", at=T0 + timedelta(days=1, hours=1),
                     kind="reply", thread_url="https://tieba.example.org/t/1", floor=2)
    assert cluster_posts(db, settings, [b]) == 1
    assert cluster_posts(db, settings) == 1  # the unmatched reply joins its thread's event
    with db.session() as s:
        assert s.get(PostRow, b).event_id == s.get(PostRow, a).event_id == s.get(PostRow, reply).event_id
        ev = s.get(EventRow, s.get(PostRow, a).event_id)
        assert (ev.posts, ev.sites, ev.replies) == (3, 2, 1)


def test_posts_outside_the_event_window_start_a_new_event(db) -> None:
    settings = Settings.model_validate({"ledger": {"event_window": "7d"}})
    a = add_post(db, source="s1", title="招聘质疑", text=STORY, at=T0, matches=M)
    cluster_posts(db, settings)
    b = add_post(db, source="s2", title="招聘质疑", text=STORY, at=T0 + timedelta(days=30), matches=M)
    cluster_posts(db, settings)
    with db.session() as s:
        assert s.get(PostRow, a).event_id != s.get(PostRow, b).event_id


def test_similarity_scores() -> None:
    a = sketch("招聘质疑", STORY)
    assert similarity(a, sketch("招聘质疑", STORY)) == 1.0
    assert similarity(a, sketch("干部公示", OTHER)) < 0.2
    assert fold("轉載 自：ＡＢＣ！") == "转载自abc"


def test_a_short_post_is_not_merged_into_a_long_unrelated_article(db) -> None:
    import random

    rng = random.Random(3)
    # A long article (about 5,000 distinct shingles): MinHash alone cannot judge containment of a
    # 30-character post in it, so the candidate must be verified on its shingles.
    long_text = "".join(chr(rng.randrange(0x4E00, 0x9FA5)) for _ in range(5000))
    settings = Settings()
    a = add_post(db, source="s1", title="长文", text=long_text, at=T0, matches=M)
    shorts = [add_post(db, source=f"s{i}", title="", text="".join(chr(rng.randrange(0x4E00, 0x9FA5)) for _ in range(30)),
                       at=T0 + timedelta(minutes=i), matches=M) for i in range(2, 40)]
    excerpt = add_post(db, source="s99", title="", text=long_text[1000:1040], at=T0 + timedelta(hours=1), matches=M)
    cluster_posts(db, settings)
    with db.session() as s:
        ev = {p.id: p.event_id for p in s.scalars(select(PostRow))}
    assert all(ev[p] != ev[a] for p in shorts)
    assert len({ev[p] for p in shorts}) == len(shorts)
    # A real excerpt of it is found when MinHash offers it as a candidate; 40 of 5,000 shingles is
    # below what the estimate can see, so it may start its own event, but never a wrong one.
    assert ev[excerpt] in (ev[a], max(ev.values()))
