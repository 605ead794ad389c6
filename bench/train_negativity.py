"""Train the small negativity model shipped as rules/negativity_model.json (run by hand, offline).

`.venv/bin/python -m bench.train_negativity` rewrites the file; the result is deterministic.

Why: the lexicon (rules/negativity.yaml) names the cues an operator can read, but complaints are
worded in more ways than any list holds. A logistic regression over the characters of a post, with
the lexicon's own verdict (its log-odds) as a fixed input, learns the style the lexicon misses (被,
没, 说, 就 in a grievance; 请问, 可以, 需要 in a consultation) and corrects the lexicon where it is
too eager. The shipped lexicon has it correct only the posts a rule fired on (`model_for:
topic_posts`): off-topic it does no better than the lexicon, and consulting it for every post with
a cue costs the engine about 30% of its speed (bench/rules prints both figures).

What it learns from: the tuning part of the labelled development posts (the held-back 30% of
bench/rules_quality.py is never read here) and tests/rules/data/own_labelled.jsonl, all of them
(training only on posts with a cue, the only ones it is consulted for, did worse). Never from
the frozen check sets tests/rules/data/own_fresh*.jsonl.

Features: single characters seen in at least two training posts, the TOP 100 by weight kept and the
model refitted on them (runs of 2-3 characters did no better on the held-back part and need an
automaton pass); L2-regularised logistic regression (scipy L-BFGS). MAX_STREAM_SHARE (the share of
posts of a general stream, the sentiment CSVs, that may hold a feature) is off: capping at 5% cost
the held-back part its gain.
"""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from scipy import sparse
from scipy.optimize import minimize

from bench.rules_quality import DEV, OWN, held_back

OUT = Path(__file__).resolve().parent.parent / "rules" / "negativity_model.json"
STREAM = DEV.parent.parent / "sentiment"
STREAM_POSTS = 10_000
MAX_STREAM_SHARE = 1.0
MIN_COUNT = 2  # a feature must occur in at least this many training posts
L2 = 3.0
TOP = 100
N_MIN, N_MAX = 1, 1
ONLY_CUED = False
# Characters that never start or end a feature (they separate clauses, not words).
_SEPARATORS = set("，。！？、：；“”‘’（）《》【】,.!?:;()'\" \n\t…—-#@/|~")


def grams(text: str) -> set[str]:
    """The candidate features of a normalised text: its 1..3-character runs without separators."""
    out: set[str] = set()
    for n in range(N_MIN, N_MAX + 1):
        for i in range(len(text) - n + 1):
            g = text[i : i + n]
            if not any(c in _SEPARATORS for c in g) and not g.isdigit() and not g.isascii():
                out.add(g)
    return out


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]


def fit(x: sparse.csr_matrix, offset: np.ndarray | float, y: np.ndarray, l2: float = L2) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression: weights and bias, on top of a fixed `offset` in log-odds
    (the lexicon's, here; 0.0 for a model of its own, as bench/train_topics.py fits)."""

    def loss(wb: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = wb[:-1], wb[-1]
        z = x @ w + b + offset
        p = 1.0 / (1.0 + np.exp(-z))
        value = float(np.sum(np.logaddexp(0.0, z) - y * z) + l2 * w @ w / 2)
        return value, np.append(x.T @ (p - y) + l2 * w, np.sum(p - y))

    r = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B")
    return r.x[:-1], float(r.x[-1])


def matrix(texts: list[str], vocab: dict[str, int]) -> sparse.csr_matrix:
    rows: list[int] = []
    cols: list[int] = []
    for r, t in enumerate(texts):
        for g in grams(t):
            j = vocab.get(g)
            if j is not None:
                rows.append(r)
                cols.append(j)
    return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(texts), len(vocab)))


def main(argv: list[str] | None = None) -> int:
    from rules.negativity import LEXICON, NegativityModel
    from rules.normalise import Normaliser

    if not DEV.exists() or not STREAM.exists():
        print(f"{DEV.parent.parent} is not present: the model can only be trained beside the corpus")
        return 1
    normaliser = Normaliser()
    lexicon = NegativityModel.from_file(LEXICON, normaliser, learned=False)
    posts = [g for g in load(DEV) if not held_back(g["id"])] + load(OWN)
    texts, offsets, labels = [], [], []
    for g in posts:
        text = normaliser.normalise(g["text"]).text
        verdict = lexicon.score(text)
        if ONLY_CUED and not verdict.reasons:
            continue  # no cue: the model is not consulted for such a post
        texts.append(text)
        offsets.append(lexicon.log_odds(verdict.score))
        labels.append(float(g["negative"]))
    stream: Counter[str] = Counter()
    count = 0
    for path in sorted(STREAM.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                if row.get("text") and count < STREAM_POSTS:
                    stream.update(grams(normaliser.normalise(row["text"]).text))
                    count += 1
    seen = Counter(g for t in texts for g in grams(t))
    vocab_list = sorted(g for g, c in seen.items() if c >= MIN_COUNT and stream[g] <= MAX_STREAM_SHARE * count)
    vocab = {g: i for i, g in enumerate(vocab_list)}
    y, offset = np.array(labels), np.array(offsets)
    w, b = fit(matrix(texts, vocab), offset, y)
    keep = sorted(np.argsort(-np.abs(w), kind="stable")[:TOP].tolist())
    vocab = {vocab_list[i]: n for n, i in enumerate(keep)}
    w, b = fit(matrix(texts, vocab), offset, y)
    z = matrix(texts, vocab) @ w + b + offset
    accuracy = float(np.mean((z >= 0) == (y > 0.5)))
    features = {g: round(float(w[i]), 4) for g, i in sorted(vocab.items()) if abs(w[i]) >= 1e-4}
    doc = {
        "about": "Learned by bench/train_negativity.py; see rules/README.md (Negativity). Do not edit by hand.",
        "trained_on": {"posts": len(texts), "training_accuracy": round(accuracy, 4)},
        "bias": round(b, 4),
        "features": features,
    }
    OUT.write_text(json.dumps(doc, ensure_ascii=False, indent=0, sort_keys=False) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(features)} features from {len(texts)} posts, training accuracy {accuracy:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
