"""Run every benchmark in turn: `python -m bench [NAME ...]`.

Each runs in a process of its own (`python -m bench.NAME`), so that its figures do not depend on
what ran before it: objects left behind, warmed or polluted caches, more for the garbage collector
to walk. In one shared process the rules engine measured 17.5x plain jieba after the extraction and
crawl benchmarks, and 19.8x run alone; in its own process after them, 19.2x.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

BENCHMARKS = ("extraction", "crawl", "rules", "rules_quality", "events", "soak")
# Each runs with its own defaults: the soak's are the full 1,000 crawl cycles the daemon is held to
# (11 to 22 minutes on 2 cores since crawls fork from the job server); `make soak` runs it alone.
QUICK_ARGS: dict[str, list[str]] = {}
ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    failed = 0
    for name in names:
        if importlib.util.find_spec(f"bench.{name}") is None:
            print(f"== {name}: not present, skipped")
            continue
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        code = subprocess.run([sys.executable, "-m", f"bench.{name}", *QUICK_ARGS.get(name, [])], cwd=ROOT, check=False).returncode
        print(f"== {name} done in {time.perf_counter() - started:.1f}s (exit {code})\n", flush=True)
        failed += bool(code)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
