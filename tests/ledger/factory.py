"""Posts and matches written straight into a real database, as the crawl pipeline stores them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from yuqing.storage import Database, MatchRow, PostRow

_n = [0]


def add_post(
    db: Database,
    *,
    source: str,
    title: str,
    text: str,
    at: datetime,
    matches: Sequence[tuple[str, str, str, bool]] = (),  # (unit, topic, severity, negative)
    url: str | None = None,
    kind: str = "article",
    thread_url: str | None = None,
    floor: int | None = None,
) -> int:
    _n[0] += 1
    with db.session() as s:
        post = PostRow(
            source_id=source,
            url=url or f"https://{source}.example.org/p/{_n[0]}",
            title=title,
            text=text,
            published_at=at,
            fetched_at=at,
            kind=kind,
            thread_url=thread_url,
            thread_title=title if thread_url else None,
            floor=floor,
            content_hash=f"h{_n[0]}",
            extra={},
        )
        s.add(post)
        s.flush()
        for unit, topic, severity, negative in matches:
            s.add(
                MatchRow(
                    post_id=post.id,
                    unit_id=unit,
                    topic=topic,
                    rule_id=f"{topic}.r1",
                    severity=severity,
                    score=1.0,
                    negative=negative,
                    negativity=0.8 if negative else 0.1,
                    hits=[],
                    created_at=at,
                )
            )
        return post.id
