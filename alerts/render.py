"""Rendering digests and alerts with jinja2: e-mail (subject, HTML, plain text) and robot parts.

Templates live in `alerts/templates/`; a folder named by `settings.alerts.templates` overrides any
of them by file name. HTML is autoescaped; markdown for robots goes through the `md` filter, which
defuses markdown syntax in crawled text. Subjects never carry CR/LF (no header injection).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

from yuqing.config import Settings

from .gather import Content
from .split import Block, pack

TEMPLATES = Path(__file__).parent / "templates"
SEVERITY_COLOR = {"high": "#c62828", "medium": "#ef6c00", "low": "#607d8b"}

# Characters that would start markdown syntax in a robot message, mapped to their full-width forms,
# which read the same to a Chinese reader and cannot open a link, emphasis or heading.
_MD = str.maketrans({"[": "［", "]": "］", "*": "＊", "_": "＿", "`": "｀", "<": "＜", ">": "＞", "#": "＃", "|": "｜", "\\": "＼"})
_SPACE = re.compile(r"[\r\n\t\x0b\x0c\u2028\u2029]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def md(text: object) -> str:
    return _SPACE.sub(" ", str(text)).translate(_MD)


def mdurl(url: object) -> str:
    # Parentheses and blanks would end a markdown link early; percent-encode them.
    return quote(str(url), safe=":/?#@!$&'*+,;=%~.-_")


_SLACK = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "*": "＊", "_": "＿", "~": "～", "`": "｀"})


def slack(text: object) -> str:
    return _SPACE.sub(" ", str(text)).translate(_SLACK)


def slackurl(url: object) -> str:
    return quote(str(url), safe=":/?#@!$&'()*+,;=%~.-_")


def one_line(text: str, limit: int = 200) -> str:
    """A header-safe single line: no CR/LF or other control characters."""
    flat = _CONTROL.sub(" ", _SPACE.sub(" ", text))
    flat = re.sub(r" {2,}", " ", flat).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@lru_cache(maxsize=8)
def _environment(override: str | None) -> Environment:
    loaders = [FileSystemLoader(override)] if override else []
    loaders.append(FileSystemLoader(str(TEMPLATES)))
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=lambda name: name is not None and name.endswith(".html"),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md
    env.filters["mdurl"] = mdurl
    env.filters["slack"] = slack
    env.filters["slackurl"] = slackurl
    return env


def environment(settings: Settings) -> Environment:
    override = settings.alerts.templates
    return _environment(str(settings.resolve(override)) if override else None)


def subject(c: Content) -> str:
    label = "【紧急舆情】" if c.kind == "alert" else "【舆情日报】"
    counts = "、".join(f"{g.name}{len(g.items)}" for g in c.groups)
    return one_line(f"{label}{c.unit_name} 新增{c.total}条：{counts}")


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str


def render_email(settings: Settings, c: Content) -> Email:
    env = environment(settings)
    subj = subject(c)
    ctx = {"c": c, "subject": subj, "severity_color": SEVERITY_COLOR}
    return Email(subj, env.get_template("digest.txt").render(ctx), env.get_template("digest.html").render(ctx))


def render_parts(settings: Settings, c: Content, *, template: str, max_bytes: int, max_parts: int = 5) -> tuple[str, ...]:
    """A robot message in numbered parts, each within `max_bytes` UTF-8 bytes."""
    module = environment(settings).get_template(template).module
    blocks: list[Block] = []
    for g in c.groups:
        blocks.append(Block(str(module.topic(g)), counts=False))  # type: ignore[attr-defined]
        blocks += [Block(str(module.item(it))) for it in g.items]  # type: ignore[attr-defined]
    if c.problems:
        blocks.append(Block(str(module.problems(c)), counts=False))  # type: ignore[attr-defined]
    return pack(
        blocks,
        lambda part, parts: str(module.header(c, part, parts)),  # type: ignore[attr-defined]
        lambda n: str(module.more(n, c.public_url or "")),  # type: ignore[attr-defined]
        max_bytes=max_bytes,
        max_parts=max_parts,
    )
