"""What a digest says and how: grouping, order, reposts, excerpts, escaping, overrides."""

from __future__ import annotations

import email
import email.policy
from datetime import timedelta

from alerts.excerpt import excerpt, highlight
from alerts.gather import gather
from alerts.outbox import plan_digests, preview_digests, send_pending
from alerts.render import render_email
from alerts.split import cut, nbytes
from alerts.timing import backoff, quiet_until
from alerts.topics import topic_names
from yuqing.storage import SourceState, open_database

from .factory import NOW, ZZB, PostSpec, add_post, make_settings, settings_yaml


def world(tmp_path, alerts: str = "", smtp_port: int | None = None):
    url = f"sqlite:///{tmp_path / 'y.db'}"
    st = make_settings(tmp_path, settings_yaml(url, smtp_port=smtp_port or 2525, units=ZZB, alerts=alerts))
    return st, open_database(url)


def content_of(st, db, ids):
    with db.session() as s:
        return gather(s, st, st.unit("zzb"), ids, kind="digest", now=NOW)


def test_grouped_by_topic_most_severe_then_newest_first(tmp_path):
    st, db = world(tmp_path)
    ids = []
    for title, topic, sev, hours in [
        ("旧的低级别干部新闻", "cadre_appointment", "low", 5),
        ("新的低级别干部新闻", "cadre_appointment", "low", 1),
        ("高级别干部举报", "cadre_appointment", "high", 9),
        ("事业单位招聘疑点", "public_recruitment", "medium", 0),
    ]:
        ids += add_post(db, PostSpec(title, "正文", matches=[("zzb", topic, sev)], at=NOW - timedelta(hours=hours)))[1]
    c = content_of(st, db, ids)
    names = topic_names(st)  # the rule pack's display names, or the fallback table
    cadre, recruit = names["cadre_appointment"], names["public_recruitment"]
    assert [g.name for g in c.groups] == [cadre, recruit]
    assert [it.title_plain for it in c.groups[0].items] == ["高级别干部举报", "新的低级别干部新闻", "旧的低级别干部新闻"]
    email_ = render_email(st, c)
    assert email_.subject == f"【舆情日报】组织部 新增4条：{cadre}3、{recruit}1"
    assert email_.text.index("高级别干部举报") < email_.text.index("新的低级别") < email_.text.index("旧的低级别") < email_.text.index("事业单位招聘疑点")
    assert email_.html.index(f"{cadre}（3 条）") < email_.html.index(f"{recruit}（1 条）")


def test_reposts_are_shown_once_with_the_number_of_sites(tmp_path):
    st, db = world(tmp_path)
    text = "某镇招聘事业编人员，名单公布前已在网上流传。"
    spec = dict(words=["招聘"], content_hash="samehash", matches=[("zzb", "public_recruitment", "medium")])
    a, ids_a = add_post(db, PostSpec("某镇事业编招聘名单提前流出", text, source="county-news", at=NOW - timedelta(hours=3), **spec))
    _, ids_b = add_post(db, PostSpec("转：某镇事业编招聘名单提前流出", text, source="city-forum", at=NOW - timedelta(hours=2), **spec))
    _, ids_c = add_post(db, PostSpec("某镇事业编招聘名单提前流出", text, source="city-forum", at=NOW - timedelta(hours=1), **spec))
    # Another story the ledger clustered into one event although the texts differ.
    _, ids_d = add_post(db, PostSpec("村支书被指插手招聘", "甲文", ["招聘"], event_id=77, matches=[("zzb", "public_recruitment", "high")]))
    _, ids_e = add_post(db, PostSpec("网传村支书插手事业编招聘", "乙文", ["招聘"], event_id=77, source="city-forum", matches=[("zzb", "public_recruitment", "high")]))
    c = content_of(st, db, ids_a + ids_b + ids_c + ids_d + ids_e)
    [group] = c.groups
    assert len(group.items) == 2
    event, copied = group.items
    assert (event.sites, event.copies, event.severity) == (2, 2, "high")
    assert (copied.sites, copied.copies) == (2, 3)
    assert copied.title_plain == "某镇事业编招聘名单提前流出" and copied.site == "县融媒体中心"  # the first post, not a repost
    text_part = render_email(st, c).text
    assert text_part.count("名单提前流出") == 1 and "2 个网站转载" in text_part
    assert render_email(st, c).subject.endswith(topic_names(st)["public_recruitment"] + "2")


def test_excerpt_is_cut_around_the_hit_and_marks_every_hit():
    body = "开头" * 60 + "近日，某县提拔干部一事引发关注，干部群众议论纷纷。" + "结尾" * 60
    start = body.index("干部")
    hits = [{"word": "干部", "found": "干部", "field": "text", "start": start, "end": start + 2}, {"word": "提拔", "found": "提拔", "field": "text", "start": 10**6, "end": 10**6 + 2}]
    ex = excerpt(body, hits)
    assert ex.cut_before and ex.cut_after and len(ex.plain) == 140
    marked = [s.text for s in ex.segments if s.hit]
    # 提拔's offsets do not fit the text: it is found by its text; touching hits read as one mark.
    assert marked == ["提拔干部"]
    two = excerpt("甲干部乙提拔丙", [{"found": "干部", "field": "text", "start": 1, "end": 3}, {"found": "提拔", "field": "text", "start": 4, "end": 6}])
    assert [s.text for s in two.segments] == ["甲", "干部", "乙", "提拔", "丙"] and not two.cut_before
    assert [s.text for s in highlight("干部\r\n任免", [{"found": "任免", "field": "title", "start": 4, "end": 6}]) if s.hit] == ["任免"]


