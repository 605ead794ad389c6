"""Text and URL normalisation: the first pipeline stage's rules, kept apart so tests and recheck
use exactly what the crawl used.

Text stays as written (Traditional stays Traditional, full-width stays full-width); only invisible
characters and layout whitespace change. The content hash ignores all whitespace, so the same
article re-wrapped by another site hashes the same.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from w3lib.url import canonicalize_url

_INVISIBLE = re.compile("[\u200b-\u200f\u2028\u2029\u2060\ufeff\u00ad\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[ \t\u00a0\u3000]+")
_BLANKS = re.compile(r"\n{3,}")


def clean_text(text: str) -> str:
    # A regex scan costs some 10 ns a character and an article has thousands: the steps that
    # usually change nothing run only when a substring search (much cheaper) finds their work.
    text = unicodedata.normalize("NFC", text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", text)
    if "\t" in text or "\u00a0" in text or "\u3000" in text or "  " in text:
        text = _SPACES.sub(" ", text)  # never across a line: "\n" is not in the class
    text = "\n".join([line.strip() for line in text.split("\n")])
    if "\n\n\n" in text:
        text = _BLANKS.sub("\n\n", text)
    return text.strip()


def clean_title(title: str) -> str:
    return _SPACES.sub(" ", _INVISIBLE.sub("", unicodedata.normalize("NFC", title)).replace("\n", " ")).strip()


def canonical_url(url: str, *, keep_fragment: bool = False) -> str:
    """The URL a post is stored under: sorted query, no session-less noise, fragment only for replies."""
    return canonicalize_url(url, keep_fragments=keep_fragment)


def content_hash(text: str) -> str:
    """Of the body without whitespace; '' for an empty body (empty bodies are not duplicates)."""
    squeezed = "".join(text.split())  # str.split() splits on exactly what the regex \s matches
    return hashlib.sha256(squeezed.encode("utf-8")).hexdigest() if squeezed else ""
