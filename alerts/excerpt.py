"""Excerpts: the few lines around a post's matched words, with those words marked.

Used by the digest and alert renderers. Offsets come from the stored match `hits` (positions in the
post's ORIGINAL title or text, as the rules engine reports them); a hit whose offsets do not fit the
text (the post was edited since) is found again by its text, or left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# How much text an officer sees on a phone before scrolling on to the next item.
BEFORE = 40
WIDTH = 140


@dataclass(frozen=True)
class Segment:
    """A run of text; `hit` marks a matched word to highlight."""

    text: str
    hit: bool = False


@dataclass(frozen=True)
class Excerpt:
    segments: tuple[Segment, ...]
    cut_before: bool = False
    cut_after: bool = False

    @property
    def plain(self) -> str:
        return "".join(s.text for s in self.segments)


def _spans(text: str, hits: Iterable[Mapping[str, Any]], field: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for h in hits:
        if h.get("field", "text") != field:
            continue
        found = str(h.get("found") or h.get("word") or "")
        try:
            start, end = int(h["start"]), int(h["end"])
        except (KeyError, TypeError, ValueError):
            start, end = -1, -1
        if not (0 <= start < end <= len(text)) or (found and text[start:end] != found):
            start = text.find(found) if found else -1
            if start < 0:
                continue
            end = start + len(found)
        spans.append((start, end))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def _segments(text: str, spans: list[tuple[int, int]], lo: int, hi: int) -> tuple[Segment, ...]:
    out: list[Segment] = []
    pos = lo
    for s, e in spans:
        s, e = max(s, lo), min(e, hi)
        if s >= e:
            continue
        if s > pos:
            out.append(Segment(text[pos:s]))
        out.append(Segment(text[s:e], True))
        pos = e
    if pos < hi:
        out.append(Segment(text[pos:hi]))
    return tuple(out)


def _flatten(text: str) -> str:
    # Line breaks and runs of blanks would make a ragged excerpt; offsets must not move, so each
    # whitespace character is replaced one for one.
    return "".join(" " if c in "\r\n\t\u3000" else c for c in text)


def highlight(text: str, hits: Iterable[Mapping[str, Any]], field: str = "title") -> tuple[Segment, ...]:
    """The whole of a short text (a title) with its hits marked."""
    text = _flatten(text)
    return _segments(text, _spans(text, hits, field), 0, len(text))


def excerpt(text: str, hits: Iterable[Mapping[str, Any]], *, width: int = WIDTH, before: int = BEFORE) -> Excerpt:
    """About `width` characters of the body around its first matched word, hits marked."""
    text = _flatten(text)
    spans = _spans(text, hits, "text")
    if spans:
        lo = max(0, spans[0][0] - before)
    else:
        lo = 0
    hi = min(len(text), lo + width)
    if hi - lo < width:
        lo = max(0, hi - width)
    return Excerpt(_segments(text, spans, lo, hi), cut_before=lo > 0, cut_after=hi < len(text))
