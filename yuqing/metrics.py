"""Seeing the daemon work: a health snapshot from the database, Prometheus metrics, /healthz.

`snapshot()` reads what the database knows (posts, matches, deliveries by state, the oldest waiting
delivery, each source's last success and problem); `yuqing status` prints it and the `/metrics`
endpoint exports it at scrape time beside the daemon's own counters (crawls, failures, scheduler
lag, reloads). Both are served on `daemon.listen`, a loopback address by default.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from .config import Settings
from .storage import CrawlRun, Database, DeliveryRow, MatchRow, PostRow, SourceState, utcnow

log = logging.getLogger("yuqing.metrics")


@dataclass(frozen=True)
class SourceHealth:
    source_id: str
    enabled: bool
    status: str
    last_crawl_at: datetime | None
    last_success_at: datetime | None
    consecutive_failures: int
    problem: str | None


@dataclass(frozen=True)
class Snapshot:
    """What the database says about the system, at one moment."""

    at: datetime
    posts: int
    matches: int
    deliveries: dict[str, int]  # state -> count
    oldest_waiting_at: datetime | None  # oldest pending/sending delivery
    crawls_24h: dict[str, int]  # status -> count of crawl runs started in the last 24 hours
    sources: tuple[SourceHealth, ...]

    @property
    def outbox_age(self) -> float:
        return (self.at - self.oldest_waiting_at).total_seconds() if self.oldest_waiting_at else 0.0

    def as_json(self, tz: Any) -> dict[str, Any]:
        def show(t: datetime | None) -> str | None:
            return t.astimezone(tz).isoformat() if t else None

        data = asdict(self)
        data["at"] = show(self.at)
        data["oldest_waiting_at"] = show(self.oldest_waiting_at)
        data["outbox_age_seconds"] = round(self.outbox_age, 1)
        data["sources"] = [
            {**asdict(s), "last_crawl_at": show(s.last_crawl_at), "last_success_at": show(s.last_success_at)}
            for s in self.sources
        ]
        return data


def snapshot(db: Database, settings: Settings, now: datetime | None = None) -> Snapshot:
    from datetime import timedelta

    at = now or utcnow()
    with db.session() as s:
        posts = s.scalar(select(func.count(PostRow.id))) or 0
        matches = s.scalar(select(func.count(MatchRow.id))) or 0
        deliveries = {
            state: n
            for state, n in s.execute(select(DeliveryRow.state, func.count()).group_by(DeliveryRow.state))
        }
        oldest = s.scalar(
            select(func.min(DeliveryRow.created_at)).where(DeliveryRow.state.in_(("pending", "sending")))
        )
        crawls = {
            st: n
            for st, n in s.execute(
                select(CrawlRun.status, func.count())
                .where(CrawlRun.started_at >= at - timedelta(days=1))
                .group_by(CrawlRun.status)
            )
        }
        states = {row.source_id: row for row in s.scalars(select(SourceState))}
    if oldest is not None and oldest.tzinfo is None:  # an aggregate bypasses the column type
        from datetime import UTC

        oldest = oldest.replace(tzinfo=UTC)
    sources = []
    for src in settings.sources:
        st = states.get(src.id)
        sources.append(
            SourceHealth(
                src.id,
                src.enabled,
                st.status if st else "new",
                st.last_crawl_at if st else None,
                st.last_success_at if st else None,
                st.consecutive_failures if st else 0,
                st.problem if st else None,
            )
        )
    return Snapshot(at, int(posts), int(matches), deliveries, oldest, crawls, tuple(sources))


DELIVERY_STATES = ("pending", "sending", "sent", "failed", "parked")


class DatabaseCollector:
    """Exports the snapshot at scrape time, so the numbers are the database's, not a cached guess."""

    def __init__(self, source: Callable[[], tuple[Database, Settings]]):
        self.source = source

    def describe(self) -> list[Any]:
        return []  # metrics are produced at scrape time only

    def collect(self) -> Iterator[Any]:
        db, settings = self.source()
        try:
            snap = snapshot(db, settings)
        except Exception as exc:  # a scrape must not kill the daemon; /healthz reports the database
            log.warning("metrics: cannot read the database: %s", exc)
            return
        yield GaugeMetricFamily("yuqing_posts", "Posts stored", value=snap.posts)
        yield GaugeMetricFamily("yuqing_matches", "Matches stored", value=snap.matches)
        g = GaugeMetricFamily("yuqing_deliveries", "Outbox deliveries by state", labels=["state"])
        for state in sorted(set(DELIVERY_STATES) | set(snap.deliveries)):
            g.add_metric([state], snap.deliveries.get(state, 0))
        yield g
        yield GaugeMetricFamily(
            "yuqing_outbox_oldest_age_seconds",
            "Age of the oldest delivery still waiting to be sent",
            value=snap.outbox_age,
        )
        last = GaugeMetricFamily(
            "yuqing_source_last_success_timestamp_seconds",
            "When each source was last crawled successfully",
            labels=["source"],
        )
        problem = GaugeMetricFamily(
            "yuqing_source_problem", "1 when a source has a recorded problem", labels=["source"]
        )
        for src in snap.sources:
            if src.last_success_at:
                last.add_metric([src.source_id], src.last_success_at.timestamp())
            problem.add_metric([src.source_id], 1.0 if src.status == "problem" else 0.0)
        yield last
        yield problem


