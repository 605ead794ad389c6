"""Credits in a page's lines: `author_in` and the lines it can read (`credit_lines`)."""

from __future__ import annotations

from crawler.extract_blocks import fold_page
from crawler.extract_byline import (
    EDITOR_PATTERNS,
    EXPLICIT_PATTERNS,
    WRITER_PATTERNS,
    author_in,
    credit_lines,
)

LINES = [
    "首页 > 新闻中心 > 本地新闻",
    "镇政府对辖区内十二个行政村的集体资产进行了全面清查，并通报了清查结果。",
    "2024-05-01 10:00 來源：本報 記者 張三",  # Traditional: the credit word is found on its fold
    "清查发现，部分村存在集体土地承包合同不规范、集体资产台账不完整等问题。",
    "责任编辑：王五",
    "版权所有 © 某某网",
]


def test_credit_lines_are_the_lines_author_in_reads() -> None:
    # extract._author picks a page's credit lines once and reads them up to three times: each
    # reading must give what it gives on all of the page's lines.
    fold_page(LINES)
    picked = credit_lines(LINES)
    assert picked == ["2024-05-01 10:00 來源：本報 記者 張三", "责任编辑：王五"]
    for patterns in (WRITER_PATTERNS, EXPLICIT_PATTERNS, EDITOR_PATTERNS):
        assert author_in(picked, patterns) == author_in(LINES, patterns)
    assert author_in(picked) == "張三"
    assert author_in(picked, EDITOR_PATTERNS) == "王五"
    # Picked by one search over the lines joined, as one search a line would pick them: a word at a
    # line's start or end, in adjacent lines, or cut by a line's end is found (or not) alike.
    from crawler.extract_blocks import fold
    from crawler.extract_byline import _CREDIT_WORD

    lines = ["作者", "：张三", "记者", "李四 记", "者", "", "by", "b", "y", "编辑", "文：", "发表于", "镇政府通报"]
    fold_page(lines)
    assert credit_lines(lines) == [line for line in lines if _CREDIT_WORD.search(fold(line))]
    assert credit_lines(lines) == ["记者", "by", "编辑", "文：", "发表于"]


def test_the_date_scan_finds_what_the_date_pattern_finds() -> None:
    # page_date finds dated lines with _DIGIT_DATE_SCAN, a rewriting of _DIGIT_DATE for speed.
    from pathlib import Path

    import lxml.html

    from crawler.extract_blocks import blocks
    from crawler.extract_byline import _DIGIT_DATE, _DIGIT_DATE_SCAN

    lines = [
        "2024-05-01 10:00 来源：新华网", "2024年5月1日", "５月１日 星期三", "12345-6-7", "发布于 3 分钟前",
        "半小时前", "几天前 回复", "刚刚", "刚才说过", "今天 09:30", "昨天", "前天下午", "以前天气很好", "1.5", "a/b",
        "第3-5页", "前前后后", "今今天", "20240501", "3个小时前", "2小时以前", "",
    ]
    for page in Path(__file__).parent.glob("pages*/*.html"):
        root = lxml.html.document_fromstring(page.read_bytes())
        lines += [b.text for b in blocks(root)]
    for line in lines:
        assert [m.span() for m in _DIGIT_DATE_SCAN.finditer(line)] == [m.span() for m in _DIGIT_DATE.finditer(line)], line


def test_the_headline_is_found_in_a_plain_line_or_inside_a_heading() -> None:
    # Lines that open unlike every declared title are skipped before they are squashed; a heading
    # is still read whole, since it may hold the headline after a prefix.
    import lxml.html

    from crawler.extract_blocks import blocks
    from crawler.extract_byline import find_title

    def headline(body: str, page_title: str) -> tuple[str, int | None]:
        return find_title(blocks(lxml.html.document_fromstring(f"<html><body>{body}</body></html>")), page_title, [])

    page_title = "镇政府通报集体资产清查结果_本地新闻_某某网"
    assert headline("<p>首页</p><p>镇政府通报集体资产 清查结果</p><p>正文。</p>", page_title) == ("镇政府通报集体资产 清查结果", 1)
    assert headline("<h1>【独家】镇政府通报集体资产清查结果</h1>", "【独家】" + page_title) == ("【独家】镇政府通报集体资产清查结果", 0)
    # A heading that the declared title holds after a prefix; the same line outside a heading is not it.
    video = "【视频】镇政府通报集体资产清查结果（附名单）_某某网"
    assert headline("<p>首页</p><h2>镇政府通报集体资产清查结果</h2>", video) == ("镇政府通报集体资产清查结果", 1)
    assert headline("<p>首页</p><p>镇政府通报集体资产清查结果</p>", video) == ("【视频】镇政府通报集体资产清查结果（附名单）", None)
