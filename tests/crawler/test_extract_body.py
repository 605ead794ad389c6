"""Body line cleaning and the choice between the density body and trafilatura's body."""

from __future__ import annotations

import lxml.html

from crawler.extract_blocks import blocks
from crawler.extract_body import (
    choose_body,
    clean_lines,
    density_blocks,
    density_body,
    density_doubt,
    link_texts,
    without_link_lines,
)

P1 = "镇政府对辖区内十二个行政村的集体资产进行了全面清查，并通报了清查结果。"
P2 = "清查发现，部分村存在集体土地承包合同不规范、集体资产台账不完整等问题。"
P3 = "镇纪委表示，将督促相关村在六月底前完成整改，并将整改情况向村民公开。"


def test_furniture_lines_are_removed_and_paragraphs_kept() -> None:
    lines = [
        "当前位置：首页 > 新闻", "2024-05-01 10:00", "来源：示例日报", P1, "分享到：", "微信", "微博",
        P2, "（责任编辑：王小明）", P3 + "（编辑：李四）", "Copyright © 2024 示例网 版权所有",
    ]
    assert clean_lines(lines) == [P1, P2, P3]


def test_lines_above_the_headline_are_header() -> None:
    lines = ["播报文章", "关注", "镇政府通报村集体资产清查结果", "法新社", P1, P2]
    assert clean_lines(lines, title="镇政府通报村集体资产清查结果") == [P1, P2]


def test_related_and_comment_headings_end_the_story() -> None:
    for heading in ("相关新闻", "相關閱讀", "你可能還想看", "网友评论：", "上一页 1 下一页 | 尾页"):
        assert clean_lines([P1, P2, heading, P3]) == [P1, P2], heading


def test_a_sub_heading_that_starts_like_a_button_does_not_end_the_story() -> None:
    assert clean_lines([P1, "举报人“寻而不得”", P2]) == [P1, "举报人“寻而不得”", P2]


def test_the_next_post_header_ends_the_story() -> None:
    lines = [P1, P2, "〓 网易娱乐 留言板 发布时间 2005/05/17 22:11:42 by 眉间尺 〓", "回复：说得好", P3]
    assert clean_lines(lines) == [P1, P2]
    blog = [P1, P2, "由海姑娘张贴 @ 2005-03-21 01:20:44 (359) 共 3 篇评论", "长发剪了，感觉很轻松", P3]
    assert clean_lines(blog) == [P1, P2]


def test_a_page_without_prose_keeps_its_short_lines() -> None:
    toc = ["习近平新时代中国特色社会主义思想研究", "张素峰", "中共党史", "宋学勤"]
    assert clean_lines(toc) == toc


def test_density_picks_the_story_container_over_link_lists() -> None:
    html = f"""<html><body>
    <div id="nav"><a href="/1">首页</a> <a href="/2">新闻中心</a> <a href="/3">政务公开</a></div>
    <div class="wrap"><div class="story"><p>{P1}</p><p>整改工作已经启动</p><p>{P2}</p><p>{P3}</p></div>
    <ul class="list"><li><a href="/a">全镇召开农村集体资产管理工作会议并部署下一步工作</a></li>
    <li><a href="/b">镇政府部署村务公开工作要求各村按时公开财务收支情况</a></li></ul></div>
    </body></html>"""
    root = lxml.html.document_fromstring(html)
    assert [b.text for b in density_blocks(root)] == [P1, "整改工作已经启动", P2, P3]


def test_link_lines_from_flattened_tables_are_dropped() -> None:
    root = lxml.html.document_fromstring(
        "<p><a href='/a'>全镇召开农村集体资产管理工作会议</a> <a href='/b'>镇政府部署村务公开工作</a></p>")
    line = "全镇召开农村集体资产管理工作会议 镇政府部署村务公开工作"
    assert without_link_lines([P1, line, P2], link_texts(root)) == [P1, P2]


