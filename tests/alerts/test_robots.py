"""Robots and webhooks against a real local HTTP receiver that answers like each of them."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import timedelta

import pytest
from sqlalchemy import select

from alerts.outbox import enqueue_message, plan_digests, send_pending
from alerts.split import nbytes
from yuqing.storage import DeliveryRow, open_database

from .factory import NOW, PostSpec, add_post, make_settings, settings_yaml
from .receiver import Posted, Receiver, Reply

SECRET = "SEC0123456789abcdef"


def unit_with(hooks: str, **extra: str) -> str:
    more = "".join(f", {k}: {v}" for k, v in extra.items())
    return f"  - {{id: zzb, name: 组织部, topics: [cadre_appointment, public_recruitment], webhooks: [{hooks}]{more}}}\n"


def world(tmp_path, db_url, hooks: str, alerts: str = ""):
    st = make_settings(tmp_path, settings_yaml(db_url, units=unit_with(hooks), alerts=alerts))
    return st, open_database(db_url)


def story(db, n: int = 1, severity: str = "medium", long: bool = False) -> list[int]:
    ids = []
    for i in range(n):
        body = ("群众反映某县干部任前公示期不足五个工作日，组织部门回应称将依规处理。" * (12 if long else 1))
        _, m = add_post(db, PostSpec(f"第{i}条 某县干部任前公示引发关注", body, ["干部"], matches=[("zzb", "cadre_appointment", severity)]))
        ids += m
    return ids


def states(db) -> list[tuple[str, str, int]]:
    with db.session() as s:
        return [(r.channel, r.state, r.attempts) for r in s.scalars(select(DeliveryRow).order_by(DeliveryRow.id))]


def test_each_robot_gets_the_digest_in_its_format_signed_where_asked(tmp_path, sqlite_db_url, receiver: Receiver):
    ok = lambda p: Reply({"errcode": 0, "errmsg": "ok"})  # noqa: E731
    receiver.on("/wecom", ok)
    receiver.on("/ding", ok)
    receiver.on("/feishu", lambda p: Reply({"code": 0, "msg": "success"}))
    receiver.on("/slack", lambda p: Reply("ok"))
    receiver.on("/json", lambda p: Reply({}, 202))
    hooks = ", ".join(
        [
            f"{{kind: wecom, name: ops, url: '{receiver.url('/wecom')}?key=k1'}}",
            f"{{kind: dingtalk, url: '{receiver.url('/ding')}?access_token=t1', secret: {SECRET}}}",
            f"{{kind: feishu, url: '{receiver.url('/feishu')}', secret: {SECRET}}}",
            f"{{kind: slack, url: '{receiver.url('/slack')}'}}",
            f"{{kind: json, url: '{receiver.url('/json')}'}}",
        ]
    )
    st, db = world(tmp_path, sqlite_db_url, hooks)
    story(db)
    assert len(plan_digests(db, st, NOW)) == 5
    report = send_pending(db, st, NOW)
    assert (report.sent, report.failed, report.parked, report.retrying) == (5, 0, 0, 0), report.errors

    [wecom] = receiver.received("/wecom")
    assert wecom.query == {"key": "k1"}
    assert wecom.body["msgtype"] == "markdown"
    assert "组织部" in wecom.body["markdown"]["content"] and "**干部**" in wecom.body["markdown"]["content"]

    [ding] = receiver.received("/ding")
    ts = ding.query["timestamp"]
    expected = base64.b64encode(hmac.new(SECRET.encode(), f"{ts}\n{SECRET}".encode(), hashlib.sha256).digest()).decode()
    assert ding.query["sign"] == expected  # parse_qs already undid the URL encoding
    assert ding.query["access_token"] == "t1"
    assert ding.body["msgtype"] == "markdown" and ding.body["markdown"]["title"].startswith("【舆情日报】组织部")

    [feishu] = receiver.received("/feishu")
    fts = feishu.body["timestamp"]
    fsign = base64.b64encode(hmac.new(f"{fts}\n{SECRET}".encode(), b"", hashlib.sha256).digest()).decode()
    assert feishu.body["sign"] == fsign
    assert "干部" in feishu.body["card"]["elements"][0]["content"]
    assert feishu.body["card"]["header"]["title"]["content"] == "【舆情日报】组织部"
    assert "###" not in feishu.body["card"]["elements"][0]["content"]

    [slack] = receiver.received("/slack")
    assert "*干部*" in slack.body["text"] and "<https://" in slack.body["text"]

    [js] = receiver.received("/json")
    with db.session() as s:
        row = s.scalars(select(DeliveryRow).where(DeliveryRow.channel == "json:4")).one()
    assert js.body["id"] == row.message_id and js.headers["idempotency-key"] == f"{row.message_id}#1"
    assert js.body["unit"] == "zzb" and js.body["matches"] == row.payload["match_ids"]


@pytest.mark.parametrize(
    ("kind", "answer", "state"),
    [
        ("dingtalk", {"errcode": 310000, "errmsg": "keywords not in content"}, "parked"),
        ("wecom", {"errcode": 93000, "errmsg": "invalid webhook url"}, "parked"),
        ("dingtalk", {"errcode": 130101, "errmsg": "send too fast"}, "deferred"),
        ("wecom", {"errcode": 45009, "errmsg": "api freq out of limit"}, "deferred"),
        ("feishu", {"code": 9499, "msg": "too many request"}, "deferred"),
        ("feishu", {"code": 11232, "msg": "frequency limited"}, "deferred"),
        ("feishu", {"code": 19021, "msg": "sign match fail"}, "parked"),
    ],
)
def test_an_error_code_in_a_200_answer_is_read(tmp_path, sqlite_db_url, receiver, kind, answer, state):
    calls: list[Posted] = []

    def robot(p: Posted) -> Reply:
        calls.append(p)
        return Reply(answer) if len(calls) == 1 else Reply({"errcode": 0, "code": 0})

    st, db = world(tmp_path, sqlite_db_url, f"{{kind: {kind}, url: '{receiver.on('/r', robot)}'}}")
    story(db)
    plan_digests(db, st, NOW)
    report = send_pending(db, st, NOW)
    assert report.sent == 0
    with db.session() as s:
        row = s.scalars(select(DeliveryRow)).one()
    code = answer.get("errcode", answer.get("code"))
    assert str(code) in (row.last_error or "")
    if state == "parked":
        assert row.state == "parked" and report.parked == 1 and report.errors
        assert send_pending(db, st, NOW + timedelta(hours=5)).sent == 0  # parked: not retried by itself
        assert len(calls) == 1
    else:
        # "Too fast": held for a minute, not counted as a failed attempt, then delivered.
        assert (row.state, row.attempts) == ("pending", 0) and report.deferred == 1
        assert row.next_attempt_at == NOW + timedelta(seconds=60)
        assert send_pending(db, st, NOW + timedelta(seconds=30)).sent == 0
        assert send_pending(db, st, NOW + timedelta(seconds=61)).sent == 1
        assert len(calls) == 2


def test_429_and_500_are_retried_with_backoff_then_failed_after_max_attempts(tmp_path, sqlite_db_url, receiver):
    receiver.on("/busy", lambda p: Reply({"error": "slow down"}, 429, {"Retry-After": "600"}))
    receiver.on("/broken", lambda p: Reply("internal error", 500))
    hooks = f"{{kind: wecom, name: busy, url: '{receiver.url('/busy')}'}}, {{kind: wecom, name: broken, url: '{receiver.url('/broken')}'}}"
    st, db = world(tmp_path, sqlite_db_url, hooks, alerts="  max_attempts: 3\n")
    story(db)
    plan_digests(db, st, NOW)
    report = send_pending(db, st, NOW)
    assert report.retrying == 2 and report.sent == 0
    with db.session() as s:
        rows = {r.channel: r for r in s.scalars(select(DeliveryRow))}
    assert rows["wecom:busy"].next_attempt_at >= NOW + timedelta(seconds=600)  # Retry-After honoured
    first = rows["wecom:broken"].next_attempt_at - NOW
    assert timedelta(seconds=30) <= first <= timedelta(seconds=60)  # base 1m with jitter
    t = rows["wecom:broken"].next_attempt_at
    second = send_pending(db, st, t)
    assert second.retrying == 1
    with db.session() as s:
        row = s.scalars(select(DeliveryRow).where(DeliveryRow.channel == "wecom:broken")).one()
    assert timedelta(seconds=60) <= row.next_attempt_at - t <= timedelta(seconds=120)  # doubled
    third = send_pending(db, st, row.next_attempt_at)
    assert third.failed == 1
    assert ("wecom:broken", "failed", 3) in states(db)
    assert len(receiver.received("/broken")) == 3


def test_a_slow_robot_times_out_and_is_retried(tmp_path, sqlite_db_url, receiver):
    answers = [Reply(delay=2.0), Reply()]
    receiver.on("/slow", lambda p: answers.pop(0))
    st, db = world(tmp_path, sqlite_db_url, f"{{kind: wecom, url: '{receiver.url('/slow')}'}}", alerts="  webhook_timeout: 0.3s\n")
    story(db)
    plan_digests(db, st, NOW)
    report = send_pending(db, st, NOW)
    assert report.retrying == 1 and "did not answer within 0.3s" in report.errors[0]
    assert send_pending(db, st, NOW + timedelta(hours=1)).sent == 1


def test_a_long_digest_is_split_into_numbered_parts_within_the_byte_limit(tmp_path, sqlite_db_url, receiver):
    receiver.on("/wecom", lambda p: Reply())
    st, db = world(tmp_path, sqlite_db_url, f"{{kind: wecom, url: '{receiver.url('/wecom')}'}}", alerts="  max_parts: 10\n")
    story(db, n=12, long=True)
    plan_digests(db, st, NOW)
    assert send_pending(db, st, NOW).sent == 1
    parts = [p.body["markdown"]["content"] for p in receiver.received("/wecom")]
    assert len(parts) > 1
    assert all(nbytes(c) <= 4096 for c in parts)
    assert all(f"（{k}/{len(parts)}）" in c.splitlines()[0] for k, c in enumerate(parts, 1))
    joined = "\n".join(parts)
    for i in range(12):
        assert joined.count(f"第{i}条 某县") == 1  # every item once, none lost between parts


def test_what_does_not_fit_in_max_parts_is_cut_with_a_link_to_the_full_digest(tmp_path, sqlite_db_url, receiver):
    receiver.on("/wecom", lambda p: Reply())
    alerts = "  max_parts: 2\n  public_url: 'https://yuqing.example.org/digest/latest'\n"
    st, db = world(tmp_path, sqlite_db_url, f"{{kind: wecom, url: '{receiver.url('/wecom')}'}}", alerts=alerts)
    story(db, n=30, long=True)
    plan_digests(db, st, NOW)
    send_pending(db, st, NOW)
    parts = [p.body["markdown"]["content"] for p in receiver.received("/wecom")]
    assert len(parts) == 2 and all(nbytes(c) <= 4096 for c in parts)
    shown = sum(c.count("某县干部任前公示引发关注") for c in parts)
    assert 0 < shown < 30 and f"另有 {30 - shown} 条未列出" in parts[-1]
    assert "(https://yuqing.example.org/digest/latest)" in parts[-1]


def test_a_part_already_delivered_is_not_sent_again_on_retry(tmp_path, sqlite_db_url, receiver):
    seen: list[str] = []

    def flaky(p: Posted) -> Reply:
        seen.append(p.body["markdown"]["content"].splitlines()[0])
        return Reply("oops", 502) if len(seen) == 2 else Reply()

    st, db = world(tmp_path, sqlite_db_url, f"{{kind: wecom, url: '{receiver.on('/w', flaky)}'}}")
    story(db, n=8, long=True)
    plan_digests(db, st, NOW)
    assert send_pending(db, st, NOW).retrying == 1
    assert send_pending(db, st, NOW + timedelta(hours=1)).sent == 1
    n = int(seen[0].split("/")[-1].rstrip("）"))
    assert seen[0].endswith(f"（1/{n}）") and seen[1].endswith(f"（2/{n}）") and seen[2].endswith(f"（2/{n}）")
    assert [s for s in seen].count(seen[0]) == 1 and len(seen) == n + 1


def test_at_most_twenty_messages_a_minute_go_to_one_robot(tmp_path, sqlite_db_url, receiver):
    receiver.on("/wecom", lambda p: Reply())
    st, db = world(tmp_path, sqlite_db_url, f"{{kind: wecom, name: ops, url: '{receiver.url('/wecom')}'}}")
    for i in range(25):
        enqueue_message(db, st, kind="report", unit_id="zzb", channel="wecom:ops", recipients=[], subject=f"报告 {i}", text=f"第 {i} 份", html=None, dedupe_key=f"r{i}", now=NOW)
    first = send_pending(db, st, NOW)
    assert (first.sent, first.deferred) == (20, 5)
    assert len(receiver.received("/wecom")) == 20
    assert send_pending(db, st, NOW + timedelta(seconds=30)).sent == 0  # a new run still sees the last minute's sends
    later = send_pending(db, st, NOW + timedelta(seconds=61))
    assert later.sent == 5
    bodies = sorted(p.body["markdown"]["content"] for p in receiver.received("/wecom"))
    assert len(bodies) == 25 and len(set(bodies)) == 25


def test_access_tokens_in_hook_urls_never_appear_in_errors(tmp_path, sqlite_db_url, receiver):
    receiver.on("/open-apis/bot/v2/hook/SECRET-PATH-TOKEN", lambda p: Reply({"code": 19021, "msg": "sign match fail"}))
    receiver.on("/cgi-bin/webhook/send", lambda p: Reply("down", 503))
    hooks = (
        f"{{kind: feishu, url: '{receiver.url('/open-apis/bot/v2/hook/SECRET-PATH-TOKEN')}'}}, "
        f"{{kind: wecom, url: '{receiver.url('/cgi-bin/webhook/send')}?key=SECRET-QUERY-KEY'}}"
    )
    st, db = world(tmp_path, sqlite_db_url, hooks)
    story(db)
    plan_digests(db, st, NOW)
    report = send_pending(db, st, NOW)
    assert report.parked == 1 and report.retrying == 1
    with db.session() as s:
        stored = " ".join(r.last_error or "" for r in s.scalars(select(DeliveryRow)))
    for text in (*report.errors, stored):
        assert "SECRET" not in text and f"127.0.0.1:{receiver.port}" in text
