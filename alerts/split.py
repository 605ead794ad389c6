"""Fitting a message into a robot's size limit, counted in UTF-8 bytes as the robots count it.

A long digest becomes numbered parts (each with the header, "（2/3）"), at most `max_parts` of them;
what still does not fit is summed up in a last line pointing to the full digest (`alerts.public_url`),
and a single block too long for one part is cut at a character boundary.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

SEP = "\n\n"


@dataclass(frozen=True)
class Block:
    text: str
    counts: bool = True  # an item (counted in "N more"), not a heading


def nbytes(text: str) -> int:
    return len(text.encode("utf-8"))


def cut(text: str, limit: int, mark: str = "…") -> str:
    """`text` cut to at most `limit` UTF-8 bytes, never inside a character."""
    if nbytes(text) <= limit:
        return text
    room = max(0, limit - nbytes(mark))
    return text.encode("utf-8")[:room].decode("utf-8", errors="ignore") + mark


def pack(
    blocks: Sequence[Block],
    header: Callable[[int, int], str],
    more: Callable[[int], str],
    *,
    max_bytes: int,
    max_parts: int,
) -> tuple[str, ...]:
    """Blocks packed in order into at most `max_parts` parts of at most `max_bytes` bytes each."""
    # Budget with the widest header ("（99/99）") and room for the "N more" line, so that numbering
    # the parts afterwards can never push one over the limit.
    budget = max_bytes - nbytes(header(max_parts, max_parts)) - nbytes(SEP) - nbytes(more(10**6)) - nbytes(SEP)
    if budget < 64:
        raise ValueError(f"a message limit of {max_bytes} bytes leaves no room for content")
    parts: list[list[str]] = [[]]
    used = 0
    left_out = 0
    for i, block in enumerate(blocks):
        text = cut(block.text, budget)
        size = nbytes(text) + nbytes(SEP)
        if used + size > budget and parts[-1]:
            if len(parts) == max_parts:
                left_out = sum(1 for b in blocks[i:] if b.counts)
                break
            parts.append([])
            used = 0
        parts[-1].append(text)
        used += size
    n = len(parts)
    out = []
    for k, body in enumerate(parts, 1):
        chunks = [header(k, n), *body]
        if k == n and left_out:
            chunks.append(more(left_out))
        out.append(SEP.join(chunks))
    return tuple(out)
