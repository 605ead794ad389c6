"""Quality of the shipped rule pack on the labelled development posts (`make bench`).

Reads ../shared/corpus/topics/topics_dev.jsonl (skips visibly when absent) and prints micro
precision / recall / F1 over (post, topic) pairs, per-topic F1 and negativity accuracy, the same
way /work/shared/tools/topics_eval.py scores them, separately for the part the rules were written
against ("tuning", 70%) and a held-back 30% that was not looked at while writing rules. The split
is fixed by a hash of each post's id, so it never changes between runs. Then the project's own
examples (tests/rules/data/own_labelled.jsonl, looked at while writing rules) and the frozen
own_fresh*.jsonl sets (each written before a round of changes, only ever scored). Last, the negativity accuracy of each set with the lexicon alone, with the learned
model correcting every post that holds a cue, and with it correcting only the posts a rule fired on
(as shipped), computed apart from the engine.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

DEV = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "topics" / "topics_dev.jsonl"
OWN = Path(__file__).resolve().parent.parent / "tests" / "rules" / "data" / "own_labelled.jsonl"
DATA = Path(__file__).resolve().parent.parent / "tests" / "rules" / "data"
# Each written before a round of rule or negativity changes and frozen: scored, never used to change
# rules (their errors are not printed by --errors), so they stay checks on posts the rules were not
# fitted to. own_fresh: before the first rounds of issue 4; own_fresh2, own_fresh3, ...: one for
# each later round, committed before the round changed anything (tests/rules/data/README.md says
# which round wrote each, what it holds and its first score). Every such file in the folder is one,
# in the order they were written, so a round adds its set by committing the file.
def frozen_number(path: Path) -> int:
    return int(path.stem.removeprefix("own_fresh") or 1)


FROZEN = sorted(DATA.glob("own_fresh*.jsonl"), key=frozen_number)
# The topic confirmation model (rules/topic_model.json, bench/train_topics.py) is trained on the sets
# numbered up to this one: on them it is judged in sample; the sets after it are its tests.
TOPIC_MODEL_TRAINED_THROUGH = 29


def _load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]


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
    """The shipped choice computed apart from the engine: the model's verdict for a post a rule of
    the pack fired on (its topic kept or withdrawn by the topic model), the lexicon's for any other
    (a check that the engine does what it says)."""
    a = rs.analyse("", text)
    return bool((model if a.topics or a.withdrawn else lexicon).score(text).negative)


def main(argv: list[str] | None = None) -> int:
    # Flags are parsed before anything runs: --help, or a mistyped flag, must not fall through to the
    # full run, which prints the held-back part.
    parser = argparse.ArgumentParser(prog="python -m bench.rules_quality", description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--tuning-only", action="store_true", help="leave out the held-back 30%% of the development posts (and 'all dev')")
    parser.add_argument("--errors", action="store_true", help="print the tuning posts' and own examples' wrong decisions")
    args = parser.parse_args(argv)
    from rules.loading import PACK_DIR, build_ruleset

    rs = build_ruleset(sorted(PACK_DIR.glob("*.yaml")))
    own = _load(OWN)
    frozen = {f"own {path.stem.removeprefix('own_')} (frozen)": _load(path) for path in FROZEN}
    gold: list[dict[str, Any]] = []
    if DEV.exists():
        gold = _load(DEV)
    else:
        print(f"{DEV} is not present (the labelled corpus lives beside the repo): only the project's own examples")
    pred: dict[str, dict[str, Any]] = {}
    for g in [*gold, *own, *(g for posts in frozen.values() for g in posts)]:
        a = rs.analyse("", g["text"])
        pred[g["id"]] = {"topics": [t.topic for t in a.topics], "negative": a.negative}
    parts: dict[str, list[dict[str, Any]]] = {}
    if gold:
        parts["tuning (70%)"] = [g for g in gold if not held_back(g["id"])]
        if not args.tuning_only:
            # (with --tuning-only no row holds a held-back post, "all dev" included)
            parts["held back (30%)"] = [g for g in gold if held_back(g["id"])]
            parts["all dev"] = gold
    parts["own examples"] = own
    parts.update(frozen)
    if len(frozen) > 1:
        parts["frozen sets, pooled"] = [g for posts in frozen.values() for g in posts]
        # The sets written after the topic model was trained (the ones before are its training data).
        later = [g for path, posts in zip(FROZEN, frozen.values(), strict=True) if frozen_number(path) > TOPIC_MODEL_TRAINED_THROUGH for g in posts]
        if later:
            parts[f"sets {TOPIC_MODEL_TRAINED_THROUGH + 1}+, pooled"] = later
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
    if args.errors:
        for g in parts.get("tuning (70%)", []) + own:
            p = pred[g["id"]]
            if set(p["topics"]) != set(g["topics"]) or p["negative"] != g["negative"]:
                print(g["id"], "gold", g["topics"], g["negative"], "pred", p["topics"], p["negative"], g["text"][:90].replace("\n", " "))
    return 0


if __name__ == "__main__":
    sys.exit(main())
