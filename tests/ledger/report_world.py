"""A week of posts, events and cases of known shape for the report tests (and docs/report.png).

`python -m tests.ledger.report_world OUT.html [OUT.png]` renders the report of this world, and
with a second argument screenshots it with headless Chromium (how docs/report.png was made).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.ledger.factory import add_post
from yuqing.config import Settings
from yuqing.events import cluster_posts
from yuqing.ledger import close, note, open_case, reply, resolve
from yuqing.storage import Database

# Monday 16 March 2026, 09:00 Shanghai: the report covers the 7 days up to now.
NOW = datetime(2026, 3, 16, 1, 0, tzinfo=UTC)
STORIES = [
    ("public_recruitment", "high", True, "县事业单位招聘面试成绩遭质疑",
     "网友发帖称县事业单位公开招聘面试环节存在暗箱操作，笔试第一名面试仅得六十分，而某领导亲属面试满分进入体检。"
     "多名考生联名要求公开面试录像和评分细则，县人社局回应称已成立复核小组，将在五个工作日内公布结果。"),
    ("cadre_appointment", "medium", True, "<b>乡镇干部</b>任前公示引热议",
     "某镇拟提拔的副镇长人选在任前公示期间被网友指出曾因违规发放补贴受到处分，公示材料对此只字未提。"
     "网友质疑干部考察走过场，要求组织部门说明该同志处分影响期是否已满以及考察程序是否合规。"),
    ("collective_assets", "high", True, "村集体土地低价发包给村干部亲属",
     "村民反映村集体两百亩耕地未经村民代表大会表决，以远低于市场价的价格发包给村支书的亲属，合同期长达三十年。"
     "村民多次到镇政府反映无果，要求公开合同并重新招标，镇纪委表示已受理并将调查核实。"),
    ("talent_introduction", "low", False, "人才引进补贴政策解读",
     "市人社局发布高层次人才引进补贴实施细则解读，明确博士研究生安家补贴标准和申领流程，申请材料可网上提交。"
     "细则还对柔性引进人才的认定条件作了说明，相关单位可在每季度末集中申报。"),
]


def build(db: Database, settings: Settings) -> None:
    sites = ["county-news", "city-forum", "tieba"]
    for n, (topic, severity, negative, title, text) in enumerate(STORIES):
        unit = "nyb" if topic == "collective_assets" else "zzb"
        # Heating stories gather most posts in the last days; the others spread evenly or fade.
        days = [6, 5, 3, 1, 1, 0, 0] if n in (0, 2) else [13, 12, 10, 6, 2] if n == 1 else [8, 4, 2]
        for k, ago in enumerate(days):
            add_post(db, source=sites[k % len(sites)], title=title if k == 0 else f"转载：{title}",
                     text=("来源：本地论坛\n" if k else "") + text + ("\n编者按：欢迎提供线索。" if k % 2 else ""),
                     at=NOW - timedelta(days=ago, hours=2 + k), matches=[(unit, topic, severity, negative)])
    cluster_posts(db, settings, now=NOW)
    from yuqing.ledger_checks import auto_open

    opened = auto_open(db, settings, NOW - timedelta(days=5))
    on_time = opened[0]
    note(db, on_time, "已核实情况", status="handling", by="李科长", now=NOW - timedelta(days=4))
    reply(db, settings, on_time, text="县人社局发布复核结果", where="县政府网站", by="李科长", now=NOW - timedelta(days=3))
    resolve(db, on_time, "复核后取消拟聘资格", by="李科长", now=NOW - timedelta(days=2))
    close(db, on_time, by="张部长", now=NOW - timedelta(days=2))
    # A case opened by hand eight working days ago and never answered: overdue.
    open_case(db, settings, unit_id="zzb", title="网帖反映选调生考试泄题", severity="high", by="王干事",
              now=NOW - timedelta(days=12))


def screenshot(html: Path, png: Path) -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            ["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
             f"--screenshot={png}", "--window-size=900,1400", html.resolve().as_uri()],
            check=True, capture_output=True, timeout=120,
        )


def main(argv: list[str]) -> int:
    from tests.ledger.conftest import settings_text
    from yuqing.config import load_settings
    from yuqing.report import build_report, render_html
    from yuqing.storage import open_database

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "settings.yaml"
        path.write_text(settings_text(f"sqlite:///{tmp}/y.db"), encoding="utf-8")
        settings = load_settings(str(path))
        db = open_database(settings.database_url())
        build(db, settings)
        html = Path(argv[0])
        html.write_text(render_html(build_report(db, settings, "week", NOW, unit_id="zzb"), settings), encoding="utf-8")
        db.dispose()
    if len(argv) > 1:
        screenshot(html, Path(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["report.html"]))
