"""Negativity: complaints, accusations, exposure count; rebuttals, notices, plain questions and moods do not."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from rules.engine import RuleSet
from rules.negativity import LEXICON, MODEL, NegativityModel
from rules.normalise import Normaliser
from yuqing.errors import RuleError


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


LEXICON_WITH_MODEL = """\
model: tiny_model.json
threshold: 1.5
cues:
  grievance: {weight: 1.5, words: [服了]}
"""


def _with_model(tmp_path: Path, model: str) -> NegativityModel:
    (tmp_path / "tiny_model.json").write_text(model, encoding="utf-8")
    lexicon = tmp_path / "lexicon.yaml"
    lexicon.write_text(LEXICON_WITH_MODEL, encoding="utf-8")
    return NegativityModel.from_file(lexicon, Normaliser())


def test_learned_model_corrects_the_lexicon_and_names_its_features(tmp_path: Path) -> None:
    model = _with_model(tmp_path, '{"bias": 0.0, "features": {"又": -2.0, "考编": 1.0}}')
    # The cue alone sits exactly on the threshold (log-odds 0): the features found decide.
    pulled = model.score("考编又服了")
    assert not pulled.negative
    assert "model: -1.00 (又 -2.00, 考编 +1.00)" in pulled.reasons
    assert pulled.score == pytest.approx(1 / (1 + math.exp(1.0)))
    pushed = model.score("考编服了，考编")  # a feature counts once however often it occurs
    assert pushed.negative and pushed.score == pytest.approx(1 / (1 + math.exp(-1.0)))
    # No cue at all: the model is not consulted, the post stays neutral.
    assert model.score("考编考编").reasons == () and not model.score("考编考编").negative


def test_learned_model_that_cannot_be_read_is_reported(tmp_path: Path) -> None:
    with pytest.raises(RuleError) as err:
        _with_model(tmp_path, '{"features": {}}')
    assert "tiny_model.json" in str(err.value.problems[0])


def test_shipped_model_loads_but_is_off_by_default() -> None:
    normaliser = Normaliser()
    assert NegativityModel.shipped(normaliser).learned is None  # speed: see rules/negativity.yaml
    learned = NegativityModel.from_file(LEXICON, normaliser, learned=MODEL).learned
    assert learned is not None and len(learned.words) > 1000
