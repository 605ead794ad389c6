"""Near-duplicate (repost) detection: precision and recall of the event clustering test.

Builds a labelled set of pairs from real text in ../shared/corpus (skipped, visibly, when absent):

- repost pairs: each gold news article (news_html/*.gold.json, Chinese body >= 200 characters) and
  each labelled topic post (topics/topics_dev.jsonl) against copies with the edits reposts have:
  another site's header and footer, "来源/转载自/责任编辑" lines, paragraphs cut or added, a changed
  title, Traditional script (OpenCC s2t), and all of these at once;
- unrelated pairs: two different articles, two different topic posts on the SAME topic (the hard
  case: same vocabulary, different story), and two different articles wrapped in the SAME site's
  header and footer.

Each pair is judged by `yuqing.events.similarity` (what `cluster_posts` uses) against the threshold
in the default settings (`ledger.similarity`); a sweep shows how that threshold was chosen.
Goal: precision and recall both >= 0.95.
"""

from __future__ import annotations

import json
import random
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
SEED = 20261125

SITES = [
    ("首页 | 新闻 | 本地 | 社会 | 视频 | 图片\n当前位置：首页 > 社会新闻 > 正文\n",
     "\n【打印本页】【关闭窗口】\n版权所有：城市信息网 备案号：京ICP备00000000号\n联系我们 | 广告服务 | 网站地图"),
    ("搜狐首页 > 新闻 > 正文\n分享到：微信 微博 QQ空间\n",
     "\n返回搜狐，查看更多\n声明：该文观点仅代表作者本人，搜狐号系信息发布平台。\n责任编辑："),
    ("论坛首页 › 百姓话题 › 查看帖子\n楼主 发表于 3 天前 | 只看该作者\n",
     "\n回复 举报 收藏 分享\n本版规则：文明发帖，理性讨论。\n快速回复 返回顶部 返回列表"),
    ("网站首页 政务公开 新闻中心 互动交流\n",
     "\n主办单位：某县人民政府办公室 承办：县大数据中心\n地址：县政府大楼 电话：0000-1234567"),
]
SOURCE_LINES = ["来源：{site}", "转载自：{site}", "本文转自{site}，如有侵权请联系删除", "稿源：{site} 责任编辑：王磊"]
SITE_NAMES = ["人民网", "澎湃新闻", "县融媒体中心", "百姓论坛", "今日头条", "新浪新闻"]
TITLE_PREFIX = ["转：", "【扩散】", "重磅！", "网友爆料：", "关注｜"]


def _chinese(text: str) -> int:
    return len(re.findall(r"[\u4e00-\u9fff]", text))


def load_articles() -> list[tuple[str, str]]:
    out = []
    for path in sorted((CORPUS / "news_html").glob("*.gold.json")):
        gold = json.loads(path.read_text(encoding="utf-8"))
        body = (gold.get("content") or "").strip()
        if _chinese(body) < 200:
            continue
        title = (gold.get("title") or "").strip() or re.split(r"[。！？\n]", body, maxsplit=1)[0][:30]
        out.append((title, body))
    return out


def load_posts() -> list[tuple[str, str, tuple[str, ...]]]:
    out = []
    path = CORPUS / "topics" / "topics_dev.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        if d["topics"]:
            out.append((d["text"][:20], d["text"], tuple(d["topics"])))
    return out


