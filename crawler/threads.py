"""Reading forum pages: the threads a board lists, and every reply a thread page holds.

The forum spider calls `board_threads()` on board pages and `thread_page()` on thread pages. Per-site
selectors from settings.yaml come first (`threads`, `reply`, `reply_body`, `reply_author`,
`reply_time`, `reply_floor`, `thread_title`); without them the known layouts of common forum
software are tried (`FORUM_STYLES`: Discuz!, phpBB, Tieba, Flarum, Discourse, ruby-china-like
reply lists, comment lists), and, failing those, a generic finder that picks the largest group of
repeated sibling blocks carrying text. Selectors are CSS, or XPath when they start with / or (.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urljoin

from parsel import Selector, SelectorList

from .normalise import canonical_url, clean_text, clean_title


@dataclass(frozen=True)
class ForumStyle:
    """Where one forum software puts its replies. Selectors are relative to a reply block."""

    reply: str
    body: str
    author: str = ""
    time: str = ""
    floor: str = ""
    threads: str = ""  # on board pages: the thread links


FORUM_STYLES: dict[str, ForumStyle] = {
    "discuz": ForumStyle(
        reply="div[id^='post_']:not([id^='post_new']):not([id^='post_rate'])",
        body="td.t_f, [id^='postmessage_']",
        author=".authi a.xw1, .authi a",
        time="em[id^='authorposton'], .authi em",
        floor="strong a[id^='postnum'], [id^='postnum']",
        threads="tbody[id^='normalthread_'] a.xst, tbody[id^='normalthread_'] a.s.xst, a.xst",
    ),
    "tieba": ForumStyle(
        reply="div.l_post",
        body=".d_post_content",
        author=".d_name a, .p_author_name",
        time=".post-tail-wrap .tail-info, .post-tail-wrap, .tail-info",
        floor=".post-tail-wrap .tail-info",
        threads="a.j_th_tit",
    ),
    "phpbb": ForumStyle(
        reply="div.post[id^='p'], div.post",
        body=".content, .postbody",
        author=".author .username, .author strong, .username",
        time=".author time, p.author",
        threads="a.topictitle",
    ),
    "flarum": ForumStyle(
        reply=".PostStream-item",
        body=".Post-body",
        author=".PostUser-name .username, .PostUser-name",
        time="time[datetime]",
        threads=".DiscussionListItem-main, a.DiscussionListItem-main",
    ),
    "discourse": ForumStyle(
        reply=".topic-post, div[itemtype*='DiscussionForumPosting'] .post, .crawler-post",
        body=".cooked, .post[itemprop='text'], [itemprop='articleBody']",
        author=".username, [itemprop='author'] [itemprop='name'], .creator",
        time=".post-date, time[datetime], [data-time], .crawler-post-infos time",
        threads="a.title.raw-topic-link, a.raw-topic-link",
    ),
    "replies": ForumStyle(  # ruby-china, learnku and many Rails/Laravel forums
        reply="div.reply[id], .reply-item, li.reply",
        body=".markdown, .reply-content, .body, .content",
        author=".user-name, .reply-name, .name a, .author",
        time="abbr.timeago, time, .time, .time-item",
        floor=".floor",
    ),
    "comments": ForumStyle(  # comment lists under a post (douban-like, generic microdata)
        reply="[itemprop='comment'], .comment-item, .comment-list-item, li.comment",
        body="[itemprop='text'], .comment-content, .short, .content, p",
        author="[itemprop='author'], .comment-info a, .comment-user-title, .author, .user",
        time="time, .comment-time, .comment-user-time, .time",
    ),
}

# Thread-like link URLs of common forum software, used on boards without a known layout.
THREAD_URL = re.compile(
    r"(viewthread|thread-\d+|showtopic|viewtopic|/t/[^/]+/\d+|/topics?/\d+|/p/\d{6,}|/d/\d+|tid=\d+|/thread/\d+|/post/\d+)",
    re.I,
)
_FLOOR = re.compile(r"(?:#\s*(\d+)|(\d+)\s*(?:楼|樓|#|F\b|层))")
_FLOOR_WORDS = {"楼主": 1, "樓主": 1, "沙发": 2, "沙發": 2, "板凳": 3, "地板": 4}
_TITLE_TAIL = re.compile(r"\s*[-_|–—]\s*[^-_|–—]{1,40}$")


@dataclass(frozen=True)
class Reply:
    floor: int | None
    author: str | None
    time_text: str | None
    text: str
    anchor: str


@dataclass(frozen=True)
class ThreadPage:
    title: str
    replies: tuple[Reply, ...]
    style: str  # which layout matched: a FORUM_STYLES name, "configured" or "generic"


def select(node: Selector, query: str) -> SelectorList[Selector]:
    if not query:
        return SelectorList([])
    return node.xpath(query) if query.startswith(("/", "(", "./")) else node.css(query)


def _text(nodes: SelectorList[Selector]) -> str:
    if not nodes:
        return ""
    parts = nodes[0].xpath(".//text()[not(ancestor::script) and not(ancestor::style)]").getall()
    return clean_text("\n".join(p.strip() for p in parts if p.strip()))


def _block_text(node: Selector) -> str:
    """A body's text with its paragraph breaks (block elements and <br> end a line)."""
    lines: list[str] = []
    current: list[str] = []
    for piece in node.xpath(
        ".//text()[not(ancestor::script) and not(ancestor::style) and not(ancestor::*[contains(@class,'quote') or self::blockquote])]"
        " | .//br | .//p | .//div | .//li"
    ):
        if isinstance(piece.root, str):
            current.append(piece.root)
        else:
            if current:
                lines.append("".join(current))
                current = []
    if current:
        lines.append("".join(current))
    return clean_text("\n".join(line.strip() for line in lines if line.strip()))


