"""The headline and the byline under it: title, publish time and author from visible text.

Used by `crawler.extract.extract_article` when per-site selectors and `<meta>` tags do not say.
Chinese news pages put "2024-05-01 10:00 来源：新华网 作者：张三" in a line just below (sometimes
just above) the headline, while the page header carries today's date and the sidebar carries other
stories' dates; so every dated short line is a candidate, scored by its distance from the headline
(or from the start of the story when no headline is found), its label and whether it sits in a
list of dated links. Credits ("记者 张三", "作者：…", "本帖由…于…发表", "责任编辑：…") are read
near the headline and at the story's end first, then anywhere for the explicit forms.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from datetime import datetime
from itertools import accumulate
from zoneinfo import ZoneInfo

from crawler.dates import FoundDate, find_dates
from crawler.extract_blocks import Block, fold, squash

# How far from the headline a byline may sit, in blocks.
_BEFORE_TITLE = 3
_AFTER_TITLE = 12
# A line longer than this with several commas is prose that mentions a date, not a byline.
# bench/extraction.py tunes it leave-one-source-out to show whether it is overfitted.
BYLINE_MAX_CHARS = 80
_DIGIT_DATE = re.compile(r"\d{1,4}\s*[-/.年月]\s*\d{1,2}|[\d半几]\s*(?:秒|分钟|个?小时|天)前|刚刚|刚才|今天|昨天|前天")
# The same matches (where they start; a test checks it), written to open with one character class:
# Python's regex engine then skips to the next character of that class in C, instead of trying
# every alternative at every character of the page's text. Each alternative checks behind it that
# the opening character was its own.
_DIGIT_DATE_SCAN = re.compile(
    r"[\d半几刚今昨前]"
    r"(?:(?<=\d)\d{0,3}\s*[-/.年月]\s*\d{1,2}|(?<=[\d半几])\s*(?:秒|分钟|个?小时|天)前|(?<=刚)[刚才]|(?<=[今昨前])天)"
)
# Site-name separators in <title>: "标题_频道_网站", "标题 - 网站", "标题|网站".
_TITLE_SEPARATORS = re.compile(r"\s*(?:_|\||｜|--|—|–|\s-\s|-{1,2}(?=[^\d]))\s*")
# "最后更新: 2019-09-07 15:14" sits beside the publication time and is not it.
_UPDATE_LABEL = re.compile(r"最后更新|最近更新|更新时间|更新于|修改时间|修改于|编辑于")
_DATE_LABEL = re.compile(r"发布|发表|时间|日期|更新|来源|稿源|编辑|作者|记者")

_NAME = r"[\u4e00-\u9fa5·]{2,4}"
_NAMES = rf"{_NAME}(?:[ \u3000、,，]+{_NAME})*"
_AFTER_NAME = r"(?=$|[\s）)】\]|/]|发自|报道|摄|通讯员|实习生|本报|来源|编辑|责任|[，,。；;：:])"
_HANDLE = r"[^\s\]|,，。:：;；()（）【】]{2,20}"

# Credits that name the writer, in order of trust.
WRITER_PATTERNS = (
    re.compile(rf"(?:作者|撰文|(?<![\u4e00-\u9fa5])文|来稿)\s*[:：/]\s*\[?\s*(?P<name>{_NAMES}{_AFTER_NAME}|{_HANDLE})"),
    re.compile(rf"(?:记者|通讯员|实习生|评论员)\s*[:：]?\s*(?P<name>{_NAMES}){_AFTER_NAME}"),
    re.compile(rf"[（(]\s*(?P<name>{_NAMES})\s+\S{{2,6}}报道\s*[）)]"),
    re.compile(rf"[（(][^（()）]{{0,12}}(?:记者|通讯员)\s*(?P<name>{_NAMES})\s*[）)]"),
    re.compile(r"本[帖贴]由\s*(?P<name>\S{2,20}?)\s*于"),
    re.compile(r"由\s*(?P<name>\S{2,20}?)\s*张贴"),
    re.compile(r"(?P<name>[\w&.\-\u4e00-\u9fa5]{2,20})\s*发表于"),
    re.compile(rf"(?:楼主|发帖人|博主)\s*[:：]\s*(?P<name>{_HANDLE})"),
    re.compile(rf"(?:发布时间|发表时间)\s*[:：]?\s*[\d/:\- ]+\s+by\s+(?P<name>{_HANDLE})"),
)
# Credits that only a byline carries; safe to look for anywhere on the page.
EXPLICIT_PATTERNS = tuple(p for i, p in enumerate(WRITER_PATTERNS) if i != 1)
# The editor, for pages that credit nobody else (the CWCE annotators read such pages as "by" them).
EDITOR_PATTERNS = (
    re.compile(rf"(?:责任编辑|责编|编辑)\s*[:：]\s*(?P<name>{_HANDLE})"),
)
# A word (on the Simplified fold) that every match of each pattern above contains.
# Every alternative opens with a plain character: Python's regex engine then skips in C to the next
# character that opens one (three times faster over a page's lines than "(?:作者|撰文|…)\s*[:：/]|…").
_CREDIT_WORD = re.compile(
    r"作者\s*[:：/]|撰文\s*[:：/]|文\s*[:：/]|来稿\s*[:：/]|"
    r"记者|通讯员|实习生|评论员|报道|由|发表于|楼主|发帖人|博主|by|编辑|责编"
)
# A word that every match of a pattern holds, for the pattern whose scan of a line without one costs
# most: "…发表于" tries names of 2 to 20 characters before each character of the line (three quarters
# of the credit patterns' time on the corpus pages). Other patterns need no word ("").
_NEEDED_WORD = {WRITER_PATTERNS[6]: "发表于"}
_LABEL_WORD = re.compile(r"浏览|点击|阅读|次数|访问|统计|人气|来源|编辑|责任|发布|时间|日期|字号|评论|分享|打印")
_NOT_A_NAME = re.compile(
    r"^(?:本报|新华社|中新社|记者|编辑|来源|佚名|未知|admin|匿名|作者|不详)$|网$|报$|社$|台$|频道$|中心$|"
    r"作者$|记者$|编辑$|"
    # Words that follow 记者 in prose ("记者了解到", "记者近日从…获悉") are not names.
    r"了|到|获悉|得知|证实|介绍|采访|近日|日前|发现|看到|注意|调查|走访|来到|表示|询问|联系|本文|从|在|^的|"
    r"\d{3}|@|email|http"
)


def find_title(page_blocks: Sequence[Block], page_title: str, meta_titles: Sequence[str]) -> tuple[str, int | None]:
    """The headline and its block index: the line that <title> or og:title starts with.

    <title> usually reads "headline_channel_site"; the headline is the visible line it starts with
    (or, for a heading element, contains). Without one, the declared title minus its site suffix.
    """
    declared = [t for t in (*meta_titles, page_title) if t.strip()]
    refs = [squash(t) for t in declared]
    cores = [squash(strip_site_suffix(t)) for t in declared]
    longest_core = max((len(c) for c in cores), default=0)
    # Except in a heading, the headline starts as a declared title does: other lines are not squashed.
    openings = {t[0] for t in (*refs, *cores) if t}
    best: tuple[int, int] | None = None  # (score, index)
    for i, block in enumerate(page_blocks):
        # A headline may be a link to itself; any other link-heavy line is navigation.
        if len(block.text) < 4 or (block.link_density > 0.5 and not block.heading):
            continue  # (the text only loses characters when squashed: too short either way)
        if not block.heading and block.text[0] not in openings:
            continue
        text = squash(block.text)
        if len(text) < 4 or len(text) > 80:
            continue
        if text in cores:
            score = 60  # the declared title without its site suffix: the headline itself
        elif text in refs:
            score = 40
        elif any(ref.startswith(text) for ref in refs):
            score = 30
        elif block.heading and len(text) >= 6 and any(text in ref for ref in refs):
            score = 0
        else:
            continue
        score += min(len(text), longest_core) + (20 if block.heading else 0)
        if best is None or score > best[0]:
            best = (score, i)
    if best is not None:
        return page_blocks[best[1]].text.strip(), best[1]
    for t in (*meta_titles, page_title):
        if t.strip():
            return strip_site_suffix(t), None
    return "", None


def site_parts(title: str) -> list[str]:
    """The parts of "标题_频道_网站" after the headline: channel and site names."""
    parts = [p.strip() for p in _TITLE_SEPARATORS.split(title.strip()) if p.strip()]
    core = strip_site_suffix(title)
    return [p for p in parts if p != core and len(p) >= 2]


def strip_site_suffix(title: str) -> str:
    """"标题_频道_网站" -> "标题": the first part, unless it is the short one (a site prefix)."""
    parts = [p for p in _TITLE_SEPARATORS.split(title.strip()) if p.strip()]
    if len(parts) < 2:
        return title.strip()
    return parts[0] if len(parts[0]) >= len(parts[1]) or len(parts[0]) >= 8 else parts[1]


def byline_window(page_blocks: Sequence[Block], title_index: int | None) -> list[Block]:
    if title_index is None:
        return []
    return list(page_blocks[max(0, title_index - _BEFORE_TITLE) : title_index + _AFTER_TITLE + 1])


def page_date(page_blocks: Sequence[Block], title_index: int | None, body_index: int | None, *,
              now: datetime, tz: ZoneInfo) -> FoundDate | None:
    """The byline date: the date-bearing short line nearest the headline (or the body's start).

    Every date in a short, non-navigation line is a candidate; it earns trust for a time of day,
    a label (发布时间, 来源, ...) and for being most of its line, and loses it with distance from
    the anchor and for sitting in a list of dated links (related stories, a sidebar).
    """
    anchor = title_index if title_index is not None else body_index
    dated = _dated(page_blocks)
    is_dated = set(dated)
    best: tuple[float, FoundDate] | None = None
    for i in dated:
        block = page_blocks[i]
        if len(block.text) > BYLINE_MAX_CHARS and block.punctuation > 3:
            continue  # prose mentioning a date, not a byline
        labelled = bool(_DATE_LABEL.search(block.text))
        neighbours = sum(1 for j in (i - 2, i - 1, i + 1, i + 2) if j in is_dated)
        for found in find_dates(block.text, now=now, tz=tz):
            if not found.has_time and found.yearless:
                continue  # "6月21日" in a byline is rare, in prose common
            if found.relative and not labelled and block.punctuation and 3 * (found.end - found.start) < len(block.text):
                # "今天，…" and "刚刚过去的…" open sentences of a story: a word of the prose, which
                # would date the page at the fetch time. A byline's "今天 09:30" or "2小时前" is
                # labelled, has no sentence punctuation, or is a good part of its line.
                continue
            # "3分钟前" is how forums and feeds date posts, but comments use it too: less trust.
            score = -2.0 * found.relative
            score += 4 * found.has_time
            score += 4 * labelled
            score -= 6 * bool(_UPDATE_LABEL.search(block.text[max(0, found.start - 8) : found.start]))
            score += 4 * (found.end - found.start) / max(1, len(block.text))
            score -= 6 * (block.link_density > 0.4)
            score -= 3 * min(neighbours, 2)
            if anchor is not None:
                distance = i - anchor
                if title_index is not None:
                    # A byline sits just under the headline, sometimes just above it.
                    far = distance if distance > 0 else 2 * -distance + 2
                else:
                    # Without a headline, the byline sits just above the story.
                    far = -distance if distance <= 0 else 2 * distance + 2
                score -= min(far, 40) / 2
            else:
                score -= min(i, 40) / 4
            if best is None or score > best[0]:
                best = (score, found)
    return best[1] if best else None


def _dated(page_blocks: Sequence[Block]) -> list[int]:
    """The indexes of the blocks holding something like a date (`_DIGIT_DATE`, searched as
    `_DIGIT_DATE_SCAN`)."""
    return _matching(_DIGIT_DATE_SCAN, [b.text for b in page_blocks])


def _matching(pattern: re.Pattern[str], lines: list[str]) -> list[int]:
    """The indexes of the lines where `pattern` matches.

    One search per matching line over the lines joined by NUL, which no part of the patterns
    searched here matches (so a match never spans two lines), rather than one search per line:
    most lines hold no match, and a page has hundreds of lines.
    """
    starts = [0, *accumulate(len(line) + 1 for line in lines)]
    text = "\0".join(lines)
    found: list[int] = []
    pos = 0
    while (m := pattern.search(text, pos)) is not None:
        i = bisect_right(starts, m.start()) - 1
        found.append(i)
        pos = starts[i + 1]  # the next line: one match is enough
    return found


def credit_lines(lines: Iterable[str]) -> list[str]:
    """The lines holding a word that some credit pattern needs: the only lines that `author_in`
    reads, so a caller that reads the same page lines several times can pick them once."""
    every = list(lines)
    return [every[i] for i in _matching(_CREDIT_WORD, [fold(line) for line in every])]


def author_in(lines: Sequence[str], patterns: Sequence[re.Pattern[str]] = WRITER_PATTERNS) -> str | None:
    """The first credited person in these lines, by the order of `patterns`."""
    # Only lines holding a word that some credit pattern needs can hold a credit: the page's few
    # such lines are tried against every pattern, not its hundreds of lines.
    pairs = [(line, folded) for line in lines if _CREDIT_WORD.search(folded := fold(line))]
    for pattern in patterns:
        needed = _NEEDED_WORD.get(pattern, "")
        for line, folded in pairs:
            if needed not in folded:
                continue
            for m in pattern.finditer(folded):
                # Match on the Simplified fold, keep the name as written when the fold kept offsets.
                raw = line[m.start("name") : m.end("name")] if len(folded) == len(line) else m["name"]
                if folded.startswith("报道", m.end("name")) and " " in raw.strip():
                    raw = raw.strip().rsplit(" ", 1)[0]  # "记者 彭冲 山东冠县报道": the last word is a place
                name = clean_name(raw)
                if name:
                    return name
    return None


def clean_name(raw: str) -> str | None:
    """A credited name as written, or None for words that only sit where names do."""
    words = re.sub(r"[\s\u3000、,，]+", " ", raw).strip(" []【】").split(" ")
    # "作者：张三 浏览次数：12": the byline's next label is not a second name.
    while len(words) > 1 and _LABEL_WORD.search(words[-1]):
        words.pop()
    # "杨倩_NF4425": a CMS appends the editor's staff code.
    name = re.sub(r"_[A-Za-z]*\d+$", "", " ".join(words))
    if not name or _NOT_A_NAME.search(name):
        return None
    return name
