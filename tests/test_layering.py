"""The dependency rules of STYLE.md, checked on the source: what each part may import and build."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("yuqing", "crawler", "spiders", "rules", "alerts")


def sources() -> list[Path]:
    files = [ROOT / "scheduler.py"]
    for pkg in PACKAGES:
        files += sorted((ROOT / pkg).rglob("*.py"))
    return files


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_only_scheduler_imports_apscheduler():
    users = [p.relative_to(ROOT).as_posix() for p in sources() if "apscheduler" in imported_modules(p)]
    assert users == ["scheduler.py"]


def test_only_storage_builds_engines():
    builders = [p.relative_to(ROOT).as_posix() for p in sources() if "create_engine(" in p.read_text(encoding="utf-8")]
    assert builders == ["yuqing/storage.py"]


@pytest.mark.parametrize("package", ["rules", "alerts"])
def test_rules_and_alerts_never_import_scrapy_or_twisted(package):
    offenders = [
        p.relative_to(ROOT).as_posix()
        for p in sorted((ROOT / package).rglob("*.py"))
        if imported_modules(p) & {"scrapy", "twisted", "apscheduler"}
    ]
    assert offenders == []
    # And at run time, with everything they import themselves:
    code = (
        f"import sys, {package}, importlib, pkgutil\n"
        f"for m in pkgutil.walk_packages({package}.__path__, '{package}.'): importlib.import_module(m.name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('scrapy', 'twisted', 'apscheduler'))\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert out.strip() == "[]"


def test_no_grab_bag_modules():
    assert not [p for p in sources() if p.stem in ("utils", "helpers", "misc", "common")]