def paragraphs(text: str) -> list[str]:
    parts = [p.strip() for p in re.split(r"\n+", text) if p.strip()]
    if len(parts) >= 3:
        return parts
    # One long paragraph: split at sentence ends so that "cutting a paragraph" has something to cut.
    sentences = [s for s in re.split(r"(?<=[。！？])", text) if s.strip()]
    size = max(1, len(sentences) // 4)
    return ["".join(sentences[i : i + size]) for i in range(0, len(sentences), size)]


def variants(title: str, body: str, rng: random.Random, filler: str, t2s: object) -> list[tuple[str, str, str]]:
    """(edit name, title, text) of reposts of one story."""
    paras = paragraphs(body)
    header, footer = rng.choice(SITES)
    site = rng.choice(SITE_NAMES)
    source_line = rng.choice(SOURCE_LINES).format(site=site)
    out = [
        ("site chrome + source line", title, f"{header}{source_line}\n{body}{footer}"),
        ("changed title", rng.choice(TITLE_PREFIX) + title[: max(4, len(title) // 2)] + "……", body),
        ("traditional script", t2s.convert(title), t2s.convert(body)),  # type: ignore[attr-defined]
    ]
    if len(paras) >= 3:
        keep = [p for i, p in enumerate(paras) if i == 0 or rng.random() > 0.35]
        out.append(("paragraphs cut", title, "\n".join(keep)))
        cut_end = paras[: max(2, (len(paras) * 6) // 10)]
        out.append(("second half cut", title, "\n".join(cut_end)))
    out.append(("lead paragraphs only, new title", rng.choice(TITLE_PREFIX) + title, "\n".join(paras[:2])))
    added = list(paras)
    added.insert(rng.randrange(len(added) + 1), filler)
    out.append(("paragraph added", title, "\n".join(added) + "\n（编者按：欢迎读者提供线索。）"))
    combo = [p for i, p in enumerate(paras) if i == 0 or rng.random() > 0.25]
    out.append(("all edits at once", rng.choice(TITLE_PREFIX) + t2s.convert(title),  # type: ignore[attr-defined]
                f"{header}{source_line}\n" + t2s.convert("\n".join(combo)) + footer))  # type: ignore[attr-defined]
    return out


def short_variants(text: str, rng: random.Random, t2s: object) -> list[tuple[str, str, str]]:
    """Reposts of a short forum post: the same grievance posted elsewhere."""
    site = rng.choice(SITE_NAMES)
    return [
        ("forwarded with a source line", "", f"转自{site}：{text}"),
        ("traditional script", "", t2s.convert(text)),  # type: ignore[attr-defined]
        ("call to share added", "", text + " 求扩散！！@相关部门 请给个说法"),
        ("reposted with a header", "", f"【网友求助】\n{text}\n—— 来自{site}网友投稿"),
    ]


def build_pairs(rng: random.Random) -> tuple[list[tuple[str, tuple[str, str], tuple[str, str], bool]], int, int]:
    import opencc

    t2s = opencc.OpenCC("s2t")
    articles = load_articles()
    posts = load_posts()
    pairs: list[tuple[str, tuple[str, str], tuple[str, str], bool]] = []
    for i, (title, body) in enumerate(articles):
        filler = paragraphs(articles[(i + 7) % len(articles)][1])[0]
        for name, t, text in variants(title, body, rng, filler, t2s):
            pairs.append(("repost: " + name, (title, body), (t, text), True))
    for _, text, _topics in posts:
        for name, t, v in short_variants(text, rng, t2s):
            pairs.append(("short repost: " + name, ("", text), (t, v), True))
    # Unrelated pairs.
    for i, (title, body) in enumerate(articles):
        for j in rng.sample(range(len(articles)), 4):
            if j != i:
                pairs.append(("unrelated articles", (title, body), articles[j], False))
        j = (i + 1 + rng.randrange(len(articles) - 1)) % len(articles)
        header, footer = rng.choice(SITES)
        pairs.append(("unrelated articles, same site chrome", (title, header + body + footer),
                      (articles[j][0], header + articles[j][1] + footer), False))
    for k, (_, text, _topics) in enumerate(posts):
        # A short post against a long article: the sizes MinHash estimates worst.
        title, body = articles[k % len(articles)]
        pairs.append(("unrelated short post vs long article", ("", text), (title, body), False))
    by_topic: dict[str, list[str]] = {}
    for _, text, topics in posts:
        for topic in topics:
            by_topic.setdefault(topic, []).append(text)
    for texts in by_topic.values():
        for a in range(len(texts)):
            for b in rng.sample(range(len(texts)), min(6, len(texts))):
                if b != a and texts[a] != texts[b]:
                    pairs.append(("unrelated posts, same topic", ("", texts[a]), ("", texts[b]), False))
    return pairs, len(articles), len(posts)


def main(argv: list[str] | None = None) -> int:
    if not (CORPUS / "news_html").exists() or not (CORPUS / "topics").exists():
        print(f"SKIPPED: {CORPUS} is not present (the third-party corpus lives beside the repo)")
        return 0
    from yuqing.config import LedgerSettings
    from yuqing.events import similarity, sketch

    cfg = LedgerSettings()
    rng = random.Random(SEED)
    pairs, n_articles, n_posts = build_pairs(rng)
    started = time.perf_counter()
    cache: dict[tuple[str, str], object] = {}

    def sk(item: tuple[str, str]) -> object:
        if item not in cache:
            cache[item] = sketch(item[0], item[1], cfg.shingle)
        return cache[item]

    scored = [(kind, similarity(sk(a), sk(b)), same) for kind, a, b, same in pairs]  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    positives = sum(1 for *_, same in scored if same)
    print(f"pairs: {len(scored)} ({positives} reposts, {len(scored) - positives} unrelated) from "
          f"{n_articles} gold articles and {n_posts} labelled topic posts; {len(cache)} sketches in {elapsed:.1f}s")

    def pr(threshold: float) -> tuple[float, float, int, int]:
        tp = sum(1 for _, s, same in scored if same and s >= threshold)
        fp = sum(1 for _, s, same in scored if not same and s >= threshold)
        fn = positives - tp
        precision = tp / (tp + fp) if tp + fp else 1.0
        return precision, tp / positives, fp, fn

    print("threshold sweep (containment of character 3-shingles, MinHash 128):")
    for th in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
        p, r, fp, fn = pr(th)
        print(f"  {th:.2f}: precision {p:.3f} recall {r:.3f} (false merges {fp}, missed reposts {fn})")
    p, r, fp, fn = pr(cfg.similarity)
    print(f"by kind at the settings threshold {cfg.similarity}:")
    kinds: dict[str, list[tuple[float, bool]]] = {}
    for kind, s, same in scored:
        kinds.setdefault(kind, []).append((s, same))
    for kind, items in sorted(kinds.items()):
        right = sum(1 for s, same in items if (s >= cfg.similarity) == same)
        print(f"  {kind:42s} {right}/{len(items)} right")
    goal = p >= 0.95 and r >= 0.95
    print(f"RESULT pairs at threshold {cfg.similarity}: precision {p:.3f}, recall {r:.3f} "
          f"(goal >= 0.95 both: {'met' if goal else 'NOT met'})")
    cp, cr = clustering(random.Random(SEED))
    print(f"RESULT clustering (cluster_posts on SQLite, pairs of posts put in one event): "
          f"precision {cp:.3f}, recall {cr:.3f}")
    return 0 if goal and cp >= 0.95 and cr >= 0.95 else 1


def clustering(rng: random.Random) -> tuple[float, float]:
    """Every story and its reposts stored as posts on several sites, clustered by `cluster_posts`.

    Precision and recall over pairs of posts: a pair in the same event that tell the same story is
    right; a pair of one story split over two events is a miss.
    """
    import tempfile
    from datetime import UTC, datetime, timedelta

    import opencc

    from yuqing.config import Settings
    from yuqing.events import cluster_posts
    from yuqing.storage import MatchRow, PostRow, open_database

    t2s = opencc.OpenCC("s2t")
    articles = load_articles()
    posts = load_posts()
    stories: list[list[tuple[str, str]]] = []
    for i, (title, body) in enumerate(articles):
        filler = paragraphs(articles[(i + 7) % len(articles)][1])[0]
        copies = rng.sample(variants(title, body, rng, filler, t2s), 3)
        stories.append([(title, body)] + [(t, text) for _, t, text in copies])
    for _, text, _ in posts:
        stories.append([("", text)] + [(t, v) for _, t, v in rng.sample(short_variants(text, rng, t2s), 2)])
    items = [(sid, t, text) for sid, story in enumerate(stories) for t, text in story]
    rng.shuffle(items)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        db = open_database(f"sqlite:///{tmp}/bench.db")
        ids: dict[int, int] = {}
        with db.session() as s:
            for n, (sid, title, text) in enumerate(items):
                at = start + timedelta(minutes=n)
                row = PostRow(source_id=f"site{n % 9}", url=f"https://site{n % 9}.example.org/{n}", title=title,
                              text=text, published_at=at, fetched_at=at, kind="article", content_hash=str(n), extra={})
                s.add(row)
                s.flush()
                s.add(MatchRow(post_id=row.id, unit_id="u", topic="t", rule_id="r", severity="low", score=1,
                               negative=False, negativity=0, hits=[], created_at=at))
                ids[row.id] = sid
        started = time.perf_counter()
        cluster_posts(db, Settings(), now=start + timedelta(days=1))
        elapsed = time.perf_counter() - started
        with db.session() as s:
            event_of = {pid: eid for pid, eid in s.query(PostRow.id, PostRow.event_id)}
        db.dispose()
    by_event: dict[int | None, list[int]] = {}
    for pid, eid in event_of.items():
        by_event.setdefault(eid, []).append(ids[pid])
    together = sum(len(v) * (len(v) - 1) // 2 for v in by_event.values())
    right = 0
    for members in by_event.values():
        counts: dict[int, int] = {}
        for sid in members:
            counts[sid] = counts.get(sid, 0) + 1
        right += sum(c * (c - 1) // 2 for c in counts.values())
    truth = sum(len(s) * (len(s) - 1) // 2 for s in stories)
    print(f"clustering: {len(items)} posts of {len(stories)} stories into {len(by_event)} events "
          f"in {elapsed:.1f}s ({len(items) / elapsed:.0f} posts/s)")
    return (right / together if together else 1.0), right / truth


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
