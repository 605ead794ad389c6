"""The outbox with e-mail, on SQLite and PostgreSQL, against a real SMTP server (aiosmtpd)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from alerts.outbox import (
    InlineImage,
    enqueue_message,
    plan_digests,
    plan_urgent,
    preview_digests,
    send_pending,
)
from tests.support.mail import SmtpServer
from yuqing.storage import DeliveryMatch, DeliveryRow, open_database

from .factory import NOW, ZZB, PostSpec, add_post, make_settings, settings_yaml

NYB = "  - {id: nyb, name: 农业农村局, emails: [nongye@example.org], topics: [collective_assets, village_affairs]}\n"


def setup(tmp_path: Path, db_url: str, port: int, units: str = ZZB + NYB, alerts: str = ""):
    st = make_settings(tmp_path, settings_yaml(db_url, smtp_port=port, units=units, alerts=alerts))
    return st, open_database(db_url)


def cadre(db, title="某县拟任干部公示期仅三天", severity="medium", at=NOW, **kw) -> int:
    text = kw.pop("text", "网友反映：某县本次干部任前公示期仅三天，少于规定的五个工作日。")
    _, [m] = add_post(db, PostSpec(title, text, ["干部"], at=at, matches=[("zzb", "cadre_appointment", severity)], **kw))
    return m


def body(received, kind="plain") -> str:
    return received.message.get_body((kind,)).get_content()


def test_each_unit_gets_one_digest_and_a_match_is_never_sent_twice(tmp_path, db_url, smtp: SmtpServer):
    st, db = setup(tmp_path, db_url, smtp.port)
    cadre(db)
    add_post(db, PostSpec("村集体土地被低价转让", "村民质疑集体资产处置未经村民代表大会。", ["集体资产"], source="city-forum", matches=[("nyb", "collective_assets", "medium")]))
    assert len(plan_digests(db, st, NOW)) == 2
    report = send_pending(db, st, NOW)
    assert (report.sent, report.failed, report.parked, report.retrying) == (2, 0, 0, 0)
    by_to = {tuple(r.rcpt_tos): r for r in smtp.messages}
    zzb = by_to[("officer@example.org", "deputy@example.org")]
    assert zzb.message["Subject"] == "【舆情日报】组织部 新增1条：干部选拔任用1"
    assert "某县拟任【干部】公示期仅三天" in body(zzb)
    assert "村集体" not in body(zzb)
    assert "集体资产处置" in body(by_to[("nongye@example.org",)])

    # Nothing new: no delivery, no mail. A new match: a digest with only that one.
    assert plan_digests(db, st, NOW + timedelta(hours=9)) == []
    assert send_pending(db, st, NOW + timedelta(hours=9)).sent == 0
    cadre(db, title="又一干部选拔争议", at=NOW + timedelta(hours=10))
    plan_digests(db, st, NOW + timedelta(hours=11))
    send_pending(db, st, NOW + timedelta(hours=11))
    assert len(smtp.messages) == 3
    last = body(smtp.messages[-1])
    assert "又一【干部】选拔争议" in last and "拟任" not in last
    with db.session() as s:
        carried = s.scalar(select(func.count()).select_from(DeliveryMatch))
        assert carried == 3  # three matches, each in exactly one delivery on its channel


def test_the_message_is_well_formed_html_and_text_with_a_stable_message_id(tmp_path, db_url, smtp):
    st, db = setup(tmp_path, db_url, smtp.port)
    cadre(db)
    [did] = plan_digests(db, st, NOW)
    send_pending(db, st, NOW)
    [got] = smtp.messages
    msg = got.message
    with db.session() as s:
        row = s.get(DeliveryRow, did)
    assert msg["Message-ID"] == row.message_id and row.state == "sent" and row.sent_at == NOW
    assert msg.get_content_type() == "multipart/alternative"
    assert msg["From"].addresses[0].addr_spec == "yuqing@example.org"
    html = body(got, "html")
    assert '<a href="https://news' in html and "background:#ffe08a" in html and 'lang="zh-CN"' in html
    assert msg["Date"] is not None and msg["Auto-Submitted"] == "auto-generated"


def test_with_the_mail_server_down_nothing_is_lost_and_the_next_send_delivers(tmp_path, db_url):
    smtp = SmtpServer()  # never started: the port refuses connections
    st, db = setup(tmp_path, db_url, smtp.port)
    cadre(db)
    [did] = plan_digests(db, st, NOW)
    down = send_pending(db, st, NOW)
    assert (down.sent, down.retrying) == (0, 1)
    assert "unreachable" in down.errors[0] and f"127.0.0.1:{smtp.port}" in down.errors[0]
    with db.session() as s:
        row = s.get(DeliveryRow, did)
        assert (row.state, row.attempts) == ("pending", 1) and row.next_attempt_at > NOW
        message_id = row.message_id
    # Still down at the next due time: another attempt, a longer wait.
    again = SmtpServer(port=smtp.port)
    try:
        assert send_pending(db, st, NOW + timedelta(seconds=10)).sent == 0  # not due yet
        again.start()
        assert send_pending(db, st, NOW + timedelta(seconds=10), force=True).sent == 1  # an explicit send does not wait
        assert plan_digests(db, st, NOW + timedelta(minutes=1)) == []
        assert send_pending(db, st, NOW + timedelta(hours=3)).sent == 0
        [got] = again.messages
        assert got.message["Message-ID"] == message_id
    finally:
        again.stop()


def test_a_refused_recipient_does_not_make_the_others_get_it_twice(tmp_path, db_url, smtp):
    st, db = setup(tmp_path, db_url, smtp.port)
    cadre(db)
    smtp.refuse.add("deputy@example.org")
    [did] = plan_digests(db, st, NOW)
    report = send_pending(db, st, NOW)
    assert report.sent == 1 and "deputy@example.org: 550" in report.errors[0]
    assert [r.rcpt_tos for r in smtp.messages] == [["officer@example.org"]]
    with db.session() as s:
        row = s.get(DeliveryRow, did)
    assert row.state == "sent" and row.payload["refused"] == ["deputy@example.org"]
    assert row.payload["done"] == ["officer@example.org"]
    assert send_pending(db, st, NOW + timedelta(days=1), force=True).sent == 0
    assert len(smtp.messages) == 1


def test_every_recipient_refused_for_good_is_parked_and_not_retried(tmp_path, db_url, smtp):
    st, db = setup(tmp_path, db_url, smtp.port)
    cadre(db)
    smtp.refuse |= {"officer@example.org", "deputy@example.org"}
    [did] = plan_digests(db, st, NOW)
    report = send_pending(db, st, NOW)
    assert report.parked == 1 and "refused every recipient" in report.errors[0]
    assert send_pending(db, st, NOW + timedelta(days=1)).parked == 0
    with db.session() as s:
        assert s.get(DeliveryRow, did).state == "parked"
    assert smtp.messages == []


def test_a_temporary_4xx_is_retried_until_max_attempts_then_failed(tmp_path, db_url, smtp):
    st, db = setup(tmp_path, db_url, smtp.port, alerts="  max_attempts: 2\n")
    cadre(db)
    smtp.temp_fail = True
    [did] = plan_digests(db, st, NOW)
    first = send_pending(db, st, NOW)
    assert first.retrying == 1 and "451" in first.errors[0]
    second = send_pending(db, st, NOW + timedelta(hours=1))
    assert second.failed == 1
    with db.session() as s:
        row = s.get(DeliveryRow, did)
        assert (row.state, row.attempts) == ("failed", 2)
    assert send_pending(db, st, NOW + timedelta(hours=5)).sent == 0
    assert smtp.messages == []


def test_urgent_matches_go_at_once_and_the_digest_carries_the_rest(tmp_path, db_url, smtp):
    st, db = setup(tmp_path, db_url, smtp.port)
    high = cadre(db, title="举报：某局长违规提拔亲属任干部", severity="high")
    cadre(db, title="干部培训班开班", severity="low")
    [alert] = plan_urgent(db, st, NOW)
    assert plan_urgent(db, st, NOW) == []  # already planned on this channel
    send_pending(db, st, NOW)
    [got] = smtp.messages
    assert got.message["Subject"].startswith("【紧急舆情】组织部 新增1条")
    assert "违规提拔" in body(got) and "培训班" not in body(got)
    plan_digests(db, st, NOW + timedelta(hours=6))
    send_pending(db, st, NOW + timedelta(hours=6))
    digest = body(smtp.messages[1])
    assert "培训班" in digest and "违规提拔" not in digest
    with db.session() as s:
        assert s.scalar(select(DeliveryMatch.delivery_id).where(DeliveryMatch.match_id == high)) == alert


def test_quiet_hours_hold_non_critical_alerts_until_they_end(tmp_path, db_url, smtp):
    unit = ZZB.replace("}\n", ", urgent_severity: medium, quiet_hours: '22:00-07:00'}\n")
    st, db = setup(tmp_path, db_url, smtp.port, units=unit)
    night = datetime(2026, 11, 25, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai
    cadre(db, title="干部公示有误", severity="medium", at=night)
    [held] = plan_urgent(db, st, night)
    assert send_pending(db, st, night, force=True).sent == 0
    with db.session() as s:
        assert s.get(DeliveryRow, held).next_attempt_at == datetime(2026, 11, 25, 23, 0, tzinfo=UTC)  # 07:00 local
    cadre(db, title="干部涉嫌违纪被举报", severity="high", at=night)
    plan_urgent(db, st, night)
    assert send_pending(db, st, night).sent == 1  # 'high' is critical: it does not wait
    assert "违纪" in body(smtp.messages[0])
    assert send_pending(db, st, datetime(2026, 11, 25, 23, 0, tzinfo=UTC)).sent == 1
    assert "公示有误" in body(smtp.messages[1])


def test_a_unit_without_weekends_gets_no_digest_on_saturday(tmp_path, db_url, smtp):
    unit = ZZB.replace("}\n", ", weekends: false}\n")
    st, db = setup(tmp_path, db_url, smtp.port, units=unit)
    saturday = datetime(2026, 11, 28, 0, 0, tzinfo=UTC)  # 08:00 Saturday in Shanghai
    cadre(db, at=saturday - timedelta(hours=1))
    assert plan_digests(db, st, saturday) == []
    assert plan_digests(db, st, saturday + timedelta(days=1)) == []
    assert len(plan_digests(db, st, saturday + timedelta(days=2))) == 1  # Monday


def test_enqueue_message_records_a_dedupe_key_once(tmp_path, db_url, smtp):
    st, db = setup(tmp_path, db_url, smtp.port)
    args = dict(kind="reminder", unit_id="zzb", channel="email", recipients=["leader@example.org"], subject="案件 7 即将到期\r\nBcc: evil@example.org", text="请于明日前办结。", html=None, now=NOW)
    first = enqueue_message(db, st, dedupe_key="case:7:step:1", **args)
    assert first is not None
    assert enqueue_message(db, st, dedupe_key="case:7:step:1", **args) is None
    send_pending(db, st, NOW)
    [got] = smtp.messages
    assert got.rcpt_tos == ["leader@example.org"]
    assert got.message["Subject"] == "案件 7 即将到期 Bcc: evil@example.org" and got.message["Bcc"] is None


def test_inline_images_travel_in_the_outbox_as_related_parts(tmp_path, db_url, smtp):
    """Images a message shows by cid: are stored with the delivery and sent as image parts of a
    multipart/related beside the HTML (webmail shows those; it does not show data: URIs)."""
    st, db = setup(tmp_path, db_url, smtp.port)
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    html = '<p>图表</p><img alt="图" src="cid:volume.week@report.yuqing">'
    args = dict(kind="report", unit_id="zzb", channel="email", recipients=["leader@example.org"], subject="周报",
                text="周报正文", now=NOW)
    with pytest.raises(ValueError, match="need an HTML part"):
        enqueue_message(db, st, html=None, dedupe_key="r0", inline=[InlineImage("volume.week@report.yuqing", "image/png", png)], **args)
    delivery = enqueue_message(db, st, html=html, dedupe_key="r1", inline=[InlineImage("volume.week@report.yuqing", "image/png", png)], **args)
    with db.session() as s:
        row = s.get(DeliveryRow, delivery)
        assert row.payload["inline"][0]["cid"] == "volume.week@report.yuqing"  # JSON, base64: survives a restart
    assert send_pending(db, st, NOW).sent == 1
    [got] = smtp.messages
    msg = got.message
    assert msg.get_content_type() == "multipart/alternative"
    plain, related = msg.get_payload()
    assert (plain.get_content_type(), related.get_content_type()) == ("text/plain", "multipart/related")
    html_part, image = related.get_payload()
    assert html_part.get_content().strip() == html
    assert image.get_content_type() == "image/png" and image["Content-ID"] == "<volume.week@report.yuqing>"
    assert image.get_content() == png and image.get_content_disposition() == "inline"


def test_the_operator_is_told_once_when_a_channel_keeps_failing(tmp_path, db_url, smtp):
    st, db = setup(tmp_path, db_url, smtp.port, alerts="  operator_emails: [ops@example.org]\n  channel_alarm_after: 1h\n")
    cadre(db)
    smtp.temp_fail = True
    plan_digests(db, st, NOW)
    for minutes in (0, 30, 61, 90, 200):
        send_pending(db, st, NOW + timedelta(minutes=minutes), force=True)
    with db.session() as s:
        notices = s.scalars(select(DeliveryRow).where(DeliveryRow.kind == "operator")).all()
    assert len(notices) == 1
    assert "email" in notices[0].subject and "451" in notices[0].body_text
    smtp.temp_fail = False
    send_pending(db, st, NOW + timedelta(minutes=300), force=True)
    subjects = sorted(r.message["Subject"] for r in smtp.messages)
    assert len(subjects) == 2 and any(s.startswith("【yuqing 运维】") for s in subjects)


def test_preview_shows_the_digest_and_changes_nothing(tmp_path, db_url, smtp):
    st, db = setup(tmp_path, db_url, smtp.port)
    cadre(db)
    [draft] = preview_digests(db, st, NOW)
    assert draft.unit_id == "zzb" and "公示期仅三天" in draft.text and draft.html
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(DeliveryRow)) == 0
    [did] = plan_digests(db, st, NOW)
    with db.session() as s:
        row = s.get(DeliveryRow, did)
    assert (row.subject, row.body_text, row.body_html) == (draft.subject, draft.text, draft.html)


def test_keep_eml_keeps_each_sent_message(tmp_path, db_url, smtp):
    st, db = setup(tmp_path, db_url, smtp.port, alerts="  keep_eml: sent-mail\n")
    cadre(db)
    [did] = plan_digests(db, st, NOW)
    send_pending(db, st, NOW)
    [eml] = (tmp_path / "sent-mail").glob("*.eml")
    assert eml.name == f"{did:06d}-digest.eml"
    assert eml.read_bytes() == smtp.messages[0].raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") or b"Message-ID" in eml.read_bytes()


def test_planners_running_at_once_put_each_match_in_one_delivery_per_channel(tmp_path, db_url, smtp):
    import threading

    st, db = setup(tmp_path, db_url, smtp.port)
    for i in range(20):
        cadre(db, title=f"第{i}条干部公示")
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def planner() -> None:
        mine = open_database(db_url)
        try:
            barrier.wait(timeout=30)
            plan_digests(mine, st, NOW)
        except BaseException as exc:  # collected: the assertion below names it
            errors.append(exc)
        finally:
            mine.dispose()

    threads = [threading.Thread(target=planner) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    with db.session() as s:
        links = s.execute(select(DeliveryMatch.match_id, DeliveryMatch.delivery_id)).all()
        deliveries = s.scalar(select(func.count()).select_from(DeliveryRow))
    assert sorted(m for m, _ in links) == list(range(1, 21))
    assert deliveries == len({d for _, d in links})  # no delivery without its matches
    send_pending(db, st, NOW)
    text = "".join(body(r) for r in smtp.messages)
    assert all(text.count(f"第{i}条") == 1 for i in range(20))
