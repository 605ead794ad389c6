"""A cheap load: parsed rule files cached on disk (and invalidated by any change), jieba on demand."""

from __future__ import annotations

from pathlib import Path

import pytest

from rules.loading import PACK_DIR, build_ruleset
from yuqing.errors import RuleError

GROUPS = PACK_DIR / "_groups.yaml"
RULE = "topic: t\nrules:\n  - id: a\n    any: [低保]\n"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("YUQING_CACHE_DIR", str(folder))
    return folder


def rule_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def entries(cache: Path) -> list[Path]:
    return sorted(cache.glob("rules-*.pickle"))


def test_second_load_comes_from_the_cache_and_decides_the_same(tmp_path: Path, cache: Path) -> None:
    path = rule_file(tmp_path, RULE)
    first = build_ruleset([GROUPS, path])
    [entry] = entries(cache)
    written = entry.stat().st_mtime_ns
    second = build_ruleset([GROUPS, path])
    assert entries(cache) == [entry] and entry.stat().st_mtime_ns == written  # read, not rewritten
    text = "村支书把低保给了自己亲戚"
    assert second.analyse("", text) == first.analyse("", text) and second.analyse("", text).topics


def test_a_changed_rule_file_is_parsed_again(tmp_path: Path, cache: Path) -> None:
    path = rule_file(tmp_path, RULE)
    assert build_ruleset([GROUPS, path]).analyse("", "他家吃上了低保").topics
    path.write_text(RULE.replace("低保", "危房改造"), encoding="utf-8")
    changed = build_ruleset([GROUPS, path])
    assert not changed.analyse("", "他家吃上了低保").topics
    assert changed.analyse("", "危房改造补助发了").topics
    assert len(entries(cache)) == 2


def test_a_broken_file_is_never_cached_and_always_reported(tmp_path: Path, cache: Path) -> None:
    path = rule_file(tmp_path, "topic: t\nrules:\n  - id: a\n    anyy: [低保]\n")
    for _ in range(2):
        with pytest.raises(RuleError, match="unknown rule key 'anyy'"):
            build_ruleset([GROUPS, path])
    assert entries(cache) == []


def test_a_torn_cache_entry_is_ignored_and_replaced(tmp_path: Path, cache: Path) -> None:
    path = rule_file(tmp_path, RULE)
    build_ruleset([GROUPS, path])
    [entry] = entries(cache)
    entry.write_bytes(b"not a pickle")
    assert build_ruleset([GROUPS, path]).analyse("", "他家吃上了低保").topics
    assert entry.read_bytes() != b"not a pickle"


def test_caching_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YUQING_CACHE_DIR", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert build_ruleset([GROUPS, rule_file(tmp_path, RULE)]).analyse("", "他家吃上了低保").topics
    assert not (tmp_path / "xdg").exists()


def test_jieba_is_read_only_when_a_post_needs_word_boundaries(tmp_path: Path, cache: Path) -> None:
    rs = build_ruleset([GROUPS, rule_file(tmp_path, RULE)])
    rs.analyse("", "今天天气很好")  # no rule word: no boundaries needed
    assert rs._tokenizer is None
    assert rs.analyse("", "他家吃上了低保").topics
    assert rs._tokenizer is not None and "低保" in rs.tokenizer.FREQ


def test_a_user_dictionary_jieba_cannot_read_fails_the_load(tmp_path: Path, cache: Path) -> None:
    bad = tmp_path / "user.txt"
    bad.write_bytes("青禾村 10\n".encode("gbk"))
    with pytest.raises(RuleError, match="rules.user_dict: not a readable UTF-8 file"):
        build_ruleset([GROUPS, rule_file(tmp_path, RULE)], user_dict=bad)
    with pytest.raises(RuleError, match="rules.user_dict: file not found"):
        build_ruleset([GROUPS, rule_file(tmp_path, RULE)], user_dict=tmp_path / "missing.txt")


def test_the_negativity_lexicon_is_kept_in_the_cache_and_read_again_when_it_changes(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading the lexicon's YAML was most of a warm load: a warm load takes it from the cache entry,
    and a changed lexicon (its bytes are part of the key) is read again."""
    import rules.negativity

    lexicon = tmp_path / "lexicon" / "negativity.yaml"
    lexicon.parent.mkdir()
    lexicon.write_text("threshold: 1.5\nnegators: [没有]\ncues:\n  misconduct: {weight: 2, words: [内定]}\n", encoding="utf-8")
    monkeypatch.setattr(rules.negativity, "LEXICON", lexicon)
    path = rule_file(tmp_path, RULE)
    first = build_ruleset([GROUPS, path]).analyse("", "名单早就内定了")
    assert first.negative and first.reasons == ("misconduct: 内定 (+2)",)

    def not_read(*args: object) -> None:
        raise AssertionError("the lexicon was read")

    with monkeypatch.context() as m:
        m.setattr(rules.negativity, "load_yaml", not_read)
        assert build_ruleset([GROUPS, path]).analyse("", "名单早就内定了") == first
    lexicon.write_text(lexicon.read_text(encoding="utf-8").replace("weight: 2", "weight: 1"), encoding="utf-8")
    changed = build_ruleset([GROUPS, path]).analyse("", "名单早就内定了")
    assert not changed.negative and changed.reasons == ("misconduct: 内定 (+1)",)
    assert len(entries(cache)) == 2


def test_a_cache_entry_of_another_shape_is_ignored(tmp_path: Path, cache: Path) -> None:
    import pickle

    path = rule_file(tmp_path, RULE)
    build_ruleset([GROUPS, path])
    [entry] = entries(cache)
    key, (topics, rules, _lexicon) = pickle.loads(entry.read_bytes())
    entry.write_bytes(pickle.dumps((key, (topics, rules))))  # the first format: no lexicon
    rs = build_ruleset([GROUPS, path])
    assert rs.analyse("", "他家吃上了低保").topics and rs.analyse("", "名单早就内定了").negative
