"""Events: posts that tell the same story gather into one event (contract 7: `cluster_posts`).

Sits after the crawl's match stage and before alerts and the ledger: the crawl job calls
`cluster_posts` on the new posts, digests group matches by `posts.event_id`, and cases are opened
from events. A post joins an event when

- it is a forum reply in a thread whose posts already belong to an event (same thread, same matter), or
- its text is a near-duplicate of a post of the event seen within `ledger.event_window`: the
  *containment* |A & B| / min(|A|, |B|) of the character shingles of the folded texts
  (Traditional -> Simplified, punctuation and spaces dropped) is at or above `ledger.similarity`
  (reposts add headers and footers or cut paragraphs, which Jaccard punishes and containment does
  not). MinHash signatures (datasketch), stored per post, pick the candidates cheaply; the best few
  are verified on their shingles. The threshold is measured by `bench/events.py`.

Only posts with at least one match (or replies to a thread that already has an event) are clustered:
an event is a matter some unit watches, not every page crawled.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

import numpy as np
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .config import SEVERITIES, Settings
from .ledger_models import EventRow, PostSketchRow
from .storage import Database, MatchRow, PostRow

log = logging.getLogger(__name__)

NUM_PERM = 128
_SEED = 7  # fixed so signatures stored yesterday compare with today's
_DROP = re.compile(r"[^0-9a-z\u3400-\u4dbf\u4e00-\u9fff]+")
# Lines reposting sites add: "来源：XX网", "转载自XX", "责任编辑：XX". They carry no story.
# (A line that merely starts so but goes on with the story is kept: "转自XX：<the whole post>".)
_BOILER_LINE = re.compile(
    r"^\s*[【\[(（]?\s*(来源|來源|转载自|轉載自|转自|轉自|稿源|责任编辑|責任編輯|编辑|編輯|作者|原标题|原標題)"
    r"[】\])）]?\s*[:：]?[^。！？!?]{0,24}$"
)
SHORT = 12  # shingles: below this a post is too short for a loose threshold
SHORT_SIMILARITY = 0.8  # what a short post must share with another to be its copy
PREFILTER = 0.2  # estimated containment from which a candidate is verified exactly
VERIFY = 8  # candidates verified per post, best estimates first


@lru_cache(maxsize=1)
def _t2s() -> object:
    import opencc

    return opencc.OpenCC("t2s")


def fold(text: str) -> str:
    """Text as compared: NFKC, Simplified script, lower case, only letters, digits and CJK."""
    text = unicodedata.normalize("NFKC", text)
    text = _t2s().convert(text)  # type: ignore[attr-defined]
    return _DROP.sub("", text.lower())


def body_lines(text: str) -> str:
    """The text without the source/editor lines reposts add."""
    return "\n".join(line for line in text.splitlines() if not _BOILER_LINE.match(line))


def shingles(folded: str, k: int) -> set[str]:
    if len(folded) <= k:
        return {folded} if folded else set()
    return {folded[i : i + k] for i in range(len(folded) - k + 1)}


@dataclass(frozen=True)
class Sketch:
    """What clustering knows of a post: its shingles, their MinHash signature and its folded title."""

    signature: np.ndarray  # uint32[NUM_PERM]
    size: int
    title_key: str
    grams: frozenset[str] = frozenset()  # not stored: rebuilt from the text when a candidate is verified


def sketch(title: str, text: str, k: int = 3) -> Sketch:
    """The sketch of a post (title and body together: a title-only feed item still has one)."""
    from datasketch import MinHash

    folded = fold(title) + fold(body_lines(text))
    grams = shingles(folded, k)
    m = MinHash(num_perm=NUM_PERM, seed=_SEED)
    if grams:
        m.update_batch([g.encode("utf-8") for g in grams])
    return Sketch(signature=m.hashvalues.astype(np.uint32), size=len(grams), title_key=fold(title)[:64],
                  grams=frozenset(grams))


def estimated(new: Sketch, signatures: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Estimated containment |A & B| / min(|A|, |B|) of one sketch against many, from MinHash.

    |A & B| = J (|A| + |B|) / (1 + J). Cheap (one vectorised comparison over the stored signatures,
    about 1 ms per post for 10,000 candidates) but noisy when the sizes differ a lot: one agreeing
    hash out of 128 between a 36-shingle post and a 4,000-shingle article reads as 0.9. So it only
    picks candidates; `exact` decides.
    """
    if len(signatures) == 0:
        return np.zeros(0)
    j = (signatures == new.signature[None, :]).mean(axis=1)
    a = float(new.size)
    b = sizes.astype(float)
    smaller = np.maximum(np.minimum(a, b), 1.0)
    return np.minimum(j * (a + b) / (1.0 + j) / smaller, 1.0)


