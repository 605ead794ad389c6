"""The engine's fast paths give the verdict of its general path, and are the paths taken.

`RuleSet.analyse` decides most posts without building a `_Post`: a body with no match, with one cue
hit, with one cue found again and again, with cues only, with a trigger word but no runnable rule.
`RuleSet.explain` takes the general path for every post (negativity by `evaluate`, rules through a
`_Post`), and `segment_all=True` is the benchmark's reference; random posts built from the pack's
own words, negators and punctuation must get the same `Analysis` from all three.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from rules.engine import RuleFiring, RuleSet, _Post
from rules.language import RuleSpec
from rules.normalise import _FULLWIDTH_MAP, _JUNK_BETWEEN_HAN, Normaliser

FILLER = ["的", "了", "我们", "今天", "这个", "说", "，", "。", "！", "？", "!", " ", "村", "A", "“", "”", "《", "》", "吗", "\n"]


def _random_posts(rs: RuleSet, n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    words = [p for p in rs.patterns if p]
    rest = list(rs.rest_words)
    negators = list(rs.negativity_model.negators)
    pieces: list[list[str]] = [words, rest, negators, FILLER, FILLER]
    posts = []
    for _ in range(n):
        def text(k: int) -> str:
            return "".join(rng.choice(rng.choice(pieces)) for _ in range(k))
        title = text(rng.randint(1, 4)) if rng.random() < 0.3 else ""
        posts.append((title, text(rng.randint(0, 14))))
    return posts


def test_analyse_equals_the_general_path_and_the_reference_on_random_posts(shipped: RuleSet) -> None:
    posts = _random_posts(shipped, 600, seed=5)
    matched = 0
    for title, text in posts:
        fast = shipped.analyse(title, text)
        assert fast == shipped.explain(title, text)[0], (title, text)
        assert fast == shipped.analyse(title, text, segment_all=True), (title, text)
        matched += bool(fast.topics)
    assert matched >= 5  # the posts reach the rules too, not only negativity


@pytest.mark.parametrize("text", ["今天下雨了！", "今天下雨了！！！！"])  # one cue no negator cancels, once or again and again
def test_a_body_whose_only_cue_cannot_be_negated_takes_its_shared_analysis(shipped: RuleSet, text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Such a post's verdict is known in advance: one Analysis kept per cue, nothing computed."""
    general = shipped.explain("", text)[0]
    assert shipped.analyse(text, "") == general  # a title alone: the same verdict
    first = shipped.analyse("", text)
    model = shipped._stream_negativity

    def not_called(*args: object) -> None:
        raise AssertionError("a verdict was computed")

    for name in ("evaluate_matches", "evaluate_one", "evaluate_parts"):
        monkeypatch.setattr(model, name, not_called)
    again = shipped.analyse("", text)
    assert again is first and again == general


