"""Quality of the shipped rule pack on the labelled development posts (`make bench`).

Reads ../shared/corpus/topics/topics_dev.jsonl (skips visibly when absent) and prints micro
precision / recall / F1 over (post, topic) pairs, per-topic F1 and negativity accuracy, the same
way /work/shared/tools/topics_eval.py scores them, separately for the part the rules were written
against ("tuning", 70%) and a held-back 30% that was not looked at while writing rules. The split
is fixed by a hash of each post's id, so it never changes between runs. Then the project's own
examples (tests/rules/data/own_labelled.jsonl, looked at while writing rules) and the frozen
own_fresh.jsonl, own_fresh2.jsonl and own_fresh3.jsonl (each written before a round of changes, only
ever scored). Last, the negativity accuracy of each set with the lexicon alone, with the learned
model correcting every post that holds a cue, and with it correcting only the posts a rule fired on
(as shipped), computed apart from the engine.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

DEV = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "topics" / "topics_dev.jsonl"
OWN = Path(__file__).resolve().parent.parent / "tests" / "rules" / "data" / "own_labelled.jsonl"
# Written before a round of rule and negativity changes and frozen: scored, never used to change
# rules (its errors are not printed by --errors), so it stays a check on posts the rules were not fitted to.
FRESH = Path(__file__).resolve().parent.parent / "tests" / "rules" / "data" / "own_fresh.jsonl"
# The same for the generalisation round of issue 4 (after own_fresh had been scored several times).
FRESH2 = Path(__file__).resolve().parent.parent / "tests" / "rules" / "data" / "own_fresh2.jsonl"
# The same for the round of session 4 (written before its rule changes; its row appears once it exists).
FRESH3 = Path(__file__).resolve().parent.parent / "tests" / "rules" / "data" / "own_fresh3.jsonl"
# The same for the second round of session 4 (written before its rule changes; its row appears once it exists).
FRESH4 = Path(__file__).resolve().parent.parent / "tests" / "rules" / "data" / "own_fresh4.jsonl"
# The same for the negativity generalisation round of session 5 (written before its lexicon changes).
FRESH5 = Path(__file__).resolve().parent.parent / "tests" / "rules" / "data" / "own_fresh5.jsonl"


def held_back(post_id: str) -> bool:
    """The 30% of dev posts kept out of sight while writing rules."""
    return int(hashlib.sha1(post_id.encode()).hexdigest(), 16) % 10 < 3


def score(gold: list[dict[str, Any]], pred: dict[str, dict[str, Any]]) -> dict[str, Any]:
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    neg_ok = 0
    for g in gold:
        p = pred[g["id"]]
        gt, pt = set(g["topics"]), set(p["topics"])
        for t in pt & gt:
            tp[t] += 1
        for t in pt - gt:
            fp[t] += 1
        for t in gt - pt:
            fn[t] += 1
        neg_ok += p["negative"] == g["negative"]
    t, f, n = sum(tp.values()), sum(fp.values()), sum(fn.values())
    precision, recall = t / max(t + f, 1), t / max(t + n, 1)
    return {
        "posts": len(gold),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / max(precision + recall, 1e-9),
        "negativity_accuracy": neg_ok / max(len(gold), 1),
        "per_topic": {k: 2 * tp[k] / max(2 * tp[k] + fp[k] + fn[k], 1) for k in sorted(set(tp) | set(fp) | set(fn))},
    }


def _topic_verdict(rs: Any, model: Any, lexicon: Any, text: str) -> bool:
    """The shipped choice computed apart from the engine: the model's verdict for a post the pack
    gives a topic, the lexicon's for any other (a check that the engine does what it says)."""
    return bool((model if rs.analyse("", text).topics else lexicon).score(text).negative)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from rules.loading import PACK_DIR, build_ruleset

    rs = build_ruleset(sorted(PACK_DIR.glob("*.yaml")))
    own = [json.loads(line) for line in OWN.open(encoding="utf-8") if line.strip()]
    fresh = [json.loads(line) for line in FRESH.open(encoding="utf-8") if line.strip()]
    fresh2 = [json.loads(line) for line in FRESH2.open(encoding="utf-8") if line.strip()]
    fresh3 = [json.loads(line) for line in FRESH3.open(encoding="utf-8") if line.strip()] if FRESH3.exists() else []
    fresh4 = [json.loads(line) for line in FRESH4.open(encoding="utf-8") if line.strip()] if FRESH4.exists() else []
    fresh5 = [json.loads(line) for line in FRESH5.open(encoding="utf-8") if line.strip()] if FRESH5.exists() else []
    gold: list[dict[str, Any]] = []
    if DEV.exists():
        gold = [json.loads(line) for line in DEV.open(encoding="utf-8") if line.strip()]
    else:
        print(f"{DEV} is not present (the labelled corpus lives beside the repo): only the project's own examples")
    pred: dict[str, dict[str, Any]] = {}
    for g in gold + own + fresh + fresh2 + fresh3 + fresh4 + fresh5:
        a = rs.analyse("", g["text"])
        pred[g["id"]] = {"topics": [t.topic for t in a.topics], "negative": a.negative}
    parts: dict[str, list[dict[str, Any]]] = {}
    if gold:
        parts["tuning (70%)"] = [g for g in gold if not held_back(g["id"])]
        if "--tuning-only" not in argv:
            parts["held back (30%)"] = [g for g in gold if held_back(g["id"])]
        parts["all dev"] = gold
    parts["own examples"] = own
    parts["own fresh (frozen)"] = fresh
    parts["own fresh2 (frozen)"] = fresh2
    if fresh3:
        parts["own fresh3 (frozen)"] = fresh3
    if fresh4:
        parts["own fresh4 (frozen)"] = fresh4
    if fresh5:
        parts["own fresh5 (frozen)"] = fresh5
    print(f"shipped pack: {len(rs)} rules, {len(rs.topics)} topics; goal precision >= 0.92, recall >= 0.90, negativity >= 0.88")
    for name, subset in parts.items():
        s = score(subset, pred)
        per = " ".join(f"{k}={v:.2f}" for k, v in s["per_topic"].items())
        print(
            f"{name:>19}: posts={s['posts']} precision={s['precision']:.3f} recall={s['recall']:.3f} "
            f"f1={s['f1']:.3f} negativity_accuracy={s['negativity_accuracy']:.3f}"
        )
        print(f"{'':>21}{per}")
    # The shipped lexicon's learned model corrects the posts a rule fired on: the figures each set
    # would have with the lexicon alone and with the model correcting every post, for the choice.
    from rules.negativity import LEXICON, MODEL, NegativityModel

    if MODEL.exists():
        model = NegativityModel.from_file(LEXICON, rs.normaliser, learned=MODEL)
        lexicon = model.lexicon_only()
        for label, verdict in (
            ("lexicon alone", lambda text: lexicon.score(text).negative),
            ("the model on every post with a cue", lambda text: model.score(text).negative),
            ("the model on topic posts (as shipped)", lambda text: _topic_verdict(rs, model, lexicon, text)),
        ):
            row = []
            for name, subset in parts.items():
                ok = sum(verdict(rs.normaliser.normalise(g["text"]).text) == g["negative"] for g in subset)
                row.append(f"{name.split(' (')[0]} {ok / max(len(subset), 1):.3f}")
            print(f"{'':>21}negativity, {label}: " + ", ".join(row))
    if "--errors" in argv:
        for g in parts.get("tuning (70%)", []) + own:
            p = pred[g["id"]]
            if set(p["topics"]) != set(g["topics"]) or p["negative"] != g["negative"]:
                print(g["id"], "gold", g["topics"], g["negative"], "pred", p["topics"], p["negative"], g["text"][:90].replace("\n", " "))
    return 0


if __name__ == "__main__":
    sys.exit(main())
