"""`yuqing rules check | test | backtest`: validate rule files, explain verdicts, replay stored posts.

Commands of the rules area; the work is done in `rules/` (loading, engine, explain, examples,
backtest). Rules come from the settings (shipped pack plus `rules.paths`) unless paths are given.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from yuqing.errors import RuleError, UsageError


def register(sub: Any) -> None:
    p = sub.add_parser("rules", help="check, test and backtest topic rules")
    rsub = p.add_subparsers(dest="rules_command", metavar="SUBCOMMAND", required=True)

    c = rsub.add_parser("check", help="validate rule files and run each rule's own examples (exit 1 on a problem)")
    c.add_argument("paths", nargs="*", metavar="PATH", help="rule files or folders (default: the configured rules)")
    c.add_argument("--json", action="store_true", help="machine-readable result")
    c.set_defaults(func=check)

    t = rsub.add_parser("test", help="show which rules fire on a text, where, the negativity and why")
    t.add_argument("text", nargs="?", help="the text to test (a post body); - reads it from stdin")
    t.add_argument("--title", default="", help="a title to test with the text")
    t.add_argument("--json", action="store_true", help="one JSON object")
    t.add_argument("--jsonl", metavar="FILE", help='JSON lines {"id", "text"[, "title"]} from FILE or - (stdin)')
    t.add_argument("--rules", metavar="PATH", action="append", help="use these rule files/folders instead of the configured ones")
    t.add_argument("--no-topic-model", action="store_true", help="the rules alone: no topic withdrawn by the topic confirmation model")
    t.set_defaults(func=test)

    b = rsub.add_parser("backtest", help="re-run rules over stored posts: what would newly match / no longer match")
    b.add_argument("--since", default="30d", help="how far back (10s, 15m, 2h, 30d; default 30d)")
    b.add_argument("--rules", metavar="PATH", action="append", help="candidate rule files/folders (default: the configured ones)")
    b.add_argument("--no-topic-model", action="store_true", help="the rules alone: no topic withdrawn by the topic confirmation model")
    b.add_argument("--json", action="store_true", help="machine-readable result")
    b.set_defaults(func=backtest)


def _settings_or_none(app: Any) -> Any:
    """Settings when a settings file exists; rules commands also work without one (shipped pack)."""
    if not Path(app.config_path).exists():
        return None
    return app.settings


def _ruleset(app: Any, paths: list[str] | None, *, topic_model: bool = True) -> Any:
    """The rules to test: the given files, else the configured ones, else the shipped pack; with the
    topic confirmation model unless the settings or the command (`--no-topic-model`) turn it off."""
    from rules.loading import PACK_DIR, build_ruleset, expand_paths, load_ruleset, user_dict_path

    settings = _settings_or_none(app)
    topic_model = topic_model and (settings is None or settings.rules.topic_model)
    if paths:
        files = expand_paths([Path(p) for p in paths])
        return build_ruleset(files, user_dict=user_dict_path(settings) if settings else None, topic_model=topic_model)
    if settings is None:
        return build_ruleset(sorted(PACK_DIR.glob("*.yaml")), topic_model=topic_model)
    return load_ruleset(settings, topic_model=topic_model)


def check(app: Any, args: argparse.Namespace) -> int:
    from rules.examples import example_count, example_failures
    from rules.loading import PACK_DIR, expand_paths

    if args.paths:
        # The shipped groups are always available to operator files.
        files = expand_paths([Path(p) for p in args.paths])
        missing = [p for p in args.paths if not Path(p).exists()]
        if missing:
            raise UsageError(f"no such rule file or folder: {', '.join(missing)}")
        groups = [PACK_DIR / "_groups.yaml"]
        from rules.loading import build_ruleset

        settings = _settings_or_none(app)
        rs = build_ruleset([g for g in groups if g not in files] + files, topic_model=settings is None or settings.rules.topic_model)
    else:
        rs = _ruleset(app, None)
    failures = example_failures(rs)
    if args.json:
        tm = rs.topic_model
        print(json.dumps({"ok": not failures, "rules": len(rs), "topics": sorted(rs.topics), "examples": example_count(rs),
                          "topic_model": None if tm is None else {"topics": sorted(tm.topics), "threshold": tm.threshold},
                          "problems": [str(p) for p in failures]}, ensure_ascii=False))
        return 1 if failures else 0
    if failures:
        raise RuleError(failures)
    print(f"ok: {len(rs)} rules in {len(rs.topics)} topics ({', '.join(sorted(rs.topics))}); {example_count(rs)} examples pass")
    tm = rs.topic_model
    if tm is None:
        print("topic confirmation model: off")
    else:
        mine = sorted(rs.topics - tm.topics)
        print(f"topic confirmation model: on for {len(tm.topics & rs.topics)} topics (threshold {tm.threshold:g})"
              + (f"; never withdraws {', '.join(mine)}" if mine else ""))
    return 0


def test(app: Any, args: argparse.Namespace) -> int:
    from rules.explain import as_json, as_text

    if args.jsonl is None and args.text is None:
        raise UsageError("give a TEXT to test, or --jsonl FILE (- for stdin)")
    rs = _ruleset(app, args.rules, topic_model=not args.no_topic_model)
    if args.jsonl is not None:
        stream = sys.stdin if args.jsonl == "-" else open(args.jsonl, encoding="utf-8")  # noqa: SIM115
        with stream:
            for n, line in enumerate(stream, 1):
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                    text, title, pid = str(item.get("text") or ""), str(item.get("title") or ""), item.get("id")
                except (json.JSONDecodeError, AttributeError) as exc:
                    raise UsageError(f"{args.jsonl}:{n}: not a JSON object with 'text': {exc}") from None
                analysis, firings = rs.explain(title, text)
                print(json.dumps(as_json(analysis, firings, pid), ensure_ascii=False), flush=False)
        return 0
    # `-` is standard input, as for --jsonl: a post pasted from a page or piped from a file, line
    # breaks and all, without shell quoting (trailing line breaks of the terminal or file dropped).
    text = sys.stdin.read().rstrip("\r\n") if args.text == "-" else args.text
    analysis, firings = rs.explain(args.title, text)
    if args.json:
        print(json.dumps(as_json(analysis, firings), ensure_ascii=False))
    else:
        print(as_text(args.title, text, analysis, firings))
    return 0


def backtest(app: Any, args: argparse.Namespace) -> int:
    from rules.backtest import render_backtest, run_backtest
    from yuqing.config import parse_duration

    try:
        since = parse_duration(args.since)
    except ValueError as exc:
        raise UsageError(f"--since: {exc}") from None
    rs = _ruleset(app, args.rules, topic_model=not args.no_topic_model)
    result = run_backtest(app.db, app.settings, rs, since)
    if args.json:
        print(json.dumps(result.as_json(), ensure_ascii=False))
    else:
        print(render_backtest(result, app.settings))
    return 0
