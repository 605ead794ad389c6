"""Train the topic confirmation model shipped as rules/topic_model.json (run by hand, offline).

`.venv/bin/python -m bench.train_topics` prints the cross-validation figures on the training pairs;
`--out PATH` also writes the model there (`--out rules/topic_model.json` rewrites the shipped one;
deterministic). `--through N` trains on the frozen sets numbered up to N instead of TRAIN_THROUGH
(for a study: `--score` then scores the sets N+1..TRAIN_THROUGH it left out, never the tests).
`--score` prints the sets after N, each and pooled, precision and recall before -> after the veto,
aggregate only: a look at writing the model was not trained on, to be counted (tests/rules/data/README.md).

What the model is (rules/confirm.py): a logistic regression over one (post, topic) the rules
matched, reading the topic's best rule and words, the characters beside the words, the post's
characters, the other topics and their rules, the post's negativity and a few counts, every feature
crossed with the topic; it withdraws the topic below THRESHOLD.

What it learns from: every (post, topic) the shipped pack (the model off) matches on the tuning part
of the labelled development posts (the held-back 30% of bench/rules_quality.py is never read: its
posts are dropped by id as they are read), on tests/rules/data/own_labelled.jsonl, and on the frozen
sets own_fresh1..TRAIN_THROUGH; a pair is positive when the topic is in the post's labels. Sets
written after the model was trained (own_fresh30 and on) are its tests, and bench/rules_quality.py
prints them pooled on their own line.

Session 10 tried this over the tuning posts and own examples alone: the rules had been fitted to
them, so they held 32 false matches, too few to learn from, and the model withdrew as many true
matches as false ones on the frozen sets. Session 15 has 214 false matches more to learn from, in the
frozen sets written since for rounds of rule changes (their residue: the rules were fitted to each
set's errors once, not more). The choices, all by cross-validation on the training pairs (10 folds
by a hash of the post id, posts split, three fold seeds), with the sets after own_fresh24 held out
as a check while they were made (`--through 24 --score`; tests/rules/data/README.md, session 15):
one model for all topics, features seen in at least MIN_COUNT pairs, L2 = 1.0, the TOP 3,000 by
|weight| kept and refitted (1,000 withdrew more true matches), WINDOW = 6 characters either side of
a hit (the words beside a hit tell whose word it is), and THRESHOLD 0.2: on the folds it withdraws
about an eighth of the false matches and fewer than one true match in a thousand.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from bench.rules_quality import DEV, FROZEN, OWN, TOPIC_MODEL_TRAINED_THROUGH, frozen_number, held_back, score
from bench.train_negativity import fit, load
from rules.confirm import TopicModel, features, post_chars

MIN_COUNT = 2
L2 = 1.0
TOP = 3000
WINDOW = 6
THRESHOLD = 0.2
TRAIN_THROUGH = TOPIC_MODEL_TRAINED_THROUGH  # own_fresh1..29 are training data; the later sets are tests
FOLDS = 10
SEEDS = ("cv", "s2", "s3")
GRID = (0.1, 0.15, 0.2, 0.3, 0.4, 0.5)

Pair = tuple[str, str, set[str], bool]


def training_posts(through: int) -> list[dict[str, Any]]:
    posts = [g for g in load(DEV) if not held_back(g["id"])] + load(OWN)
    for path in FROZEN:
        if frozen_number(path) <= through:
            posts += load(path)
    return posts


def pairs_of(rs: Any, posts: list[dict[str, Any]], window: int | None = None) -> list[Pair]:
    """(post id, topic, features, on topic) for every (post, topic) the rules match; `rs` must be
    built without a topic model (the pairs are what the model is asked about). `window`: WINDOW
    as it is when called (a study that changes it trains and scores alike)."""
    window = WINDOW if window is None else window
    out: list[Pair] = []
    for g in posts:
        title, text = g.get("title", ""), g["text"]
        a = rs.analyse(title, text)
        if not a.topics:
            continue
        chars = post_chars(title, text, rs.normaliser)
        for m in a.topics:
            found = features(m.topic, a.topics, a.negative, title, text, rs.normaliser, window, chars)
            out.append((g["id"], m.topic, found, m.topic in g["topics"]))
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


def model_of(pairs: list[Pair]) -> TopicModel:
    y = np.array([float(ok) for *_, ok in pairs])
    weights, bias = train([f for _, _, f, _ in pairs], y)
    return TopicModel(weights, bias, THRESHOLD, WINDOW, sorted({t for _, t, _, _ in pairs}))


def cross_validate(pairs: list[Pair]) -> dict[str, np.ndarray]:
    """Out-of-fold probabilities of every pair, one array per fold seed."""
    y = np.array([float(ok) for *_, ok in pairs])
    out: dict[str, np.ndarray] = {}
    for seed in SEEDS:
        fold = [int(hashlib.sha1((seed + pid).encode()).hexdigest(), 16) % FOLDS for pid, *_ in pairs]
        p = np.zeros(len(pairs))
        for k in range(FOLDS):
            train_idx = [i for i, f in enumerate(fold) if f != k]
            weights, bias = train([pairs[i][2] for i in train_idx], y[train_idx])
            model = TopicModel(weights, bias, THRESHOLD, WINDOW, ())
            for i, f in enumerate(fold):
                if f == k:
                    p[i] = model.probability(pairs[i][2])
        out[seed] = p
    return out


def score_sets(rs: Any, model: TopicModel, paths: list[Path], label: str) -> None:
    """P / R / F1 of the given sets, each and pooled, before -> after the veto (aggregate only)."""
    pooled: list[dict[str, Any]] = []
    before: dict[str, dict[str, Any]] = {}
    after: dict[str, dict[str, Any]] = {}
    withdrawn = [0, 0]  # false, true
    for path in paths:
        posts = load(path)
        for g in posts:
            title, text = g.get("title", ""), g["text"]
            a = rs.analyse(title, text)
            kept, gone = model.review(a.topics, a.negative, title, text, rs.normaliser)
            for w in gone:
                withdrawn[w.topic in g["topics"]] += 1
            before[g["id"]] = {"topics": [t.topic for t in a.topics], "negative": False}
            after[g["id"]] = {"topics": [a.topics[i].topic for i in kept], "negative": False}
        pooled += posts
        _print_row(path.stem, posts, before, after)
    _print_row(f"{label}, pooled", pooled, before, after)
    print(f"  withdrawn: {withdrawn[0]} false matches, {withdrawn[1]} true")


def _print_row(name: str, posts: list[dict[str, Any]], before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> None:
    b, a = score(posts, before), score(posts, after)
    print(f"  {name:>18} ({len(posts)}): P {b['precision']:.3f} -> {a['precision']:.3f}, "
          f"R {b['recall']:.3f} -> {a['recall']:.3f}, F1 {b['f1']:.3f} -> {a['f1']:.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.train_topics", description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--out", type=Path, metavar="PATH", help="also write the model there (JSON)")
    parser.add_argument("--through", type=int, default=TRAIN_THROUGH, metavar="N",
                        help=f"train on the frozen sets numbered up to N (default {TRAIN_THROUGH})")
    parser.add_argument("--score", action="store_true", help="score the frozen sets after N before -> after: a look, count it")
    parser.add_argument("--no-cv", action="store_true", help="skip the cross-validation figures")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if not DEV.exists():
        print(f"{DEV} is not present: the model can only be trained beside the corpus")
        return 1
    from rules.loading import PACK_DIR, build_ruleset

    rs = build_ruleset(sorted(PACK_DIR.glob("*.yaml")), topic_model=False)
    pairs = pairs_of(rs, training_posts(args.through))
    y = np.array([float(ok) for *_, ok in pairs])
    print(f"training pairs (tuning, own examples, frozen sets 1-{args.through}; the pack's matches): "
          f"{len(pairs)}, {int(y.sum())} on topic, {int(len(y) - y.sum())} not")
    if not args.no_cv:
        print(f"cross-validation ({FOLDS} folds x {len(SEEDS)} seeds): false matches withdrawn / true matches withdrawn")
        rows = [[f"{int(np.sum((p < th) & (y < 0.5)))}/{int(np.sum((p < th) & (y > 0.5)))}" for th in GRID] for p in cross_validate(pairs).values()]
        for th, row in zip(GRID, zip(*rows, strict=True), strict=True):
            print(f"  threshold {th}: " + ", ".join(row) + ("  <- THRESHOLD" if th == THRESHOLD else ""))
    model = model_of(pairs)
    if args.out:
        args.out.write_text(model.to_json(), encoding="utf-8")
        print(f"{args.out}: {len(model.weights)} features, threshold {THRESHOLD}")
    if args.score:
        # A study (N below TRAIN_THROUGH) scores the training sets it left out, never the tests.
        last = TRAIN_THROUGH if args.through < TRAIN_THROUGH else float("inf")
        later = [p for p in FROZEN if args.through < frozen_number(p) <= last]
        print(f"frozen sets after own_fresh{args.through} (not trained on; a look: count it), before -> after the veto:")
        score_sets(rs, model, later, f"sets {args.through + 1}-{max(map(frozen_number, later), default=args.through)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
