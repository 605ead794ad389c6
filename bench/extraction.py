"""Extraction quality: ours vs trafilatura vs GNE on the dev gold pages of ../shared/corpus/news_html.

Run with `python -m bench extraction` (or `make bench`). Only pages whose manifest entry says
`split: dev` and whose sidecar is human gold (`*.gold.json`) are used; GNE's own `*.ref.json` output
is silver and skipped, and the evaluation split beside the corpus is never opened. Every extractor gets the same text,
decoded by `crawler.encoding.decode_html`, so the figures compare extraction, not decoding.

Figures, each with the number of pages it is computed on:
- body F1: F1 of the multiset of character bigrams (whitespace removed) against gold `content`;
- body snippets: pages whose gold is snippets (must include / must exclude / prefix) pass or fail;
- date accuracy: a gold date of day precision counts as right on the same calendar day, a gold date
  with a time on the same minute, a gold year or year-month at that precision (the CWCE gold has
  some); a gold date that does not parse as a date is left out;
- title and author: exact match after NFKC, whitespace removal and lower-casing; CWCE authors
  separated by spaces are compared as a set.

Three thresholds were set while looking at these pages (`crawler.extract_body.COVERAGE`, when one
body candidate covers the other; `crawler.extract_body.SPLIT_HIGH`, when the density body's prose is
split between boxes and trafilatura is asked for a second opinion; `crawler.extract_byline.BYLINE_MAX_CHARS`,
when a dated line is prose rather than a byline). The leave-one-source-out table re-tunes each over a small grid on
all sources but one, scores the held-out source with the value chosen without it, and prints the
pooled held-out figure beside the in-sample one: a large drop would mean the value is overfitted.
The per-source table shows the same gap per site family. Last, the forum and Q&A pages of
forum_html with gold main text, which nothing in the extractor was ever looked at against.
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import crawler.extract_body
import crawler.extract_byline
from crawler.encoding import decode_html
from crawler.extract import extract_article

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
TZ = ZoneInfo("Asia/Shanghai")
# Fetch time for relative dates: after every page in the corpus was captured.
NOW = datetime(2025, 1, 1, tzinfo=TZ)


@dataclass(frozen=True)
class Output:
    title: str | None
    text: str
    date: datetime | None
    author: str | None


@dataclass(frozen=True)
class Page:
    name: str
    source: str
    html: str
    url: str
    gold: dict[str, object]


@dataclass
class Score:
    f1: list[float] = field(default_factory=list)
    snippets: list[bool] = field(default_factory=list)
    dates: list[bool] = field(default_factory=list)
    titles: list[bool] = field(default_factory=list)
    authors: list[bool] = field(default_factory=list)


def load_pages(corpus: Path = CORPUS, folder: str = "news_html") -> list[Page]:
    manifest = json.loads((corpus / "manifest.json").read_text(encoding="utf-8"))
    pages = []
    # news_html: the dev split only; forum_html was not split (and holds no holdout pages).
    split = "dev" if folder == "news_html" else "n/a"
    for entry in manifest:
        gold_path = entry.get("gold") or ""
        if entry.get("split") != split or entry.get("folder") != folder or not gold_path.endswith(".gold.json"):
            continue
        body = (corpus / entry["file"]).read_bytes()
        gold = json.loads((corpus / gold_path).read_text(encoding="utf-8"))
        name = Path(entry["file"]).name
        html, _ = decode_html(body, None)
        pages.append(Page(name, name.split("__")[0], html, gold.get("url") or "", gold))
    return pages


def ours(page: Page) -> Output:
    a = extract_article(page.html, page.url, now=NOW, tz=TZ)
    return Output(a.title, a.text, a.published_at, a.author)


def trafilatura_baseline(page: Page) -> Output:
    import trafilatura

    doc = trafilatura.bare_extraction(page.html, url=page.url or None, with_metadata=True,
                                      include_comments=False)
    if doc is None or isinstance(doc, dict):
        return Output(None, "", None, None)
    when = None
    if doc.date:
        when = datetime.fromisoformat(doc.date).replace(tzinfo=TZ)
    return Output(doc.title, doc.text or "", when, doc.author)


def gne_baseline(page: Page) -> Output:
    from gne import GeneralNewsExtractor

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            r = GeneralNewsExtractor().extract(page.html)
        except Exception as exc:  # GNE raises bare errors on some pages; that page scores zero
            print(f"   gne failed on {page.name}: {type(exc).__name__}", file=sys.stderr)
            return Output(None, "", None, None)
    when = None
    if r.get("publish_time"):
        from crawler.dates import parse_date

        when = parse_date(str(r["publish_time"]), now=NOW, tz=TZ)
    return Output(r.get("title"), r.get("content") or "", when, r.get("author") or None)


EXTRACTORS: dict[str, Callable[[Page], Output]] = {
    "ours": ours,
    "trafilatura": trafilatura_baseline,
    "gne": gne_baseline,
}


def bigram_f1(got: str, gold: str) -> float:
    a, b = _bigrams(got), _bigrams(gold)
    if not a or not b:
        return float(a == b)
    overlap = sum((a & b).values())
    return 2 * overlap / (sum(a.values()) + sum(b.values()))


def _bigrams(text: str) -> Counter[str]:
    s = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
    return Counter(s[i : i + 2] for i in range(len(s) - 1))


def _norm(text: str | None) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or "")).lower()


def date_right(got: datetime | None, gold: str) -> bool | None:
    """None when the gold is not a date at all; otherwise right at the gold's precision."""
    m = re.match(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2})(?:\s+(\d{1,2}):(\d{2}))?)?)?", gold.strip())
    if not m:
        return None
    if got is None:
        return False
    local = got.astimezone(TZ)
    parts = [int(p) for p in m.groups() if p is not None]
    have = [local.year, local.month, local.day, local.hour, local.minute][: len(parts)]
    return have == parts


