"""Turn a fetched page's bytes into text: the bytes decide, the declarations only advise.

Sits at the very start of extraction: the news and forum spiders hand each response body and its
Content-Type header here, and everything downstream (extraction, matching, storage) sees only the
text this returns. Chinese sites lie about their charset often enough that trusting the header or
`<meta>` produces mojibake: pages declared gb2312 but saved as UTF-8, GBK pages with no
declaration at all, GB pages inside a UTF-8 archive wrapper. So the order is:

1. a byte-order mark wins;
2. bytes that are valid UTF-8 (with at least one multi-byte sequence) are UTF-8, whatever is declared;
3. the declared charset (header, then `<meta>`), widened to its superset (GB2312/GBK -> GB18030,
   Big5 -> Big5-HKSCS), if the bytes decode under it, or nearly so;
4. otherwise the candidate among UTF-8, GB18030, Big5-HKSCS and charset_normalizer's guess that
   decodes with the fewest errors and reads most like Chinese text.

A handful of invalid bytes (a damaged page) is replaced with U+FFFD rather than switching to a
codec that decodes "cleanly" into nonsense.

Declaration parsing is w3lib's (Scrapy's own); the choice between declaration and bytes is ours,
because w3lib and browsers trust the declaration when it decodes, which is exactly the case that
goes wrong on these sites.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from charset_normalizer import from_bytes
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom

# A declared legacy Chinese charset is always read as its superset: GB2312 pages routinely use
# GBK-only characters (镕, 堃, 喆), and Big5 pages use HKSCS or cp950 extensions.
_WIDEN = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "cp936": "gb18030",
    "gb18030": "gb18030",
    "big5": "big5hkscs",
    "cp950": "big5hkscs",
    "big5hkscs": "big5hkscs",
}

# Declarations that say nothing about Chinese bytes: a page "declared" Latin-1 or ASCII whose bytes
# are not ASCII is a page whose author did not set the charset, so detection decides.
_WEAK = {"ascii", "cp1252", "iso8859-1", "iso8859-15"}

# Labels browsers accept that Python's codec registry does not know.
_ALIASES = {"x-gbk": "gbk", "gb_2312-80": "gb2312", "x-euc-cn": "gb2312", "x-big5": "big5"}

# A decode is "nearly clean" when at most this share of its characters were replaced: a few
# damaged bytes in a long page, not a wrong codec (a wrong codec fails on a large share).
_TOLERATED_ERROR_RATE = 0.002
# Real Chinese text is > 90% common characters; mojibake from the wrong CJK codec is ~50-60%.
_READS_AS_CHINESE = 0.8


@dataclass(frozen=True)
class _Decoded:
    codec: str
    text: str
    errors: int

    @property
    def error_rate(self) -> float:
        return self.errors / max(1, len(self.text))


def decode_html(body: bytes, content_type: str | None) -> tuple[str, str]:
    """Decode a page body; returns (text, codec name used, e.g. "utf-8", "gb18030", "big5hkscs")."""
    if not body:
        return "", "utf-8"
    bom_codec, bom = read_bom(body)
    if bom_codec and bom:
        codec = _canonical(bom_codec) or "utf-8"
        return _decode(body[len(bom) :], codec).text, codec

    if body.isascii():
        # Entities carry any non-ASCII text; the declared codec does not matter for ASCII bytes.
        return body.decode("ascii"), "ascii"

    try:
        # Most pages: one strict decode, without counting replacements in text and bytes (a page
        # that is valid UTF-8 is exactly one whose lenient decode has no error of its own).
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    utf8 = _decode(body, "utf-8")
    if utf8.errors == 0:
        return utf8.text, "utf-8"

    declared = _declared(body, content_type)
    if declared and declared not in _WEAK and declared != "utf-8":
        attempt = _decode(body, declared)
        if attempt.error_rate <= _TOLERATED_ERROR_RATE and not _looks_like_utf8(utf8, attempt):
            score = common_character_share(attempt.text)
            if score >= _READS_AS_CHINESE:
                return attempt.text, declared
            # Big5 bytes decode "cleanly" as GBK (and back) into rare characters: let detection
            # overrule the declaration only when its reading is clearly more Chinese.
            best = _detect(body, utf8, declared)
            if common_character_share(best.text) < score + 0.15:
                return attempt.text, declared
            return best.text, best.codec

    best = _detect(body, utf8, declared)
    return best.text, best.codec


def _declared(body: bytes, content_type: str | None) -> str | None:
    """The charset the server or the page claims, widened; header first as HTTP says."""
    for name in (http_content_type_encoding(content_type) if content_type else None,
                 html_body_declared_encoding(body)):
        codec = _canonical(name) if name else None
        if codec:
            return codec
    return None


def _canonical(name: str) -> str | None:
    label = name.strip().lower()
    try:
        codec = codecs.lookup(_ALIASES.get(label, label)).name
    except LookupError:
        return None
    if codec == "utf-8-sig":
        return "utf-8"
    return _WIDEN.get(codec, codec)


def _decode(body: bytes, codec: str) -> _Decoded:
    text = body.decode(codec, errors="replace")
    errors = text.count("\ufffd")
    if codec == "utf-8":
        # Some pages carry U+FFFD itself (a CMS that already lost a character): not our error.
        errors -= body.count(b"\xef\xbf\xbd")
    return _Decoded(codec, text, errors)


def _looks_like_utf8(utf8: _Decoded, other: _Decoded) -> bool:
    """UTF-8 with a few damaged bytes beats a legacy codec that swallowed the bytes as mojibake.

    GB18030 decodes most UTF-8 byte sequences without error (into rare characters), so a strict
    decode under a declared GB charset does not prove the page is GB.
    """
    return utf8.error_rate <= _TOLERATED_ERROR_RATE and common_character_share(utf8.text) >= common_character_share(other.text)


def _detect(body: bytes, utf8: _Decoded, declared: str | None) -> _Decoded:
    candidates = {"utf-8": utf8}
    names = ["gb18030", "big5hkscs"]
    if declared and declared not in names and declared != "utf-8":
        names.append(declared)
    for name in names:
        candidates[name] = _decode(body, name)
    shares = {name: common_character_share(d.text) for name, d in candidates.items()}

    def rank(d: _Decoded) -> tuple[bool, float, float]:
        # Clean (or nearly clean) decodes first, then the one that reads most like Chinese,
        # then the fewest replacements.
        return (d.error_rate <= _TOLERATED_ERROR_RATE, shares[d.codec], -d.error_rate)

    best = max(candidates.values(), key=rank)
    if best.error_rate <= _TOLERATED_ERROR_RATE and shares[best.codec] >= _READS_AS_CHINESE:
        # A clean decode that reads as Chinese: a guess could outrank it only by reading still more
        # like Chinese (never on the corpus pages), and charset_normalizer is the slowest step of
        # decoding (tens of ms on a long page).
        return best
    guess = from_bytes(body[:65536]).best()
    if guess is not None:
        guessed = _canonical(guess.encoding)
        if guessed and guessed not in candidates:
            candidates[guessed] = _decode(body, guessed)
            shares[guessed] = common_character_share(candidates[guessed].text)
    return max(candidates.values(), key=rank)


def common_character_share(text: str) -> float:
    """Share of the CJK characters that are common ones (simplified or traditional).

    Mojibake from a wrong codec is made of valid but rare characters; real Chinese text is mostly
    made of the ~3,750 common characters (GB2312 level 1, or the Big5 frequent-character block).
    Hand-written because charset_normalizer's coherence check is tuned on short samples and
    misjudges GB18030 vs Big5 on long pages.
    """
    # The first 5,000 CJK characters are enough to judge, and long pages stay cheap. Counted in C:
    # the regex collects them, translate() deletes the common ones, the lengths give the share.
    cjk = "".join(_CJK_RUN.findall(text, 0, _SAMPLE_CHARS))[:_SAMPLE_CJK]
    if len(cjk) < _SAMPLE_CJK and len(text) > _SAMPLE_CHARS:
        # The rest of the text, after what was read (a run cut at the boundary joins up again).
        cjk = (cjk + "".join(_CJK_RUN.findall(text, _SAMPLE_CHARS)))[:_SAMPLE_CJK]
    if not cjk:
        return 0.0
    return (len(cjk) - len(cjk.translate(_DELETE_COMMON))) / len(cjk)


def _is_common(ch: str) -> bool:
    try:
        gb = ch.encode("gb2312")
        if 0xB0 <= gb[0] <= 0xD7:
            return True
    except UnicodeEncodeError:
        pass
    try:
        b5 = ch.encode("big5")
        return 0xA4 <= b5[0] <= 0xC6
    except UnicodeEncodeError:
        return False


_CJK_RUN = re.compile("[\u4e00-\u9fff]+")
_SAMPLE_CJK = 5000
# Where to look first for them: a page's first 20,000 characters usually hold 5,000 CJK ones.
_SAMPLE_CHARS = 20000
# The common characters, built once (a fraction of a second) as a translate() table deleting them.
_DELETE_COMMON = dict.fromkeys(cp for cp in range(0x4E00, 0xA000) if _is_common(chr(cp)))