def _time_text(node: Selector, query: str) -> str | None:
    for found in select(node, query)[:3] if query else []:
        for attr in ("datetime", "title", "data-time"):
            value = found.attrib.get(attr)
            if value and re.search(r"\d{4}", value):
                return value.strip()
        text = _text(SelectorList([found]))
        if re.search(r"\d", text) or any(w in text for w in ("前", "昨天", "前天", "刚刚")):
            return text
    return None


def parse_time(value: str | None, *, now: datetime, tz: object) -> datetime | None:
    """ISO values from `datetime=` attributes directly, everything else through parse_date."""
    if not value:
        return None
    from zoneinfo import ZoneInfo

    assert isinstance(tz, ZoneInfo)
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        from .pages import parse_date

        return parse_date(value, now=now, tz=tz)
    when = when if when.tzinfo else when.replace(tzinfo=tz)
    return when if when <= now else None


def _floor(node: Selector, style: ForumStyle) -> int | None:
    attr = node.attrib.get("data-floor") or node.attrib.get("data-number")
    for inner in node.css("[data-floor]")[:1]:
        attr = attr or inner.attrib.get("data-floor")
    if attr and attr.isdigit():
        return int(attr)
    label = " ".join(_text(SelectorList([n])) for n in select(node, style.floor)) if style.floor else ""
    for word, n in _FLOOR_WORDS.items():
        if word in label:
            return n
    m = _FLOOR.search(label)
    if m:
        return int(m.group(1) or m.group(2))
    return None


def _anchor(node: Selector, index: int) -> str:
    for candidate in [node, *node.css("[id]")[:2]]:
        ident = candidate.attrib.get("id") or candidate.attrib.get("data-pid") or candidate.attrib.get("data-id")
        if ident:
            return ident
    pid = node.attrib.get("data-pid") or node.attrib.get("data-id")
    return pid or f"floor-{index}"


def _replies(sel: Selector, style: ForumStyle) -> list[Reply]:
    found: list[Reply] = []
    for i, node in enumerate(select(sel, style.reply), start=1):
        bodies = select(node, style.body)
        text = _block_text(bodies[0]) if bodies else ""
        if not text:
            continue
        author = _text(select(node, style.author)).split("\n")[0] or None if style.author else None
        found.append(Reply(_floor(node, style), author, _time_text(node, style.time), text, _anchor(node, i)))
    return found