def exact(a: Sketch, b: Sketch) -> float:
    """How far two posts are the same story (0..1): the containment of their shingle sets.

    Very short posts (a feed item's title, a one-line reply) count as copies only when nearly all of
    one is in the other (SHORT_SIMILARITY), or when their folded titles are the same.
    """
    smaller = min(a.size, b.size)
    if smaller == 0:
        return 0.0
    c = len(a.grams & b.grams) / smaller
    if smaller < SHORT:
        if a.title_key and a.title_key == b.title_key:
            return 1.0
        return c if c >= SHORT_SIMILARITY else 0.0
    return c


def similarity(a: Sketch, b: Sketch) -> float:
    """The clustering's verdict on a pair: the MinHash estimate picks candidates, `exact` decides.

    Below PREFILTER the estimate is returned as it is (the pair is never verified)."""
    est = float(estimated(a, b.signature[None, :], np.asarray([b.size]))[0])
    same_title = bool(a.title_key) and a.title_key == b.title_key
    return exact(a, b) if est >= PREFILTER or same_title else est


# --------------------------------------------------------------------------------------------
# Clustering posts in the database


def _post_time(p: PostRow) -> datetime:
    return p.published_at if p.published_at is not None and p.published_at <= p.fetched_at else p.fetched_at


def _candidates(s: Session, post_ids: list[int] | None) -> list[PostRow]:
    matched = select(MatchRow.post_id)
    threads_with_events = select(PostRow.thread_url).where(PostRow.event_id.is_not(None), PostRow.thread_url.is_not(None))
    q = select(PostRow).where(
        PostRow.event_id.is_(None),
        or_(PostRow.id.in_(matched), PostRow.thread_url.in_(threads_with_events)),
    )
    if post_ids is not None:
        q = q.where(PostRow.id.in_(post_ids))
    return list(s.scalars(q.order_by(PostRow.id)))


class _Pool:
    """Recently clustered posts: signatures as one array for the estimate, shingles for verifying."""

    def __init__(self, s: Session, rows: Iterable[PostSketchRow], k: int):
        rows = list(rows)
        self.session = s
        self.k = k
        self.post_ids: list[int] = [r.post_id for r in rows]
        self.event_ids: list[int] = [r.event_id for r in rows]
        self.title_keys: list[str] = [r.title_key for r in rows]
        self.sizes = np.array([r.size for r in rows], dtype=float)
        self.signatures = (
            np.stack([np.frombuffer(r.signature, dtype=np.uint32) for r in rows])
            if rows
            else np.zeros((0, NUM_PERM), dtype=np.uint32)
        )
        self.known: dict[int, Sketch] = {}  # post id -> full sketch, built on first verification

    def _full(self, i: int) -> Sketch:
        pid = self.post_ids[i]
        if pid not in self.known:
            post = self.session.get(PostRow, pid)
            title, text = ((post.title or post.thread_title or ""), post.text) if post else ("", "")
            self.known[pid] = sketch(title, text, self.k)
        return self.known[pid]

    def best(self, sk: Sketch, threshold: float) -> int | None:
        """The event of the most similar verified post, if it reaches `threshold`."""
        if not self.event_ids:
            return None
        est = estimated(sk, self.signatures, self.sizes)
        if sk.title_key:
            est = np.where(np.array(self.title_keys) == sk.title_key, 1.0, est)
        order = [int(i) for i in np.argsort(-est)[:VERIFY] if est[i] >= PREFILTER]
        best_i, best_sim = None, 0.0
        for i in order:
            sim = exact(sk, self._full(i))
            if sim > best_sim:
                best_i, best_sim = i, sim
        return self.event_ids[best_i] if best_i is not None and best_sim >= threshold else None

    def add(self, post_id: int, sk: Sketch, event_id: int) -> None:
        self.post_ids.append(post_id)
        self.event_ids.append(event_id)
        self.title_keys.append(sk.title_key)
        self.sizes = np.append(self.sizes, float(sk.size))
        self.signatures = np.vstack([self.signatures, sk.signature[None, :]])
        self.known[post_id] = sk


def cluster_posts(
    db: Database, settings: Settings, post_ids: list[int] | None = None, *, now: datetime | None = None
) -> int:
    """Give each unclustered post (all, or those of `post_ids`) an event; returns how many were assigned.

    `now` (default: the clock) is when the events' trend windows end.
    """
    try:
        return _cluster(db, settings, post_ids, now or datetime.now(UTC))
    except IntegrityError:
        # Another run (the crawl job and the daily check may overlap) clustered the same posts
        # first: its sketches' primary keys refuse ours, and what it assigned stands.
        log.info("posts were clustered concurrently by another run; nothing assigned here")
        return 0


