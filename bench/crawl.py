"""Crawl speed: our full pipeline against a bare Scrapy spider, on the same local site, in one run.

`python -m bench crawl` (or `make bench`). A LocalSite on loopback serves >= 2,000 real pages: the
news pages of ../shared/corpus/news_html, repeated under different URLs (without the corpus: the
project's own fixture and demo pages), reached from paged lists of 50 links each.

- ours: `crawler.run.crawl` of one `news` source, in its own process as always: robots.txt, address
  guard, conditional GET, decoding, extraction, normalise, dedupe, rules matching, storage (SQLite).
- bare: a Scrapy spider with the same Scrapy politeness settings (concurrency, AutoThrottle, robots)
  that follows the same links and only downloads the pages.

Both count every page they downloaded (list pages too, robots.txt not). CPU is that of the crawl
process and everything it started (our extraction workers are joined before the job ends, so
their time is in it), not the site server's. The machine is shared: the two spiders run in
alternation, `--rounds` times (default 5: one crawl's rate moves by 15% from one round to the next
on this 2-core virtual machine, and the median of three still moved by 0.06x from run to run), and
the median round of each is compared. CPU per page moves much less with other load than pages per
second.

A third row, "daemon", is our same crawl as the daemon runs it (`yuqing daemon`): its crawl
processes are forked from the job server (`python -m crawler.job --serve`, scheduler.JobServer),
which imported Scrapy, SQLAlchemy, trafilatura and the rules and read jieba's dictionary once
when the daemon started (its one-off CPU is printed, and not counted in any crawl). Its CPU is
that of the handing-over process and of the crawl process the server forked (with its workers),
read from the server's reaped children. "ours" stays the cold process that `yuqing crawl` from
cron starts, imports and all, as the bare spider is.

`--walk-ab` adds a fourth row, "ours-py": our cold crawl with extraction's block walk in Python
(`YUQING_BLOCK_WALK=python`) where the compiled one (`crawler/_blockwalk.pyx`) is built, so that
the walk's share is measured in the same rounds.

Printed: per round and the median: pages, seconds, pages/s and CPU ms per page of each, and
ours/bare and daemon/bare. Goal: ours >= 0.5x. `python -m bench.crawl --workers N` sets `crawl.extract_workers`
(default: the settings' default, "auto"; `python -m bench crawl` passes no options).
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "news_html"
TARGET_PAGES = 2000
PER_LIST = 50


def source_pages() -> list[bytes]:
    files = sorted(CORPUS.glob("*.html")) if CORPUS.is_dir() else []
    if not files:
        files = sorted((ROOT / "tests" / "crawler" / "pages").glob("article_*.html"))
        files += sorted((ROOT / "yuqing" / "demo_site" / "news").rglob("*.html"))
    return [f.read_bytes() for f in files]


def build_site(pages: list[bytes]):  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(ROOT))
    from tests.support.site import LocalSite, Page

    site = LocalSite()
    copies = math.ceil(TARGET_PAGES / len(pages))
    urls = []
    for copy in range(copies):
        for i, body in enumerate(pages):
            path = f"/a/{copy}/{i}.html"
            # no charset in the header: the bytes decide, as on many real sites
            site.add(path, Page(body, headers={"Content-Type": "text/html"}))
            urls.append(path)
    lists = [urls[i : i + PER_LIST] for i in range(0, len(urls), PER_LIST)]
    for n, chunk in enumerate(lists, start=1):
        nxt = f'<a href="/list/{n + 1}.html">下一页</a>' if n < len(lists) else ""
        items = "".join(f'<li><a href="{u}">{u}</a></li>' for u in chunk)
        site.add(f"/list/{n}.html", f"<html><body><ul>{items}</ul>{nxt}</body></html>")
    site.add("/robots.txt", Page(b"User-agent: *\nAllow: /\n", headers={"Content-Type": "text/plain"}))
    return site.start(), len(urls), len(lists)


SETTINGS = """database: sqlite:///{db}
allow_networks: [127.0.0.0/8]
crawl: {{delay: 0.001s, concurrency: 32, concurrency_per_domain: 16, job_time_limit: 60m{workers}}}
units:
  - {{id: zzb, name: 组织部, topics: [cadre_appointment, public_recruitment, talent_introduction, party_member_development]}}
  - {{id: nyb, name: 农业农村局, topics: [collective_assets, village_affairs]}}
