"""`yuqing rules check | test | backtest`, run through the real command line entry point."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from yuqing.cli import main
from yuqing.storage import MatchRow, PostRow, open_database


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_check_shipped_pack_passes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "--config", str(tmp_path / "none.yaml"), "rules", "check")
    assert code == 0 and "6 topics" in out and "examples pass" in out


def test_check_failing_example_names_the_rule_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    f = tmp_path / "mine.yaml"
    f.write_text(
        "topic: mine\nrules:\n  - id: ok\n    any: [低保]\n    examples: {match: [低保名单]}\n"
        "  - id: broken\n    any: [危房改造]\n    examples: {match: [低保名单], no_match: [危房改造补助]}\n",
        encoding="utf-8",
    )
    code, _, err = run(capsys, "rules", "check", str(f))
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 2 and all("mine.yaml:6: rule 'broken'" in line for line in lines)


def test_check_bad_file_exit_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("topic: t\nrules:\n  - id: a\n    nonee: [x]\n    any: [y]\n", encoding="utf-8")
    code, _, err = run(capsys, "rules", "check", str(f))
    assert code == 1 and "bad.yaml:4:5: unknown rule key 'nonee'" in err


def test_test_human_explains(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "--config", str(tmp_path / "none.yaml"), "rules", "test", "村支书把集体土地低价租给亲戚，谁同意的？")
    assert code == 0
    assert "Topic collective_assets" in out and "rules/pack/collective_assets.yaml:" in out
    assert "【集体土地】" in out and "Negativity" in out and "NEGATIVE" in out and "谁同意" in out


def test_test_text_from_stdin(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`rules test -` reads the post from standard input (a pasted post, line breaks and all), not
    the one-character text "-"."""
    post = "关于村务公开的反映\n村支书把集体土地低价租给亲戚，谁同意的？"
    monkeypatch.setattr("sys.stdin", io.StringIO(post + "\n"))
    code, out, _ = run(capsys, "--config", str(tmp_path / "none.yaml"), "rules", "test", "--json", "-")
    assert code == 0
    got = json.loads(out)
    assert "collective_assets" in got["topics"] and got["negative"] is True
    starts = {h["found"]: h["start"] for r in got["rules"] for h in r["hits"]}
    assert starts["集体土地"] == post.index("集体土地")  # offsets count the first line and its line break


def test_test_jsonl_from_stdin(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    lines = [{"id": "p1", "text": "考编又被关系户顶了"}, {"id": 2, "text": "今天天气很好"}]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n"))
    code, out, _ = run(capsys, "--config", str(tmp_path / "none.yaml"), "rules", "test", "--jsonl", "-")
    assert code == 0
    got = [json.loads(line) for line in out.splitlines()]
    assert [g["id"] for g in got] == ["p1", 2]
    assert got[0]["topics"] == ["public_recruitment"] and got[0]["negative"] is True and got[0]["severity"] in ("medium", "high")
    assert got[0]["rules"][0]["rule"] == "recruit.core" and got[0]["rules"][0]["hits"][0]["found"] == "考编"
    assert got[1] == {**got[1], "topics": [], "negative": False, "severity": None, "rules": []}


def _settings(tmp_path: Path, rules_dir: Path | None = None) -> Path:
    s = tmp_path / "settings.yaml"
    s.write_text(
        f"database: sqlite:///{tmp_path / 'app.db'}\n"
        "units:\n  - id: zzb\n    name: 组织部\n    topics: [cadre_appointment, public_recruitment, village_affairs]\n"
        "sources:\n  - id: news\n    kind: news\n    start_urls: [https://news.example.org/]\n",
        encoding="utf-8",
    )
    return s


def test_backtest_shows_new_and_dropped_and_writes_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    db = open_database(f"sqlite:///{tmp_path / 'app.db'}")
    now = datetime.now(UTC)
    with db.session() as s:
        old = PostRow(source_id="news", url="https://news.example.org/1", title="低保公示", text="村里的低保名单公示了", fetched_at=now - timedelta(days=1))
        new = PostRow(source_id="news", url="https://news.example.org/2", title="", text="村里今年换届了，谁当选还不知道", fetched_at=now - timedelta(days=2))
        ancient = PostRow(source_id="news", url="https://news.example.org/3", title="", text="村两委换届", fetched_at=now - timedelta(days=90))
        s.add_all([old, new, ancient])
        s.flush()
        s.add(MatchRow(post_id=old.id, unit_id="zzb", topic="village_affairs", rule_id="x", severity="low", created_at=now))
    rules_dir = tmp_path / "candidate"
    rules_dir.mkdir()
    (rules_dir / "v.yaml").write_text("topic: village_affairs\nrules:\n  - id: v\n    any: [换届]\n", encoding="utf-8")
    code, out, _ = run(capsys, "--config", str(settings), "rules", "backtest", "--since", "30d", "--rules", str(rules_dir), "--json")
    assert code == 0
    result: dict[str, Any] = json.loads(out)
    assert result["posts"] == 2
    assert [(c["url"], c["topic"]) for c in result["newly_matching"]] == [("https://news.example.org/2", "village_affairs")]
    assert [(c["url"], c["topic"]) for c in result["no_longer_matching"]] == [("https://news.example.org/1", "village_affairs")]
    with db.session() as s:
        assert s.query(MatchRow).count() == 1  # nothing written
    code, out, _ = run(capsys, "--config", str(settings), "rules", "backtest", "--rules", str(rules_dir))
    assert code == 0 and "1 newly matching, 1 no longer matching (nothing was sent)" in out


def test_rules_package_does_not_import_scrapy_or_twisted() -> None:
    import subprocess
    import sys

    code = "import sys, rules, rules.engine, rules.backtest, rules.reload, rules.explain; print(any(m.split('.')[0] in ('scrapy', 'twisted') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
