"""The article body of a page: which blocks of text are the story, as lines.

Used by `crawler.extract.extract_article`. Two views of the same page are combined:

- our density scorer: every text block scores its non-link characters when it reads like prose
  (it has sentence punctuation and few links) and loses its characters when it is mostly links;
  the element whose blocks add up to the highest score is the article container. This is the
  "maximum-scoring subtree" form of the text-density idea behind GNE and readability, and it
  keeps short paragraphs and sub-headings that sit between prose paragraphs;
- trafilatura's main-text extraction, which is strong on modern templated pages.

Both pass through `clean_lines`, which removes bylines, editor and source lines, share bars and
copyright lines, drops the page header above the headline and stops at a "related stories" or
comments heading or at the next post's header. `choose_body` then decides by how much of each
candidate the other covers: trafilatura's first and last lines bound a fuller density body (its
extra lines in between are short paragraphs trafilatura dropped), and a paragraph structure beats
the same text run together.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from operator import add

from lxml import etree
from lxml.html import HtmlElement

from crawler.extract_blocks import Block, blocks, fold, squash

# One body "covers" the other when it holds this share of the other's character bigrams.
# bench/extraction.py tunes it leave-one-source-out to show whether it is overfitted.
COVERAGE = 0.9
# A block is prose when it has sentence punctuation and at most this share of link text.
_PROSE_MAX_LINK_DENSITY = 0.3
# Shorter link texts ("更多", "首页") occur inside prose too often to count as links there.
_MIN_LINK_CHARS = 4
# A block is navigation when at least this share of it is link text.
_NAV_MIN_LINK_DENSITY = 0.5
# `density_doubt`: the largest child's share of the container's prose between these is "a few boxes
# side by side" (below: a run of paragraphs; above: one story box). A body with less than this share
# of prose lines is doubtful too. Results hold from 0.25/0.9 to 0.35/0.8 (dev body F1 0.974-0.978);
# bench/extraction.py re-tunes SPLIT_HIGH leave-one-source-out.
_SPLIT_LOW = 0.3
SPLIT_HIGH = 0.85
_PROSE_SHARE = 0.7

# Lines that are furniture, not story: bylines, editors, sources, share bars, print/close buttons.
_FURNITURE_LINE = re.compile(
    r"^[\s【\[（(<《]*(?:责任编辑|责编|编辑|主编|审核|校对|值班编辑|来源|稿源|文章来源|本文来源|信息来源|"
    r"出处|作者|文/|记者|通讯员|摄影|图片来源|供图|关键词|关键字|标签|tags?|分享到|分享至|分享|"
    r"打印|关闭|字号|字体|返回|上一篇|下一篇|上一页|下一页|相关新闻|相关阅读|相关链接|相关文章|延伸阅读|"
    r"推荐阅读|热点推荐|热门推荐|更多|点击|扫一扫|扫描二维码|微信扫|发布时间|发布日期|发表时间|"
    r"时间|日期|阅读|浏览|点击数|评论|我来说两句|网友评论|声明|免责声明|版权声明|当前位置|您的位置|"
    r"位置|楼主|发帖人)"
    r"\s*[:：】\]）)>]?",
    re.IGNORECASE,
)
_FURNITURE_MAX_CHARS = 60
# Copyright and licence lines, in two halves (one regex with IGNORECASE before, which tried every
# word at every character of each line). The words without case need no IGNORECASE (a test checks
# that it changes nothing for them), and then open with characters that Python's regex engine skips
# to in C. Every match of the cased half holds an a or a c, which IGNORECASE matches to nothing
# else (a test checks it): most lines hold neither and are not searched with IGNORECASE at all.
# A third of the one regex's time on the corpus pages' lines.
_COPYRIGHT_UNCASED = re.compile(
    r"版权所有|©|公网安备|违法和不良信息|未经授权|不得转载|禁止转载|转载请注明|擅自转载|反侵权|侵权必究|著作权归"
)
_COPYRIGHT_CASED = re.compile(r"copyright|\(c\)\s*\d{4}|ICP备|ICP证|all rights reserved", re.IGNORECASE)
_A_OR_C = re.compile("[AaCc]")
_COPYRIGHT_MAX_CHARS = 160
# An editor credit glued to the end of the last paragraph: "……。（责任编辑：王五）".
_EDITOR_TAIL = re.compile(
    r"[（(【\[]\s*(?:责任编辑|责编|编辑|来源|作者)\s*[:：][^）)】\]]{0,30}[）)】\]]\s*$"
)
# A heading that starts what follows the story: related links, recommendations, comments, paging.
_STOP_LINE = re.compile(
    r"^[\s【\[]*(?:相关(?:新闻|阅读|文章|链接|报道|推荐|专题|内容)|推荐阅读|延伸阅读|热门(?:推荐|文章|新闻|评论)|热点推荐|"
    r"猜你喜欢|猜你喜歡|你可能(?:还|還)?(?:想看|喜欢|喜歡|感兴趣|感興趣)|其他人(?:也在看)?|大家都在看|更多(?:新闻|精彩|相关|文章)|"
    r"加载更多|查看更多|网友评论|发表评论|评论区|精彩评论|最新评论|全部评论|文章不错|举报|平台声明|免责声明|版权声明|"
    r"上一篇|下一篇|首页\s*\|?\s*上一页|上一页|下一页)"
    # ...and little else on the line: "举报人“寻而不得”" is a sub-heading, not the report button.
    r"(?:[\s:：>》»\]】|]*\S{0,4}|.*\|.*)$"
)
_STOP_MAX_CHARS = 40
# "发布时间 2005/05/17 22:11:42 by 眉间尺", "回复于 2024-05-01 10:00", "由某某张贴 @ 2005-03-21 01:20":
# a post's header or footer after the story starts the next post (a reply, the blog's older entry).
_POST_HEADER = re.compile(
    r"(?:发布时间|发表时间|发表于|发帖时间|回复时间|回复于|回帖时间|张贴|posted)\s*[:：@]?\s*"
    r"\d{2,4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?\s*\d{1,2}:\d{2}",
    re.IGNORECASE,
)
_POST_HEADER_MAX_CHARS = 80
# Lines with no words at all: counters, "+1", "×", bullets.
_NO_WORDS = re.compile(r"^[\d\s+\-×xX|·•.,:：%()（）/\\]*$")
_ALONE_WORD = re.compile(
    r"^(?:广告|关注|收藏|点赞|举报|不喜欢|播报文章|停止播报|首赞|点赞失败|来自\S{1,8}|发布于\S{0,10}|"
    r"微信|微博|QQ|QQ空间|朋友圈|豆瓣|人人网|新浪微博|腾讯微博|复制链接)$",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"[，。！？；]")
_PROSE = re.compile(r"[，。！？；,.!?;]")
_SHORT_LINE = 12
_PARAGRAPH_CHARS = 40
_LEAD_DATE = re.compile(r"\d{2,4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}")
_SHARE_BAR = re.compile(r"^(?:[\s|/·•]*(?:微信|微博|QQ|空间|人人|豆瓣|朋友圈|qq空间|新浪微博|腾讯微博)){2,}[\s|/·•]*$",
                        re.IGNORECASE)


def density_blocks(root: HtmlElement) -> list[Block]:
    """The blocks of the best-scoring container, link-heavy ones left out."""
    return density_body(blocks(root, furniture=True)).blocks


@dataclass(frozen=True)
class DensityBody:
    """What the density scorer found: the container, its story blocks, and how its prose is spread."""

    container: HtmlElement | None
    blocks: list[Block]
    # Share of the container's prose characters under its largest child (text directly in the
    # container counts as one more child): near 1 for a wrapper around one story box, small for a
    # run of paragraphs, in between for a few boxes side by side.
    top_share: float


def density_body(page: list[Block]) -> DensityBody:
    """The best-scoring container among the furniture-free `page` blocks, and its blocks with the
    link-heavy ones left out; no container when no element scores above zero.

    When the best is the page's <body> (or <html>) only because a few lines of prose elsewhere (the
    next post's teaser, an audio box) add to the story box's score, the box that holds nearly all
    the prose (`SPLIT_HIGH`) is the container instead, as it would be for any other wrapper of one
    story box: on 13 of the 18 corpus pages where density found "no container", and where
    trafilatura then read the whole page (20 ms a call, most of its time on the corpus).
    """
    if not page:
        return DensityBody(None, [], 1.0)
    scores, prose, elements = _subtree_sums(page)
    # The first element met (climbing from the blocks in reading order) wins a tie: the innermost.
    best_id = max(scores, key=scores.__getitem__)
    best_score = scores[best_id]
    if best_score <= 0:
        return DensityBody(None, [], 1.0)
    best = elements[best_id]
    while True:  # at most twice: <html> to <body> to the box
        total = prose.get(id(best), 0.0)
        children = [prose.get(id(child), 0.0) for child in best]
        top = max([*children, total - sum(children)]) / total if total > 0 else 1.0
        if best.tag not in ("html", "body") or top < SPLIT_HIGH or max(children, default=0.0) < SPLIT_HIGH * total:
            break
        best = best[children.index(max(children))]
    # The owners and their ancestors are all in `elements`, which keeps them alive: their ids
    # stay theirs while `_within` remembers answers by id.
    answers: dict[int, bool] = {}
    kept = [b for b in page if b.link_density < _NAV_MIN_LINK_DENSITY and _within(b.owner, best, answers)]
    return DensityBody(best, kept, top)


def _subtree_sums(page: list[Block]) -> tuple[dict[int, float], dict[int, float], dict[int, HtmlElement]]:
    """For every element holding a block (by id): the weights of the blocks under it, their
    positive weights, and the element; keyed in the order the elements are first met climbing
    from each block's owner.

    Each element is visited once, not once per block under it: the climb from a block stops at
    the first element already met, and the sums are then passed up from the deepest elements to
    their parents. (The weights are whole numbers, so the sums do not depend on their order.)
    """
    own: dict[int, float] = {}
    own_prose: dict[int, float] = {}
    elements: dict[int, HtmlElement] = {}
    parents: dict[int, int] = {}
    depths: dict[int, int] = {}
    for block in page:
        weight = _weight(block)
        key = id(block.owner)
        own[key] = own.get(key, 0.0) + weight
        if weight > 0:
            own_prose[key] = own_prose.get(key, 0.0) + weight
        if key in elements:
            continue
        path: list[int] = []
        el: HtmlElement | None = block.owner
        depth = 0
        while el is not None:
            key = id(el)
            if key in elements:
                parents[path[-1]] = key
                depth = depths[key] + 1
                break
            elements[key] = el
            if path:
                parents[path[-1]] = key
            path.append(key)
            el = el.getparent()
        for key in reversed(path):
            depths[key] = depth
            depth += 1
    scores = dict.fromkeys(elements, 0.0)
    prose = dict.fromkeys(elements, 0.0)
    for key, weight in own.items():
        scores[key] = weight
    for key, weight in own_prose.items():
        prose[key] = weight
    for key in sorted(parents, key=depths.__getitem__, reverse=True):
        parent = parents[key]
        scores[parent] += scores[key]
        prose[parent] += prose[key]
    return scores, prose, elements


def _within(el: HtmlElement, top: HtmlElement, answers: dict[int, bool]) -> bool:
    """Whether `el` is `top` or inside it. Each answer is remembered for every element on the way
    up, so the walk from the next block's owner stops at the first element already answered: the
    tree is climbed once, not once per block, and never walked below `top` (most of the page, when
    `top` is its body)."""
    path: list[int] = []
    answer = False
    node: HtmlElement | None = el
    while node is not None:
        seen = answers.get(id(node))
        if seen is not None:
            answer = seen
            break
        if node is top:
            answer = True
            break
        path.append(id(node))
        node = node.getparent()
    for key in path:
        answers[key] = answer
    return answer


def density_doubt(body: DensityBody, lines: list[str]) -> str | None:
    """Why the density body may not be the story (then trafilatura's second opinion is asked), or
    None when it is clear.

    Clear: one box inside the container holds nearly all the prose, or the prose is a run of many
    paragraphs, and the body is mostly prose of some length. Doubtful: no container but the page's
    body; a few boxes side by side sharing the prose (a blog page of several posts, a story and the
    next one, a story and its comments), where the scorer, summing, takes them all; a body of
    short lines (a list, a thread). Those are the pages where trafilatura changed the result on the
    dev gold pages (bench/extraction.py); elsewhere it cost time and, twice, the story's paragraphs.
    A short body (under 200 characters) is no longer a doubt: trafilatura reads only the container
    density chose, so on a short one it can only drop a line or two, and it changed no forum page
    and one dev page (for the worse: 1.000 against 0.986) of the 8 such pages. Asked only when in
    doubt: 15 of 77 dev pages, 27 of the 125 corpus pages (22 and 42 before `density_body` looked
    inside <body> for the story box and short bodies were taken as they are).
    """
    if body.container is None or body.container.tag in ("html", "body"):
        return "no container"
    if _SPLIT_LOW <= body.top_share < SPLIT_HIGH:
        return "prose split between boxes"
    chars = sum(len(line) for line in lines)
    prose = sum(len(line) for line in lines if len(line) > _SHORT_LINE and _PROSE.search(line))
    if prose < _PROSE_SHARE * chars:
        return "short lines"
    return None


def _weight(block: Block) -> float:
    if block.link_density >= _NAV_MIN_LINK_DENSITY:
        return -block.chars
    if block.punctuation and block.link_density <= _PROSE_MAX_LINK_DENSITY:
        return block.chars - block.link_chars
    # Short unpunctuated lines (sub-headings, captions, bylines) neither attract nor repel.
    return -1.0


def clean_lines(lines: Iterable[str], *, title: str = "") -> list[str]:
    """Story lines only: furniture, copyright and a repeated title removed, paragraphs kept.

    Before the first prose paragraph, short lines and date lines are page furniture (channel
    names, "关注", the byline); after it, a "related stories" or comments heading ends the story.
    """
    out: list[str] = []
    norm_title = squash(title)
    prose_seen = False
    lines_list = list(lines)
    for raw in lines_list:
        line = _tidy(raw)
        if not line:
            continue
        if prose_seen and _ends_story(line):
            break
        line = _without_editor_tail(line)
        if not line or _is_furniture(line):
            continue
        # (A line is the headline only if it starts and ends as the headline does: most are not
        # squashed at all.)
        if norm_title and line[0] == norm_title[0] and line[-1] == norm_title[-1] and squash(line) == norm_title:
            if sum(1 for ln in out if len(ln) > _PARAGRAPH_CHARS and _SENTENCE.search(ln)) < 2:
                # Above the headline is page header (tickers, channel names), unless a story is there.
                out.clear()
                prose_seen = False
            continue
        is_prose = bool(_PROSE.search(line)) and len(line) > _SHORT_LINE
        if not prose_seen and not is_prose and (len(line) <= _SHORT_LINE or _LEAD_DATE.search(line)):
            continue
        prose_seen = prose_seen or is_prose
        out.append(line)
    if not prose_seen:
        # A page of headings and names (a table of contents): nothing is "before the story".
        return [ln for ln in (_tidy(r) for r in lines_list) if ln and not _is_furniture(ln)]
    return out


def _ends_story(line: str) -> bool:
    """A heading for related stories or comments, or the header of the next post in a thread."""
    if len(line) <= _STOP_MAX_CHARS and _STOP_LINE.match(fold(line)) and not _SENTENCE.search(line):
        return True
    return len(line) <= _POST_HEADER_MAX_CHARS and bool(_POST_HEADER.search(line))


def _without_editor_tail(line: str) -> str:
    folded = fold(line)
    m = _EDITOR_TAIL.search(folded)
    if m is None or len(folded) != len(line):
        return line
    return line[: m.start()].strip()


def _tidy(raw: str) -> str:
    line = raw.strip()
    if line.startswith("|") and line.endswith("|"):
        # trafilatura renders table rows as "| a | b |"; keep the cells' text.
        line = " ".join(cell.strip() for cell in line.strip("|").split(" | ") if cell.strip())
        line = line.replace("\\|", "|").strip()
    return "" if _NO_WORDS.match(line) else line


def _is_furniture(line: str) -> bool:
    line = fold(line)
    if len(line) <= _FURNITURE_MAX_CHARS and _FURNITURE_LINE.match(line):
        return True
    if len(line) <= _COPYRIGHT_MAX_CHARS and (
        _COPYRIGHT_UNCASED.search(line) or (_A_OR_C.search(line) and _COPYRIGHT_CASED.search(line))
    ):
        return True
    return bool(_SHARE_BAR.match(line)) or bool(_ALONE_WORD.match(line))


def link_texts(root: HtmlElement) -> list[str]:
    """The squashed text of every link on the page long enough to recognise."""
    # Each link's text as text_content() gives it, through lxml's serializer: text_content() runs an
    # XPath and wraps its answer in a "smart" string, which costs more (a few hundred links a page).
    texts = {squash(etree.tostring(a, method="text", encoding="unicode", with_tail=False)) for a in root.iter("a")}
    return [t for t in texts if len(t) >= _MIN_LINK_CHARS]


def without_link_lines(lines: list[str], links: list[str]) -> list[str]:
    """Drop lines that are mostly link text: trafilatura's text output has lost which words were
    links, and flattens table rows of "related stories" into one line."""
    kept = []
    for line in lines:
        squashed = squash(line)
        linked = sum(len(t) for t in links if t in squashed)
        if linked < _NAV_MIN_LINK_DENSITY * len(squashed):
            kept.append(line)
    return kept


def _bigrams(text: str) -> Counter[str]:
    s = squash(text)
    return Counter(map(add, s, s[1:]))  # each character joined to the next, in C


def choose_body(candidates: Mapping[str, list[str]]) -> list[str]:
    """Pick between the density lines and trafilatura's lines.

    When one candidate contains nearly all of the other and adds prose, it found the same story
    and more of it (trafilatura drops short paragraphs; density can swallow a comment list), so
    the choice is made on how much each covers of the other.
    """
    ours = candidates.get("density") or []
    theirs = candidates.get("trafilatura") or []
    if not theirs:
        return ours
    if not ours:
        return theirs
    a, b = "\n".join(ours), "\n".join(theirs)
    ca, cb = _bigrams(a), _bigrams(b)
    # The size of the multiset intersection, `sum((ca & cb).values())`, in C: Counter's & is a Python
    # loop over every bigram of `ca`, with a __missing__ call for each one `cb` lacks.
    both = ca.keys() & cb.keys()
    common = sum(map(min, map(ca.__getitem__, both), map(cb.__getitem__, both)))
    ours_in_theirs = common / max(1, sum(ca.values()))
    theirs_in_ours = common / max(1, sum(cb.values()))
    if theirs_in_ours >= COVERAGE and ours_in_theirs < COVERAGE:
        # Density found trafilatura's text plus more. Inside trafilatura's first and last line the
        # extra lines are short paragraphs it dropped; outside them, mostly page furniture.
        return _between(ours, theirs[0], theirs[-1])
    if ours_in_theirs >= COVERAGE:
        if len(theirs) == 1 < len(ours) and theirs_in_ours >= 0.7:
            return ours  # trafilatura's fallback ran the paragraphs together
        if theirs_in_ours >= COVERAGE:
            # The same text both ways: keep the one that kept the paragraphs apart.
            return ours if len(ours) > len(theirs) else theirs
        return theirs if len(b) <= 2.0 * len(a) else ours
    # They disagree on what the story is: prefer the one with more prose.
    return ours if _prose_chars(ours) >= _prose_chars(theirs) else theirs


def _between(lines: list[str], first: str, last: str) -> list[str]:
    start = next((i for i, ln in enumerate(lines) if _same_line(ln, first)), 0)
    end = next((i for i in range(len(lines) - 1, start - 1, -1) if _same_line(lines[i], last)), len(lines) - 1)
    return lines[start : end + 1]


def _same_line(a: str, b: str) -> bool:
    ka, kb = squash(a)[:12], squash(b)[:12]
    return bool(ka) and (ka == kb or (len(kb) >= 6 and kb in squash(a)))


def _prose_chars(lines: list[str]) -> int:
    return sum(len(line) for line in lines if re.search(r"[，。！？；]", line))
