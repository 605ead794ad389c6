"""Backtest: re-run a rule set over stored posts and show what would change, sending nothing.

`yuqing rules backtest` reads posts fetched within `--since` from the database (`posts`), analyses
each with the candidate rules, and compares, per post, the topics that would be stored (topics some
unit watching the post's source follows, as the crawl pipeline stores them) with the topics of its
stored `matches` rows. It only reads: no row is written and nothing is queued or sent. A topic no
longer matching because the topic confirmation model withdrew it says so, with its probability.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from yuqing.matching import units_for
from yuqing.storage import Database, MatchRow, PostRow

from .engine import RuleSet


@dataclass(frozen=True)
class Change:
    """One post's topic that the candidate rules would add or drop."""

    post_id: int
    url: str
    title: str
    topic: str
    rule_id: str | None  # the candidate rule that fires (newly matching), or whose match the topic model withdrew, or None
    severity: str | None
    withdrawn: float | None = None  # no longer matching because the topic model withdrew it: its probability


@dataclass(frozen=True)
class BacktestResult:
    since: datetime
    posts: int
    unchanged: int
    newly: tuple[Change, ...]
    dropped: tuple[Change, ...]

    def as_json(self) -> dict[str, Any]:
        def rows(changes: tuple[Change, ...]) -> list[dict[str, Any]]:
            return [c.__dict__ for c in changes]

        return {"since": self.since.isoformat(), "posts": self.posts, "unchanged": self.unchanged,
                "newly_matching": rows(self.newly), "no_longer_matching": rows(self.dropped)}


def run_backtest(db: Database, settings: Any, rs: RuleSet, since: timedelta, now: datetime | None = None) -> BacktestResult:
    now = now or datetime.now(UTC)
    start = now - since
    newly: list[Change] = []
    dropped: list[Change] = []
    posts = unchanged = 0
    with db.session() as s:
        stored: dict[int, set[str]] = {}
        rows = s.execute(select(MatchRow.post_id, MatchRow.topic).join(PostRow, PostRow.id == MatchRow.post_id).where(PostRow.fetched_at >= start))
        for post_id, topic in rows:
            stored.setdefault(post_id, set()).add(topic)
        for post in s.scalars(select(PostRow).where(PostRow.fetched_at >= start).order_by(PostRow.id)):
            posts += 1
            analysis = rs.analyse(post.title or "", post.text or "")
            now_topics = {t.topic: t for t in analysis.topics if units_for(settings, post.source_id, t.topic)}
            before = stored.get(post.id, set())
            for topic in sorted(set(now_topics) - before):
                tm = now_topics[topic]
                newly.append(Change(post.id, post.url, post.title or "", topic, tm.rule_id, tm.severity))
            gone = {w.topic: w for w in analysis.withdrawn}
            for topic in sorted(before - set(now_topics)):
                w = gone.get(topic)
                if w is None:
                    dropped.append(Change(post.id, post.url, post.title or "", topic, None, None))
                else:
                    dropped.append(Change(post.id, post.url, post.title or "", topic, w.rule_id, None, w.probability))
            unchanged += set(now_topics) == before
    return BacktestResult(start, posts, unchanged, tuple(newly), tuple(dropped))


def render_backtest(result: BacktestResult, settings: Any) -> str:
    shown = result.since.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M")
    lines = [f"Backtest over {result.posts} posts fetched since {shown}: {result.unchanged} unchanged, "
             f"{len(result.newly)} newly matching, {len(result.dropped)} no longer matching (nothing was sent)"]
    if result.newly:
        lines.append("Newly matching:")
        lines += [f"  + [{c.topic}] {c.title or c.url} ({c.rule_id}, {c.severity}) {c.url}" for c in result.newly]
    if result.dropped:
        lines.append("No longer matching:")
        lines += [f"  - [{c.topic}] {c.title or c.url}{_why(c)} {c.url}" for c in result.dropped]
    return "\n".join(lines)


def _why(c: Change) -> str:
    return "" if c.withdrawn is None else f" (rule {c.rule_id} fires; withdrawn by the topic model, probability {c.withdrawn:g})"
