"""Each rule operator and word option, on small rule files compiled for real."""

from __future__ import annotations

from collections.abc import Callable

from rules.engine import RuleSet, _Post

Make = Callable[..., RuleSet]


def topics(rs: RuleSet, text: str, title: str = "") -> list[str]:
    return [t.topic for t in rs.analyse(title, text).topics]


def test_any_fires_on_one_word(make_rules: Make) -> None:
    rs = make_rules("topic: t\nrules:\n  - id: a\n    any: [低保, 危房改造]\n")
    assert topics(rs, "他家吃上了低保") == ["t"]
    assert topics(rs, "今天天气很好") == []


def test_all_needs_every_item_and_inline_lists_are_alternatives(make_rules: Make) -> None:
    rs = make_rules("topic: t\nrules:\n  - id: a\n    all: [[村支书, 村主任], 低保]\n")
    assert topics(rs, "村主任给亲戚办了低保") == ["t"]
    assert topics(rs, "村主任今天开会") == []
    assert topics(rs, "他家吃上了低保") == []


def test_none_blocks_anywhere_in_the_post(make_rules: Make) -> None:
    rs = make_rules("topic: t\nrules:\n  - id: a\n    scope: body\n    any: [招聘]\n    none: [公司]\n")
    assert topics(rs, "事业单位招聘开始报名") == ["t"]
    assert topics(rs, "招聘开始报名", title="某公司") == []


def test_near_within_words(make_rules: Make) -> None:
    rs = make_rules("topic: t\nrules:\n  - id: a\n    near: [{words: [引进, 专家], within: 4}]\n")
    assert topics(rs, "县里引进了一批农业专家") == ["t"]
    assert topics(rs, "县里引进了新设备，上个月还来了好多好多人参观学习，其中有一位专家") == []


def test_near_same_sentence(make_rules: Make) -> None:
    rs = make_rules("topic: t\nrules:\n  - id: a\n    near: [{words: [$village, 砖厂], within: sentence}]\n")
    assert topics(rs, "村里的砖厂卖了") == ["t"]
    assert topics(rs, "村里今年修了路。镇上的砖厂卖了") == []


def test_near_picks_the_first_confirmed_pair_and_cuts_only_for_close_ones(make_rules: Make) -> None:
    rs = make_rules("topic: t\nrules:\n  - id: a\n    near: [{words: [干部, 提拔], within: sentence}]\n")
    # 干部 in 骨干|部门 is no word; the next 干部 has 提拔 in its sentence.
    (match,) = rs.analyse("", "骨干部门提拔了人。干部被提拔了").topics
    assert [(h.found, h.start) for h in match.hits] == [("干部", 9), ("提拔", 12)]
    # Candidates in different sentences: decided by the sentence test, no jieba cut at all.
    post = _Post(rs, "", "干部开会。提拔了谁", segment_all=False)
    assert rs._evaluate(rs.rules[0], post) is None
    assert not post._bounds


def test_scope_title_and_body(make_rules: Make) -> None:
    rs = make_rules("topic: t\nrules:\n  - id: a\n    scope: title\n    any: [低保]\n")
    assert topics(rs, "正文", title="低保名单") == ["t"]
    assert topics(rs, "低保名单", title="标题") == []


def test_exclusion_context_not_in(make_rules: Make) -> None:
    rs = make_rules("topic: t\nrules:\n  - id: a\n    any: [{word: 招聘, not_in: [企业招聘, 校园招聘]}]\n")
    assert topics(rs, "今年的企业招聘开始了") == []
    assert topics(rs, "校园招聘会在体育馆") == []
    assert topics(rs, "卫生院招聘护士") == ["t"]


def test_regex_is_an_extra_condition(make_rules: Make) -> None:
    rs = make_rules("topic: t\nrules:\n  - id: a\n    any: [安家费]\n    regex: ['\\d+万']\n")
    assert topics(rs, "安家费30万只发了一半") == ["t"]
    assert topics(rs, "安家费还没发") == []


def test_whole_words_by_default_and_inside_words_per_word(make_rules: Make) -> None:
    rs = make_rules("topic: t\nrules:\n  - id: a\n    any: [干部]\n", "topic: u\nrules:\n  - id: b\n    any: [{word: 青年, inside_words: true}]\n")
    assert topics(rs, "骨干部门今天开会") == []  # crosses 骨干|部门: never
    assert topics(rs, "局里的干部都知道") == ["t"]  # a whole word
    assert topics(rs, "年轻干部的培养") == []  # inside the word 年轻干部: not by default
    assert topics(rs, "中青年学者论坛") == ["u"]  # inside 中青年, allowed for this word


def test_whole_word_rejects_cross_boundary_without_inside_words(make_rules: Make) -> None:
    rs = make_rules("topic: u\nrules:\n  - id: b\n    any: [青年]\n")
    assert topics(rs, "中青年学者论坛") == []


