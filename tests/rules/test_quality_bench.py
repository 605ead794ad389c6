"""The rules benchmarks' and trainers' flags: --help or a mistyped flag must not fall through to a
full run. For bench/rules_quality.py that run prints the held-back part of the development posts
(kept out of sight while writing rules); for bench/train_negativity.py it trained the model and
overwrote the shipped file."""

from __future__ import annotations

import hashlib

import pytest

from bench import rules_quality, train_negativity, train_topics
from rules.negativity import MODEL

MAINS = [rules_quality.main, train_negativity.main, train_topics.main]


@pytest.mark.parametrize("main", MAINS)
def test_help_prints_usage_and_runs_nothing(main, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    before = hashlib.sha256(MODEL.read_bytes()).hexdigest()
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    out, _ = capsys.readouterr()
    assert out.startswith("usage: python -m bench.")
    assert "precision=" not in out and "held back" not in out
    assert hashlib.sha256(MODEL.read_bytes()).hexdigest() == before


@pytest.mark.parametrize("main", MAINS)
@pytest.mark.parametrize("flag", ["--tuning-onl", "--cvv", "--held", "-x"])
def test_unknown_flags_are_refused_before_anything_runs(main, flag: str, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as stop:
        main([flag])
    assert stop.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""  # nothing scored, trained or written
    assert "unrecognized arguments" in err


def test_the_held_back_split_is_fixed_by_the_id() -> None:
    ids = [f"d{n:03d}" for n in range(1, 421)]
    held = [i for i in ids if rules_quality.held_back(i)]
    assert held == [i for i in ids if rules_quality.held_back(i)]  # no state between calls
    assert 0.25 < len(held) / len(ids) < 0.35
    assert rules_quality.held_back("d354") and not rules_quality.held_back("d096")


def test_frozen_sets_are_every_own_fresh_file_in_the_order_written() -> None:
    names = [p.stem for p in rules_quality.FROZEN]
    assert names[:3] == ["own_fresh", "own_fresh2", "own_fresh3"]
    numbers = [int(n.removeprefix("own_fresh") or 1) for n in names]
    assert numbers == list(range(1, len(numbers) + 1))  # own_fresh10 after own_fresh9, none left out
    assert len(names) == len(list(rules_quality.DATA.glob("own_fresh*.jsonl")))
