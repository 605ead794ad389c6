"""From stored matches to the content of one digest or alert (frozen values the templates render).

Reads `matches`, `posts` and `source_state`; groups matches by topic, folds reposts of one story
(same `posts.event_id` when the ledger has clustered it, else the same `content_hash` or a
`duplicate_of` link) into one item that says on how many sites it appeared, orders items most severe
and newest first, and lists the sources that have a problem for the operator section.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from yuqing.config import Settings, UnitSettings
from yuqing.storage import MatchRow, PostRow, SourceState

from .excerpt import Excerpt, Segment, excerpt, highlight
from .topics import display, topic_names

SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2}
SEVERITY_NAME = {"low": "低", "medium": "中", "high": "高"}


@dataclass(frozen=True)
class Item:
    """One story under one topic: the first post of it, and how widely it was reposted."""

    match_ids: tuple[int, ...]
    topic: str
    severity: str
    title: tuple[Segment, ...]
    title_plain: str
    excerpt: Excerpt
    site: str
    url: str
    link: str | None  # the URL when it may become an anchor (http/https only), else None
    published: str  # in settings.tz, '' when the page gave no date
    published_at: datetime | None
    negative: bool
    negativity: float
    sites: int  # distinct sites carrying the story
    copies: int  # posts of the story in this digest

    @property
    def severity_name(self) -> str:
        return SEVERITY_NAME.get(self.severity, self.severity)


@dataclass(frozen=True)
class TopicGroup:
    topic: str
    name: str
    items: tuple[Item, ...]


@dataclass(frozen=True)
class SourceProblem:
    source: str
    problem: str
    since: str


@dataclass(frozen=True)
class Content:
    """Everything one digest or alert says, ready for the templates."""

    kind: str  # digest | alert
    unit_id: str
    unit_name: str
    generated: str
    groups: tuple[TopicGroup, ...]
    problems: tuple[SourceProblem, ...]
    match_ids: tuple[int, ...]
    public_url: str | None

    @property
    def total(self) -> int:
        return sum(len(g.items) for g in self.groups)


def safe_link(url: str) -> str | None:
    """Only http(s) URLs become links: a crawled `javascript:` or `data:` URL stays plain text."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        return url.strip()
    return None


def _local(settings: Settings, when: datetime | None) -> str:
    return when.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M") if when else ""


def _site(settings: Settings, post: PostRow) -> str:
    try:
        src = settings.source(post.source_id)
    except KeyError:
        return urlsplit(post.url).hostname or post.source_id
    return src.name or urlsplit(src.start_urls[0]).hostname or src.id


class _Stories:
    """Union-find over the posts of a digest: reposts of one story end in one set."""

    def __init__(self, posts: Sequence[PostRow]):
        self.parent = {p.id: p.id for p in posts}
        by_key: dict[tuple[str, object], int] = {}
        for p in posts:
            keys: list[tuple[str, object]] = []
            if p.event_id is not None:
                keys.append(("event", p.event_id))
            else:
                if p.content_hash:
                    keys.append(("hash", p.content_hash))
                keys.append(("post", p.duplicate_of or p.id))
            for k in keys:
                if k in by_key:
                    self.union(by_key[k], p.id)
                else:
                    by_key[k] = p.id
            if p.event_id is None and p.duplicate_of in self.parent:
                self.union(p.duplicate_of, p.id)

    def find(self, x: int) -> int:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _sites_of(session: Session, posts: Sequence[PostRow]) -> int:
    """Distinct sites that carry any post of this story, also outside this digest."""
    ids = [p.id for p in posts]
    events = [p.event_id for p in posts if p.event_id is not None]
    hashes = [p.content_hash for p in posts if p.content_hash and p.event_id is None]
    conds = [PostRow.id.in_(ids), PostRow.duplicate_of.in_(ids)]
    if events:
        conds.append(PostRow.event_id.in_(events))
    if hashes:
        conds.append(PostRow.content_hash.in_(hashes))
    n = session.scalar(select(func.count(func.distinct(PostRow.source_id))).where(or_(*conds)))
    return max(int(n or 0), len({p.source_id for p in posts}))


def source_problems(session: Session, settings: Settings, unit: UnitSettings | None) -> tuple[SourceProblem, ...]:
    watched = None
    if unit is not None:
        watched = {s.id for s in settings.sources if unit in settings.units_of(s)}
    rows = session.scalars(select(SourceState).where(SourceState.status == "problem").order_by(SourceState.source_id))
    out = []
    for r in rows:
        if watched is not None and r.source_id not in watched:
            continue
        try:
            name = settings.source(r.source_id).name or r.source_id
        except KeyError:
            name = r.source_id
        out.append(SourceProblem(name, (r.problem or r.last_error or "").strip()[:300], _local(settings, r.problem_since)))
    return tuple(out)


def gather(
    session: Session,
    settings: Settings,
    unit: UnitSettings,
    match_ids: Sequence[int],
    *,
    kind: str,
    now: datetime,
    names: dict[str, str] | None = None,
) -> Content:
    """The content of one digest (or alert) of `unit` carrying these matches.

    `names` (topic id -> display name) may be passed in by a caller rendering many digests at once.
    """
    rows = session.execute(
        select(MatchRow, PostRow).join(PostRow, PostRow.id == MatchRow.post_id).where(MatchRow.id.in_(list(match_ids)))
    ).all()
    names = names if names is not None else topic_names(settings)
    stories = _Stories([p for _, p in rows])
    grouped: dict[tuple[str, int], list[tuple[MatchRow, PostRow]]] = defaultdict(list)
    for m, p in rows:
        grouped[(m.topic, stories.find(p.id))].append((m, p))
    by_topic: dict[str, list[Item]] = defaultdict(list)
    for (topic, _root), members in grouped.items():
        # The story is shown by its earliest post (the original, not a repost), at its worst severity.
        members.sort(key=lambda mp: (mp[1].published_at or mp[1].fetched_at, mp[1].id))
        m, p = members[0]
        worst = max(members, key=lambda mp: SEVERITY_RANK.get(mp[0].severity, 0))[0]
        hits = m.hits or []
        by_topic[topic].append(
            Item(
                match_ids=tuple(sorted(mm.id for mm, _ in members)),
                topic=topic,
                severity=worst.severity,
                title=highlight(p.title or p.thread_title or "(无标题)", hits, "title"),
                title_plain=p.title or p.thread_title or "(无标题)",
                excerpt=excerpt(p.text or "", hits),
                site=_site(settings, p),
                url=p.url,
                link=safe_link(p.url),
                published=_local(settings, p.published_at),
                published_at=p.published_at,
                negative=any(mm.negative for mm, _ in members),
                negativity=max(mm.negativity for mm, _ in members),
                sites=_sites_of(session, [pp for _, pp in members]),
                copies=len(members),
            )
        )
    groups = []
    for topic, items in by_topic.items():
        items.sort(
            key=lambda it: (
                -SEVERITY_RANK.get(it.severity, 0),
                -(it.published_at.timestamp() if it.published_at else 0.0),
                it.match_ids,
            )
        )
        groups.append(TopicGroup(topic, display(names, topic), tuple(items)))
    groups.sort(key=lambda g: (-max(SEVERITY_RANK.get(i.severity, 0) for i in g.items), -len(g.items), g.topic))
    return Content(
        kind=kind,
        unit_id=unit.id,
        unit_name=unit.name,
        generated=_local(settings, now),
        groups=tuple(groups),
        problems=source_problems(session, settings, unit),
        match_ids=tuple(sorted(match_ids)),
        public_url=settings.alerts.public_url,
    )
