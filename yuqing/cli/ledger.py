"""`yuqing events`, `yuqing cases ...`, `yuqing report` and `yuqing coverage`.

Thin: each command parses its arguments, calls `yuqing.events` / `yuqing.ledger` / `yuqing.report` /
`yuqing.coverage`, and prints a table or, with --json, one JSON document. Every change names who
makes it with --by.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import UsageError, did_you_mean
from . import print_json


def _now() -> datetime:
    return datetime.now(UTC)


def register(sub: Any) -> None:
    ev = sub.add_parser("events", help="stories gathered from reposts: spread, heat and trend")
    ev.add_argument("--unit", help="only events touching this unit")
    ev.add_argument("--limit", type=int, default=50, help="how many, hottest first (default 50)")
    ev.add_argument("--id", type=int, metavar="ID", help="one event with its timeline (every post, oldest first)")
    ev.add_argument("--json", action="store_true", help="machine-readable output")
    ev.set_defaults(func=cmd_events)

    cases = sub.add_parser("cases", help="the ledger (动态台账): cases, deadlines, replies")
    cs = cases.add_subparsers(dest="cases_command", metavar="ACTION")
    cases.set_defaults(func=lambda app, args: _usage(cases))

    p = cs.add_parser("list", help="cases, with their deadlines and what is overdue")
    p.add_argument("--unit")
    p.add_argument("--status")
    p.add_argument("--overdue", action="store_true", help="only overdue cases")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = cs.add_parser("show", help="one case: posts, event trend, follow-up and timeline")
    p.add_argument("id", type=int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)

    p = cs.add_parser("open", help="open a case from an event, or by hand with --title")
    p.add_argument("--event", type=int, help="the event (see `yuqing events`)")
    p.add_argument("--unit", help="the unit that handles it (default: the event's only unit)")
    p.add_argument("--title", help="title (default: the event's)")
    p.add_argument("--severity", help="low | medium | high (default: the event's for the unit)")
    p.add_argument("--leader", help="responsible leader (default: the unit's)")
    p.add_argument("--handler", help="handler (default: the unit's)")
    _by(p)
    p.set_defaults(func=cmd_open)

    p = cs.add_parser("assign", help="change the responsible leader and/or the handler")
    p.add_argument("id", type=int)
    p.add_argument("--leader")
    p.add_argument("--handler")
    _by(p)
    p.set_defaults(func=cmd_assign)

    p = cs.add_parser("note", help="add a note to the timeline (and move to verifying/handling)")
    p.add_argument("id", type=int)
    p.add_argument("--text", required=True)
    p.add_argument("--status", help="verifying | handling")
    _by(p)
    p.set_defaults(func=cmd_note)

    p = cs.add_parser("reply", help="record the official reply, or the leader's reason for none")
    p.add_argument("id", type=int)
    p.add_argument("--text", help="the reply's text")
    p.add_argument("--where", help="where it was published (URL or place)")
    p.add_argument("--no-reply", dest="no_reply", metavar="REASON", help="why no reply is needed (leader only)")
    _by(p)
    p.set_defaults(func=cmd_reply)

    p = cs.add_parser("resolve", help="record how the matter was resolved")
    p.add_argument("id", type=int)
    p.add_argument("--text", required=True, help="the resolution (处置情况)")
    _by(p)
    p.set_defaults(func=cmd_resolve)

    p = cs.add_parser("close", help="close a resolved and answered case")
    p.add_argument("id", type=int)
    _by(p)
    p.set_defaults(func=cmd_close)

    p = cs.add_parser("reopen", help="reopen a replied, resolved or closed case")
    p.add_argument("id", type=int)
    p.add_argument("--reason", required=True)
    _by(p)
    p.set_defaults(func=cmd_reopen)

    p = cs.add_parser("export", help="the ledger as a spreadsheet (xlsx) or CSV")
    p.add_argument("--format", choices=("xlsx", "csv"), default="xlsx")
    p.add_argument("--output", "-o", help="file to write (default: ledger.xlsx / ledger.csv)")
    p.add_argument("--unit")
    p.set_defaults(func=cmd_export)

    rp = sub.add_parser("report", help="trend report for leaders: volume, events, negativity, cases, charts")
    rp.add_argument("--period", choices=("week", "month"), default="week")
    rp.add_argument("--unit", help="one unit's report (default: all units together)")
    rp.add_argument("--previous", action="store_true", help="the last complete calendar week or month")
    rp.add_argument("--html", metavar="FILE", help="write the HTML report (charts embedded) to FILE")
    rp.add_argument("--send", action="store_true", help="enqueue it for the unit's leaders (needs --unit, or each unit)")
    rp.add_argument("--json", action="store_true")
    rp.set_defaults(func=cmd_report)

    cv = sub.add_parser("coverage", help="which units watch which sources, and the gaps")
    cv.add_argument("--json", action="store_true")
    cv.set_defaults(func=cmd_coverage)


def _by(p: argparse.ArgumentParser) -> None:
    p.add_argument("--by", required=True, metavar="NAME", help="who makes this change (recorded in the case log)")
    p.add_argument("--json", action="store_true")


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _check_unit(app: Any, unit_id: str | None) -> None:
    if unit_id is not None:
        known = [u.id for u in app.settings.units]
        if unit_id not in known:
            raise UsageError(f"no unit '{unit_id}'{did_you_mean(unit_id, known)}")


def _table(headers: list[str], rows: list[list[Any]]) -> None:
    import unicodedata

    def width(s: str) -> int:
        return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)

    cells = [[str(c) for c in r] for r in rows]
    widths = [max([width(h)] + [width(r[i]) for r in cells]) for i, h in enumerate(headers)]
    for r in [headers, *cells]:
        print("  ".join(c + " " * (w - width(c)) for c, w in zip(r, widths, strict=True)).rstrip())


# --------------------------------------------------------------------------------------------


def cmd_events(app: Any, args: argparse.Namespace) -> int:
    from ..events import list_events
    from ..trends import Trend

    _check_unit(app, args.unit)
    if args.id is not None:
        return _event(app, args)
    events = list_events(app.db, unit_id=args.unit, limit=args.limit)
    if args.json:
        print_json([
            {"id": e.id, "title": e.title, "posts": e.posts, "sites": e.sites, "replies": e.replies,
             "topics": list(e.topics),
             "severity": e.severity, "heat": e.heat, "trend": e.trend, "trend_detail": e.trend_detail,
             "negative_share": e.negative_share, "first_seen": e.first_seen.isoformat(),
             "last_seen": e.last_seen.isoformat(), "units": list(e.units)}
            for e in events
        ])
        return 0
    if not events:
        print("no events yet")
        return 0
    from alerts.gather import SEVERITY_NAME
    from alerts.topics import topic_names

    tz = app.settings.tz
    names = topic_names(app.settings)
    rows = []
    for e in events:
        trend = Trend.of(e.trend, e.trend_detail).explain()
        rows.append([e.id, e.title[:30], e.posts, e.sites, "、".join(names.get(t, t) for t in e.topics),
                     SEVERITY_NAME.get(e.severity or "", "-"), e.heat, trend,
                     e.last_seen.astimezone(tz).strftime("%m-%d %H:%M")])
    # People read Chinese; scripts read --json, whose keys and values stay as they are.
    _table(["编号", "标题", "帖文", "站点", "主题", "等级", "热度", "趋势", "最近"], rows)
    return 0


def _event(app: Any, args: argparse.Namespace) -> int:
    from ..events import EventView, timeline
    from ..ledger import CaseError
    from ..ledger_models import EventRow
    from ..trends import Trend

    with app.db.session() as s:
        row = s.get(EventRow, args.id)
        if row is None:
            raise CaseError(f"there is no event {args.id}; `yuqing events` lists them")
        e = EventView.of(row)
    posts = timeline(app.db, args.id)
    if args.json:
        from dataclasses import asdict

        print_json({**asdict(e), "timeline": [{"at": t.isoformat(), "source": src, "title": title, "url": url}
                                              for t, src, title, url in posts]})
        return 0
    tz = app.settings.tz
    print(f"event {e.id}: {e.title}")
    print(f"  {e.posts} posts on {e.sites} sites, {e.replies} forum replies · topics {', '.join(e.topics) or '-'} · "
          f"severity {e.severity or '-'} · negative {e.negative_share:.0%} · heat {e.heat}")
    trend = Trend.of(e.trend, e.trend_detail)
    print(f"  trend {trend.explain()}: {trend.recent} posts in the recent window, {trend.baseline} in the baseline")
    print("  timeline:")
    for t, src, title, url in posts:
        print(f"    {t.astimezone(tz).strftime('%Y-%m-%d %H:%M')}  {src}  {title[:30]}  {url}")
    return 0


def _case_json(c: Any) -> dict[str, Any]:
    d = c.as_dict()
    return d


def cmd_list(app: Any, args: argparse.Namespace) -> int:
    from ..ledger import list_cases

    _check_unit(app, args.unit)
    cases = list_cases(app.db, app.settings, _now(), unit_id=args.unit, status=args.status, overdue=args.overdue)
    if args.json:
        print_json([_case_json(c) for c in cases])
        return 0
    if not cases:
        print("no cases")
        return 0
    from alerts.gather import SEVERITY_NAME

    from ..ledger_export import STATUS_ZH

    _table(
        ["编号", "单位", "状态", "等级", "标题", "责任领导", "承办人", "时限（响应/办结）", "超期"],
        [[c.id, c.unit_id, STATUS_ZH.get(c.status, c.status), SEVERITY_NAME.get(c.severity, c.severity),
          c.title[:28], c.leader or "-", c.handler or "-", f"{c.response_due}/{c.resolve_due}", c.overdue or ""]
         for c in cases],
    )
    return 0


def cmd_show(app: Any, args: argparse.Namespace) -> int:
    from ..ledger import show_case
    from ..trends import Trend

    c = show_case(app.db, app.settings, args.id, _now())
    if args.json:
        print_json(_case_json(c))
        return 0
    tz = app.settings.tz

    def t(x: datetime | None) -> str:
        return x.astimezone(tz).strftime("%Y-%m-%d %H:%M") if x else "-"

    print(f"case {c.id}: {c.title}")
    print(f"  unit {c.unit_id} · severity {c.severity} · status {c.status}" + (f" · OVERDUE ({c.overdue})" if c.overdue else ""))
    print(f"  leader {c.leader or '-'} · handler {c.handler or '-'} · opened {t(c.opened_at)} by {c.opened_by}")
    print(f"  response due {c.response_due} (responded {t(c.responded_at)}) · resolution due {c.resolve_due}")
    if c.event:
        e = c.event
        print(f"  event {e.id}: {e.posts} posts on {e.sites} sites · heat {e.heat} · "
              f"{Trend.of(e.trend, e.trend_detail).explain()}")
    if c.resolution:
        print(f"  resolution: {c.resolution} ({t(c.resolved_at)})")
    if c.reply_text:
        print(f"  reply: {c.reply_text} — {c.reply_where} ({t(c.replied_at)})")
    if c.no_reply_reason:
        print(f"  no reply needed: {c.no_reply_reason} (by {c.no_reply_by})")
    if c.follow_up:
        f = c.follow_up
        print(f"  last follow-up {f.get('at', '')[:16]}: {f.get('edited', 0)} edited, {f.get('gone', 0)} deleted, "
              f"{f.get('new_replies', 0)} new replies; {f.get('trend_text') or f.get('trend', '')}")
    if c.posts:
        print("  posts:")
        for source, title, url, when in c.posts:
            print(f"    {t(when)}  {source}  {title[:30]}  {url}")
    print("  timeline:")
    for entry in c.log:
        move = f" [{entry.status_from} -> {entry.status_to}]" if entry.status_to else ""
        print(f"    {t(entry.at)}  {entry.by}  {entry.action}{move}  {entry.text}")
    return 0


def _done(app: Any, args: argparse.Namespace, case_id: int, message: str) -> int:
    if args.json:
        from ..ledger import show_case

        print_json(_case_json(show_case(app.db, app.settings, case_id, _now())))
    else:
        print(message)
    return 0


def cmd_open(app: Any, args: argparse.Namespace) -> int:
    from ..ledger import CaseError, open_case
    from ..ledger_models import EventRow

    unit = args.unit
    if unit is None:
        if args.event is None:
            raise UsageError("name the unit with --unit")
        with app.db.session() as s:
            ev = s.get(EventRow, args.event)
            units = list(ev.units or []) if ev else []
        if len(units) != 1:
            raise CaseError(f"event {args.event} concerns units {', '.join(units) or '(none)'}: name one with --unit")
        unit = units[0]
    case_id = open_case(app.db, app.settings, unit_id=unit, event_id=args.event, title=args.title,
                        severity=args.severity, leader=args.leader, handler=args.handler, by=args.by, now=_now())
    return _done(app, args, case_id, f"opened case {case_id}")


def cmd_assign(app: Any, args: argparse.Namespace) -> int:
    from ..ledger import assign

    assign(app.db, args.id, leader=args.leader, handler=args.handler, by=args.by, now=_now())
    return _done(app, args, args.id, f"case {args.id} assigned")


def cmd_note(app: Any, args: argparse.Namespace) -> int:
    from ..ledger import note

    note(app.db, args.id, args.text, status=args.status, by=args.by, now=_now())
    return _done(app, args, args.id, f"note added to case {args.id}")


def cmd_reply(app: Any, args: argparse.Namespace) -> int:
    from ..ledger import reply

    reply(app.db, app.settings, args.id, text=args.text, where=args.where, no_reply_reason=args.no_reply,
          by=args.by, now=_now())
    return _done(app, args, args.id, f"reply recorded on case {args.id}")


def cmd_resolve(app: Any, args: argparse.Namespace) -> int:
    from ..ledger import resolve

    resolve(app.db, args.id, args.text, by=args.by, now=_now())
    return _done(app, args, args.id, f"case {args.id} resolved")


def cmd_close(app: Any, args: argparse.Namespace) -> int:
    from ..ledger import close

    close(app.db, args.id, by=args.by, now=_now())
    return _done(app, args, args.id, f"case {args.id} closed")


def cmd_reopen(app: Any, args: argparse.Namespace) -> int:
    from ..ledger import reopen

    reopen(app.db, args.id, args.reason, by=args.by, now=_now())
    return _done(app, args, args.id, f"case {args.id} reopened")


def cmd_export(app: Any, args: argparse.Namespace) -> int:
    from ..ledger_export import export

    _check_unit(app, args.unit)
    path = Path(args.output or f"ledger.{args.format}")
    n = export(app.db, app.settings, _now(), path, args.format, args.unit)
    print(f"wrote {n} case(s) to {path}", file=sys.stderr)
    return 0


def cmd_report(app: Any, args: argparse.Namespace) -> int:
    from ..report import build_report, render_html, render_text, send_report

    _check_unit(app, args.unit)
    now = _now()
    report = build_report(app.db, app.settings, args.period, now, unit_id=args.unit, previous=args.previous)
    if args.html:
        Path(args.html).write_text(render_html(report, app.settings), encoding="utf-8")
        print(f"wrote {args.html}", file=sys.stderr)
    if args.send:
        units = [args.unit] if args.unit else [u.id for u in app.settings.units]
        for uid in units:
            r = report if args.unit else build_report(app.db, app.settings, args.period, now, unit_id=uid,
                                                      previous=args.previous)
            delivery = send_report(app.db, app.settings, r, now)
            print(f"{uid}: " + ("already enqueued for this period" if delivery is None else f"enqueued as delivery {delivery}"),
                  file=sys.stderr)
    if args.json:
        print_json({
            "period": report.period, "unit": report.unit_id, "start": report.start.isoformat(),
            "end": report.end.isoformat(), "posts": report.posts, "negative": report.negative,
            "negative_share": round(report.negative_share, 3), "totals": report.totals,
            "previous_totals": report.previous_totals,
            "topic_trends": {t: {"label": tr.label, **tr.as_dict()} for t, tr in report.topic_trends.items()},
            "volume": {"days": [d.isoformat() for d in report.days], **{t: list(v) for t, v in report.volume.items()}},
            "events": [{"id": line.event.id, "title": line.event.title, "posts": line.period_posts,
                        "sites": line.event.sites, "heat": line.event.heat, "trend": line.trend.label,
                        **line.trend.as_dict()} for line in report.events],
            "cases": {"opened": report.cases_opened, "closed": report.cases_closed,
                      "overdue": report.cases_overdue, "on_time_rate": report.on_time_rate},
        })
    elif not args.html:
        print(render_text(report, app.settings))
    return 0


def cmd_coverage(app: Any, args: argparse.Namespace) -> int:
    from ..coverage import coverage

    cov = coverage(app.settings)
    if args.json:
        print_json({
            "watches": {k: list(v) for k, v in cov.watches.items()},
            "by_unit": {k: list(v) for k, v in cov.by_unit.items()},
            "unwatched_sources": list(cov.unwatched_sources),
            "units_without_sources": list(cov.units_without_sources),
            "thin_sources": list(cov.thin_sources),
            "min_units_per_source": cov.min_units,
            "disabled_sources": list(cov.disabled_sources),
        })
        return 0 if cov.ok else 1
    _table(["source", "watched by"], [[sid + (" (disabled)" if sid in cov.disabled_sources else ""),
                                       ", ".join(units) or "-"] for sid, units in cov.watches.items()])
    print()
    _table(["unit", "sources"], [[uid, ", ".join(sids) or "-"] for uid, sids in cov.by_unit.items()])
    print()
    for label, items in (("sources no unit watches", cov.unwatched_sources),
                         ("units with no (enabled) source", cov.units_without_sources),
                         (f"sources watched by fewer than {cov.min_units} unit(s)", cov.thin_sources)):
        print(f"{label}: {', '.join(items) if items else 'none'}")
    return 0 if cov.ok else 1
