"""Negativity: complaints, accusations, exposure count; rebuttals, notices, plain questions and moods do not."""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path
from typing import Any

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
        ("严禁跑官要官、买官卖官。", False),  # a rule's negator covers the list after it
        ("他们严禁别人说，自己却跑官要官。", True),  # ... but not the next clause
        ("请认真学习《公务员录用违纪违规行为处理办法》。", False),  # a document's title accuses no one
        ("村务监督委员会受理村民的投诉和举报。", False),  # a duty, not a complaint
        ("就我一个被叫去复查，其他人都直接过了。后面的事大家自己想吧。", True),  # insinuation
        ("林地流转出去一签五十年，大家觉得这个价格合理吗？", False),  # asking for opinions
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
    # The cue alone sits exactly on the threshold (log-odds 0): the features found decide. A
    # single character is found by a regex of them all, a longer run by the model's automaton.
    pulled = model.score("考编又服了")
    assert not pulled.negative
    assert "model: -1.00 (又 -2.00, 考编 +1.00)" in pulled.reasons
    assert pulled.score == pytest.approx(1 / (1 + math.exp(1.0)))
    pushed = model.score("考编服了，考编")  # a feature counts once however often it occurs
    assert pushed.negative and pushed.score == pytest.approx(1 / (1 + math.exp(-1.0)))
    # No cue at all: the model is not consulted, the post stays neutral.
    assert model.score("考编考编").reasons == () and not model.score("考编考编").negative


def test_the_learned_correction_is_capped(tmp_path: Path) -> None:
    # 服了 x3 weighs 4.5 against the threshold 1.5: log-odds +3. A model pulling -5 is held to -2,
    # so a post whose cues say loudly that it complains stays negative.
    lexicon = tmp_path / "lexicon.yaml"
    lexicon.write_text("model: tiny_model.json\nthreshold: 1.5\ncues:\n  grievance: {weight: 1.5, words: [服了, 离谱, 凭什么]}\n",
                       encoding="utf-8")
    (tmp_path / "tiny_model.json").write_text('{"bias": 0.0, "features": {"又": -5.0}}', encoding="utf-8")
    model = NegativityModel.from_file(lexicon, Normaliser())
    verdict = model.score("又服了，离谱，凭什么")
    assert verdict.negative
    assert "model: -2.00 capped from -5.00 (又 -5.00)" in verdict.reasons
    # Within the cap the correction is what the model says.
    (tmp_path / "tiny_model.json").write_text('{"bias": 0.0, "features": {"又": -1.5}}', encoding="utf-8")
    assert "model: -1.50 (又 -1.50)" in NegativityModel.from_file(lexicon, Normaliser()).score("又服了").reasons


def test_learned_model_names_its_strongest_features_in_a_fixed_order(tmp_path: Path) -> None:
    # Strongest first, ties by name: the same reason line (and the same sum) in every process,
    # whatever order a set of the characters found comes in.
    model = _with_model(tmp_path, '{"bias": 0.5, "features": {"甲": 0.25, "乙": -0.25, "丙": 1.0, "丁": 0.5, "戊": -2.0}}')
    verdict = model.score("戊丁丙乙甲服了")
    assert verdict.reasons[-1] == "model: +0.00 (戊 -2.00, 丙 +1.00, 丁 +0.50, 乙 -0.25)"


def test_learned_model_that_cannot_be_read_is_reported(tmp_path: Path) -> None:
    with pytest.raises(RuleError) as err:
        _with_model(tmp_path, '{"features": {}}')
    assert "tiny_model.json" in str(err.value.problems[0])


def test_shipped_model_corrects_topic_posts_only() -> None:
    shipped = NegativityModel.shipped(Normaliser())
    assert shipped.learned is not None and len(shipped.learned.weights) >= 50
    assert shipped.learned_for == "topic_posts" and not shipped.corrects_every_post
    plain = shipped.lexicon_only()
    assert plain.learned is None and plain.cues is shipped.cues and shipped.learned is not None  # the original keeps its model
    assert NegativityModel.from_file(LEXICON, Normaliser(), learned=False).learned is None