def test_everything_crawled_is_escaped(tmp_path, smtp):
    st, db = world(tmp_path, smtp_port=smtp.port)
    evil_title = '<img src=x onerror="alert(1)">干部\r\nBcc: victim@example.org'
    add_post(db, PostSpec(evil_title, "<script>alert('x')</script>干部名单", ["干部"], url="javascript:alert(document.cookie)", matches=[("zzb", "cadre_appointment", "medium")]))
    add_post(db, PostSpec('干部"><b>', "干部", ["干部"], url='https://ok.example.org/a?b="><script>', matches=[("zzb", "cadre_appointment", "low")]))
    plan_digests(db, st, NOW)
    assert send_pending(db, st, NOW).sent == 1
    [got] = smtp.messages
    msg = email.message_from_bytes(got.raw, policy=email.policy.default)
    assert msg["Bcc"] is None and got.rcpt_tos == ["officer@example.org", "deputy@example.org"]
    assert "\n" not in msg["Subject"] and "\r" not in msg["Subject"]
    html = msg.get_body(("html",)).get_content()
    assert "<img" not in html and "<script" not in html and "&lt;img src=x" in html
    assert 'href="javascript' not in html.lower() and "javascript:alert(document.cookie)" in html  # shown, not linked
    assert 'href="https://ok.example.org/a?b=&#34;&gt;&lt;script&gt;"' in html
    assert "<b>" not in html.split("<body", 1)[1].replace("<b style", "")


def test_templates_can_be_overridden_from_a_folder(tmp_path):
    folder = tmp_path / "my-templates"
    folder.mkdir()
    (folder / "digest.txt").write_text("自定义模板：{{ c.unit_name }} 共 {{ c.total }} 条\n", encoding="utf-8")
    st, db = world(tmp_path, alerts="  templates: my-templates\n")
    add_post(db, PostSpec("干部公示", "干部", ["干部"], matches=[("zzb", "cadre_appointment", "low")]))
    [draft] = preview_digests(db, st, NOW)
    assert draft.text == "自定义模板：组织部 共 1 条\n"
    assert "公示" in (draft.html or "") and "自定义模板" not in (draft.html or "")  # HTML not overridden


def test_source_problems_are_listed_for_the_operator(tmp_path):
    st, db = world(tmp_path)
    with db.session() as s:
        s.add(SourceState(source_id="city-forum", status="problem", problem="连续 5 次抓取失败：HTTP 503", problem_since=NOW - timedelta(days=1)))
        s.add(SourceState(source_id="county-news", status="ok"))
    add_post(db, PostSpec("干部公示", "干部", ["干部"], matches=[("zzb", "cadre_appointment", "low")]))
    [draft] = preview_digests(db, st, NOW)
    assert "市民论坛（自 2026-11-24 10:00）：连续 5 次抓取失败：HTTP 503" in draft.text
    assert "运维提示" in (draft.html or "") and "县融媒体中心：" not in draft.text


def test_topic_display_names_come_from_the_rule_files_when_they_give_one(tmp_path):
    rules = tmp_path / "my-rules.yaml"
    rules.write_text("topic: cadre_appointment\nname: 干部任用（本地）\n", encoding="utf-8")
    st, _ = world(tmp_path)
    st = st.model_copy(update={"rules": st.rules.model_copy(update={"paths": [str(rules)]})})
    names = topic_names(st)
    assert names["cadre_appointment"] == "干部任用（本地）" and names["village_affairs"] == "村务管理"


def test_cut_never_splits_a_character_and_quiet_hours_cross_midnight(tmp_path):
    text = "舆情" * 10
    for limit in range(4, 40):
        out = cut(text, limit)
        assert nbytes(out) <= limit and out.endswith("…")
    st, _ = world(tmp_path)
    unit = st.unit("zzb").model_copy(update={"quiet_hours": "22:00-07:00"})
    tz = st.tz
    late = NOW.replace(hour=14, minute=0)  # 22:00 Shanghai
    assert quiet_until(unit, late, tz) == (late + timedelta(hours=9))
    assert quiet_until(unit, NOW, tz) is None  # 10:00
    early = NOW.replace(hour=22, minute=30)  # 06:30 next day Shanghai
    assert quiet_until(unit, early, tz) == early + timedelta(minutes=30)
    waits = [backoff(n, timedelta(minutes=1), timedelta(hours=2)).total_seconds() for n in (1, 2, 3, 10)]
    assert 30 <= waits[0] <= 60 and 60 <= waits[1] <= 120 and 120 <= waits[2] <= 240 and 3600 <= waits[3] <= 7200


def test_packing_random_blocks_keeps_every_part_within_the_limit_and_counts_what_is_left():
    import random

    from alerts.split import Block, pack

    rng = random.Random(20261125)
    for _ in range(200):
        limit = rng.choice([600, 1000, 4096])
        max_parts = rng.randint(1, 5)
        blocks = [Block(f"#{i}#" + "".join(rng.choice("舆情干部abc ") for _ in range(rng.randint(1, 700))), counts=rng.random() > 0.2) for i in range(rng.randint(1, 40))]
        parts = pack(blocks, lambda k, n: f"### 标题（{k}/{n}）", lambda n: f"另有 {n} 条", max_bytes=limit, max_parts=max_parts)
        assert 1 <= len(parts) <= max_parts
        assert all(nbytes(p) <= limit for p in parts)
        shown = {i for i in range(len(blocks)) if any(f"#{i}#" in p for p in parts)}
        cut_short = {i for i in range(len(blocks)) if i not in shown}
        if cut_short:
            # Whatever was left out comes after everything shown, and the count names the items among it.
            assert min(cut_short) > max(shown, default=-1)
            left = sum(1 for i in cut_short if blocks[i].counts)
            assert parts[-1].endswith(f"另有 {left} 条") or (left == 0)
