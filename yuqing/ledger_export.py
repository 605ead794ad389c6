"""The ledger as offices keep it: `yuqing cases export` to .xlsx (openpyxl) or .csv.

One row per case, the columns of a 舆情台账: 编号, 来源, 标题, 链接, 首发时间, 传播站点数, 责任领导,
承办人, 时限, 状态, 处置情况, 回复情况, 办结时间. Times in the configured time zone.
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from .config import Settings
from .ledger import CaseView, list_cases
from .storage import Database, PostRow

COLUMNS = ("编号", "来源", "标题", "链接", "首发时间", "传播站点数", "责任领导", "承办人", "时限", "状态", "处置情况", "回复情况", "办结时间")
STATUS_ZH = {"new": "新建", "verifying": "核实中", "handling": "处置中", "replied": "已回复", "resolved": "已解决", "closed": "已办结"}


def rows(db: Database, settings: Settings, now: datetime, unit_id: str | None = None) -> list[list[str | int]]:
    tz = settings.tz
    cases = list_cases(db, settings, now, unit_id=unit_id)
    first_posts: dict[int, PostRow] = {}
    with db.session() as s:
        event_ids = [c.event_id for c in cases if c.event_id]
        for p in s.scalars(select(PostRow).where(PostRow.event_id.in_(event_ids))):
            t = p.published_at or p.fetched_at
            cur = first_posts.get(p.event_id)  # type: ignore[arg-type]
            if cur is None or t < (cur.published_at or cur.fetched_at):
                first_posts[p.event_id] = p  # type: ignore[index]

    def fmt(t: datetime | None) -> str:
        return t.astimezone(tz).strftime("%Y-%m-%d %H:%M") if t else ""

    out: list[list[str | int]] = []
    for c in cases:
        first = first_posts.get(c.event_id) if c.event_id else None
        out.append([
            c.id,
            _source_name(settings, first.source_id) if first else "人工登记",
            c.title,
            first.url if first else "",
            fmt((first.published_at or first.fetched_at) if first else c.opened_at),
            c.event.sites if c.event else 0,
            c.leader or "",
            c.handler or "",
            f"响应 {c.response_due}；办结 {c.resolve_due}" + ("（超期）" if c.overdue else ""),
            STATUS_ZH.get(c.status, c.status),
            c.resolution or "",
            _reply(c),
            fmt(c.closed_at),
        ])
    return out


def _source_name(settings: Settings, source_id: str) -> str:
    try:
        return settings.source(source_id).name or source_id
    except KeyError:
        return source_id


def _reply(c: CaseView) -> str:
    if c.reply_text:
        return f"{c.reply_text}（{c.reply_where}）"
    if c.no_reply_reason:
        return f"无需回复：{c.no_reply_reason}（{c.no_reply_by}）"
    return ""


def export(db: Database, settings: Settings, now: datetime, path: Path, fmt: str, unit_id: str | None = None) -> int:
    """Write the ledger to `path`; returns the number of cases."""
    data = rows(db, settings, now, unit_id)
    if fmt == "csv":
        # utf-8-sig: Excel opens a CSV with a BOM as UTF-8, without it as the local code page.
        with path.open("w", encoding="utf-8-sig", newline="") as f:
            w = csv.writer(f)
            w.writerow(COLUMNS)
            w.writerows(data)
        return len(data)
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    ws = wb.active
    ws.title = "舆情台账"
    ws.append(list(COLUMNS))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in data:
        ws.append(row)
    widths = (6, 14, 36, 40, 17, 10, 10, 10, 28, 8, 30, 30, 17)
    for i, width in enumerate(widths):
        ws.column_dimensions[chr(ord("A") + i)].width = width
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "A2"
    wb.save(path)
    return len(data)