def test_groups_are_shared_across_files(make_rules: Make) -> None:
    rs = make_rules("groups:\n  kin: [小舅子, 外甥]\n", "topic: t\nrules:\n  - id: a\n    all: [$kin, 提拔]\n")
    assert topics(rs, "局长的外甥被提拔了") == ["t"]


def test_weights_threshold_and_severity(make_rules: Make) -> None:
    rs = make_rules(
        "topic: t\nseverity: {medium: 2, high: 3}\nrules:\n"
        "  - id: a\n    any: [低保, {word: 危房改造, weight: 2}]\n    threshold: 2\n"
    )
    assert topics(rs, "他家吃上了低保") == []  # evidence 1 < threshold 2
    calm = rs.analyse("", "危房改造补助今天发放")
    assert [(t.severity, t.score) for t in calm.topics] == [("medium", 2.0)]
    both = rs.analyse("", "危房改造和低保一起发放")
    # Score 3 reaches 'high', but a post that is not negative is at most medium: a notice full of
    # topic words is not urgent.
    assert both.topics[0].score == 3.0 and not both.negative and both.topics[0].severity == "medium"
    angry = rs.analyse("", "危房改造和低保一起发放，全给了村干部亲戚，凭什么？")
    assert angry.negative and angry.topics[0].severity == "high"


def test_negativity_raises_severity(make_rules: Make) -> None:
    rs = make_rules("topic: t\nseverity: {medium: 2, high: 3}\nrules:\n  - id: a\n    any: [低保]\n")
    assert rs.analyse("", "村里公布了低保名单").topics[0].severity == "low"
    angry = rs.analyse("", "低保名单全是关系户，凭什么？")
    assert angry.negative and angry.topics[0].severity in ("medium", "high")


def test_override_and_disable(make_rules: Make) -> None:
    base = "topic: t\nrules:\n  - id: a\n    any: [低保]\n  - id: b\n    any: [危房改造]\n"
    rs = make_rules(base, "disable: [b]\ntopic: t\nrules:\n  - id: a\n    override: true\n    any: [惠农补贴]\n")
    assert topics(rs, "他家吃上了低保") == []
    assert topics(rs, "危房改造补助") == []
    assert topics(rs, "惠农补贴发了") == ["t"]


def test_only_rules_whose_words_hit_are_evaluated(make_rules: Make) -> None:
    rs = make_rules(
        "topic: t\nrules:\n  - id: a\n    any: [低保]\n  - id: b\n    any: [危房改造]\n"
        "  - id: c\n    all: [低保, 名单]\n  - id: d\n    scope: title\n    any: [低保]\n"
    )
    from rules.engine import _Post

    post = _Post(rs, "", "他家吃上了低保", segment_all=False)
    # b: its word was not found; c: 名单 was not even a candidate; d: not in the title.
    assert [rs.rules[i].id for i in rs._runnable(set(post.candidates["title"]), set(post.candidates["text"]))] == ["a"]
    post = _Post(rs, "低保", "低保名单", segment_all=False)
    assert [rs.rules[i].id for i in rs._runnable(set(post.candidates["title"]), set(post.candidates["text"]))] == ["a", "c", "d"]


def test_words_a_rule_is_not_indexed_under_are_found_once_a_trigger_is(make_rules: Make) -> None:
    # The rank list is the rule's index (its rarest list); 就/才, the `none` word and the exclusion
    # context are looked for only in posts where a rank word was found (a second automaton pass).
    rs = make_rules(
        "topic: t\nrules:\n  - id: a\n"
        "    near: [{words: [[副科级, 正科级], [就, 才]], within: sentence}]\n"
        "    none: [培训班, {word: 科员, not_in: [主任科员]}]\n"
    )
    triggers = set(rs.patterns[: rs.trigger_count])
    assert {"副科级", "正科级"} <= triggers
    assert {"就", "才", "培训班", "科员", "主任科员"} <= set(rs.rest_words)
    assert not {"就", "才", "培训班"} & set(rs.patterns)
    assert topics(rs, "他干了十年才到副科级") == ["t"]
    assert topics(rs, "副科级培训班开班，他才来") == []  # a `none` word from the second pass
    assert topics(rs, "他是主任科员，干了十年才到副科级") == ["t"]  # 科员 inside its exclusion context
    assert topics(rs, "他原来是科员，干了十年才到副科级") == []
    assert topics(rs, "他才来就走了") == []  # partners without the index word: no second pass at all
    assert topics(rs, "干了十年才到", title="副科级") == []  # a sentence does not cross fields
    for title, text in [("", "他干了十年才到副科级"), ("副科级培训班", "他才来"), ("标题", "他是主任科员，才到副科级")]:
        assert rs.analyse(title, text) == rs.analyse(title, text, segment_all=True) == rs.explain(title, text)[0]
