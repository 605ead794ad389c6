"""Fixtures shared by every test: real local servers, real databases, a settings-file writer."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.databases import postgres_database, postgres_reason, sqlite_url
from tests.support.mail import SmtpServer
from tests.support.site import LocalSite

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"


def corpus_dir(*parts: str) -> Path:
    """A folder of ../shared/corpus, or a visible skip when the corpus is not beside the repo."""
    path = CORPUS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"../shared/corpus/{'/'.join(parts)} is not present (the third-party corpus lives beside the repo)")
    return path


@pytest.fixture
def site() -> Iterator[LocalSite]:
    s = LocalSite().start()
    yield s
    s.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    s = SmtpServer().start()
    yield s
    s.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL for each backend: SQLite always, PostgreSQL where the machine runs it."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    reason = postgres_reason()
    if reason:
        pytest.skip(reason)
    with postgres_database() as url:
        yield url


@pytest.fixture
def write_settings(tmp_path: Path) -> Any:
    """Write a settings.yaml from YAML text or a dict; returns its path."""
    from ruamel.yaml import YAML

    def write(content: str | dict[str, Any], name: str = "settings.yaml") -> Path:
        path = tmp_path / name
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            yaml = YAML()
            with path.open("w", encoding="utf-8") as f:
                yaml.dump(content, f)
        return path

    return write


@pytest.fixture(autouse=True)
def _no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # Loopback only: a proxy configured on the machine must never see test traffic.
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "*")
    os.environ.pop("YUQING_SETTINGS", None)
