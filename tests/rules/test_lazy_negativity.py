"""The negativity of a post with no topic is computed when first read, and reads as if eager.

A crawl reads the negativity of the posts with a topic only, so `RuleSet.analyse` leaves it pending
for the others (`Analysis.pending`). Whatever reads it (a field, equality, hashing, repr, pickling,
`dataclasses`, several threads at once) must get what the engine computes eagerly: the verdict of
the stream's negativity model over the cue hits of both fields, and for a post with a topic that of
the full model, at once.
"""

from __future__ import annotations

import copy
import dataclasses
import operator
import pickle
import random
import sys
import threading
from collections.abc import Callable

import pytest

from rules.engine import Analysis, RuleSet, Verdict, _scan
from rules.negativity import LEXICON, MODEL, NegativityModel

from .test_engine import _random_posts


def _eager(rs: RuleSet, title: str, text: str, *, topical: bool) -> Verdict:
    """The verdict as the eager engine computed it: the cue hits of both fields' scans, evaluated."""
    parts = [(scan[0], scan[2]) for scan in (_scan(rs, title), _scan(rs, text))]
    neg = (rs.negativity_model if topical else rs._stream_negativity).evaluate(parts)
    return neg.score, neg.negative, neg.reasons


def _every_post_corrected(rs: RuleSet) -> RuleSet:
    """The same rules with the learned model correcting every post with a cue (none shared)."""
    model = NegativityModel.from_file(LEXICON, rs.normaliser, learned=MODEL)
    every = copy.copy(model)
    every.learned_for = "all_posts"
    return RuleSet(rs.topic_specs, rs.rules, normaliser=rs.normaliser, negativity=every)


def _pending(a: Analysis) -> bool:
    return "negativity" not in vars(a)


def test_a_pending_verdict_reads_as_the_eager_one_on_random_posts(shipped: RuleSet) -> None:
    for rs, seed in ((shipped, 21), (_every_post_corrected(shipped), 22)):
        rng = random.Random(seed)
        pending = topical = 0
        for title, text in _random_posts(rs, 3000, seed=seed):
            a = rs.analyse(title, text)
            pending += _pending(a)
            topical += bool(a.topics)
            assert not (a.topics and _pending(a)), (title, text)  # a topic's severity needs it at once
            first = rng.choice(("negative", "negativity", "reasons"))  # any field may be read first
            getattr(a, first)
            assert (a.negativity, a.negative, a.reasons) == _eager(rs, title, text, topical=bool(a.topics or a.withdrawn)), (title, text)
            assert a == rs.explain(title, text)[0], (title, text)
        assert pending >= 1000 and topical >= 20


def test_nothing_is_computed_until_a_field_is_read(shipped: RuleSet, monkeypatch: pytest.MonkeyPatch) -> None:
    model = shipped._stream_negativity
    calls: list[str] = []

    def counted(name: str) -> Callable[..., object]:
        real = getattr(model, name)

        def call(*args: object) -> object:
            calls.append(name)
            return real(*args)

        return call

    for name in ("evaluate_matches", "evaluate_parts", "evaluate"):
        monkeypatch.setattr(model, name, counted(name))
    posts = [("", "面试过程没有黑箱。"), ("", "居然这样，凭什么？"), ("标题", "凭什么？"), ("", "面试就是个黑箱。")]
    expected = [_eager(shipped, title, text, topical=False) for title, text in posts]
    calls.clear()
    analyses = [shipped.analyse(title, text) for title, text in posts]
    assert all(_pending(a) and a.topics == () for a in analyses) and calls == []
    assert [(a.negativity, a.negative, a.reasons) for a in analyses] == expected
    assert len(calls) == len(posts)  # once each, and kept: reading again computes nothing
    assert [(a.reasons, a.negative) for a in analyses] == [(r, n) for _, n, r in expected] and len(calls) == len(posts)


def test_a_pending_analysis_behaves_as_an_eager_one(shipped: RuleSet) -> None:
    def fresh() -> Analysis:
        a = shipped.analyse("", "居然这样，凭什么？")
        assert _pending(a)
        return a

    score, negative, reasons = _eager(shipped, "", "居然这样，凭什么？", topical=False)
    eager = Analysis((), negative, score, reasons)
    assert eager.negative and eager.reasons
    assert fresh() == eager and eager == fresh() and fresh() != shipped.analyse("", "今天天气很好")
    assert hash(fresh()) == hash(eager)
    assert repr(fresh()) == repr(eager)
    assert dataclasses.asdict(fresh()) == dataclasses.asdict(eager)
    assert dataclasses.replace(fresh(), topics=()) == eager
    for copied in (pickle.loads(pickle.dumps(fresh())), copy.copy(fresh()), copy.deepcopy(fresh())):
        assert copied == eager and not _pending(copied) and "_pending" not in vars(copied)
    assert len(pickle.dumps(fresh())) == len(pickle.dumps(eager))  # the model does not travel with it
    with pytest.raises(AttributeError, match="no attribute 'severity'"):
        operator.attrgetter("severity")(fresh())  # no such field: not a pending one either
    assert not hasattr(fresh(), "score")
    with pytest.raises(dataclasses.FrozenInstanceError):
        fresh().negative = False  # type: ignore[misc]


def test_threads_reading_one_pending_analysis_get_the_same_verdict(shipped: RuleSet) -> None:
    texts = [text for _, text in _random_posts(shipped, 600, seed=23)]
    analyses = [a for a in (shipped.analyse("", t) for t in texts) if _pending(a)]
    expected = [_eager(shipped, "", t, topical=False) for t in texts if _pending(shipped.analyse("", t))]
    assert len(analyses) >= 100
    start = threading.Barrier(4)
    seen: list[list[Verdict]] = []

    def read(first: str) -> None:
        start.wait()
        verdicts = []
        for a in analyses:
            getattr(a, first)  # half the threads start with one field, half with another
            verdicts.append((a.negativity, a.negative, a.reasons))
        seen.append(verdicts)

    threads = [threading.Thread(target=read, args=(first,)) for first in ("negativity", "reasons", "negative", "negativity")]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: inside a first read too
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert len(seen) == 4 and all(s == expected for s in seen)
