"""Negativity: complaints, accusations, exposure count; rebuttals, notices, plain questions and moods do not."""

from __future__ import annotations

import pytest

from rules.engine import RuleSet


@pytest.mark.parametrize(
    ("text", "negative"),
    [
        ("我们县有人专门收钱帮人安排进事业单位，开价十五万。", True),  # accusation
        ("XX县纪委监委通报：某村原党支部书记侵占村集体资金38万元，被开除党籍。", True),  # discipline notice
        ("引进时承诺的安家费到现在还没到账，找谁都推诿。", True),  # grievance
        ("惠农补贴被村干部收走了，谁同意的？", True),  # a question implying wrongdoing
        ("关于网传村干部冒领低保的情况说明：经核查，网帖反映问题不属实。", False),  # rebuttal of a rumour
        ("经调查，未发现违规问题。", False),  # negated cue
        ("XX县2024年事业单位公开招聘笔试成绩予以公示，公示期5天。", False),  # routine notice
        ("村两委换届几年一次？", False),  # a plain question
        ("这家酒店的早餐太难吃了，房间也小，下次不来了。", False),  # a shop review's bad mood
    ],
)
def test_negativity_cases(shipped: RuleSet, text: str, negative: bool) -> None:
    a = shipped.analyse("", text)
    assert a.negative is negative, a.reasons
    assert 0.0 <= a.negativity <= 1.0
    assert (a.negativity >= 0.5) is negative


def test_reasons_name_the_words(shipped: RuleSet) -> None:
    a = shipped.analyse("", "面试就是个黑箱，评委一支笔说了算。")
    assert any("黑箱" in r for r in a.reasons) and any("说了算" in r for r in a.reasons)
    negated = shipped.analyse("", "整个招录过程不存在内定。")
    assert not negated.negative
    assert any("negated" in r and "内定" in r for r in negated.reasons) or any("不存在" in r for r in negated.reasons)
