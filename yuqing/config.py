"""settings.yaml: parsed once, validated completely, frozen.

Every problem in the file is collected and reported together as `file:line:col: message`, and the
program refuses to start (exit 2) rather than guess. `${ENV_VAR}` references are expanded here, the
one place that reads secrets from the environment. Each part of yuqing reads its own section
(`crawl`, `rules`, `alerts`, `daemon`, `ledger`, `trends`) from the frozen `Settings`.
"""

from __future__ import annotations

import ipaddress
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from .errors import ConfigError, Problem, did_you_mean
from .yamlfile import YamlDocument, expand_env, load_yaml, plain

SETTINGS_ENV = "YUQING_SETTINGS"
DEFAULT_SETTINGS = "settings.yaml"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> timedelta:
    """'10s', '15m', '2h', '1d' (or a number of seconds) as a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 10s, 15m, 2h or 1d")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ValueError(f"'{value}' is not a duration such as 10s, 15m, 2h or 1d")
        seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return timedelta(seconds=seconds)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Ident = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=64)]
Severity = Literal["low", "medium", "high"]
SEVERITIES: tuple[str, ...] = ("low", "medium", "high")


def _http_url(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a URL")
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"'{value}' is not an http(s) URL")
    if not parts.hostname:
        raise ValueError(f"'{value}' has no host")
    return value.strip()


HttpUrl = Annotated[str, BeforeValidator(_http_url)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SmtpSettings(Model):
    """The mail server digests and alerts go through."""

    host: str
    port: int = Field(25, ge=1, le=65535)
    sender: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    username: str | None = None
    password: str | None = Field(None, repr=False)
    starttls: bool = False
    tls: bool = False  # implicit TLS (SMTPS, usually port 465)
    timeout: Duration = timedelta(seconds=30)
    ca_file: str | None = None  # a private CA for the mail server's certificate
    verify: bool = True


WebhookKind = Literal["wecom", "dingtalk", "feishu", "slack", "json"]


class WebhookSettings(Model):
    """A group robot or generic webhook a unit's alerts also go to."""

    kind: WebhookKind
    url: HttpUrl
    secret: str | None = Field(None, repr=False)  # DingTalk / Feishu signing secret
    name: str | None = None


class UnitSettings(Model):
    """A unit (部门) whose officers receive alerts and digests for its topics."""

    id: Ident
    name: str
    emails: list[str] = []
    webhooks: list[WebhookSettings] = []
    topics: list[str] = []
    digest: str = "0 8,17 * * *"  # cron, in the configured timezone
    urgent_severity: Severity | Literal["off"] = "high"
    quiet_hours: str | None = None  # "22:00-07:00": non-urgent alerts wait until it ends
    weekends: bool = True  # False: digests that fall on a weekend wait for the next working day
    leader: str | None = None  # default responsible leader (责任领导) for cases
    handler: str | None = None  # default handler (承办人) for cases
    leader_emails: list[str] = []
    case_threshold: Severity | Literal["off"] = "high"

    @field_validator("emails", "leader_emails")
    @classmethod
    def _emails(cls, v: list[str]) -> list[str]:
        for addr in v:
            if not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", addr):
                raise ValueError(f"'{addr}' is not an e-mail address")
        return v

    @field_validator("digest")
    @classmethod
    def _cron(cls, v: str) -> str:
        if len(v.split()) != 5:
            raise ValueError(f"'{v}' is not a cron expression of five fields (minute hour day month weekday)")
        return v

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$", v):
            raise ValueError(f"'{v}' is not a time range such as 22:00-07:00")
        return v


class SourceSettings(Model):
    """A public site or feed to watch. `kind` names a spider: news, rss or forum."""

    id: Ident
    kind: str
    start_urls: list[HttpUrl] = Field(min_length=1)
    follow: str | None = None  # regex searched in each absolute link: which links are articles
    every: Duration = timedelta(minutes=30)
    units: list[str] | None = None  # omitted: every unit watches it
    selectors: dict[str, str] = {}  # optional per-site CSS/XPath: title, body, time, author, ...
    max_pages: int = Field(200, ge=1)
    encoding: str | None = None  # force a page encoding when a site lies about it
    enabled: bool = True
    name: str | None = None

    @field_validator("follow")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"'{v}' is not a valid regular expression: {exc}") from None
        return v