def author_right(got: str | None, gold: str) -> bool:
    if not got:
        return False
    if _norm(got) == _norm(gold):
        return True
    return set(gold.split()) == set(re.split(r"[\s,，、]+", got.strip()))


def score(pages: list[Page], extract: Callable[[Page], Output]) -> dict[str, Score]:
    by_source: dict[str, Score] = defaultdict(Score)
    for page in pages:
        out = extract(page)
        s = by_source[page.source]
        g = page.gold
        if isinstance(g.get("content"), str) and g["content"]:
            s.f1.append(bigram_f1(out.text, str(g["content"])))
        else:
            checks = []
            text = _norm(out.text)
            for snippet in _strings(g.get("content_must_include")):
                checks.append(_norm(snippet) in text)
            for snippet in _strings(g.get("content_must_exclude")):
                checks.append(_norm(snippet) not in text)
            if g.get("content_prefix"):
                checks.append(text.startswith(_norm(str(g["content_prefix"]))))
            if checks:
                s.snippets.append(all(checks))
        if isinstance(g.get("publish_time"), str):
            right = date_right(out.date, str(g["publish_time"]))
            if right is not None:
                s.dates.append(right)
        if isinstance(g.get("title"), str) and g["title"]:
            s.titles.append(_norm(out.title) == _norm(str(g["title"])))
        if isinstance(g.get("author"), str) and g["author"]:
            s.authors.append(author_right(out.author, str(g["author"])))
    return by_source