def _generic(sel: Selector) -> list[Reply]:
    """The largest group (by text) of >= 2 sibling blocks sharing tag and class, each with text."""
    best: list[Selector] = []
    best_size = 0.0
    for parent in sel.xpath("//body//*[count(*) >= 2]"):
        groups: dict[tuple[str, str], list[Selector]] = {}
        for child in parent.xpath("./*"):
            tag = child.root.tag if hasattr(child.root, "tag") else ""
            if tag in ("script", "style", "a", "span", "br", "option", "img", "td", "tr"):
                continue
            key = (str(tag), " ".join(sorted((child.attrib.get("class") or "").split())))
            groups.setdefault(key, []).append(child)
        for members in groups.values():
            if len(members) < 2:
                continue
            texts = [_block_text(m) for m in members]
            if sum(1 for t in texts if len(t) >= 8) < 2:
                continue
            # links-only blocks are navigation, not replies
            link_share = sum(len(" ".join(m.css("a ::text").getall())) for m in members) / max(1, sum(map(len, texts)))
            size = sum(len(t) for t in texts) * (1 - min(link_share, 1.0))
            if size > best_size:
                best, best_size = members, size
    return [r for i, node in enumerate(best, start=1) if (r := _generic_reply(node, i)) is not None]


_DATE_LIKE = re.compile(r"\d{4}[-/.年]\d{1,2}|\d{1,2}[-/]\d{1,2}\s+\d{1,2}:\d{2}|\d+\s*(分钟|小时|天)前|刚刚|昨天|前天")


def _generic_reply(node: Selector, index: int) -> Reply | None:
    """Split a reply block into author, time and body: the body is its largest part, the time the
    part that reads as a date, the author a short part before the body."""
    parts = [(child, _block_text(child)) for child in node.xpath("./*")]
    parts = [(c, t) for c, t in parts if t]
    if len(parts) < 2:
        text = _block_text(node)
        return Reply(None, None, None, text, _anchor(node, index)) if text else None
    body_node, body = max(parts, key=lambda p: len(p[1]))
    time_text = next((t for c, t in parts if c is not body_node and len(t) <= 40 and _DATE_LIKE.search(t)), None)
    author = next(
        (t for c, t in parts if c is not body_node and t != time_text and len(t) <= 30 and "\n" not in t),
        None,
    )
    if time_text is None:
        time_text = _time_text(node, "time, [class*='time'], [class*='date']")
    named = _text(node.css("[class*='author'], [class*='user'], [class*='name']")).split("\n")[0]
    if named and len(named) <= 30:
        author = named  # a part the page itself calls author/user/name beats a guess by position
    return Reply(None, author, time_text, body, _anchor(node, index))


def thread_title(sel: Selector, selectors: Mapping[str, str]) -> str:
    configured = selectors.get("thread_title")
    if configured:
        return clean_title(_text(select(sel, configured)))
    for query in ("#thread_subject", "h1 .core_title_txt", ".core_title_txt", "h1", "title"):
        nodes = sel.css(query)
        if nodes:
            title = clean_title(" ".join(nodes[0].css("::text").getall()))
            if title:
                return _TITLE_TAIL.sub("", title) if query == "title" else title
    return ""


def thread_page(sel: Selector, selectors: Mapping[str, str]) -> ThreadPage:
    """The thread's title and the replies on this page, by configured, known, then generic layout."""
    title = thread_title(sel, selectors)
    if selectors.get("reply"):
        style = ForumStyle(
            reply=selectors["reply"],
            body=selectors.get("reply_body", "*"),
            author=selectors.get("reply_author", ""),
            time=selectors.get("reply_time", ""),
            floor=selectors.get("reply_floor", ""),
        )
        return ThreadPage(title, tuple(_replies(sel, style)), "configured")
    for name, style in FORUM_STYLES.items():
        replies = _replies(sel, style)
        if replies:
            return ThreadPage(title, tuple(replies), name)
    return ThreadPage(title, tuple(_generic(sel)), "generic")


def board_threads(sel: Selector, base: str, selectors: Mapping[str, str], follow: re.Pattern[str] | None) -> list[str]:
    """Thread URLs listed on a board page, in page order, once each."""
    queries = [selectors["threads"]] if selectors.get("threads") else [s.threads for s in FORUM_STYLES.values() if s.threads]
    urls: list[str] = []
    for query in queries:
        for node in select(sel, query):
            href = node.attrib.get("href") or (node.css("a::attr(href)").get() or "")
            if href:
                urls.append(canonical_url(urljoin(base, href.strip())))
        if urls:
            break
    if not urls:
        pattern = follow or THREAD_URL
        for href in sel.css("a::attr(href)").getall():
            url = canonical_url(urljoin(base, href.strip()))
            if pattern.search(url):
                urls.append(url)
    if follow is not None:
        urls = [u for u in urls if follow.search(u)]
    return [u for u in dict.fromkeys(urls) if u.startswith(("http://", "https://"))]