def test_choice_between_candidates() -> None:
    # Trafilatura dropped a short paragraph inside the story: density's fuller text wins, cut to
    # trafilatura's first and last line.
    density = ["栏目导航", P1, "整改工作已经启动", P2, P3, "网站地图 联系我们 关于我们 广告服务"]
    assert choose_body({"density": density, "trafilatura": [P1, P2, P3]}) == [P1, "整改工作已经启动", P2, P3]
    # Trafilatura ran the paragraphs together: the same text with its paragraphs wins.
    assert choose_body({"density": [P1, P2, P3], "trafilatura": [P1 + P2 + P3]}) == [P1, P2, P3]
    # One side empty: the other.
    assert choose_body({"density": [], "trafilatura": [P1]}) == [P1]
    assert choose_body({"density": [P2], "trafilatura": []}) == [P2]


def test_one_walk_gives_both_block_views() -> None:
    # A share bar inside a paragraph, and a furniture box between two story boxes: the kept view
    # skips their text without cutting a block there, the full view reads it.
    from crawler.extract_blocks import block_views, blocks

    html = f"""<html><body><div class="story"><p>{P1}<span class="share">分享到微信</span>续</p>
    <div class="related"><ul><li><a href="/x">相关新闻一则</a></li></ul></div>尾声<p>{P2}</p></div></body></html>"""
    root = lxml.html.document_fromstring(html)
    every, kept = block_views(root)
    assert [b.text for b in every] == [b.text for b in blocks(root)]
    assert [b.text for b in kept] == [b.text for b in blocks(root, furniture=True)]
    assert [b.text for b in kept] == [P1 + "续", "尾声", P2]
    assert "相关新闻一则" in [b.text for b in every]


def test_a_story_box_beside_a_teaser_is_the_container_not_the_body() -> None:
    # The next post's teaser outside the story box adds a little prose: summing, <body> outscores
    # the box, but the box holds nearly all the prose and is the container (density is then clear
    # and trafilatura is not asked to read the whole page).
    html = f"""<html><body>
    <div class="top"><a href="/1">首页</a> <a href="/2">新闻中心</a></div>
    <div class="post"><h1>标题</h1>
    <div class="content"><p>{P1}</p><p>整改工作已经启动</p><p>{P2}</p><p>{P3}</p><p>{P1}</p><p>{P2}</p><p>{P3}</p><p>{P1}</p></div></div>
    <div class="next"><p>下一篇：镇里开会了，会上说了很多。</p></div>
    </body></html>"""
    root = lxml.html.document_fromstring(html)
    found = density_body(blocks(root, furniture=True))
    assert found.container is not None and found.container.get("class") == "post"
    assert density_doubt(found, clean_lines(b.text for b in found.blocks)) is None


def test_the_walk_reads_text_after_comments_and_keeps_inner_spaces() -> None:
    # The walk is lxml's iterwalk: comments and processing instructions are events of their own,
    # and the text after them still belongs to the block; indentation between tags makes no block.
    root = lxml.html.fromstring(
        "<div>\n  <p>镇政府<!-- 注释 -->通报<?php echo 1; ?>结果</p>\n  <p> <b>村务</b> <i>公开</i> </p>\n  \n</div>"
    )
    from crawler.extract_blocks import block_views

    every, kept = block_views(root)
    assert [b.text for b in every] == ["镇政府通报结果", "村务 公开"]
    assert [b.text for b in kept] == ["镇政府通报结果", "村务 公开"]


def test_a_short_body_of_prose_is_not_in_doubt() -> None:
    # trafilatura reads only the container density chose: on a short story box it could only drop
    # a line or two, and it is not asked.
    root = lxml.html.document_fromstring(
        f"<html><body><div class='story'><p>{P1}</p><p>{P2}</p><p>{P3}</p><p>{P1}</p></div></body></html>"
    )
    found = density_body(blocks(root, furniture=True))
    lines = clean_lines(b.text for b in found.blocks)
    assert sum(map(len, lines)) < 200
    assert density_doubt(found, lines) is None


def test_a_page_folded_in_one_call_reads_as_folded_line_by_line() -> None:
    import opencc

    from crawler.extract_blocks import fold, fold_page

    lines = ["責任編輯：王五", "相關新聞", "share", "據報導，記者於現場採訪了多位村民。", "相關新聞"]
    fold_page(lines)
    one_by_one = opencc.OpenCC("t2s")
    assert [fold(line) for line in lines] == [line if line.isascii() else one_by_one.convert(line) for line in lines]
    assert fold("責任編輯：王五") == "责任编辑：王五"