sources:
  - {{id: bench, kind: news, start_urls: ['{start}'], follow: '/a/', max_pages: 100000}}
"""


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_ours_python_walk(settings_path: Path) -> tuple[int, float, float]:
    """`run_ours` with extraction's block walk in Python (`--walk-ab`)."""
    from crawler.extract_blocks import WALK_ENV

    os.environ[WALK_ENV] = "python"  # read by the crawl process and its workers when they import it
    try:
        return run_ours(settings_path)
    finally:
        os.environ.pop(WALK_ENV)


def run_ours(settings_path: Path) -> tuple[int, float, float]:
    from crawler.run import crawl
    from yuqing.config import load_settings

    settings = load_settings(str(settings_path))
    cpu, wall = children_cpu(), time.perf_counter()
    [summary] = crawl(settings)
    wall, cpu = time.perf_counter() - wall, children_cpu() - cpu
    if summary.status != "ok":
        raise SystemExit(f"our crawl failed: {summary.error}")
    return summary.pages, wall, cpu


class Daemon:
    """A job server started as the daemon starts one, and the crawls handed to it."""

    def __init__(self) -> None:
        sys.path.insert(0, str(ROOT))
        from crawler.job import SERVER_ENV
        from scheduler import JobServer

        self.env = SERVER_ENV
        saved = os.environ.get(SERVER_ENV)
        self.server = JobServer().start()
        # JobServer.start sets it for every crawl this process starts, as the daemon wants: here only
        # the daemon's crawls are handed over, the cold ones not.
        if saved is None:
            os.environ.pop(SERVER_ENV)
        else:
            os.environ[SERVER_ENV] = saved
        assert self.server.proc is not None
        self.pid = self.server.proc.pid
        deadline = time.monotonic() + 120
        while not self._listening():
            if self.server.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the job server did not start")
            time.sleep(0.1)
        time.sleep(0.5)
        self.preload = self._own_cpu()

    def _listening(self) -> bool:
        # Its socket file appears when it binds, just before it listens (a connection to probe it
        # would be logged as a refused request); a crawl that finds no server crawls cold.
        return Path(self.server.path).exists()

    def _stat(self) -> list[str]:
        # /proc/PID/stat after the command's closing parenthesis: field 3 (state) first.
        text = Path(f"/proc/{self.pid}/stat").read_text()
        return text[text.rindex(")") + 2 :].split()

    def _own_cpu(self) -> float:
        fields = self._stat()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime

    def _children_cpu(self) -> float:
        fields = self._stat()
        return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")  # cutime, cstime

    def _has_children(self) -> bool:
        return any(Path(f"/proc/{self.pid}/task/{task}/children").read_text().strip()
                   for task in os.listdir(f"/proc/{self.pid}/task"))

    def run(self, settings_path: Path) -> tuple[int, float, float]:
        before = self._children_cpu()
        os.environ[self.env] = self.server.path
        try:
            pages, wall, cpu = run_ours(settings_path)
        finally:
            os.environ.pop(self.env)
        # The server reaps its crawl processes once a second: their CPU is its children's then.
        deadline = time.monotonic() + 10
        while self._has_children() and time.monotonic() < deadline:
            time.sleep(0.05)
        return pages, wall, cpu + self._children_cpu() - before

    def stop(self) -> None:
        self.server.stop()


def run_bare(settings_path: Path) -> tuple[int, float, float]:
    cpu, wall = children_cpu(), time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bench.crawl", "--bare", str(settings_path)], cwd=ROOT, capture_output=True, text=True, check=True
    )
    wall, cpu = time.perf_counter() - wall, children_cpu() - cpu
    return int(done.stdout.strip().splitlines()[-1]), wall, cpu