TINY_RULE = """topic: public_recruitment
rules:
  - id: kaobian
    any: [考编]
"""


@pytest.mark.parametrize("learned_for", ["topic_posts", "all_posts", None])
def test_the_model_corrects_the_posts_its_setting_names(tmp_path: Path, make_rules, learned_for: str | None) -> None:  # type: ignore[no-untyped-def]
    # The tiny model pulls every post with 又 below the threshold; 服了 alone is negative.
    (tmp_path / "tiny_model.json").write_text('{"bias": 0.0, "features": {"又": -2.0}}', encoding="utf-8")
    lexicon = tmp_path / "lexicon.yaml"
    setting = "" if learned_for is None else f"model_for: {learned_for}\n"
    lexicon.write_text(setting + LEXICON_WITH_MODEL, encoding="utf-8")
    model = NegativityModel.from_file(lexicon, Normaliser())
    rs = make_rules(TINY_RULE)
    rs = RuleSet(rs.topic_specs, rs.rules, normaliser=rs.normaliser, negativity=model)
    everywhere = learned_for == "all_posts"
    # A post a rule fired on: corrected whatever the setting (topic_posts is the default).
    topical = rs.analyse("", "考编又服了")
    assert topical.topic_ids == ["public_recruitment"]
    assert not topical.negative and "model: -2.00 (又 -2.00)" in topical.reasons
    assert rs.explain("", "考编又服了")[0] == topical
    # The same complaint with no topic: corrected only when the model is for every post.
    for title, text in (("", "又服了"), ("又服了", ""), ("标题", "又服了")):
        stream = rs.analyse(title, text)
        assert stream.topics == ()
        assert stream.negative is not everywhere
        assert any(r.startswith("model:") for r in stream.reasons) is everywhere
        assert rs.explain(title, text)[0] == stream


def test_an_unknown_model_for_is_an_error_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "tiny_model.json").write_text('{"bias": 0.0, "features": {}}', encoding="utf-8")
    lexicon = tmp_path / "lexicon.yaml"
    lexicon.write_text(LEXICON_WITH_MODEL + "model_for: topic_post\n", encoding="utf-8")
    with pytest.raises(RuleError) as err:
        NegativityModel.from_file(lexicon, Normaliser())
    message = str(err.value.problems[0])
    assert "lexicon.yaml:5" in message and "model_for" in message and 'did you mean "topic_posts"' in message


LEXICON_WITH_TOGETHER = """\
threshold: 1.5
negators: [排查]
cues:
  insinuation: {weight: 1.0, words: [小舅子]}
together:
  favouritism:
    weight: 2.0
    words: [[局长, 村主任], [小舅子, 侄女], [提拔, 包给]]
"""


@pytest.fixture
def together(tmp_path: Path) -> NegativityModel:
    lexicon = tmp_path / "lexicon.yaml"
    lexicon.write_text(LEXICON_WITH_TOGETHER, encoding="utf-8")
    return NegativityModel.from_file(lexicon, Normaliser())


@pytest.mark.parametrize(
    ("text", "negative", "reason"),
    [
        ("局长的小舅子去年被提拔了。", True, "favouritism: 局长 + 小舅子 + 提拔 (+2)"),
        ("鱼塘被村主任包给了他侄女，一包三十年。", True, "favouritism: 村主任 + 侄女 + 包给 (+2)"),
        # Every list must be found in ONE sentence.
        ("局长的小舅子来了。提拔的是别人。", False, None),
        # The last sentence needs no end mark; a word of an earlier sentence does not lend itself to it.
        ("局长的小舅子来了。后来局长的侄女被提拔了", True, "favouritism: 局长 + 侄女 + 提拔 (+2)"),
        # Two sentences hold the structure: the reason names the first one's words.
        ("村主任的侄女被提拔了。局长的小舅子也被提拔了。", True, "favouritism: 村主任 + 侄女 + 提拔 (+2)"),
        # A list's words alone count for nothing (提拔, 局长 are no cues here).
        ("局长说今年要提拔年轻人。", False, None),
        # A negator before one of its words: checking for the structure is not reporting it.
        ("专项行动重点排查局长小舅子被提拔等问题。", False, "not counted (negated): favouritism: 局长 + 小舅子 + 提拔"),
    ],
)
def test_together_cue_needs_all_its_lists_in_one_sentence(together: NegativityModel, text: str, negative: bool, reason: str | None) -> None:
    verdict = together.score(text)
    assert verdict.negative is negative, verdict.reasons
    if reason is not None:
        assert reason in verdict.reasons
    assert not any(r.startswith(("提拔", "局长")) for r in verdict.reasons)  # silent words give no reason


