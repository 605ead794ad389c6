"""The Scrapy components a crawl runs: every politeness one, and none that could never act."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from scrapy.settings import Settings as ScrapySettings
from scrapy.utils.conf import build_component_list

from crawler.scrapy_settings import scrapy_settings
from tests.crawler.crawl_world import write_settings

ROOT = Path(__file__).resolve().parents[2]


def components(tmp_path: Path, name: str) -> list[str]:
    settings = write_settings(tmp_path, f"sqlite:///{tmp_path / 'y.db'}", "  - {id: n, kind: news, start_urls: ['http://127.0.0.1:9/']}\n")
    knobs = ScrapySettings(scrapy_settings(settings, settings.source("n")))
    return [str(c) for c in build_component_list(knobs.getwithbase(name))]


def test_the_politeness_components_run(tmp_path: Path) -> None:
    downloader = components(tmp_path, "DOWNLOADER_MIDDLEWARES")
    for name in (
        "crawler.middlewares.AddressGuardMiddleware",
        "crawler.middlewares.RobotsMiddleware",
        "crawler.middlewares.BackoffRetryMiddleware",
        "scrapy.downloadermiddlewares.downloadtimeout.DownloadTimeoutMiddleware",
        "scrapy.downloadermiddlewares.useragent.UserAgentMiddleware",
        "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware",  # the size cap, decompressed
        "scrapy.downloadermiddlewares.redirect.RedirectMiddleware",  # the redirect cap
        "scrapy.downloadermiddlewares.stats.DownloaderStats",  # the job's page counts
    ):
        assert name in downloader
    assert downloader.index("crawler.middlewares.AddressGuardMiddleware") == 0
    spider = components(tmp_path, "SPIDER_MIDDLEWARES")
    assert "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware" in spider  # link traps
    assert "scrapy.spidermiddlewares.httperror.HttpErrorMiddleware" in spider


def test_components_that_never_act_in_our_crawls_are_not_loaded(tmp_path: Path) -> None:
    # Each one enabled is called for every request, response or yielded request (and cookies'
    # module imports tldextract, 0.1 s of every crawl's CPU).
    downloader = components(tmp_path, "DOWNLOADER_MIDDLEWARES")
    assert not any(word in name for name in downloader for word in ("offsite", "httpauth", "cookies", "robotstxt.", "retry."))
    spider = components(tmp_path, "SPIDER_MIDDLEWARES")
    assert not any(word in name for name in spider for word in ("referer", "depth", "metacopy"))


def test_components_left_out_are_not_even_imported(tmp_path: Path) -> None:
    # Scrapy imports every name of a component list, a None one too: the cookies middleware's
    # module imports tldextract and requests, the telnet console's twisted.conch.
    settings_file = tmp_path / "settings.yaml"
    write_settings(tmp_path, f"sqlite:///{tmp_path / 'y.db'}", "  - {id: n, kind: news, start_urls: ['http://127.0.0.1:9/']}\n")
    script = (
        "import sys\n"
        "from scrapy.settings import Settings\n"
        "from scrapy.utils.conf import build_component_list\n"
        "from crawler.scrapy_settings import scrapy_settings\n"
        "from yuqing.config import load_settings\n"
        f"settings = load_settings({str(settings_file)!r})\n"
        "knobs = Settings(scrapy_settings(settings, settings.source('n')))\n"
        "from scrapy.utils.misc import load_object\n"
        "for name in ('DOWNLOADER_MIDDLEWARES', 'SPIDER_MIDDLEWARES', 'EXTENSIONS'):\n"
        "    # as Scrapy's middleware managers read them: each name of the list loaded\n"
        "    for path in build_component_list(knobs.get_component_priority_dict_with_base(name)):\n"
        "        load_object(path)\n"
        "print(sorted(m for m in ('tldextract', 'requests', 'twisted.conch.insults.insults', "
        "'scrapy.downloadermiddlewares.cookies', 'scrapy.extensions.telnet') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout


def test_a_callbacks_source_is_not_read_for_every_response(tmp_path: Path) -> None:
    # Scrapy's check for `return value` in a generator callback re-reads and parses the callback's
    # source for every response (its cache is keyed by a bound method made anew each time).
    settings = write_settings(tmp_path, f"sqlite:///{tmp_path / 'y.db'}", "  - {id: n, kind: news, start_urls: ['http://127.0.0.1:9/']}\n")
    assert ScrapySettings(scrapy_settings(settings, settings.source("n"))).getbool("WARN_ON_GENERATOR_RETURN_VALUE") is False