def test_a_furniture_named_box_is_kept_only_when_it_holds_the_page_s_sentences() -> None:
    # "main-side" names a sidebar; a box of that name holding most of a page's sentences is the
    # story all the same ("热点" names a sidebar too, and its one sentence is not held). A page of
    # under five sentences keeps no such box.
    from crawler.extract_blocks import block_views

    def kept_texts(paragraphs: str, aside: str) -> list[str]:
        root = lxml.html.document_fromstring(
            f"<html><body><div class='main-side'>{paragraphs}</div><div class='hot'>{aside}</div><p>{P3}</p></body></html>"
        )
        return [b.text for b in block_views(root)[1]]

    story = f"<p>{P1}</p><p>{P2}</p><p>{P1}</p><p>{P2}</p>"
    assert kept_texts(story, "热点。") == [P1, P2, P1, P2, P3]
    assert kept_texts(f"<p>{P1}</p>", "热点。") == [P3]  # three sentences in all: nothing is held


def test_the_density_body_holds_the_blocks_inside_its_container_only() -> None:
    # Blocks deep inside the container are in; a line right after it (owned by its parent) and a
    # line in a neighbouring box are out.
    root = lxml.html.document_fromstring(
        f"<html><body><div id='wrap'><div class='story'><p>{P1}</p><div><div><p>{P2}</p></div></div>"
        f"<p>{P3}</p><p>{P1}</p><p>{P2}</p><p>{P3}</p></div>责任编辑 王五"
        f"<div class='box'><p>图片 新闻</p></div></div></body></html>"
    )
    found = density_body(blocks(root, furniture=True))
    assert found.container is not None and found.container.get("class") == "story"
    assert [b.text for b in found.blocks] == [P1, P2, P3, P1, P2, P3]


def test_each_element_s_sums_are_those_of_the_blocks_under_it() -> None:
    # `density_body` climbs from each block only up to the first element already met and passes
    # the sums up once: every element's sums, and the order elements are met in (which breaks a
    # tie for the best score), are those of climbing from every block to the root.
    from pathlib import Path

    from crawler.encoding import decode_html
    from crawler.extract import _parse
    from crawler.extract_body import _subtree_sums, _weight

    here = Path(__file__).parent
    for path in sorted([*(here / "pages_extract").glob("*.html"), *(here / "pages").glob("*.html")]):
        root = _parse(decode_html(path.read_bytes(), None)[0])
        assert root is not None
        page = blocks(root, furniture=True)
        scores: dict[int, float] = {}
        prose: dict[int, float] = {}
        alive = []  # an element's id is its own only while it lives
        for block in page:
            weight = _weight(block)
            el = block.owner
            while el is not None:
                scores[id(el)] = scores.get(id(el), 0.0) + weight
                prose[id(el)] = prose.get(id(el), 0.0) + max(weight, 0.0)
                alive.append(el)
                el = el.getparent()
        got_scores, got_prose, elements = _subtree_sums(page)
        assert list(got_scores.items()) == list(scores.items()), path.name
        assert got_prose == prose, path.name
        assert list(elements) == list(scores)


def test_split_and_join_cut_at_the_spaces_the_regexes_name() -> None:
    # Blocks are tidied and lines squashed by split() and join() instead of substitutions, which
    # gives the same text only where the two agree on what a space is.
    import re
    import sys

    from crawler.extract_blocks import _ODD_SPACES, _SPACES

    every = [chr(c) for c in range(sys.maxunicode + 1)]
    split_spaces = {c for c in every if c.isspace()}
    assert {c for c in every if re.fullmatch(r"\s", c)} == split_spaces
    assert {c for c in every if _ODD_SPACES.fullmatch(c)} == {c for c in every if _SPACES.fullmatch(c)} ^ split_spaces
    # Tidied either way, a block reads the same.
    root = lxml.html.fromstring("<div><p>\n 镇政府\u3000通报\u00a0 结果 \t</p><p>\u2028村务\u200b公开\u2028了\ufeff</p></div>")
    assert [b.text for b in blocks(root)] == ["镇政府 通报 结果", "村务 公开\u2028了"]