def test_together_cue_with_one_list_is_an_error(tmp_path: Path) -> None:
    lexicon = tmp_path / "lexicon.yaml"
    lexicon.write_text("together:\n  lonely: {weight: 1, words: [[局长]]}\n", encoding="utf-8")
    with pytest.raises(RuleError) as err:
        NegativityModel.from_file(lexicon, Normaliser())
    assert "lexicon.yaml:2" in str(err.value.problems[0])


def test_shipped_together_cue_on_a_promotion_of_kin(shipped: RuleSet) -> None:
    a = shipped.analyse("", "我们局长一上任就把他的老部下提成了办公室主任。")
    assert a.negative and any(r.startswith("favouritism:") for r in a.reasons)
    fast = shipped.analyse("", "新来的副镇长才来一年就提了镇长。")
    assert "too_fast: 才来 + 就提了 (+1.5)" in fast.reasons


def test_readme_lexicon_example_loads(tmp_path: Path) -> None:
    readme = Path(__file__).resolve().parents[2] / "rules" / "README.md"
    blocks = re.findall(r"```yaml lexicon\n(.*?)```", readme.read_text(encoding="utf-8"), flags=re.S)
    assert blocks
    lexicon = tmp_path / "lexicon.yaml"
    lexicon.write_text(blocks[0], encoding="utf-8")
    verdict = NegativityModel.from_file(lexicon, Normaliser()).score("村主任把鱼塘包给了他小舅子")
    assert verdict.negative and verdict.reasons == ("favouritism: 村主任 + 小舅子 + 包给 (+2)",)


@pytest.mark.parametrize(
    "text",
    [
        "面试就是个黑箱。",  # counted
        "面试过程没有黑箱。",  # negated
        "严禁收受礼金。",  # a rule's negator
        "关于网传情况的说明：网帖反映问题不属实。",  # a cue with a negative weight
        "居然这样",  # below the threshold
        "局长来了。",  # a word only a `together` cue needs
    ],
)
def test_one_cue_hit_has_the_verdict_of_the_general_path(shipped: RuleSet, text: str) -> None:
    norm = Normaliser().normalise(text).text
    with_model = NegativityModel.from_file(LEXICON, Normaliser(), learned=MODEL)
    lexicon_alone = with_model.lexicon_only()
    for model in (lexicon_alone, with_model):
        found = model.automaton.find_matches_as_indexes(norm, overlapping=True)  # type: ignore[union-attr]
        hits = [(start, end, model.cues[model._keys[i]]) for i, start, end in found]
        assert len(hits) == 1
        assert model.evaluate_one(norm, hits[0]) == model.evaluate_parts([("", []), (norm, hits)])
        if model is lexicon_alone:  # no topic in these posts: the shipped engine gives the lexicon's verdict
            assert shipped.analyse("", text).reasons == model.evaluate_one(norm, hits[0])[2]


def test_a_cue_inside_a_longer_cue_found_there_does_not_count(tmp_path: Path) -> None:
    lexicon = tmp_path / "lexicon.yaml"
    lexicon.write_text("threshold: 1.5\ncues:\n  misconduct: {weight: 2, words: [内定]}\n  notice: {weight: -3, words: [予以公示]}\n"
                       "  grievance: {weight: 1, words: [公示]}\n", encoding="utf-8")
    model = NegativityModel.from_file(lexicon, Normaliser())
    # 公示 inside 予以公示 is the notice's; a 公示 elsewhere in the post counts on its own.
    assert model.score("名单予以公示，内定").reasons == ("notice: 予以公示 (-3)", "misconduct: 内定 (+2)")
    assert model.score("公示了吗，名单予以公示，内定").reasons == ("grievance: 公示 (+1)", "notice: 予以公示 (-3)", "misconduct: 内定 (+2)")
    assert model.score("公示期间内定").reasons == ("grievance: 公示 (+1)", "misconduct: 内定 (+2)")


