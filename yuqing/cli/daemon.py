"""`yuqing run-once`, `daemon`, `reload` and `status`: running yuqing on a server.

`run-once` (for cron) and `daemon` take the same scheduler lock (yuqing.runlock), so they never run
twice at once; the work itself is `yuqing.jobs`, the schedule `scheduler.py`.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from typing import Any

from ..errors import LockedError, UsageError
from . import print_json


def register(sub: Any) -> None:
    once = sub.add_parser(
        "run-once", help="for cron: crawl the due sources, send due digests, run the daily checks when due"
    )
    once.add_argument("--json", action="store_true", help="print what was done as JSON")
    once.set_defaults(func=cmd_run_once)

    daemon = sub.add_parser(
        "daemon", help="run the scheduler until stopped (SIGTERM); SIGHUP reloads settings and rules"
    )
    daemon.add_argument(
        "--standby",
        action="store_true",
        help="when another scheduler holds the lock, wait and take over when it goes (instead of refusing)",
    )
    daemon.set_defaults(func=cmd_daemon)

    reload = sub.add_parser(
        "reload", help="make the running daemon re-read settings and rules (after checking them)"
    )
    reload.add_argument(
        "--wait", type=float, default=15.0, metavar="SECONDS", help="how long to wait for the daemon's answer"
    )
    reload.set_defaults(func=cmd_reload)

    status = sub.add_parser("status", help="health at a glance: daemon, sources, outbox")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)


def cmd_run_once(app: Any, args: argparse.Namespace) -> int:
    from ..jobs import run_once
    from ..logs import setup_logging
    from ..runlock import RunLock

    settings = app.settings
    setup_logging(settings, app.verbose, quiet=True)
    with RunLock(settings, app.db, "run-once"):
        result = run_once(settings, app.db)
    if args.json:
        from dataclasses import asdict

        print_json(asdict(result))
    else:
        crawled = result.crawl.summaries if result.crawl else ()
        for s in crawled:
            print(
                f"crawl {s.source_id}: {s.status}, {s.pages} pages, {s.new_posts} new posts, {s.new_matches} new matches"
                + (f" ({s.error})" if s.error else "")
            )
        if not crawled:
            print("crawl: no source is due")
        print(f"digests: {len(result.digests_due)} due, {result.digests_planned} planned")
        sends = [result.send] + ([result.crawl.send] if result.crawl else [])
        print(f"sent: {sum(x.sent for x in sends)}, failed: {sum(x.failed for x in sends)}")
        if result.checks:
            c = result.checks
            print(
                f"daily checks: {c.source_problems_reported} source problems told, "
                f"pruned {c.pruned_posts} posts and {c.pruned_runs} crawl records"
            )
    failed = sum(x.failed for x in [result.send] + ([result.crawl.send] if result.crawl else []))
    if failed:
        errors = list(result.send.errors) + list(result.crawl.send.errors if result.crawl else ())
        print(
            f"yuqing: {failed} deliveries could not be sent ({errors[0] if errors else 'see the log'}); "
            "they stay in the outbox and are retried on the next run",
            file=sys.stderr,
        )
        return 3
    return 0


def cmd_daemon(app: Any, args: argparse.Namespace) -> int:
    from scheduler import Daemon, load_validated

    from ..logs import setup_logging
    from ..runlock import RunLock

    settings, ruleset = load_validated(app.config_path)  # a bad file stops the start: exit 2 / 1
    app.__dict__["settings"] = settings
    redactor = setup_logging(settings, app.verbose)
    lock = RunLock(settings, app.db, "daemon")
    if args.standby:
        _wait_for_lock(lock)
    else:
        lock.acquire()
    daemon = Daemon(app.config_path, settings, app.db, lock, verbose=app.verbose, redactor=redactor)
    try:
        code = daemon.run(ruleset)
    finally:
        lock.release()
    if daemon.busy():
        # A job stuck past the stop timeout (a hung mail server, say) must not hold the exit: the
        # interpreter would wait for its thread. Its work is redone, the outbox recovers 'sending'.
        import logging

        logging.shutdown()
        os._exit(code)
    return code


def _wait_for_lock(lock: Any) -> None:
    import logging

    log = logging.getLogger("yuqing.daemon")
    stop = []
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    try:
        told = False
        while not stop:
            try:
                lock.acquire()
                log.info("standby: took over the scheduler lock")
                return
            except LockedError as exc:
                if not told:
                    log.info("standby: %s; waiting to take over", exc)
                    told = True
                time.sleep(5)
        raise SystemExit(0)
    finally:
        signal.signal(signal.SIGTERM, previous)


def cmd_reload(app: Any, args: argparse.Namespace) -> int:
    from scheduler import load_validated

    from ..runlock import is_locked, read_holder, read_json, state_path

    # Check the files here first, so the operator sees the problems at once (the daemon checks
    # them again, and keeps its running configuration while they are wrong).
    settings, _ = load_validated(app.config_path)
    holder = read_holder(settings)
    if not is_locked(settings, app.db) or holder.pid is None or holder.command != "daemon":
        raise UsageError("no yuqing daemon is running for this database; start one with `yuqing daemon`")
    if holder.pid is not None and not _pid_is_local(holder.pid):
        raise UsageError(
            f"the daemon holding the lock (pid {holder.pid}) is not on this machine; reload it there"
        )
    before = (read_json(state_path(settings)) or {}).get("last_reload")
    os.kill(holder.pid, signal.SIGHUP)
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline:
        state = read_json(state_path(settings)) or {}
        answer = state.get("last_reload")
        if answer and answer != before:
            if answer.get("ok"):
                print(
                    f"reloaded: the daemon (pid {holder.pid}) runs configuration generation {answer['generation']}"
                )
                return 0
            print("\n".join(answer.get("problems", [])), file=sys.stderr)
            print(
                f"yuqing: the daemon refused the new files and keeps generation {answer['generation']}",
                file=sys.stderr,
            )
            return 1
        time.sleep(0.2)
    print(
        f"sent SIGHUP to the daemon (pid {holder.pid}); it has not answered yet, see its log", file=sys.stderr
    )
    return 0


def _pid_is_local(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cmd_status(app: Any, args: argparse.Namespace) -> int:
    from ..metrics import snapshot
    from ..runlock import is_locked, read_holder, read_json, state_path

    settings = app.settings
    snap = snapshot(app.db, settings)
    locked = is_locked(settings, app.db)
    holder = read_holder(settings) if locked else None
    state = read_json(state_path(settings)) if locked else None
    if state and holder and state.get("pid") != holder.pid:
        state = None  # left by an earlier daemon
    if args.json:
        data = snap.as_json(settings.tz)
        data["scheduler"] = {
            "running": locked,
            "pid": holder.pid if holder else None,
            "command": holder.command if holder else None,
            "since": holder.started_at if holder else None,
            "generation": state.get("generation") if state else None,
            "last_reload": state.get("last_reload") if state else None,
            "listen": state.get("listen") if state else None,
        }
        print_json(data)
        return 0
    tz = settings.tz
    if holder:
        line = f"scheduler: {holder.describe()}"
        if state:
            line += f", configuration generation {state.get('generation')}"
            last = state.get("last_reload")
            if last and not last.get("ok"):
                line += f" (last reload REFUSED: {'; '.join(last.get('problems', []))[:200]})"
            if state.get("listen"):
                line += f", metrics on http://{state['listen']}/metrics"
        print(line)
    else:
        print("scheduler: not running (no daemon or run-once holds the lock)")
    print(f"posts: {snap.posts}, matches: {snap.matches}")
    states = ", ".join(f"{k} {v}" for k, v in sorted(snap.deliveries.items())) or "empty"
    age = f", oldest waiting {snap.outbox_age / 60:.0f} min" if snap.oldest_waiting_at else ""
    print(f"outbox: {states}{age}")
    print(
        "crawls in the last 24 h: "
        + (", ".join(f"{k} {v}" for k, v in sorted(snap.crawls_24h.items())) or "none")
    )
    for src in snap.sources:
        last = (
            src.last_success_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if src.last_success_at else "never"
        )
        flag = "" if src.enabled else " (disabled)"
        problem = f" — {src.problem}" if src.problem else ""
        print(
            f"  {src.source_id}{flag}: {src.status}, last success {last}, {src.consecutive_failures} failures in a row{problem}"
        )
    return 0
