"""Helpers for the crawl tests: a settings file around a LocalSite, and reading back what was stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from yuqing.config import Settings, load_settings
from yuqing.storage import Database, PostRow

UNITS = """units:
  - {id: zzb, name: 组织部, topics: [cadre_appointment, public_recruitment, talent_introduction]}
  - {id: nyb, name: 农业农村局, topics: [collective_assets, village_affairs]}
"""


def write_settings(folder: Path, db_url: str, sources: str, crawl: str = "", allow: str = "[127.0.0.0/8]") -> Settings:
    text = (
        f"database: '{db_url}'\n"
        f"allow_networks: {allow}\n"
        "crawl: {contact: https://example.org/yuqing-test, delay: 0.05s, max_crawl_delay: 3s, parallel_sources: 2"
        + (", " + crawl if crawl else "")
        + "}\n"
        + UNITS
        + "sources:\n"
        + sources
    )
    path = folder / "settings.yaml"
    path.write_text(text, encoding="utf-8")
    return load_settings(str(path))


def posts(db: Database, source_id: str | None = None) -> list[PostRow]:
    with db.session() as s:
        q = select(PostRow).order_by(PostRow.id)
        if source_id:
            q = q.where(PostRow.source_id == source_id)
        return list(s.scalars(q))


def by_path(rows: list[PostRow]) -> dict[str, Any]:
    """Posts keyed by URL path (+query, +fragment), independent of the server's port."""
    out = {}
    for r in rows:
        rest = r.url.split("://", 1)[1]
        out[rest[rest.index("/"):]] = r
    return out