def test_link_texts_are_the_links_text_content() -> None:
    root = lxml.html.document_fromstring(
        "<p><a href='/a'>全镇<b>召开</b> 农村会议</a><a href='/b'>短</a><a href='/c'>镇政府&amp;部署工作</a>尾</p>")
    assert sorted(link_texts(root)) == sorted(["".join(a.text_content().split()) for a in root.iter("a")][::2])


def test_the_copyright_line_pattern_is_its_two_halves() -> None:
    # `_is_furniture` searches the copyright words as an uncased half without IGNORECASE and a cased
    # half with it: the lines of the one pattern with IGNORECASE only if IGNORECASE changes nothing
    # in the first half, which is so for characters without case (the regex compiler's own test).
    import _sre
    import re
    import sys

    from crawler.extract_body import _A_OR_C, _COPYRIGHT_CASED, _COPYRIGHT_UNCASED, _is_furniture

    words = (r"版权所有|copyright|©|\(c\)\s*\d{4}|ICP备|ICP证|公网安备|违法和不良信息|all rights reserved|"
             r"未经授权|不得转载|禁止转载|转载请注明|擅自转载|反侵权|侵权必究|著作权归")
    assert sorted(f"{_COPYRIGHT_UNCASED.pattern}|{_COPYRIGHT_CASED.pattern}".split("|")) == sorted(words.split("|"))
    assert not any(_sre.unicode_iscased(ord(c)) for c in _COPYRIGHT_UNCASED.pattern)
    # Each word of the cased half holds an a or a c, and IGNORECASE matches nothing else to them.
    assert all(re.search("[ac]", word, re.IGNORECASE) for word in _COPYRIGHT_CASED.pattern.split("|"))
    ac = re.compile("[ac]", re.IGNORECASE)
    assert {chr(c) for c in range(sys.maxunicode + 1) if ac.fullmatch(chr(c))} == set("AaCc")
    assert {chr(c) for c in range(sys.maxunicode + 1) if _A_OR_C.fullmatch(chr(c))} == set("AaCc")
    one = re.compile(words, re.IGNORECASE)
    for line in ["Copyright 2024 镇政府", "(C) 2021 某网", "京ICP备12345号", "ALL RIGHTS RESERVED", "未经授权，不得转载",
                 "©新华网", "镇政府召开会议", "ICP", "c 2021", "a (c)2021 b"]:
        assert _is_furniture(line) == bool(one.search(line)), line


def test_a_furniture_box_is_weighed_against_the_text_read_before_it_and_then_the_page() -> None:
    # The sentences read before a furniture-named box, with its own, bound the page's count from
    # below: a box after a long story is not held on that alone; otherwise the page's count
    # decides, scripts included.
    from crawler.extract_blocks import block_views

    def kept_texts(body: str) -> list[str]:
        return [b.text for b in block_views(lxml.html.document_fromstring(f"<html><body>{body}</body></html>"))[1]]

    story = f"<p>{P1}</p><p>{P2}</p><p>{P1}</p><p>{P2}</p>"
    box = "<div class='comment'><p>好。</p><p>很好。</p><p>对。</p></div>"
    assert kept_texts(story + box) == [P1, P2, P1, P2, "好。", "很好。", "对。"]  # 3 of 7 sentences
    assert kept_texts(story + "<div class='comment'><p>好。</p><p>很好。</p></div>") == [P1, P2, P1, P2]  # 2 of 6
    assert kept_texts(box + f"<p>{P1}</p>") == [P1]  # a page of 4 sentences holds no box
    assert kept_texts(box + f"<p>{P1}</p><p>{P2}</p>") == ["好。", "很好。", "对。", P1, P2]  # 3 of 5
    assert kept_texts(box + f"<p>{P1}</p><p>{P2}</p><script>var s = '。。。。。。';</script>") == [P1, P2]  # 3 of 11
