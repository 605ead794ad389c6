"""Fixtures of the ledger tests: a settings file with two units on a real database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from yuqing.config import Settings, load_settings
from yuqing.storage import Database, open_database


def settings_text(db_url: str, smtp_port: int = 2525, extra: str = "") -> str:
    return f"""
database: {db_url}
timezone: Asia/Shanghai
allow_networks: [127.0.0.0/8]
smtp: {{host: 127.0.0.1, port: {smtp_port}, sender: yuqing@example.org}}
units:
  - id: zzb
    name: 组织部
    emails: [officer@zzb.example.org]
    leader_emails: [leader@zzb.example.org]
    topics: [public_recruitment, cadre_appointment]
    leader: 张部长
    handler: 李科长
    case_threshold: high
  - id: nyb
    name: 农业农村局
    emails: [officer@nyb.example.org]
    topics: [collective_assets, village_affairs]
    case_threshold: medium
sources:
  - {{id: county-news, kind: news, start_urls: ["http://127.0.0.1:9/news/"], units: [zzb, nyb]}}
  - {{id: city-forum, kind: forum, start_urls: ["http://127.0.0.1:9/forum/"], units: [zzb]}}
  - {{id: tieba, kind: forum, start_urls: ["http://127.0.0.1:9/tieba/"], units: [zzb]}}
{extra}
"""


@pytest.fixture
def ledger_env(db_url: str, tmp_path: Path) -> Iterator[tuple[Settings, Database, Path]]:
    path = tmp_path / "settings.yaml"
    path.write_text(settings_text(db_url), encoding="utf-8")
    settings = load_settings(str(path))
    db = open_database(settings.database_url())
    yield settings, db, path
    db.dispose()


def run_cli(path: Path, *argv: str, capsys: Any) -> tuple[int, str, str]:
    from yuqing.cli import main

    code = main(["--config", str(path), *argv])
    out = capsys.readouterr()
    return code, out.out, out.err
