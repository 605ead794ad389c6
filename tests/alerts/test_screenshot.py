"""A rendered digest in headless Chromium at phone width (375px): no horizontal overflow.

Headless Chromium will not make a window narrower than 500px, so the digest is put in a 375px-wide
iframe (srcdoc, same origin) and the page writes the frame's scrollWidth into the DOM, which
`--dump-dom` prints. `save_screenshot` makes docs/digest.png for the README:
    .venv/bin/python -c "from tests.alerts.test_screenshot import save_screenshot; save_screenshot('docs/digest.png')"
"""

from __future__ import annotations

import html
import re
import struct
import subprocess
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest

from alerts.gather import gather
from alerts.render import render_email
from yuqing.storage import SourceState, open_database

from .factory import NOW, PostSpec, add_post, make_settings, settings_yaml

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
]
PHONE = 375
UNITS = "  - {id: zzb, name: 县委组织部, emails: [officer@example.org], topics: [cadre_appointment, public_recruitment, talent_introduction]}\n"

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is absent: apt-get install -y chromium")


def sample_digest(folder: Path, *, hostile: bool = False) -> str:
    """The HTML part of a realistic digest (and, with hostile=True, unbreakable long strings)."""
    st = make_settings(folder, settings_yaml(f"sqlite:///{folder / 'y.db'}", smtp_port=2525, units=UNITS))
    db = open_database(st.database_url())
    posts = [
        PostSpec("网友举报：某镇拟提拔干部存在“带病提拔”问题", "近日，有网友在论坛发帖称，某镇党委拟提拔的一名干部曾因违规受过处分，本次干部任前公示期间仍被列为拟任人选，质疑组织部门考察把关不严。帖子发布后引发大量转发。", ["干部", "提拔"], matches=[("zzb", "cadre_appointment", "high")], negativity=0.91, at=NOW - timedelta(hours=2)),
        PostSpec("县事业单位公开招聘笔试成绩公布", "县人社局公布了2026年县属事业单位公开招聘工作人员笔试成绩，考生可登录网站查询，资格复审时间另行通知。", ["公开招聘"], matches=[("zzb", "public_recruitment", "low")], negativity=0.05, at=NOW - timedelta(hours=5)),
        PostSpec("事业编招聘名单提前流出？网传名单与公示一致", "有网友称，某单位事业编招聘结果公示前，拟录用名单已在微信群流传，且与最终公示名单完全一致，招聘过程是否公平引发讨论。", ["招聘"], content_hash="dup1", matches=[("zzb", "public_recruitment", "medium")], negativity=0.74, at=NOW - timedelta(hours=3)),
        PostSpec("转：事业编招聘名单提前流出？网传名单与公示一致", "有网友称，某单位事业编招聘结果公示前，拟录用名单已在微信群流传，且与最终公示名单完全一致，招聘过程是否公平引发讨论。", ["招聘"], source="city-forum", content_hash="dup1", matches=[("zzb", "public_recruitment", "medium")], negativity=0.74, at=NOW - timedelta(hours=1)),
        PostSpec("高层次人才引进补贴迟迟未兑现", "去年通过人才引进计划来到本县的博士反映，承诺的安家补贴至今未到位，多次询问无果。", ["人才引进"], matches=[("zzb", "talent_introduction", "medium")], negativity=0.66, at=NOW - timedelta(hours=7)),
    ]
    if hostile:
        posts.append(
            PostSpec(
                "Averyveryverylongunbrokentitle" * 6 + "干部",
                "x" * 400 + "干部" + "y" * 400,
                ["干部"],
                url="https://news.example.org/" + "a" * 300 + "?q=" + "b" * 200,
                matches=[("zzb", "cadre_appointment", "medium")],
            )
        )
    ids: list[int] = []
    for p in posts:
        ids += add_post(db, p)[1]
    with db.session() as s:
        s.add(SourceState(source_id="city-forum", status="problem", problem="连续 3 次抓取失败：HTTP 503 Service Unavailable", problem_since=NOW - timedelta(hours=20)))
    with db.session() as s:
        content = gather(s, st, st.unit("zzb"), ids, kind="digest", now=NOW)
    db.dispose()
    return render_email(st, content).html


def phone_page(digest_html: str, height: int = 800) -> str:
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
        '<body style="margin:0;background:#d0d4da;">'
        f'<iframe id="d" style="display:block;margin:20px 0 20px 62px;width:{PHONE}px;height:{height}px;border:0;background:#fff;" srcdoc="{html.escape(digest_html, quote=True)}"></iframe>'
        "<script>window.onload = function () {"
        " var e = document.getElementById('d').contentDocument.documentElement;"
        " document.body.setAttribute('data-sw', e.scrollWidth);"
        " document.body.setAttribute('data-cw', e.clientWidth);"
        " document.body.setAttribute('data-sh', e.scrollHeight); };</script>"
        "</body></html>"
    )


def chromium(folder: Path, *args: str) -> str:
    proc = subprocess.run(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={folder / 'profile'}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc.stdout


def measure(folder: Path, digest_html: str) -> dict[str, int]:
    page = folder / "phone.html"
    page.write_text(phone_page(digest_html), encoding="utf-8")
    dom = chromium(folder, "--window-size=500,900", "--dump-dom", page.as_uri())
    found = dict(re.findall(r'data-(sw|cw|sh)="(\d+)"', dom))
    assert found, f"chromium printed no measurements: {dom[:300]!r}"
    return {k: int(v) for k, v in found.items()}


def save_screenshot(target: str, folder: Path | None = None) -> Path:
    work = folder or Path(tempfile.mkdtemp(prefix="yq-shot-"))
    digest = sample_digest(work)
    size = measure(work, digest)
    page = work / "shot.html"
    page.write_text(phone_page(digest, height=size["sh"]), encoding="utf-8")
    out = Path(target).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    chromium(work, f"--window-size=500,{size['sh'] + 40}", f"--screenshot={out}", page.as_uri())
    return out


@needs_chromium
@pytest.mark.parametrize("hostile", [False, True], ids=["realistic", "long-unbroken-strings"])
def test_the_digest_fits_a_phone_screen_without_horizontal_scrolling(tmp_path, hostile):
    size = measure(tmp_path, sample_digest(tmp_path, hostile=hostile))
    assert size["cw"] == PHONE
    assert size["sw"] <= PHONE, f"the digest is {size['sw']}px wide on a {PHONE}px screen"
    assert size["sh"] > 600  # it did render its items


@needs_chromium
def test_a_screenshot_at_phone_width_is_made(tmp_path):
    png = save_screenshot(str(tmp_path / "digest.png"), tmp_path)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width == 500 and height > 600 and len(data) > 20_000