def bare_crawl(settings_path: str) -> int:
    """The baseline, in its own process: same Scrapy settings, no yuqing middleware or pipeline."""
    import scrapy
    from scrapy.crawler import CrawlerProcess

    from crawler.scrapy_settings import scrapy_settings
    from yuqing.config import load_settings

    settings = load_settings(settings_path)
    source = settings.source("bench")
    knobs = scrapy_settings(settings, source)
    knobs.pop("DOWNLOADER_MIDDLEWARES")
    knobs.pop("DOWNLOADER_MIDDLEWARES_BASE")  # Scrapy's own: its robots.txt and retry middlewares
    knobs.pop("ITEM_PIPELINES")
    knobs["LOG_LEVEL"] = "WARNING"
    counted = {"pages": 0}

    class Bare(scrapy.Spider):
        name = "bare"
        start_urls = list(source.start_urls)

        def parse(self, response):  # type: ignore[no-untyped-def]
            counted["pages"] += 1
            for href in response.css("ul a::attr(href)").getall():
                yield response.follow(href, self.page)
            nxt = response.xpath("//a[text()='下一页']/@href").get()
            if nxt:
                yield response.follow(nxt, self.parse)

        def page(self, response):  # type: ignore[no-untyped-def]
            counted["pages"] += 1

    process = CrawlerProcess(settings=knobs)
    process.crawl(Bare)
    process.start()
    return counted["pages"]


Run = tuple[int, float, float]  # pages, wall seconds, CPU seconds


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--bare"]:
        print(bare_crawl(argv[1]))
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench crawl")
    parser.add_argument("--rounds", type=int, default=5, help="alternating bare/ours rounds (median reported)")
    parser.add_argument("--workers", help="crawl.extract_workers for our crawl (default: the settings default)")
    parser.add_argument("--walk-ab", action="store_true",
                        help='a fourth row, "ours-py": our crawl with extraction\'s block walk in Python (YUQING_BLOCK_WALK=python)')
    args = parser.parse_args(argv)
    pages = source_pages()
    site, n_pages, n_lists = build_site(pages)
    origin = "corpus news_html" if CORPUS.is_dir() else "project fixture pages (corpus absent)"
    print(f"site: {n_pages} article pages ({len(pages)} distinct, from {origin}) + {n_lists} list pages")
    from crawler.extract_blocks import WALK

    print(f"extraction's block walk: {WALK}")
    workers = f", extract_workers: {args.workers}" if args.workers is not None else ""
    daemon = Daemon()
    print(f"job server (the daemon's): preloaded in {daemon.preload:.1f} s CPU, once")
    runners = {"bare": run_bare, "ours": run_ours, "daemon": daemon.run}
    if args.walk_ab:
        runners["ours-py"] = run_ours_python_walk
    runs: dict[str, list[Run]] = {name: [] for name in runners}
    print(f"{'':10} {'pages':>6} {'seconds':>8} {'pages/s':>8} {'CPU ms/page':>12}")
    try:
        for n in range(1, args.rounds + 1):
            with tempfile.TemporaryDirectory() as tmp:
                # A fresh database each run: every run crawls the whole site as new.
                # Rotate which goes first, so that a change in the machine's load hits each alike.
                names = list(runners)[(n - 1) % len(runners) :] + list(runners)[: (n - 1) % len(runners)]
                for name in names:
                    settings_path = Path(tmp) / name / "settings.yaml"
                    settings_path.parent.mkdir()
                    settings_path.write_text(
                        SETTINGS.format(db=settings_path.parent / "bench.db", start=site.url("/list/1.html"), workers=workers),
                        encoding="utf-8",
                    )
                    runs[name].append(runners[name](settings_path))
            for name in runners:
                _row(f"{name} #{n}", runs[name][-1])
    finally:
        daemon.stop()
        site.stop()
    medians = {name: _median(done) for name, done in runs.items()}
    for name, run in medians.items():
        _row(f"{name} med", run)
    bare_med = medians["bare"]
    for name in [n for n in ("ours", "daemon", "ours-py") if n in medians]:
        med = medians[name]
        ratio = (med[0] / med[1]) / (bare_med[0] / bare_med[1])
        print(f"{name}/bare pages/s: {ratio:.2f}x{' (goal >= 0.5x)' if name == 'ours' else ''}; CPU per page: "
              f"{name} {med[2] / med[0] * 1000:.1f} ms, bare {bare_med[2] / bare_med[0] * 1000:.1f} ms")
    return 0


def _row(name: str, run: Run) -> None:
    n, wall, cpu = run
    print(f"{name:10} {n:6d} {wall:8.1f} {n / wall:8.1f} {1000 * cpu / max(n, 1):12.1f}")


def _median(runs: list[Run]) -> Run:
    """The round with the median pages/s (its CPU alongside, so a row is one real run)."""
    ordered = sorted(runs, key=lambda r: r[0] / r[1])
    return ordered[(len(ordered) - 1) // 2]


if __name__ == "__main__":
    sys.exit(main())
