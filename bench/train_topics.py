"""A learned topic confirmation model: tried in session 10 and NOT shipped (run by hand, offline).

`.venv/bin/python -m bench.train_topics` prints the cross-validation figures on the training data;
`--out PATH` also writes the model (JSON: bias, threshold, feature weights); `--frozen` scores the
frozen own_fresh*.jsonl sets before and after the veto, in aggregate only. The frozen sets are the
test: every `--frozen` run is a look at them and must be counted (tests/rules/data/README.md,
session 10, records the looks so far). Deterministic.

The idea: the rule pack's false matches on writing it was not fitted to are mostly one word of a
rule on a post that belongs to another owner of the word (a firm's hiring, a village as a setting,
a novel's official). A logistic regression over one (post, topic) that a rule matched, reading the
rules' own evidence and the post's characters, would withdraw ("veto") the topic when it finds the
post unlikely to be on it, like the negativity model corrects the lexicon. It would run only for
the posts a rule fired on.

What it learns from: every (post, topic) the shipped pack matches on the tuning part of the
labelled development posts (the held-back 30% of bench/rules_quality.py is never read here: its
posts are dropped by id as they are read) and on tests/rules/data/own_labelled.jsonl; a pair
is positive when the topic is in the post's labels. Never from the frozen sets.

Features (`features`), every one crossed with the topic: the topic; the rules and rule words that
fired for it; buckets of how many of its rules, distinct words and mentions, how many topics the
post matched, where its first hit lies (title = first; else the body's first, middle or last
third), its best score and the post's length; and the post's characters and character pairs.

Chosen by cross-validation on the training pairs only (10 folds by a hash of the post id, three
fold seeds, posts split, not pairs): one model for all topics (per-topic models over the posts'
characters alone withdrew dozens of true matches), the features seen in at least MIN_COUNT
training pairs, L2 = 1.0, the TOP features by |weight| kept and the model refitted on them (the
refit inside every fold), and THRESHOLD, the probability below which a topic is withdrawn.

The result (tests/rules/data/README.md, session 10): the training data holds only 32 false matches
among 1,441 (the rules were fitted to it), and the model, which withdraws 10-11 of them in CV and no
true match, withdrew 4 of the 60 false matches of the pooled frozen sets and 2 true ones (pooled
P 0.949 -> 0.952, R 0.941 -> 0.939): not shipped.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from bench.rules_quality import DEV, FROZEN, OWN, held_back, score
from bench.train_negativity import fit, load

MIN_COUNT = 2
L2 = 1.0
TOP = 1000
THRESHOLD = 0.6
FOLDS = 10
SEEDS = ("cv", "s2", "s3")
GRID = (0.3, 0.4, 0.5, 0.6, 0.7)
# Characters that never make part of a character feature (they separate clauses, not words).
_SEPARATORS = frozenset("，。！？、：；“”‘’（）《》【】,.!?:;()'\" \n\t…—-#@/|~")


def char_features(texts: Sequence[str]) -> set[str]:
    """The single characters and character pairs of normalised texts, without separators, digits
    or Latin letters alone (a pair never spans two texts)."""
    out: set[str] = set()
    for text in texts:
        for i, c in enumerate(text):
            if c in _SEPARATORS or c.isdigit():
                continue
            if not c.isascii():
                out.add(c)
            pair = text[i : i + 2]
            if len(pair) == 2 and pair[1] not in _SEPARATORS and not pair[1].isdigit() and not pair.isascii():
                out.add(pair)
    return out


def _bucket(value: float, bounds: tuple[float, ...]) -> int:
    return sum(value >= b for b in bounds)


def features(topic: str, firings: Sequence[Any], chars: set[str], lengths: tuple[int, int]) -> set[str]:
    """Every feature of one (post, topic): the rules' evidence and the post's characters, crossed
    with the topic. `firings` are every `RuleFiring` on the post (all topics), `chars` the post's
    `char_features`, `lengths` the lengths of its original title and body."""
    own = [f for f in firings if f.rule.topic == topic]
    hits = [h for f in own for h in f.hits]
    words = {h.word for h in hits}
    title_len, body_len = lengths
    if any(h.field == "title" for h in hits) or not hits:
        position = 0
    else:
        position = min(2, 3 * min(h.start for h in hits) // max(body_len, 1))
    shape = {
        f"rules:{min(len(own), 3)}",
        f"words:{min(len(words), 4)}",
        f"mentions:{min(len({(h.field, h.start) for h in hits}), 3)}",
        f"topics:{min(len({f.rule.topic for f in firings}), 3)}",
        f"position:{position}",
        f"length:{_bucket(title_len + body_len, (40, 80, 150))}",
        f"score:{_bucket(max((f.score for f in own), default=0.0), (1.5, 2.0, 3.0))}",
    }
    if len(own) == 1 and len(words) == 1:
        shape.add("single")
    out = {f"topic:{topic}"} | shape | {f"{topic}|{s}" for s in shape}
    out |= {f"rule:{f.rule.id}" for f in own} | {f"word:{topic}:{w}" for w in words}
    return out | {f"{topic}|{g}" for g in chars}


def pairs_of(rs: Any, posts: list[dict[str, Any]]) -> list[tuple[str, str, set[str], bool]]:
    """(post id, topic, features, on topic) for every (post, topic) the rules match."""
    out: list[tuple[str, str, set[str], bool]] = []
    for g in posts:
        title, text = g.get("title", ""), g["text"]
        analysis, firings = rs.explain(title, text)
        if not analysis.topics:
            continue
        chars = char_features([rs.normaliser.normalise(title).text, rs.normaliser.normalise(text).text])
        for t in analysis.topics:
            out.append((g["id"], t.topic, features(t.topic, firings, chars, (len(title), len(text))), t.topic in g["topics"]))
    return out


def matrix(rows: list[set[str]], vocab: dict[str, int]) -> sparse.csr_matrix:
    r: list[int] = []
    c: list[int] = []
    for i, found in enumerate(rows):
        for f in found:
            j = vocab.get(f)
            if j is not None:
                r.append(i)
                c.append(j)
    return sparse.csr_matrix((np.ones(len(r)), (r, c)), shape=(len(rows), len(vocab)))


def train(rows: list[set[str]], y: np.ndarray) -> tuple[dict[str, float], float]:
    """Fit on every feature seen MIN_COUNT times, keep the TOP by |weight|, refit on them."""
    seen = Counter(f for found in rows for f in found)
    names = sorted(f for f, c in seen.items() if c >= MIN_COUNT)
    w, _ = fit(matrix(rows, {f: i for i, f in enumerate(names)}), 0.0, y, l2=L2)
    keep = [names[i] for i in sorted(np.argsort(-np.abs(w), kind="stable")[:TOP].tolist())]
    w, b = fit(matrix(rows, {f: i for i, f in enumerate(keep)}), 0.0, y, l2=L2)
    return {f: float(w[i]) for i, f in enumerate(keep)}, b


def probability(weights: dict[str, float], bias: float, found: set[str]) -> float:
    return 1.0 / (1.0 + math.exp(-(bias + math.fsum(weights.get(f, 0.0) for f in sorted(found)))))


def cross_validate(pairs: list[tuple[str, str, set[str], bool]]) -> dict[str, np.ndarray]:
    """Out-of-fold probabilities of every pair, one array per fold seed."""
    y = np.array([float(ok) for *_, ok in pairs])
    out: dict[str, np.ndarray] = {}
    for seed in SEEDS:
        fold = [int(hashlib.sha1((seed + pid).encode()).hexdigest(), 16) % FOLDS for pid, *_ in pairs]
        p = np.zeros(len(pairs))
        for k in range(FOLDS):
            train_idx = [i for i, f in enumerate(fold) if f != k]
            weights, bias = train([pairs[i][2] for i in train_idx], y[train_idx])
            for i, f in enumerate(fold):
                if f == k:
                    p[i] = probability(weights, bias, pairs[i][2])
        out[seed] = p
    return out


def frozen_figures(rs: Any, weights: dict[str, float], bias: float) -> None:
    """P / R / F1 of every frozen set and of them pooled, before and after the veto (aggregate only)."""
    pooled: list[dict[str, Any]] = []
    before: dict[str, dict[str, Any]] = {}
    after: dict[str, dict[str, Any]] = {}
    withdrawn = [0, 0]  # false, true
    for path in FROZEN:
        if not path.exists():
            continue
        posts = load(path)
        vetoed = set()
        for pid, topic, found, ok in pairs_of(rs, posts):
            if probability(weights, bias, found) < THRESHOLD:
                vetoed.add((pid, topic))
                withdrawn[ok] += 1
        for g in posts:
            topics = [t.topic for t in rs.analyse(g.get("title", ""), g["text"]).topics]
            before[g["id"]] = {"topics": topics, "negative": False}
            after[g["id"]] = {"topics": [t for t in topics if (g["id"], t) not in vetoed], "negative": False}
        pooled += posts
        _print_row(path.stem, posts, before, after)
    _print_row("pooled", pooled, before, after)
    print(f"withdrawn on the frozen sets: {withdrawn[0]} false matches, {withdrawn[1]} true")


def _print_row(name: str, posts: list[dict[str, Any]], before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> None:
    b, a = score(posts, before), score(posts, after)
    print(f"  {name:>11} ({len(posts)}): P {b['precision']:.3f} -> {a['precision']:.3f}, "
          f"R {b['recall']:.3f} -> {a['recall']:.3f}, F1 {b['f1']:.3f} -> {a['f1']:.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.train_topics", description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--out", type=Path, metavar="PATH", help="also write the model there (JSON)")
    parser.add_argument("--frozen", action="store_true", help="score the frozen sets: a look at the test, count it")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if not DEV.exists():
        print(f"{DEV} is not present: the model can only be trained beside the corpus")
        return 1
    from rules.loading import PACK_DIR, build_ruleset

    rs = build_ruleset(sorted(PACK_DIR.glob("*.yaml")))
    posts = [g for g in load(DEV) if not held_back(g["id"])] + load(OWN)
    pairs = pairs_of(rs, posts)
    y = np.array([float(ok) for *_, ok in pairs])
    print(f"training pairs (tuning + own examples, the pack's matches): {len(pairs)}, {int(y.sum())} on topic, {int(len(y) - y.sum())} not")
    print(f"cross-validation ({FOLDS} folds x {len(SEEDS)} seeds): false matches withdrawn / true matches withdrawn")
    for th, row in zip(GRID, zip(*([f"{int(np.sum((p < th) & (y < 0.5)))}/{int(np.sum((p < th) & (y > 0.5)))}" for th in GRID]
                                        for p in cross_validate(pairs).values()), strict=True), strict=True):
        print(f"  threshold {th}: " + ", ".join(row) + ("  <- THRESHOLD" if th == THRESHOLD else ""))
    weights, bias = train([f for _, _, f, _ in pairs], y)
    if args.out:
        out = args.out
        doc = {"threshold": THRESHOLD, "bias": round(bias, 4), "features": {f: round(w, 4) for f, w in sorted(weights.items())}}
        out.write_text(json.dumps(doc, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
        print(f"{out}: {len(weights)} features, threshold {THRESHOLD}")
    if args.frozen:
        print("frozen sets (a look at the test: count it), before -> after the veto:")
        frozen_figures(rs, weights, bias)
    return 0


if __name__ == "__main__":
    sys.exit(main())
