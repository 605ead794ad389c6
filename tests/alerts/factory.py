"""Posts, matches and settings for the alerts tests, written into a real database as the crawl
pipeline stores them (hits carry offsets into the original title/text, as the rules engine gives)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from yuqing.config import Settings, load_settings
from yuqing.storage import Database, MatchRow, PostRow

_n = itertools.count(1)
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # a Wednesday, 10:00 in Asia/Shanghai


def hits_for(title: str, text: str, words: Sequence[str]) -> list[dict[str, Any]]:
    out = []
    for w in words:
        for fld, body in (("title", title), ("text", text)):
            i = body.find(w)
            if i >= 0:
                out.append({"word": w, "found": w, "field": fld, "start": i, "end": i + len(w)})
    return out


@dataclass
class PostSpec:
    title: str
    text: str
    words: Sequence[str] = ()
    source: str = "county-news"
    url: str | None = None
    at: datetime = NOW
    content_hash: str | None = None
    event_id: int | None = None
    duplicate_of: int | None = None
    matches: Sequence[tuple[str, str, str]] = field(default_factory=list)  # (unit, topic, severity)
    negativity: float = 0.2


def add_post(db: Database, spec: PostSpec) -> tuple[int, list[int]]:
    """Store a post and its matches; returns (post id, match ids)."""
    n = next(_n)
    with db.session() as s:
        post = PostRow(
            source_id=spec.source,
            url=spec.url or f"https://news{n}.example.org/content/{n}.html",
            title=spec.title,
            text=spec.text,
            published_at=spec.at,
            fetched_at=spec.at,
            content_hash=spec.content_hash if spec.content_hash is not None else f"hash{n}",
            event_id=spec.event_id,
            duplicate_of=spec.duplicate_of,
            extra={},
        )
        s.add(post)
        s.flush()
        ids = []
        for unit, topic, severity in spec.matches:
            m = MatchRow(
                post_id=post.id,
                unit_id=unit,
                topic=topic,
                rule_id=f"{topic}.r1",
                severity=severity,
                score=1.0,
                negative=spec.negativity >= 0.5,
                negativity=spec.negativity,
                hits=hits_for(spec.title, spec.text, spec.words),
                created_at=spec.at,
            )
            s.add(m)
            s.flush()
            ids.append(m.id)
        return post.id, ids


def settings_yaml(db_url: str, *, smtp_port: int | None = None, units: str = "", alerts: str = "", extra: str = "") -> str:
    smtp = f"smtp: {{host: 127.0.0.1, port: {smtp_port}, sender: yuqing@example.org, timeout: 5s}}\n" if smtp_port else ""
    return (
        f"database: '{db_url}'\ntimezone: Asia/Shanghai\n{smtp}"
        "sources:\n"
        "  - {id: county-news, name: 县融媒体中心, kind: news, start_urls: ['https://news.example.org/list.html']}\n"
        "  - {id: city-forum, name: 市民论坛, kind: news, start_urls: ['https://bbs.example.org/list.html']}\n"
        f"units:\n{units}\n"
        f"alerts:\n  retry_base: 1m\n{alerts}\n{extra}"
    )


ZZB = "  - {id: zzb, name: 组织部, emails: [officer@example.org, deputy@example.org], topics: [cadre_appointment, public_recruitment]}\n"


def make_settings(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "settings.yaml"
    path.write_text(text, encoding="utf-8")
    return load_settings(str(path))
