"""`yuqing events` and `yuqing coverage` as a script sees them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.ledger.conftest import run_cli, settings_text
from tests.ledger.factory import add_post
from tests.ledger.test_events import OTHER, STORY
from yuqing.config import load_settings
from yuqing.events import cluster_posts
from yuqing.storage import open_database


def test_events_json_and_table(ledger_env, capsys) -> None:
    settings, db, path = ledger_env
    now = datetime.now(UTC)
    for i, site in enumerate(["county-news", "city-forum", "tieba"]):
        add_post(db, source=site, title="招聘质疑", text=STORY, at=now - timedelta(hours=3 - i),
                 matches=[("zzb", "public_recruitment", "high", True)])
    add_post(db, source="county-news", title="干部任前公示", text=OTHER, at=now - timedelta(days=3),
             matches=[("zzb", "cadre_appointment", "low", False)])
    cluster_posts(db, settings)
    code, out, _ = run_cli(path, "events", "--json", capsys=capsys)
    assert code == 0
    events = json.loads(out)
    assert [(e["title"], e["posts"], e["sites"], e["topics"], e["severity"], e["trend"]) for e in events] == [
        ("招聘质疑", 3, 3, ["public_recruitment"], "high", "heating"),
        ("干部任前公示", 1, 1, ["cadre_appointment"], "low", "cooling"),  # 3 days old: quiet since
    ]
    assert events[0]["heat"] > events[1]["heat"] and {"id", "trend_detail"} <= set(events[0])
    code, out, _ = run_cli(path, "events", capsys=capsys)
    assert code == 0 and "升温（近期日均 3.0 条，基线日均 0.0 条，新出现）" in out
    code, out, _ = run_cli(path, "events", "--unit", "nyb", "--json", capsys=capsys)
    assert json.loads(out) == []
    code, out, _ = run_cli(path, "events", "--id", str(events[0]["id"]), capsys=capsys)
    assert code == 0 and "3 posts on 3 sites" in out
    assert [line.split()[2] for line in out.splitlines() if "https://" in line] == ["county-news", "city-forum", "tieba"]
    code, out, _ = run_cli(path, "events", "--id", str(events[0]["id"]), "--json", capsys=capsys)
    assert [p["source"] for p in json.loads(out)["timeline"]] == ["county-news", "city-forum", "tieba"]
    code, _, err = run_cli(path, "events", "--id", "999", capsys=capsys)
    assert code == 1 and "there is no event 999" in err


def test_coverage_shows_gaps(db_url, tmp_path, capsys) -> None:
    path = tmp_path / "settings.yaml"
    text = settings_text(db_url).replace(
        "  - {id: tieba, kind: forum, start_urls: [\"http://127.0.0.1:9/tieba/\"], units: [zzb]}",
        "  - {id: tieba, kind: forum, start_urls: [\"http://127.0.0.1:9/tieba/\"], units: []}\n"
        "  - {id: all-units, kind: rss, start_urls: [\"http://127.0.0.1:9/rss\"]}",
    ) + "ledger: {min_units_per_source: 2}\n"
    text = text.replace("units: [zzb, nyb]}", "units: [zzb]}")
    text = text.replace("    case_threshold: medium\n", "    case_threshold: medium\n  - {id: jw, name: 纪委}\n")
    path.write_text(text, encoding="utf-8")
    load_settings(str(path))
    code, out, _ = run_cli(path, "coverage", "--json", capsys=capsys)
    data = json.loads(out)
    assert code == 1
    assert data["watches"] == {"county-news": ["zzb"], "city-forum": ["zzb"], "tieba": [], "all-units": ["zzb", "nyb", "jw"]}
    assert data["unwatched_sources"] == ["tieba"]
    assert data["units_without_sources"] == []  # every unit watches all-units
    assert data["thin_sources"] == ["county-news", "city-forum"]
    assert data["by_unit"]["nyb"] == ["all-units"]
    code, out, _ = run_cli(path, "coverage", capsys=capsys)
    assert "sources no unit watches: tieba" in out and "sources watched by fewer than 2 unit(s): county-news, city-forum" in out
    db = open_database(load_settings(str(path)).database_url())
    db.dispose()


def test_a_misspelt_ledger_key_is_located(db_url, tmp_path) -> None:
    import pytest

    from yuqing.errors import ConfigError

    path = tmp_path / "settings.yaml"
    path.write_text(settings_text(db_url) + "ledger:\n  limits:\n    high: {response_days: 1, resolve_days: 0}\n"
                    "trends:\n  spike_pvalue: 0.01\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(str(path))
    shown = err.value.show()
    assert f"{path}:" in shown
    assert "ledger.limits.high.resolve_days" in shown
    assert "unknown key 'spike_pvalue' (did you mean \"spike_p\"?)" in shown


def test_open_a_case_from_an_event_by_hand(ledger_env, capsys) -> None:
    settings, db, path = ledger_env
    now = datetime.now(UTC)
    add_post(db, source="county-news", title="招聘质疑", text=STORY, at=now,
             matches=[("zzb", "public_recruitment", "medium", True)])
    add_post(db, source="county-news", title="干部任前公示", text=OTHER, at=now,
             matches=[("zzb", "cadre_appointment", "low", False), ("nyb", "village_affairs", "low", False)])
    cluster_posts(db, settings)
    code, out, _ = run_cli(path, "events", "--json", capsys=capsys)
    ids = {e["title"]: e["id"] for e in json.loads(out)}
    code, out, _ = run_cli(path, "cases", "open", "--event", str(ids["招聘质疑"]), "--by", "王干事", "--json", capsys=capsys)
    case = json.loads(out)
    assert code == 0 and (case["unit_id"], case["severity"], case["leader"], case["handler"]) == ("zzb", "medium", "张部长", "李科长")
    assert case["event"]["sites"] == 1 and case["log"][0]["by"] == "王干事"
    code, _, err = run_cli(path, "cases", "open", "--event", str(ids["干部任前公示"]), "--by", "王干事", capsys=capsys)
    assert code == 1 and "concerns units nyb, zzb: name one with --unit" in err
    code, out, _ = run_cli(path, "cases", "open", "--event", str(ids["干部任前公示"]), "--unit", "nyb", "--handler", "刘股长",
                           "--by", "王干事", "--json", capsys=capsys)
    assert code == 0 and json.loads(out)["handler"] == "刘股长" and json.loads(out)["leader"] is None
    code, _, err = run_cli(path, "cases", "open", "--unit", "zzx", "--title", "x", "--by", "a", capsys=capsys)
    assert code == 2 and 'no unit \'zzx\' (did you mean "zzb"?)' in err