class DaemonMetrics:
    """The daemon's own counters, in a registry of its own (tests can run several)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.crawls = Counter(
            "yuqing_crawls", "Crawl runs finished, by source and status", ["source", "status"], registry=r
        )
        self.crawl_failures = Counter(
            "yuqing_crawl_failures", "Crawl runs that failed or timed out", ["source"], registry=r
        )
        self.new_posts = Counter("yuqing_new_posts", "New posts stored by crawls", ["source"], registry=r)
        self.new_matches = Counter(
            "yuqing_new_matches", "New matches found by crawls", ["source"], registry=r
        )
        self.sent = Counter("yuqing_deliveries_sent", "Deliveries sent by this daemon", registry=r)
        self.send_failures = Counter("yuqing_delivery_failures", "Delivery attempts that failed", registry=r)
        self.job_errors = Counter(
            "yuqing_job_errors", "Scheduled jobs that raised an error", ["job"], registry=r
        )
        self.jobs_skipped = Counter(
            "yuqing_jobs_skipped",
            "Runs skipped because the previous run was still going or too late",
            ["job", "reason"],
            registry=r,
        )
        self.lag = Gauge(
            "yuqing_scheduler_lag_seconds",
            "Delay of the latest job start behind its planned time",
            registry=r,
        )
        self.lag_hist = Histogram(
            "yuqing_scheduler_lag",
            "Delay of job starts behind their planned time",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 30),
            registry=r,
        )
        self.reloads = Counter(
            "yuqing_config_reloads", "Configuration reloads, by result", ["result"], registry=r
        )
        self.generation = Gauge(
            "yuqing_config_generation", "Generation of the running configuration (1 at start)", registry=r
        )
        self.loaded_at = Gauge(
            "yuqing_config_loaded_timestamp_seconds", "When the running configuration was loaded", registry=r
        )
        self.rule_topics = Gauge("yuqing_rules_topics", "Topics in the running rule set", registry=r)
        self.started = Gauge("yuqing_started_timestamp_seconds", "When the daemon started", registry=r)
        self.heartbeat = Gauge("yuqing_heartbeat_timestamp_seconds", "Last scheduler heartbeat", registry=r)

    def record_crawl(self, result: Any) -> None:
        for s in result.summaries:
            self.crawls.labels(s.source_id, s.status).inc()
            if s.status in ("failed", "timeout"):
                self.crawl_failures.labels(s.source_id).inc()
            self.new_posts.labels(s.source_id).inc(s.new_posts)
            self.new_matches.labels(s.source_id).inc(s.new_matches)
        self.record_send(result.send)

    def record_send(self, send: Any) -> None:
        self.sent.inc(send.sent)
        self.send_failures.inc(send.failed)

    def record_lag(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self.lag.set(seconds)
        self.lag_hist.observe(seconds)


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # scrapes every 15 s would flood the log
        pass


class HttpEndpoint:
    """/metrics (Prometheus text format) and /healthz (JSON; 200 healthy, 503 not) in a thread."""

    def __init__(
        self, listen: str, metrics: DaemonMetrics, health: Callable[[], tuple[bool, dict[str, Any]]]
    ):
        host, _, port = listen.rpartition(":")
        self.metrics_app = make_wsgi_app(metrics.registry)
        self.health = health
        self.server = make_server(host.strip("[]"), int(port), self._app, _ThreadingWSGIServer, _QuietHandler)
        self.address = f"{host}:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="yuqing-http", daemon=True)

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "/")
        if path == "/metrics":
            return self.metrics_app(environ, start_response)
        if path == "/healthz":
            ok, detail = self.health()
            body = json.dumps(detail, ensure_ascii=False, default=str).encode()
            start_response(
                "200 OK" if ok else "503 Service Unavailable", [("Content-Type", "application/json")]
            )
            return [body]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"yuqing: try /metrics or /healthz\n"]

    def start(self) -> HttpEndpoint:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
