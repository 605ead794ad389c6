"""Explanations of a verdict, for people (`yuqing rules test TEXT`) and scripts (`--json`, `--jsonl`).

The last step of the rules flow on the command line: which rules fired, from which file and line,
which words at which positions of the ORIGINAL text (with the surrounding text, the word marked
【like this】), the negativity and the cues behind it, the severity per topic, and the topics the
topic confirmation model withdrew (`rules.confirm`) with its probability.
"""

from __future__ import annotations

from typing import Any

from yuqing.records import Hit

from .engine import SEVERITIES, Analysis, RuleFiring

_CONTEXT = 12


def top_severity(analysis: Analysis) -> str | None:
    if not analysis.topics:
        return None
    return max((t.severity for t in analysis.topics), key=SEVERITIES.index)


def hit_json(h: Hit) -> dict[str, Any]:
    return {"word": h.word, "found": h.found, "field": h.field, "start": h.start, "end": h.end}


def as_json(analysis: Analysis, firings: list[RuleFiring], post_id: Any = None) -> dict[str, Any]:
    """One JSON line of `yuqing rules test --jsonl`."""
    best = {(t.topic, t.rule_id): t for t in analysis.topics}
    out: dict[str, Any] = {} if post_id is None else {"id": post_id}
    out.update(
        {
            "topics": [t.topic for t in analysis.topics],
            "negative": analysis.negative,
            "negativity": round(analysis.negativity, 3),
            "severity": top_severity(analysis),
            "rules": [
                {
                    "rule": f.rule.id,
                    "topic": f.rule.topic,
                    "best": (f.rule.topic, f.rule.id) in best,
                    "score": round(f.score, 3),
                    "severity": best[(f.rule.topic, f.rule.id)].severity if (f.rule.topic, f.rule.id) in best else None,
                    "where": f.rule.where,
                    "hits": [hit_json(h) for h in f.hits],
                }
                for f in sorted(firings, key=lambda f: (f.rule.topic, -f.score))
            ],
            "reasons": list(analysis.reasons),
            "withdrawn": [
                {"topic": w.topic, "rule": w.rule_id, "probability": w.probability, "threshold": w.threshold, "against": list(w.reasons)}
                for w in analysis.withdrawn
            ],
        }
    )
    return out


def excerpt(text: str, h: Hit) -> str:
    lo, hi = max(0, h.start - _CONTEXT), min(len(text), h.end + _CONTEXT)
    before = ("…" if lo else "") + text[lo : h.start]
    after = text[h.end : hi] + ("…" if hi < len(text) else "")
    return (before + "【" + text[h.start : h.end] + "】" + after).replace("\n", " ")


def as_text(title: str, text: str, analysis: Analysis, firings: list[RuleFiring]) -> str:
    """The human explanation."""
    lines: list[str] = []
    if not analysis.topics:
        lines.append("No topic: " + ("every topic the rules matched was withdrawn." if analysis.withdrawn else "no rule fired."))
    best = {t.topic: t for t in analysis.topics}
    gone = {w.topic: w for w in analysis.withdrawn}
    for topic in sorted({f.rule.topic for f in firings}):
        if topic in gone:
            w = gone[topic]
            lines.append(f"Topic {topic}: WITHDRAWN by the topic confirmation model (best rule {w.rule_id}; "
                         f"probability {w.probability:g} below {w.threshold:g}; rules.topic_model: false turns it off)")
            if w.reasons:
                lines.append(f"  weighed against it: {', '.join(w.reasons)}")
        else:
            t = best[topic]
            lines.append(f"Topic {topic}: severity {t.severity} (best rule {t.rule_id}, score {t.score:g})")
        for f in sorted((f for f in firings if f.rule.topic == topic), key=lambda f: -f.score):
            desc = f" — {f.rule.description}" if f.rule.description else ""
            lines.append(f"  rule {f.rule.id} at {f.rule.where}, score {f.score:g}{desc}")
            for h in f.hits:
                source = title if h.field == "title" else text
                lines.append(f"    {h.word!s} found as {h.found!r} in {h.field} [{h.start}:{h.end}]: {excerpt(source, h)}")
    verdict = "NEGATIVE" if analysis.negative else "not negative"
    lines.append(f"Negativity {analysis.negativity:.2f}: {verdict}")
    for reason in analysis.reasons:
        lines.append(f"  {reason}")
    if not analysis.reasons:
        lines.append("  no complaint, accusation or grievance cue found")
    return "\n".join(lines)