class CrawlSettings(Model):
    """How politely and how hard the crawler fetches."""

    contact: str = "https://example.org/yuqing"  # operator contact URL or e-mail, shown in the User-Agent
    concurrency_per_domain: int = Field(2, ge=1, le=16)
    concurrency: int = Field(8, ge=1, le=64)
    delay: Duration = timedelta(seconds=1)
    max_crawl_delay: Duration = timedelta(seconds=30)
    timeout: Duration = timedelta(seconds=30)
    max_page_bytes: int = Field(5_000_000, ge=10_000)
    retries: int = Field(2, ge=0, le=10)
    max_redirects: int = Field(5, ge=0, le=20)
    job_time_limit: Duration = timedelta(minutes=20)
    parallel_sources: int = Field(2, ge=1, le=16)
    failures_before_problem: int = Field(3, ge=1)
    extract_workers: int | Literal["auto"] = "auto"  # processes reading articles; 0: inline; auto: one per core, at most 4


class RulesSettings(Model):
    """Where the rules come from."""

    shipped: bool = True  # load the rule pack shipped with yuqing
    paths: list[str] = []  # more rule files or folders, relative to settings.yaml
    user_dict: str | None = None  # extra jieba words, one per line
    # a learned second look that withdraws a shipped topic the rules matched on a post unlikely to be
    # on it (rules/confirm.py); `yuqing rules test` shows what it withdrew
    topic_model: bool = True


class AlertsSettings(Model):
    """How deliveries are made."""

    templates: str | None = None  # folder of templates overriding the shipped ones
    keep_eml: str | None = None  # keep a copy of each sent e-mail as .eml in this folder
    operator_emails: list[str] = []  # who hears about source problems and failing channels
    max_attempts: int = Field(8, ge=1)
    channel_alarm_after: Duration = timedelta(hours=1)
    public_url: str | None = None  # where the full digest can be read, linked when a robot message is cut
    webhook_timeout: Duration = timedelta(seconds=10)  # per robot / webhook request
    robot_per_minute: int = Field(20, ge=1)  # messages per minute to one robot (their limit is about 20)
    max_parts: int = Field(5, ge=1, le=20)  # a longer robot message is cut with a link to public_url
    retry_base: Duration = timedelta(minutes=1)  # first retry after a temporary failure, doubling each time
    retry_max: Duration = timedelta(hours=2)


class DaemonSettings(Model):
    """The long-running scheduler."""

    listen: str = "127.0.0.1:9308"  # /healthz and /metrics
    log_format: Literal["text", "json"] = "text"
    log_file: str | None = None
    retention_days: int = Field(90, ge=1)
    jitter: Duration = timedelta(seconds=5)
    misfire_grace: Duration = timedelta(minutes=5)
    stop_timeout: Duration = timedelta(seconds=30)
    daily: str = "30 6 * * *"  # cron, in the configured timezone: source health, overdue cases, retention
    run_dir: str | None = None  # lock, pid and state files; default: beside a SQLite database, else ./var

    @field_validator("daily")
    @classmethod
    def _daily(cls, v: str) -> str:
        from scheduler import cron_problem  # the one module that knows APScheduler's cron syntax

        problem = cron_problem(v)
        if problem:
            raise ValueError(problem)
        return v

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        host, _, port = v.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"'{v}' is not a host:port such as 127.0.0.1:9308")
        return v


class LimitSettings(Model):
    """Case time limits for one severity, in Chinese working days."""

    response_days: int = Field(ge=0)  # first response (核实/初步回应)
    resolve_days: int = Field(ge=1)  # resolution (办结)


class LimitsSettings(Model):
    """Default case time limits per severity (a section may name only the severities it changes)."""

    high: LimitSettings = LimitSettings(response_days=1, resolve_days=5)
    medium: LimitSettings = LimitSettings(response_days=2, resolve_days=10)
    low: LimitSettings = LimitSettings(response_days=3, resolve_days=15)


class LedgerSettings(Model):
    """Events and the case ledger (动态台账)."""

    similarity: float = Field(0.5, gt=0, le=1)  # shingle containment at which two posts are one story
    shingle: int = Field(3, ge=2, le=8)  # characters per shingle
    event_window: Duration = timedelta(days=30)  # how far back a new post looks for its story
    limits: LimitsSettings = LimitsSettings()
    escalate_after_days: int = Field(1, ge=0)  # working days overdue before the leader hears of it
    follow_up_every: Duration = timedelta(days=1)  # re-check a replied case's posts this often
    follow_up_for: Duration = timedelta(days=14)  # ... for this long after the reply
    min_units_per_source: int = Field(1, ge=0)  # `yuqing coverage` flags sources watched by fewer
    report_weekly: bool = True  # daily_check sends last week's report to leaders on Mondays
    report_monthly: bool = True  # ... and last month's on the 1st


