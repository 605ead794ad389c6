"""settings.yaml: every problem is reported with file, line and key, and the command exits 2."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from yuqing.config import load_settings, parse_duration, refused_address
from yuqing.errors import ConfigError

GOOD = """\
database: sqlite:///var/yuqing.db        # any SQLAlchemy URL
timezone: Asia/Shanghai
smtp: {host: 127.0.0.1, port: 25, sender: yuqing@example.org, username: u, password: ${SMTP_PASSWORD}, starttls: false}
units:
  - id: zzb
    name: 组织部
    emails: [officer@example.org]
    topics: [cadre_appointment, public_recruitment]
sources:
  - id: county-news
    kind: news                 # news | rss | forum
    start_urls: [https://news.example.org/list.html]
    follow: '/content/\\d+'
    every: 30m
    units: [zzb]
"""


def problems_of(write_settings, text: str) -> list[str]:
    path = write_settings(text)
    with pytest.raises(ConfigError) as info:
        load_settings(str(path))
    return [str(p) for p in info.value.problems]


def test_the_issue_example_loads_with_secrets_from_the_environment(write_settings, monkeypatch):
    monkeypatch.setenv("SMTP_PASSWORD", "s3cret")
    s = load_settings(str(write_settings(GOOD)))
    assert s.smtp is not None and s.smtp.password == "s3cret"
    assert s.sources[0].every == timedelta(minutes=30)
    assert s.units_of(s.sources[0])[0].name == "组织部"
    assert "s3cret" not in repr(s.smtp)  # secrets stay out of logs and reprs


def test_relative_sqlite_path_is_taken_from_the_settings_folder(write_settings, tmp_path, monkeypatch):
    monkeypatch.setenv("SMTP_PASSWORD", "x")
    s = load_settings(str(write_settings(GOOD)))
    assert s.database_url() == f"sqlite:///{(tmp_path / 'var' / 'yuqing.db').resolve()}"


def test_missing_environment_variable_is_named_with_its_line(write_settings, monkeypatch):
    monkeypatch.delenv("SMTP_PASSWORD", raising=False)
    path = write_settings(GOOD)
    assert problems_of(write_settings, GOOD) == [f"{path}:3:76: environment variable SMTP_PASSWORD is not set"]


def test_an_empty_file_and_one_without_units_or_sources_are_valid(write_settings):
    assert load_settings(str(write_settings(""))).units == []
    s = load_settings(str(write_settings("timezone: Asia/Shanghai\nunits: []\nsources: []\n")))
    assert s.sources == [] and s.smtp is None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("timezon: Asia/Shanghai\n", ':1:1: unknown key \'timezon\' (did you mean "timezone"?)'),
        ("timezone: Mars/Olympus\n", ":1:1: timezone: 'Mars/Olympus' is not a time zone name"),
        ("crawl: {concurrency_per_domian: 2}\n", 'unknown key \'concurrency_per_domian\' (did you mean "concurrency_per_domain"?)'),
        ("crawl: {retries: many}\n", ":1:9: crawl.retries: Input should be a valid integer"),
        (
            "sources:\n  - id: a\n    kind: news\n    start_urls: [ftp://x.org/]\n",
            ":4:18: sources.0.start_urls.0: 'ftp://x.org/' is not an http(s) URL",
        ),
        (
            "sources:\n  - id: a\n    kind: news\n    start_urls: [http://x.org/]\n    every: 5 minutes\n",
            ":5:5: sources.0.every: '5 minutes' is not a duration such as 10s, 15m, 2h or 1d",
        ),
        (
            "sources:\n  - id: a\n    kind: newz\n    start_urls: [http://x.org/]\n",
            ':3:5: sources.0.kind: unknown source kind \'newz\' (did you mean "news"?)',
        ),
        (
            "units:\n  - {id: zzb, name: 组织部}\nsources:\n  - {id: a, kind: rss, start_urls: ['http://x.org/'], units: [zbb]}\n",
            ':4:63: sources.0.units: no unit \'zbb\' (did you mean "zzb"?)',
        ),
        (
            "units:\n  - id: zzb\n    name: 组织部\n    topics: [cadre_appointmnt]\n",
            ':4:14: units.0.topics: no topic \'cadre_appointmnt\' (did you mean "cadre_appointment"?)',
        ),
        (
            "units:\n  - id: zzb\n    name: 组织部\n    emails: [a@example.org]\n",
            ":4:5: units.0.emails: e-mail recipients need an 'smtp' section",
        ),
        ("sources:\n  - id: a\n    kind: rss\n    start_urls: [http://x.org/]\n    follow: '(unclosed'\n", "is not a valid regular expression"),
        ("units:\n  - {id: zzb, name: a, digest: '8 * *'}\n", "is not a cron expression of five fields"),
        (
            "sources:\n  - id: a\n    kind: news\n    start_urls: [http://x.org/]\n    selectors: {titel: h1}\n",
            ":5:17: sources.0.selectors: 'titel' is not read by news sources (did you mean \"title\"?)",
        ),
        (
            "sources:\n  - id: a\n    kind: news\n    start_urls: [http://x.org/]\n    selectors:\n      body: 'div[[['\n",
            ":6:7: sources.0.selectors.body: 'div[[[' is neither valid CSS nor XPath",
        ),
        ("a: 1\na: 2\n", ':2:1: while constructing a mapping found duplicate key "a"'),
        ("units: [\n", ":2:1:"),
    ],
)
def test_each_mistake_is_one_located_message(write_settings, text, expected):
    problems = problems_of(write_settings, text)
    assert len(problems) == 1, problems
    assert expected in problems[0]
    assert problems[0].startswith(str(Path(write_settings(text))))


def test_all_problems_are_reported_together(write_settings):
    text = "units:\n  - id: zzb\n    name: a\n    topics: [nope]\nsources:\n  - {id: a, kind: blog, start_urls: ['http://x.org/']}\n"
    problems = problems_of(write_settings, text)
    assert len(problems) == 2
    assert any("unknown source kind 'blog'" in p for p in problems)
    assert any("no topic 'nope'" in p for p in problems)


def test_private_addresses_are_refused_unless_their_network_is_allowed(write_settings):
    text = "sources:\n  - {id: a, kind: news, start_urls: ['http://127.0.0.1:8000/x']}\n"
    (problem,) = problems_of(write_settings, text)
    assert "127.0.0.1 is a private, loopback or link-local address" in problem
    ok = load_settings(str(write_settings("allow_networks: [127.0.0.0/8]\n" + text)))
    assert ok.sources[0].start_urls == ["http://127.0.0.1:8000/x"]
    assert refused_address("http://169.254.169.254/latest", []) is not None
    assert refused_address("http://[::1]:80/", []) is not None
    assert refused_address("http://10.1.2.3/", ["10.0.0.0/8"]) is None
    assert refused_address("http://8.8.8.8/", []) is None


@pytest.mark.parametrize("value, seconds", [("10s", 10), ("15m", 900), ("2h", 7200), ("1d", 86400), (30, 30)])
def test_durations(value, seconds):
    assert parse_duration(value).total_seconds() == seconds


@pytest.mark.parametrize("value", ["0s", "-1m", "1w", "soon", True])
def test_bad_durations(value):
    with pytest.raises(ValueError):
        parse_duration(value)


def test_the_command_line_prints_the_message_and_exits_2(write_settings):
    path = write_settings("timezon: Asia/Shanghai\n")
    proc = subprocess.run(
        [sys.executable, "-m", "yuqing", "--config", str(path), "db", "upgrade"], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"{path}:1:1: unknown key 'timezon' (did you mean \"timezone\"?)"
    assert "Traceback" not in proc.stderr


def test_the_shipped_settings_example_is_valid():
    root = Path(__file__).resolve().parent.parent
    s = load_settings(str(root / "settings.yaml"))
    assert s.timezone == "Asia/Shanghai"