@pytest.fixture(scope="module")
def lexicon_alone() -> NegativityModel:
    return NegativityModel.from_file(LEXICON, Normaliser(), learned=False)


@pytest.mark.parametrize(
    ("text", "negative", "cue"),
    [
        # the outcome settled before the procedure
        ("处长的人选早有安排，竞聘只是走个流程。", True, "早有安排"),
        ("这次调整谁上谁下，由组织考察决定。", False, None),  # who rises next, a plain statement
        # a favour asked, a queue jumped
        ("听说他家里提前打了招呼，所以面试才过的。", True, "提前打了招呼"),
        ("他进门跟大家打了招呼。", False, None),  # a greeting
        ("食堂排队有人插了队。", False, None),  # a canteen queue
        # theirs first, ours what is left
        ("救济粮发下来，组长家先挑了，剩下的才分给我们。", True, "家先挑"),
        ("超市会员可以优先挑选。", False, None),
        # drawing what should have stopped
        ("人都调走半年了，岗位补贴照领不误。", True, "照领不误"),
        ("按照领导要求完成低保复核。", False, None),  # 照领 inside 按照领导 is no cue
        # stuck in place
        ("干了二十年科员，提拔无望。", True, "提拔无望"),
        ("我县打破论资排辈，大胆使用年轻干部。", False, None),  # 打破 negates
        # no backing
        ("没背景的只能干活，好位置都是有靠山的。", True, "没背景"),
        ("我们村靠山吃山，发展林下经济。", False, None),
        # conditions only one person meets
        ("岗位要求写得这么细，全市能有几个？", True, "全市能有几个"),
        ("符合这些条件的，全省恐怕只有一个。", True, "tailored: 这些条件 + 恐怕只有 (+1.5)"),
        ("请问这个岗位要求的基层经历，我符合条件吗？", False, None),
        # the authorities look away
        ("他天天不上班，单位也不查。", True, "也不查"),
        # papers lost, waiting lost
        ("组织部把我的档案弄丢了。", True, "lost_papers: 组织 + 弄丢 (+1.5)"),
        ("排了三年队，白等了。", True, "白等"),
        ("我把钥匙弄丢了，只好叫开锁师傅。", False, None),
        # a rise too fast
        ("三十出头就正处，升得比谁都快。", True, "升得比谁都快"),
        ("火箭发射成功。", False, None),
        # everything taken by them, years and not once, one family, a price on an office, a lease for a pittance
        ("指标都被领导的亲戚占了。", True, "all_taken: 都被 + 占了 (+1.5)"),
        ("村里十几年没公开账目。", True, "years_without: 十几年 + 没公开 (+1.5)"),
        ("村两委班子就是一家子。", True, "one_family: 两委 + 一家子 (+1.5)"),
        ("父子俩一起跑完了马拉松。", False, None),
        ("一个副科的位子明码标价。", True, "price_list: 明码标价"),
        ("超市的商品都明码标价。", False, None),
        ("鱼塘承包出去一年才交五百，人家一年赚几十万。", True, "cheap_lease"),
        ("村集体鱼塘公开承包，租金每年五万元。", False, None),
        # the misconduct news reports of anyone, against a question on the penalty and a hotel's service
        ("某网红主播被曝偷税漏税，已被税务部门追缴。", True, "偷税"),
        ("酒驾的处罚标准是什么？会被罚多少？", False, None),
        ("酒店服务不到位，早餐也一般。", False, None),
        # still temporary after years, signed in my name
        ("在局里干了十年，还是临时工。", True, "还是临时工"),
        ("合同上那个签名根本不是我签的。", True, "不是我签的"),
        # over-firing fixed: a company mood, a private matter, a happy exam, a plain question, a rule, a problem being solved
        ("公司开会，老板拍了桌子。", False, None),
        ("彩礼要十万，大家说合理吗？", False, None),
        ("面试通过了！手心全是汗。", False, None),
        ("公务员兼职会不会被处分？", False, None),
        ("档案审核发现造假的，一律先停职再调查。", False, None),
        ("干部年龄偏大、结构不合理的问题得到解决。", False, None),
    ],
)
def test_session5_families_and_traps(lexicon_alone: NegativityModel, text: str, negative: bool, cue: str | None) -> None:
    verdict = lexicon_alone.score(Normaliser().normalise(text).text)
    assert verdict.negative is negative, verdict.reasons
    if cue is not None:
        assert any(cue in r for r in verdict.reasons), verdict.reasons


