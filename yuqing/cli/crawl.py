"""`yuqing crawl`, `yuqing sources` and `yuqing export posts`: the crawler's commands.

`crawl` goes through `yuqing.jobs.crawl_job` (crawl, then cluster, urgent alerts and sending), so a
manual crawl does what a scheduled one does; `sources` shows each source's health from
`source_state`; `export posts` writes every stored post as JSON lines or CSV.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import asdict
from typing import IO, Any

from sqlalchemy import select

from ..storage import MatchRow, PostRow, SourceState

EXPORT_FIELDS = ("id", "source", "url", "title", "text", "published_at", "author", "fetched_at", "topics")


def register(sub: Any) -> None:
    crawl = sub.add_parser("crawl", help="crawl now: all enabled sources, or the named ones")
    crawl.add_argument("--source", action="append", metavar="ID", help="crawl this source (repeatable)")
    crawl.add_argument("--json", action="store_true", help="print the per-source summaries as JSON")
    crawl.set_defaults(func=cmd_crawl)

    sources = sub.add_parser("sources", help="each source's health: status, last success, last error, problem")
    sources.add_argument("--json", action="store_true")
    sources.set_defaults(func=cmd_sources)

    export = sub.add_parser("export", help="export stored data")
    what = export.add_subparsers(dest="export_what", metavar="WHAT")
    posts = what.add_parser("posts", help="every stored post, with the topics it matched")
    posts.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    posts.add_argument("--output", "-o", metavar="FILE", help="write here instead of standard output")
    posts.set_defaults(func=cmd_export_posts)


def cmd_crawl(app: Any, args: argparse.Namespace) -> int:
    settings, db = app.settings, app.db
    try:
        from ..jobs import crawl_job
    except ImportError:
        from crawler.run import crawl

        summaries = crawl(settings, args.source, db=db)
    else:
        summaries = list(crawl_job(settings, db, args.source).summaries)
    if args.json:
        print(json.dumps({"sources": [asdict(s) for s in summaries]}, ensure_ascii=False))
    else:
        for s in summaries:
            line = f"{s.source_id}: {s.status}, {s.pages} pages fetched, {s.new_posts} new posts, {s.new_matches} new matches, {s.errors} errors"
            print(line + (f" ({s.error})" if s.error else ""))
    return 1 if any(s.status in ("failed", "timeout") for s in summaries) else 0


def _local(settings: Any, value: Any) -> str | None:
    return value.astimezone(settings.tz).isoformat() if value is not None else None


def cmd_sources(app: Any, args: argparse.Namespace) -> int:
    settings, db = app.settings, app.db
    with db.session() as s:
        states = {st.source_id: st for st in s.scalars(select(SourceState))}
    rows = []
    for src in settings.sources:
        st = states.get(src.id)
        rows.append(
            {
                "source": src.id,
                "kind": src.kind,
                "enabled": src.enabled,
                "status": (st.status if st else "new") if src.enabled else "disabled",
                "last_crawl": _local(settings, st.last_crawl_at if st else None),
                "last_success": _local(settings, st.last_success_at if st else None),
                "last_new_post": _local(settings, st.last_new_post_at if st else None),
                "failures_in_a_row": st.consecutive_failures if st else 0,
                "last_error": st.last_error if st else None,
                "problem": st.problem if st else None,
                "retry_after": _local(settings, st.retry_after if st else None),
            }
        )
    if args.json:
        print(json.dumps({"sources": rows}, ensure_ascii=False))
        return 0
    if not rows:
        print("no sources in the settings file")
    for r in rows:
        print(f"{r['source']} [{r['kind']}] {r['status']}: last success {r['last_success'] or 'never'}")
        if r["last_error"]:
            print(f"  last error: {r['last_error']}")
        if r["problem"]:
            print(f"  PROBLEM: {r['problem']}")
        if r["retry_after"]:
            print(f"  waiting until {r['retry_after']}")
    return 0


def export_rows(app: Any) -> Any:
    """Every stored post as a dict of EXPORT_FIELDS, oldest first, read in batches."""
    settings, db = app.settings, app.db
    last = 0
    while True:
        with db.session() as s:
            posts = list(s.scalars(select(PostRow).where(PostRow.id > last).order_by(PostRow.id).limit(500)))
            if not posts:
                return
            topics: dict[int, set[str]] = {}
            for pid, topic in s.execute(
                select(MatchRow.post_id, MatchRow.topic).where(MatchRow.post_id.in_([p.id for p in posts]))
            ):
                topics.setdefault(pid, set()).add(topic)
        for p in posts:
            yield {
                "id": p.id,
                "source": p.source_id,
                "url": p.url,
                "title": p.title,
                "text": p.text,
                "published_at": _local(settings, p.published_at),
                "author": p.author,
                "fetched_at": _local(settings, p.fetched_at),
                "topics": sorted(topics.get(p.id, ())),
            }
        last = posts[-1].id


def cmd_export_posts(app: Any, args: argparse.Namespace) -> int:
    out: IO[str] = open(args.output, "w", encoding="utf-8", newline="") if args.output else sys.stdout
    try:
        if args.format == "jsonl":
            for row in export_rows(app):
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS)
            writer.writeheader()
            for row in export_rows(app):
                writer.writerow({**row, "topics": ";".join(row["topics"])})
    finally:
        if out is not sys.stdout:
            out.close()
    return 0