def _cluster(db: Database, settings: Settings, post_ids: list[int] | None, now: datetime) -> int:
    cfg = settings.ledger
    assigned = 0
    with db.session() as s:
        posts = _candidates(s, post_ids)
        if not posts:
            return 0
        oldest = min(_post_time(p) for p in posts) - cfg.event_window
        pool = _Pool(s, s.scalars(select(PostSketchRow).where(PostSketchRow.at >= oldest)), cfg.shingle)
        thread_events: dict[str, int] = {}
        threads = {p.thread_url for p in posts if p.thread_url}
        if threads:
            for url, eid in s.execute(
                select(PostRow.thread_url, func.min(PostRow.event_id))
                .where(PostRow.thread_url.in_(threads), PostRow.event_id.is_not(None))
                .group_by(PostRow.thread_url)
            ):
                if url is not None and eid is not None:
                    thread_events[url] = eid
        touched: set[int] = set()
        for post in posts:
            sk = sketch(post.title or post.thread_title or "", post.text, cfg.shingle)
            event_id = thread_events.get(post.thread_url or "") or pool.best(sk, cfg.similarity)
            if event_id is None:
                ev = EventRow(
                    title=(post.thread_title or post.title or post.text[:40]).strip(),
                    first_seen=_post_time(post),
                    last_seen=_post_time(post),
                    updated_at=now,
                )
                s.add(ev)
                s.flush()
                event_id = ev.id
            post.event_id = event_id
            if post.thread_url:
                thread_events.setdefault(post.thread_url, event_id)
            s.add(
                PostSketchRow(
                    post_id=post.id,
                    event_id=event_id,
                    at=_post_time(post),
                    size=sk.size,
                    title_key=sk.title_key,
                    signature=sk.signature.tobytes(),
                )
            )
            pool.add(post.id, sk, event_id)
            touched.add(event_id)
            assigned += 1
        s.flush()
        refresh_events(s, settings, touched, now)
    log.info("clustered %d posts into %d events", assigned, len(touched))
    return assigned


def refresh_events(s: Session, settings: Settings, event_ids: Iterable[int], now: datetime) -> None:
    """Recompute each event's figures (spread, topics, severity, negativity, heat, trend) from its posts."""
    from .trends import event_trend, heat

    for eid in sorted(set(event_ids)):
        ev = s.get(EventRow, eid)
        if ev is None:
            continue
        posts = list(s.scalars(select(PostRow).where(PostRow.event_id == eid)))
        if not posts:
            continue
        matches = list(s.scalars(select(MatchRow).where(MatchRow.post_id.in_([p.id for p in posts]))))
        times = sorted(_post_time(p) for p in posts)
        first = min(posts, key=lambda p: (_post_time(p), p.id))
        ev.title = (first.thread_title or first.title or first.text[:40]).strip()
        ev.first_seen, ev.last_seen = times[0], times[-1]
        ev.posts = len(posts)
        ev.sites = len({p.source_id for p in posts})
        ev.replies = sum(1 for p in posts if p.kind == "reply" and (p.floor or 0) > 1)
        ev.topics = sorted({m.topic for m in matches})
        ev.units = sorted({m.unit_id for m in matches})
        sev = [SEVERITIES.index(m.severity) for m in matches if m.severity in SEVERITIES]
        ev.severity = SEVERITIES[max(sev)] if sev else None
        negative_posts = {m.post_id for m in matches if m.negative}
        ev.negative_share = round(len(negative_posts) / len(posts), 3)
        trend = event_trend([(_post_time(p), p.source_id) for p in posts], settings.trends, now)
        ev.trend = trend.label
        ev.trend_detail = trend.as_dict()
        ev.heat = heat(ev.sites, trend.recent_rate, ev.replies, ev.negative_share, settings.trends)
        ev.updated_at = now


@dataclass(frozen=True)
class EventView:
    """An event as commands, reports and cases show it."""

    id: int
    title: str
    posts: int
    sites: int
    replies: int
    topics: tuple[str, ...]
    severity: str | None
    heat: float
    trend: str
    trend_detail: dict[str, float]
    first_seen: datetime
    last_seen: datetime
    negative_share: float
    units: tuple[str, ...]

    @classmethod
    def of(cls, ev: EventRow) -> EventView:
        return cls(
            id=ev.id,
            title=ev.title,
            posts=ev.posts,
            sites=ev.sites,
            replies=ev.replies,
            topics=tuple(ev.topics or ()),
            severity=ev.severity,
            heat=round(ev.heat, 1),
            trend=ev.trend,
            trend_detail=dict(ev.trend_detail or {}),
            first_seen=ev.first_seen,
            last_seen=ev.last_seen,
            negative_share=ev.negative_share,
            units=tuple(ev.units or ()),
        )


def list_events(
    db: Database, *, unit_id: str | None = None, since: datetime | None = None, limit: int | None = None
) -> list[EventView]:
    """Events, hottest first."""
    with db.session() as s:
        q = select(EventRow)
        if since is not None:
            q = q.where(EventRow.last_seen >= since)
        rows = list(s.scalars(q.order_by(EventRow.heat.desc(), EventRow.id)))
        if unit_id is not None:
            rows = [r for r in rows if unit_id in (r.units or [])]
        return [EventView.of(r) for r in rows[:limit]]


def timeline(db: Database, event_id: int) -> list[tuple[datetime, str, str, str]]:
    """(time, source, title, url) of each post of an event, oldest first."""
    with db.session() as s:
        posts = list(s.scalars(select(PostRow).where(PostRow.event_id == event_id)))
        return sorted((_post_time(p), p.source_id, p.title or p.thread_title or "", p.url) for p in posts)
