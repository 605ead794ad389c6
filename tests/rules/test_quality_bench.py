"""bench/rules_quality.py's flags: a mistyped one must not fall through to the full run, which prints
the held-back part of the development posts (the part kept out of sight while writing rules)."""

from __future__ import annotations

import pytest

from bench import rules_quality


@pytest.mark.parametrize(("argv", "code"), [(["--help"], 0), (["-h"], 0), (["--tuning-onl"], 2), (["--tuning-only", "--held"], 2)])
def test_unknown_flags_print_usage_and_run_nothing(argv: list[str], code: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert rules_quality.main(argv) == code
    out, err = capsys.readouterr()
    assert out == ""  # nothing scored, no row printed
    assert "usage: python -m bench.rules_quality [--tuning-only] [--errors]" in err


def test_the_held_back_split_is_fixed_by_the_id() -> None:
    ids = [f"d{n:03d}" for n in range(1, 421)]
    held = [i for i in ids if rules_quality.held_back(i)]
    assert held == [i for i in ids if rules_quality.held_back(i)]  # no state between calls
    assert 0.25 < len(held) / len(ids) < 0.35
    assert rules_quality.held_back("d354") and not rules_quality.held_back("d096")
