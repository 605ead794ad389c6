"""Run every benchmark in turn: `python -m bench [NAME ...]`."""

from __future__ import annotations

import importlib
import sys
import time

BENCHMARKS = ("extraction", "crawl", "rules", "rules_quality", "events", "soak")
# Each runs with its own defaults: the soak's are the full 1,000 crawl cycles the daemon is held to
# (11 to 22 minutes on 2 cores since crawls fork from the job server); `make soak` runs it alone.
QUICK_ARGS: dict[str, list[str]] = {}


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    failed = 0
    for name in names:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"bench.{name}":
                print(f"== {name}: not present, skipped")
                continue
            raise
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        args = QUICK_ARGS.get(name, [])
        code = module.main(args) if module.main.__code__.co_argcount else module.main()
        print(f"== {name} done in {time.perf_counter() - started:.1f}s (exit {code or 0})\n", flush=True)
        failed += bool(code)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