# -- fast paths of the evaluation (same verdicts as the general path, less work) ---------------------


def test_one_cue_found_again_and_again_has_the_one_hit_verdict(shipped: RuleSet, monkeypatch: pytest.MonkeyPatch) -> None:
    """！！ is found three times in ！！！！ (overlapping hits): only its first hit counts, so the engine
    takes the one-hit verdict without the general loop, and that verdict is the general loop's."""
    text = "今天下雨了！！！！"
    norm = Normaliser().normalise(text).text
    model = shipped._stream_negativity
    found = model.automaton.find_matches_as_indexes(norm, overlapping=True)  # type: ignore[union-attr]
    hits = [(start, end, model.cues[model._keys[i]]) for i, start, end in found]
    assert len(hits) > 1 and len({id(h[2]) for h in hits}) == 1
    general = model.evaluate_parts([(norm, hits)])
    assert general == model.evaluate_one(norm, hits[0])

    def no_general_loop(parts: object) -> None:
        raise AssertionError("the general loop was taken")

    monkeypatch.setattr(model, "evaluate_parts", no_general_loop)
    assert shipped.analyse("", text).reasons == general[2]


def test_one_pass_over_a_bodys_matches_gives_the_general_loops_verdict(shipped: RuleSet) -> None:
    """`evaluate_matches` (a body no rule can fire on, when its negativity is read) counts each cue
    at its first match and hands a post with a cue inside a longer one, or with a `together` cue,
    to the general loop: the same verdicts to the last bit, with and without the learned model."""
    from rules.engine import _scan

    from .test_engine import _random_posts

    with_model = NegativityModel.from_file(LEXICON, Normaliser(), learned=MODEL)
    every = copy.copy(with_model)
    every.learned_for = "all_posts"
    texts = [text for _, text in _random_posts(shipped, 1500, seed=31)]
    texts += ["据说是内定的，根本不公平", "局长的小舅子被提拔，全是猫腻", "过程没有黑箱，也没有猫腻", "这就是个黑箱，全是猫腻"]
    for model in (with_model.lexicon_only(), every):
        rs = RuleSet(shipped.topic_specs, shipped.rules, normaliser=shipped.normaliser, negativity=model)
        general_calls = 0
        original = model._evaluate_parts

        def general(
            parts: list[tuple[str, list[tuple[int, int, Any]]]], original: Any = original
        ) -> tuple[float, bool, tuple[str, ...]]:
            nonlocal general_calls
            general_calls += 1
            return original(parts)  # type: ignore[no-any-return]

        for text in texts:
            n, matches, hits, _, _ = _scan(rs, text)
            expected = original([(n, hits)]) if hits else rs._neutral_verdict  # no cue: neutral, uncorrected
            model._evaluate_parts = general  # type: ignore[method-assign]
            try:
                assert model.evaluate_matches(n, matches, rs._cue_table) == expected, text
            finally:
                del model._evaluate_parts
        assert 10 <= general_calls <= len(texts) // 5  # both ways are taken, the one pass most often


