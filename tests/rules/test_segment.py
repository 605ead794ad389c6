"""Word boundaries with the private jieba tokenizer; block-only cutting equals full cutting."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import jieba

from rules.engine import RuleSet
from rules.segment import Boundaries, new_tokenizer


def test_rule_words_are_not_split_and_global_jieba_is_untouched() -> None:
    tok, added = new_tokenizer(["仍未", "村支书"])
    assert "仍未" in tok.lcut("补贴仍未到账", HMM=False)
    assert "仍未" in added
    assert jieba.dt is not tok and jieba.dt.FREQ.get("仍未") is None


def test_ganbu_inside_gugan_bumen_is_not_a_word() -> None:
    tok, added = new_tokenizer(["干部"])
    b = Boundaries("骨干部门开会", tok, False, added)
    assert b.check(1, 3) == (False, False)  # 干部 crosses 骨干|部门
    b = Boundaries("局里的干部开会", tok, False, added)
    assert b.check(3, 5) == (True, True)
    b = Boundaries("年轻干部开会", tok, False, added)
    assert b.check(2, 4) == (False, True)  # inside the word 年轻干部


def test_user_dictionary_is_loaded(tmp_path: Path, make_rules: Callable[..., RuleSet]) -> None:
    d = tmp_path / "user.txt"
    d.write_text("青禾村 10\n", encoding="utf-8")
    rs = make_rules("topic: t\nrules:\n  - id: a\n    any: [禾村]\n", user_dict=d)
    rs_plain = make_rules("topic: t\nrules:\n  - id: a\n    any: [禾村]\n")
    # With 青禾村 a known word, 禾村 inside it is no longer a whole word.
    assert rs_plain.analyse("", "禾村的路修好了").topics
    assert not rs.analyse("", "青禾村的路修好了").topics


def test_block_cutting_equals_full_segmentation(shipped: RuleSet) -> None:
    texts = ["骨干部门的干部交流轮岗，村支书仍未公开低保名单。", "公司招聘；事业单位招聘！两委换届", "人才引进的安家费拖了两年，谁同意的？"]
    for text in texts:
        assert shipped.analyse("标题里的干部", text) == shipped.analyse("标题里的干部", text, segment_all=True)
