"""The headline and the byline under it: title, publish time and author from visible text.

Used by `crawler.extract.extract_article` when per-site selectors and `<meta>` tags do not say.
Chinese news pages put "2024-05-01 10:00 来源：新华网 作者：张三" in a line just below (sometimes
just above) the headline, while the page header carries today's date and the sidebar carries other
stories' dates; so dates are looked for in a window of blocks around the headline, not anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from lxml.html import HtmlElement

from crawler.dates import FoundDate, find_dates
from crawler.extract_blocks import Block

# How far from the headline a byline may sit, in blocks.
_BEFORE_TITLE = 3
_AFTER_TITLE = 12
# Site-name separators in <title>: "标题_频道_网站", "标题 - 网站", "标题|网站".
_TITLE_SEPARATORS = re.compile(r"\s*(?:_|\||｜|--|—|–|\s-\s|-{1,2}(?=[^\d]))\s*")
_DATE_LABEL = re.compile(r"发布|发表|时间|日期|更新|来源|稿源|编辑|作者|记者")

_NAME = r"[\u4e00-\u9fa5·]{2,4}"
_NAMES = rf"{_NAME}(?:[ \u3000、,，]+{_NAME})*"
_AFTER_NAME = r"(?=$|[\s）)】\]|/]|发自|报道|摄|通讯员|实习生|本报|来源|编辑|责任|[，,。；;：:])"
# Bylines in order of trust: an explicit author, reporters, a writer credit, then the editor.
# The CWCE convention, which readers share, is that a page naming only its editor is "by" them.
_AUTHOR_PATTERNS = (
    re.compile(r"(?:作者|撰文|文)\s*[:：/]\s*\[?\s*(?P<name>[^\s\]|,，。:：;；()（）]{2,20})"),
    re.compile(rf"(?:记者|通讯员|实习生)\s*[:：]?\s*(?P<name>{_NAMES}){_AFTER_NAME}"),
    re.compile(r"本[帖贴]由\s*(?P<name>\S{2,20}?)\s*于"),
    re.compile(r"(?P<name>[\w&.\-\u4e00-\u9fa5]{2,20})\s*发表于"),
    re.compile(r"(?:楼主|发帖人|博主)\s*[:：]\s*(?P<name>[^\s|,，]{2,20})"),
    re.compile(r"(?:责任编辑|责编|编辑)\s*[:：]\s*(?P<name>[^\s\]|,，。:：;；()（）】]{2,12})"),
)
_NOT_A_NAME = re.compile(r"^(?:本报|新华社|中新社|记者|编辑|来源|佚名|未知|admin|匿名)$|网$|报$|社$|台$|频道$|中心$")


@dataclass(frozen=True)
class Byline:
    title: str
    title_index: int | None
    published_at: datetime | None
    author: str | None


def find_title(page_blocks: Sequence[Block], page_title: str, meta_titles: Sequence[str]) -> tuple[str, int | None]:
    """The headline and its block index: the heading that <title> or og:title starts with."""
    refs = [_squash(t) for t in (*meta_titles, page_title) if t.strip()]
    best: tuple[int, int] | None = None  # (length, index)
    for i, block in enumerate(page_blocks):
        text = _squash(block.text)
        if len(text) < 4 or len(text) > 80 or block.link_density > 0.5:
            continue
        if any(text == ref or (ref.startswith(text) or text in ref) for ref in refs):
            score = len(text) + (20 if block.heading else 0)
            if best is None or score > best[0]:
                best = (score, i)
    if best is not None:
        return page_blocks[best[1]].text.strip(), best[1]
    for t in meta_titles:
        if t.strip():
            return t.strip(), None
    parts = [p for p in _TITLE_SEPARATORS.split(page_title.strip()) if p]
    return (max(parts[:2], key=len) if parts else ""), None


def byline_window(page_blocks: Sequence[Block], title_index: int | None) -> list[Block]:
    if title_index is None:
        return []
    return list(page_blocks[max(0, title_index - _BEFORE_TITLE) : title_index + _AFTER_TITLE + 1])


def date_near_title(window: Sequence[Block], title_index_in_window: int, *, now: datetime,
                    tz: ZoneInfo) -> datetime | None:
    """The byline date: after the headline first, nearest first; one with a time beats a bare day."""
    ranked: list[tuple[int, int, FoundDate]] = []
    for i, block in enumerate(window):
        if len(block.text) > 200 or block.link_density > 0.5:
            continue
        for found in find_dates(block.text, now=now, tz=tz):
            distance = i - title_index_in_window
            labelled = bool(_DATE_LABEL.search(block.text))
            # After the title beats before it; a labelled byline or a time of day adds trust.
            rank = (0 if distance > 0 else 1, abs(distance) - 2 * labelled - found.has_time)
            ranked.append((rank[0], rank[1], found))
    if not ranked:
        return None
    return min(ranked, key=lambda r: (r[0], r[1]))[2].when


def author_in(lines: Sequence[str]) -> str | None:
    """The first credited person in these lines, by the order of `_AUTHOR_PATTERNS`."""
    for pattern in _AUTHOR_PATTERNS:
        for line in lines:
            for m in pattern.finditer(line):
                name = _clean_name(m["name"])
                if name:
                    return name
    return None


def _clean_name(raw: str) -> str | None:
    name = re.sub(r"[\s\u3000、,，]+", " ", raw).strip(" []【】")
    if not name or _NOT_A_NAME.search(name):
        return None
    return name


def title_from_page(root: HtmlElement) -> str:
    el = root.find(".//title")
    return re.sub(r"\s+", " ", el.text_content()).strip() if el is not None else ""


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)