def test_together_cue_is_tested_only_when_every_list_has_a_word(together: NegativityModel, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sentence-by-sentence test of a `together` cue runs only for a post with a word of each of
    its lists (a bit per list, checked with int operations): most posts with two such words have
    them from one or two lists only."""
    calls: list[str] = []
    original = together._together_in

    def counting(text: str, *args: object) -> None:
        calls.append(text)
        original(text, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(together, "_together_in", counting)
    # Two lists of three (an official and a relative, no benefit): no test.
    assert together.score("局长的小舅子来了，村主任的侄女也来了。").reasons == ("insinuation: 小舅子 (+1)",)
    assert calls == []
    # All three lists: tested (and counted).
    assert "favouritism: 局长 + 小舅子 + 提拔 (+2)" in together.score("局长的小舅子去年被提拔了。").reasons
    assert len(calls) == 1
    # All three lists, but not in one sentence: tested, not counted.
    assert not any(r.startswith("favouritism") for r in together.score("局长的小舅子来了。提拔的是别人。").reasons)
    assert len(calls) == 2


def test_together_prefilter_lanes_hold_every_cue(tmp_path: Path) -> None:
    """Each `together` cue has its own lane of bits, a word may be in lists of several cues, and a
    cue whose lists are all found is flagged whatever the other cues' lanes hold."""
    lexicon = tmp_path / "lexicon.yaml"
    lexicon.write_text(
        "threshold: 1.5\ntogether:\n"
        "  a: {weight: 2, words: [[局长], [小舅子], [提拔]]}\n"
        "  b: {weight: 2, words: [[说是], [结果]]}\n"
        "  c: {weight: 2, words: [[局长, 书记], [结果]]}\n",
        encoding="utf-8",
    )
    model = NegativityModel.from_file(lexicon, Normaliser())

    def flagged(*words: str) -> bool:
        found = 0
        for w in words:
            found |= model._together_bits[w]
        return bool((found + model._together_carry) & model._together_top)

    assert not flagged("局长", "小舅子") and not flagged("说是") and not flagged("小舅子", "提拔", "说是")
    assert flagged("局长", "小舅子", "提拔") and flagged("说是", "结果") and flagged("书记", "结果") and flagged("局长", "结果")
    assert model.score("说是公开招聘，结果早就定了人。").negative


def test_the_one_pass_tests_negation_as_negated_does_at_the_edges_of_its_windows(shipped: RuleSet) -> None:
    """`negated` looks back over two windows (a rule negator or title mark in the 30 characters
    before the cue, a negator in its `negation_window`): cues with a negator, a rule negator and a
    title mark at every distance around those edges, a clause break or a closed title between, and
    found once or twice, get the general loop's verdict from `evaluate_matches`."""
    from rules.engine import _scan

    model = shipped._stream_negativity
    general = model._evaluate_parts
    cues = ["暗箱操作", "猫腻", "内定"]  # cues a negator may cancel
    before = ["没有", "不", "严禁", "杜绝", "《", "如果", "防止"]
    fillers = ["的", "事情", "，", "、", "。", "》", "吗？"]
    texts = []
    for cue in cues:
        for word in before:
            for gap in range(0, 34):
                for filler in fillers:
                    body = (filler * gap)[:gap]
                    texts.append(f"{word}{body}{cue}，还有{cues[0]}")
                    texts.append(f"这次{word}{body}{cue}{cue}")
    assert len(texts) > 3000
    negated = 0
    for text in texts:
        n, matches, hits, _, _ = _scan(shipped, text)
        assert len(matches) > 1
        verdict = model.evaluate_matches(n, matches, shipped._cue_table)
        assert verdict == general([(n, hits)]), text
        negated += any(r.startswith("not counted") for r in verdict[2])
    assert 300 < negated < len(texts) - 300  # both ways, many times


def test_a_cue_listed_twice_is_an_error_with_its_line(tmp_path: Path) -> None:
    # The first listing decides the word's weight; a second one would silently do nothing.
    lexicon = tmp_path / "lexicon.yaml"
    lexicon.write_text(
        "threshold: 1.5\n"
        "cues:\n"
        "  misconduct:\n"
        "    weight: 2.0\n"
        "    words: [内定, 陪跑]\n"
        "  grievance:\n"
        "    weight: 1.5\n"
        "    words: [凭什么,\n"
        "            陪跑]\n",
        encoding="utf-8",
    )
    with pytest.raises(RuleError) as err:
        NegativityModel.from_file(lexicon, Normaliser(), learned=False)
    (problem,) = err.value.problems
    assert "lexicon.yaml:9" in str(problem) and "cue '陪跑' is already listed under 'misconduct'" in str(problem)
