"""Fixtures of the alerts tests: a webhook receiver, and a database with settings around it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def sqlite_db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'yuqing.db'}"