class TrendsSettings(Model):
    """Heat, trend labels and early warning (spikes)."""

    recent: Duration = timedelta(days=1)  # the window a trend label judges
    baseline: Duration = timedelta(days=7)  # the window before it, as the yardstick
    heating_ratio: float = Field(1.5, gt=1)  # recent rate >= ratio x baseline rate: heating
    cooling_ratio: float = Field(0.67, gt=0, lt=1)  # recent rate <= ratio x baseline rate: cooling
    spike_p: float = Field(0.001, gt=0, lt=0.5)  # Poisson tail probability below which a count is a spike
    spike_min_count: int = Field(5, ge=1)  # never a spike below this many posts in the recent window
    weights: dict[Literal["spread", "velocity", "replies", "negativity"], float] = {
        "spread": 3.0,
        "velocity": 2.0,
        "replies": 0.5,
        "negativity": 10.0,
    }


class Settings(Model):
    """The whole settings file."""

    database: str = "sqlite:///var/yuqing.db"
    timezone: str = "Asia/Shanghai"
    smtp: SmtpSettings | None = None
    units: list[UnitSettings] = []
    sources: list[SourceSettings] = []
    allow_networks: list[str] = []
    crawl: CrawlSettings = CrawlSettings()
    rules: RulesSettings = RulesSettings()
    alerts: AlertsSettings = AlertsSettings()
    daemon: DaemonSettings = DaemonSettings()
    ledger: LedgerSettings = LedgerSettings()
    trends: TrendsSettings = TrendsSettings()
    # Where the file lives: relative paths in it are read from there. Not a key of the file.
    base_dir: str = Field(".", exclude=True)
    path: str = Field("settings.yaml", exclude=True)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"'{v}' is not a time zone name such as Asia/Shanghai") from None
        return v

    @field_validator("allow_networks")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        for net in v:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ValueError(f"'{net}' is not a network in CIDR form such as 127.0.0.0/8") from None
        return v

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def resolve(self, relative: str) -> Path:
        """A path from the settings file, relative to the file's folder."""
        p = Path(relative).expanduser()
        return p if p.is_absolute() else Path(self.base_dir) / p

    def unit(self, unit_id: str) -> UnitSettings:
        for u in self.units:
            if u.id == unit_id:
                return u
        raise KeyError(unit_id)

    def source(self, source_id: str) -> SourceSettings:
        for s in self.sources:
            if s.id == source_id:
                return s
        raise KeyError(source_id)

    def units_of(self, source: SourceSettings) -> list[UnitSettings]:
        """The units watching a source (all units when the source names none)."""
        if source.units is None:
            return list(self.units)
        return [u for u in self.units if u.id in source.units]

    def database_url(self) -> str:
        """The SQLAlchemy URL, with a relative SQLite path taken from the settings file's folder."""
        url = self.database
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(self.resolve(url[len(prefix) :]).resolve())
        return url

    def rule_paths(self) -> list[Path]:
        return [self.resolve(p) for p in self.rules.paths]


def settings_path(explicit: str | None) -> str:
    return explicit or os.environ.get(SETTINGS_ENV) or DEFAULT_SETTINGS


