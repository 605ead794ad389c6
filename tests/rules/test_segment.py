"""Word boundaries with the private jieba tokenizer; block-only cutting equals full cutting."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import jieba
import pytest

from rules.engine import RuleSet
from rules.segment import BLOCK, Boundaries, dag_starts, new_tokenizer


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


def test_own_dag_cut_equals_jieba(shipped: RuleSet) -> None:
    """`dag_starts` re-implements jieba's no-HMM cut; it must cut exactly as jieba does, letters and
    digits joined into one token included (jieba's `buf`)."""
    tok = shipped.tokenizer
    blocks = [
        "骨干部门的干部交流轮岗", "村支书仍未公开低保名单", "iPhone12手机", "2023年3月5日", "abc123中文def",
        "a", "中", "x1", "区区区区区", "人才引进的安家费拖了两年", "考编考了六次", "3.5万元", "C919大飞机", "韩國瑜",
        "中华人民共和国国务院办公厅关于进一步做好选调生工作的通知",
    ]
    for block in blocks:
        expected = [0]
        for word in tok.cut(block, HMM=False):
            expected.append(expected[-1] + len(word))
        assert dag_starts(tok.FREQ, tok.total, block) == expected, block
        assert dag_starts(tok.FREQ, tok.total, block, 7) == [p + 7 for p in expected]


def test_the_block_around_a_position() -> None:
    tok, added = new_tokenizer([])
    text = "“两委”换届，abc 干部-x.y！"
    b = Boundaries(text, tok, False, added)
    expected = {m.start(): m.span() for m in BLOCK.finditer(text)}
    for m in BLOCK.finditer(text):
        for pos in range(*m.span()):
            assert b.block_at(pos) == expected[m.start()]
    assert b.block_at(0) is None and b.block_at(text.index("，")) is None


def test_one_character_word_inside_an_added_word() -> None:
    """A rule word at the edge of a longer rule word jieba keeps whole counts (党支部 in 村党支部), a
    single character only when the rest is a word itself: 村 in 村|党支部, but not 编 or 考 in 考编."""
    tok, added = new_tokenizer(["考", "编", "考编", "村", "党支部", "村党支部"])
    assert {"考编", "村党支部"} <= added
    b = Boundaries("他去考编了", tok, False, added)
    assert b.check(2, 4) == (True, True)  # 考编
    assert b.check(2, 3) == (False, True)  # 考
    assert b.check(3, 4) == (False, True)  # 编
    b = Boundaries("某村党支部开会", tok, False, added)
    assert b.check(1, 5) == (True, True)  # 村党支部
    assert b.check(1, 2) == (True, True)  # 村
    assert b.check(2, 5) == (True, True)  # 党支部


def test_blocks_are_jiebas_blocks() -> None:
    from rules.segment import BLOCK

    assert (BLOCK.pattern, BLOCK.flags) == (jieba.re_han_default.pattern, jieba.re_han_default.flags)


def test_jieba_is_imported_only_when_a_post_needs_word_boundaries() -> None:
    """Importing jieba imports pkg_resources (0.18 s CPU): a crawl process whose posts never need
    word boundaries never pays it."""
    import subprocess
    import sys

    code = (
        "import sys; from rules.loading import PACK_DIR, build_ruleset; "
        "rs = build_ruleset(sorted(PACK_DIR.glob('*.yaml'))); rs.analyse('', '今天天气很好，居然下雨了！'); "
        "print('jieba' in sys.modules, 'pkg_resources' in sys.modules); "
        "rs.analyse('', '村支书把低保给了自己亲戚'); print('jieba' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False", "True"]


def test_the_added_words_are_kept_in_the_cache_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Finding the frequency each rule word needs costs a jieba cut per word (45 of the 65 ms of a
    tokenizer): the additions are kept in the cache folder and replayed, giving the same dictionary;
    a torn file or another user dictionary is computed again."""
    words = ["仍未", "村支书", "干部", "骨干", "考编", "党支部", "村党支部"]
    monkeypatch.setenv("YUQING_CACHE_DIR", "")
    plain, plain_added = new_tokenizer(words)
    monkeypatch.setenv("YUQING_CACHE_DIR", str(tmp_path))
    new_tokenizer(words)  # computed, written
    [kept] = tmp_path.glob("jieba-added-*.marshal")

    def no_cut(*args: object, **kwargs: object) -> None:
        raise AssertionError("a frequency was computed")

    with monkeypatch.context() as m:
        m.setattr(jieba.Tokenizer, "suggest_freq", no_cut)
        tok, added = new_tokenizer(words)
    assert (tok.FREQ, tok.total, added) == (plain.FREQ, plain.total, plain_added)
    kept.write_bytes(kept.read_bytes()[:10])  # torn
    tok, added = new_tokenizer(words)
    assert (tok.FREQ, tok.total, added) == (plain.FREQ, plain.total, plain_added)
    user = tmp_path / "user.txt"
    user.write_text("青禾村 10\n", encoding="utf-8")
    with_user, _ = new_tokenizer(words, user)
    assert with_user.FREQ.get("青禾村") == 10 and len(list(tmp_path.glob("jieba-added-*.marshal"))) == 2


def test_a_cache_file_is_written_whole_and_only_the_newest_of_its_kind_stay(tmp_path: Path) -> None:
    import os

    from rules.segment import write_cache_file

    for n in range(5):
        path = tmp_path / f"rules-{n}.pickle"
        write_cache_file(path, b"x" * n, keep="rules-*.pickle", newest=3)
        os.utime(path, (n, n))  # mtimes in order, whatever the file system's resolution
    write_cache_file(tmp_path / "rules-5.pickle", b"five", keep="rules-*.pickle", newest=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rules-3.pickle", "rules-4.pickle", "rules-5.pickle"]
    assert (tmp_path / "rules-5.pickle").read_bytes() == b"five"
    # A folder that cannot be written costs the cache, never the caller: nothing is raised.
    write_cache_file(tmp_path / "gone" / "rules-6.pickle", b"six", keep="rules-*.pickle")
    assert not (tmp_path / "gone").exists()