def _strings(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _merge(scores: dict[str, Score]) -> Score:
    total = Score()
    for s in scores.values():
        for name in ("f1", "snippets", "dates", "titles", "authors"):
            getattr(total, name).extend(getattr(s, name))
    return total


def _fmt(values: list[float] | list[bool]) -> str:
    if not values:
        return "      -    "
    return f"{sum(values) / len(values):.3f} (n={len(values):>2})"


# metric -> (module, constant, grid, Score field)
TUNABLES: dict[str, tuple[object, str, tuple[float, ...], str]] = {
    "body F1": (crawler.extract_body, "COVERAGE", (0.8, 0.85, 0.9, 0.95), "f1"),
    "body (ask)": (crawler.extract_body, "SPLIT_HIGH", (0.8, 0.85, 0.9, 0.95), "f1"),
    "date acc": (crawler.extract_byline, "BYLINE_MAX_CHARS", (40, 80, 120, 200), "dates"),
}


def _mean(values: list[float] | list[bool]) -> float:
    return sum(values) / len(values) if values else 0.0


def leave_one_source_out(pages: list[Page]) -> None:
    print("\nLeave one source out: each threshold re-tuned on the other sources, scored on the held-out one")
    print(f"{'metric':<10} {'held out':<12} {'chosen':>7} {'held-out score':>16}")
    for metric, (module, name, grid, attr) in TUNABLES.items():
        default = getattr(module, name)
        runs: dict[float, dict[str, Score]] = {}
        try:
            for value in grid:
                setattr(module, name, value)
                runs[value] = score(pages, ours)
        finally:
            setattr(module, name, default)
        sources = sorted({s for run in runs.values() for s, sc in run.items() if getattr(sc, attr)})
        held_out: list[float] = []
        for source in sources:
            chosen = max(grid, key=partial(_trained_at, runs, source, attr, default))
            values = getattr(runs[chosen][source], attr)
            held_out.extend(values)
            print(f"{metric:<10} {source:<12} {chosen:>7} {_fmt(values):>16}")
        in_sample = [x for sc in runs[default].values() for x in getattr(sc, attr)]
        print(f"{metric:<10} {'pooled':<12} {'':>7} {_fmt(held_out):>16}   in-sample with {name}={default}: "
              f"{_mean(in_sample):.3f}")


def _trained_at(runs: dict[float, dict[str, Score]], held_out: str, attr: str, default: float,
                value: float) -> tuple[float, bool]:
    """Score of `value` on every source but the held-out one; ties keep the shipped value."""
    pooled = [x for s, sc in runs[value].items() if s != held_out for x in getattr(sc, attr)]
    return (_mean(pooled), value == default)


def main(argv: list[str] | None = None) -> int:
    if not (CORPUS / "manifest.json").exists():
        print(f"corpus not found at {CORPUS}; nothing to measure")
        return 0
    pages = load_pages()
    print(f"{len(pages)} dev gold pages from {CORPUS} (holdout never read); fetch time {NOW.isoformat()}")
    results = {name: score(pages, fn) for name, fn in EXTRACTORS.items()}
    header = f"{'extractor':<12} {'body F1':>13} {'snippets ok':>13} {'date acc':>13} {'title acc':>13} {'author acc':>13}"
    print("\nAll dev pages (date: same minute when gold has a time, else same day/month/year as given)")
    print(header)
    for name, by_source in results.items():
        t = _merge(by_source)
        print(f"{name:<12} {_fmt(t.f1):>13} {_fmt(t.snippets):>13} {_fmt(t.dates):>13} "
              f"{_fmt(t.titles):>13} {_fmt(t.authors):>13}")
    print("\nPer source")
    sources = sorted({p.source for p in pages})
    print(f"{'source':<12} {'extractor':<12} {'body F1':>13} {'date acc':>13} {'author acc':>13}")
    for source in sources:
        for name, by_source in results.items():
            s = by_source.get(source, Score())
            print(f"{source:<12} {name:<12} {_fmt(s.f1):>13} {_fmt(s.dates):>13} {_fmt(s.authors):>13}")
    forum = load_pages(folder="forum_html")
    print(f"\nForum and Q&A pages with gold main text ({len(forum)} pages of forum_html; never used to set"
          " anything in the extractor, so a check on unseen page families)")
    for name, fn in EXTRACTORS.items():
        print(f"{name:<12} body F1 {_fmt(_merge(score(forum, fn)).f1)}")
    if "--no-loso" not in (argv or []):
        leave_one_source_out(pages)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