def _message(err: dict[str, Any], model_fields: list[str]) -> str:
    loc = err["loc"]
    key = ".".join(str(p) for p in loc) or "(top)"
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"unknown key '{loc[-1]}'{did_you_mean(str(loc[-1]), model_fields)}"
    if kind == "missing":
        return f"missing key '{key}'"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return f"{key}: {msg}"


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed next to the unknown key at `loc` (for 'did you mean')."""
    model: Any = Settings
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        ann = field.annotation
        for candidate in getattr(ann, "__args__", ()) + (ann,):
            inner = getattr(candidate, "__args__", (candidate,))
            found = next((c for c in inner if isinstance(c, type) and issubclass(c, BaseModel)), None)
            if found is None and isinstance(candidate, type) and issubclass(candidate, BaseModel):
                found = candidate
            if found is not None:
                model = found
                break
        else:
            return []
    return list(model.model_fields)


def _cross_checks(s: Settings, doc: YamlDocument, known_topics: set[str] | None) -> list[Problem]:
    problems: list[Problem] = []
    from spiders import SPIDER_KINDS  # the registry of source kinds

    def dupes(items: list[Any], section: str) -> None:
        seen: set[str] = set()
        for i, item in enumerate(items):
            if item.id in seen:
                problems.append(doc.problem([section, i, "id"], f"{section}.{i}.id: '{item.id}' is used twice"))
            seen.add(item.id)

    dupes(s.units, "units")
    dupes(s.sources, "sources")
    unit_ids = {u.id for u in s.units}
    for i, src in enumerate(s.sources):
        if src.kind not in SPIDER_KINDS:
            problems.append(
                doc.problem(
                    ["sources", i, "kind"],
                    f"sources.{i}.kind: unknown source kind '{src.kind}'{did_you_mean(src.kind, SPIDER_KINDS)}",
                )
            )
        for j, uid in enumerate(src.units or []):
            if uid not in unit_ids:
                problems.append(
                    doc.problem(
                        ["sources", i, "units", j],
                        f"sources.{i}.units: no unit '{uid}'{did_you_mean(uid, unit_ids)}",
                    )
                )
        if src.selectors and src.kind in SPIDER_KINDS:
            from crawler.extract_select import selector_problems as bad_expressions
            from spiders import SELECTOR_KEYS

            known = SELECTOR_KEYS.get(src.kind, ())
            for key in src.selectors:
                if key not in known:
                    message = f"'{key}' is not read by {src.kind} sources{did_you_mean(key, known)}"
                    problems.append(doc.problem(["sources", i, "selectors", key], f"sources.{i}.selectors: {message}"))
            for message in bad_expressions(src.selectors):  # "selectors.<key>: why"
                key = message.split(":", 1)[0].removeprefix("selectors.")
                problems.append(doc.problem(["sources", i, "selectors", key], f"sources.{i}.{message}"))
        for j, url in enumerate(src.start_urls):
            reason = refused_address(url, s.allow_networks, resolve=False)
            if reason:
                problems.append(doc.problem(["sources", i, "start_urls", j], f"sources.{i}.start_urls: {reason}"))
    if known_topics is not None:
        for i, unit in enumerate(s.units):
            for j, topic in enumerate(unit.topics):
                if topic not in known_topics:
                    problems.append(
                        doc.problem(
                            ["units", i, "topics", j],
                            f"units.{i}.topics: no topic '{topic}'{did_you_mean(topic, known_topics)}",
                        )
                    )
    if s.smtp is None:
        for i, unit in enumerate(s.units):
            if unit.emails or unit.leader_emails:
                problems.append(
                    doc.problem(["units", i, "emails"], f"units.{i}.emails: e-mail recipients need an 'smtp' section")
                )
                break
    return problems


def refused_address(url: str, allow_networks: list[str], resolve: bool = True) -> str | None:
    """Why a URL's host may not be fetched (private, loopback, link-local...), or None.

    With resolve=False only literal IP addresses and 'localhost' are judged (used at settings load,
    where DNS may be unavailable); the crawler checks resolved addresses at fetch time.
    """
    import socket

    host = urlsplit(url).hostname or ""
    addrs: list[str] = []
    try:
        addrs = [str(ipaddress.ip_address(host))]
    except ValueError:
        if host == "localhost" or host.endswith(".localhost"):
            addrs = ["127.0.0.1"]
        elif resolve:
            try:
                addrs = sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None)})
            except OSError:
                return None  # unresolvable: the fetch itself will fail and be recorded
    allowed = [ipaddress.ip_network(n, strict=False) for n in allow_networks]
    for a in addrs:
        ip = ipaddress.ip_address(a.split("%")[0])
        if ip.is_global:
            continue
        if any(ip.version == net.version and ip in net for net in allowed):
            continue
        return f"{host} is a private, loopback or link-local address ({ip}); list its network in allow_networks to crawl it"
    return None


def load_settings(path: str | None = None, *, check_topics: bool = True, text: str | None = None) -> Settings:
    """Read, expand and validate a settings file. Raises ConfigError listing every problem."""
    path = settings_path(path)
    doc, problems = load_yaml(path, text)
    if doc is None:
        raise ConfigError(problems)
    if doc.root is None:
        doc.root = {}
    if not isinstance(doc.root, dict):
        raise ConfigError([doc.problem([], "the settings file must be a mapping of keys")])
    problems += expand_env(doc)
    data = plain(doc.root)
    data["base_dir"] = str(Path(path).resolve().parent)
    data["path"] = str(path)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            problems.append(doc.problem(loc, _message(dict(err), _fields_at(loc))))
        raise ConfigError(problems) from None
    known: set[str] | None = None
    if check_topics:
        from rules.loading import topic_ids

        try:
            known = topic_ids(settings)
        except Exception:  # a broken rule file is reported by the rules themselves
            known = None
    problems += _cross_checks(settings, doc, known)
    if problems:
        raise ConfigError(problems)
    return settings