@pytest.mark.parametrize("text", ["这就是个黑箱", "过程没有黑箱", "这就是个黑箱，黑箱！"])  # counted, negated, found again
def test_a_body_whose_only_cue_a_negator_may_cancel_is_settled_by_one_negation_test(
    shipped: RuleSet, text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Such a post has one of two verdicts known in advance (`one_hit_verdicts`): one negation test
    at once picks its shared Analysis, and nothing is left pending."""
    general = shipped.explain("", text)[0]
    first = shipped.analyse("", text)
    assert "_pending" not in vars(first) and first == general
    model = shipped._stream_negativity

    def not_called(*args: object) -> None:
        raise AssertionError("a verdict was computed")

    for name in ("evaluate_matches", "evaluate_one", "evaluate_parts"):
        monkeypatch.setattr(model, name, not_called)
    assert shipped.analyse("", text) is first


def test_the_scan_folds_as_the_normaliser_does(shipped: RuleSet) -> None:
    """The engine searches for a character that may need folding itself (no call for a text with
    none) and folds the others from there: the same texts as `Normaliser.fold`."""
    from rules.engine import _scan

    rng = random.Random(9)
    pieces = ["干部", "幹部", "ＡＢ", "ab", "AB", " ", "·", "*", "，", "。", "🙏", "\u3000", "１２", "乾隆", "提拔", "了"]
    for _ in range(500):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 10)))
        n, _matches, _cues, _trigger, folded = _scan(shipped, text)
        assert (n, folded) == shipped.normaliser.fold(text), text


def _fold_the_general_way(normaliser: Normaliser, text: str) -> tuple[str, str]:
    """`Normaliser.fold` as it was written first: every step over the whole text, junk removed by
    one sub over all of it (what the shortcuts of `fold_from` must give)."""
    s = text
    if normaliser._traditional.intersection(s):
        s = normaliser._folder.convert(s)
    s = "".join(_FULLWIDTH_MAP.get(c, c) for c in s)
    if any("A" <= c <= "Z" or "\uff21" <= c <= "\uff3a" for c in text):  # (other capitals stay: Σ)
        lowered = s.lower()
        s = lowered if len(lowered) == len(s) else "".join(c.lower() if c.isascii() else c for c in s)
    removed = _JUNK_BETWEEN_HAN.sub("", s)
    return (s, "") if removed == s else (removed, s)


def test_fold_gives_what_every_step_over_the_whole_text_gives(shipped: RuleSet) -> None:
    """`fold_from` looks for junk from the first character that needs work and subs from the first
    run to remove (the general way for a text OpenCC converts): the same texts as every step over
    the whole text, with junk runs at the start, the end, before and after that character, and
    Traditional, full-width and upper-case characters before or after them."""
    normaliser = shipped.normaliser
    rng = random.Random(13)
    pieces = ["干部", "幹部", "提拔", "了", "ＡＢ", "ab", "AB", "Σ", " ", "  ", "·", "*", ".", "\n", "~", "\u3000", "＃", "＠", "，",
              "。", "🙏", "\u200b", "１２", "乾隆", "2023", "x", "İ"]
    texts = ["干 部", " 干部", "干部 ", "干\u3000部", "干＃部", "Ａ干 部", "幹 部", "幹部 提 拔", "a 干", "干部 a", "干 .部", "干. 部"]
    texts += ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 12))) for _ in range(3000)]
    for text in texts:
        assert normaliser.fold(text) == _fold_the_general_way(normaliser, text), text


def _counting(rs: RuleSet) -> list[str]:
    """The ids of the rules `rs` evaluates from now on, in order (the real method is called)."""
    seen: list[str] = []
    evaluate = rs._evaluate

    def counted(rule: RuleSpec, post: _Post) -> RuleFiring | None:
        seen.append(rule.id)
        return evaluate(rule, post)

    rs._evaluate = counted  # type: ignore[method-assign]
    return seen


def test_a_rule_that_cannot_beat_its_topics_best_is_not_evaluated(make_rules: Callable[..., RuleSet]) -> None:
    rs = make_rules("topic: t\nrules:\n  - id: small\n    any: [名单]\n  - id: big\n    any: [{word: 低保, weight: 2}]\n")
    seen = _counting(rs)
    analysis = rs.analyse("", "低保名单贴出来了")
    # big (its words can add up to 2) first; small's 1 cannot beat the 2 big scored
    assert seen == ["big"] and [(t.rule_id, t.score) for t in analysis.topics] == [("big", 2.0)]
    # `explain` (yuqing rules test) shows every rule that fired, in the pack's order
    seen.clear()
    full, firings = rs.explain("", "低保名单贴出来了")
    assert [f.rule.id for f in firings] == ["small", "big"] and full == analysis


def test_of_equal_scores_the_rule_listed_first_is_the_topics_best(make_rules: Callable[..., RuleSet]) -> None:
    # second's words could add up to 2 (名单 is a candidate inside 黑名单), so it is evaluated first,
    # but only 低保 is a whole word: 1, as first scores; first is listed first and stays the best.
    rs = make_rules("topic: t\nrules:\n  - id: first\n    any: [低保]\n  - id: second\n    any: [低保, 名单]\n")
    seen = _counting(rs)
    text = "他家吃上了低保，还上了黑名单"
    analysis = rs.analyse("", text)
    assert seen == ["second", "first"]
    assert [t.rule_id for t in analysis.topics] == ["first"] == [t.rule_id for t in rs.explain("", text)[0].topics]


def test_no_rule_is_skipped_where_its_weights_might_round(make_rules: Callable[..., RuleSet]) -> None:
    """A weight such as 0.7 sums to different last bits in different orders: such a rule has no
    bound, and is evaluated whatever the topic's best."""
    rs = make_rules("topic: t\nrules:\n  - id: big\n    any: [{word: 低保, weight: 2}]\n  - id: odd\n    any: [{word: 名单, weight: 0.7}]\n")
    assert rs._bounds[0] == {"低保": 2.0} and rs._bounds[1] is None
    seen = _counting(rs)
    rs.analyse("", "低保名单贴出来了")
    assert sorted(seen) == ["big", "odd"]
