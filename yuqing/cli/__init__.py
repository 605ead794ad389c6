"""The `yuqing` command line: one entry point, a subcommand per job.

Each subcommand lives in a small module of this package beside the part it drives; this module only
builds the parser, loads settings lazily and turns a `YuqingError` into one clear message and its
exit code (never a traceback).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any

from ..config import Settings, load_settings, settings_path
from ..errors import ProblemsError, YuqingError
from ..storage import Database, open_database

# name of the module in this package -> what its commands are for (order = order in --help)
COMMAND_MODULES = ("crawl", "rules", "alerts", "daemon", "ledger", "admin")


class App:
    """What a command needs: the settings (loaded on first use) and the database."""

    def __init__(self, config: str | None, verbose: int = 0):
        self.config_path = settings_path(config)
        self.verbose = verbose

    @cached_property
    def settings(self) -> Settings:
        return load_settings(self.config_path)

    @cached_property
    def db(self) -> Database:
        return open_database(self.settings.database_url())


Command = Callable[[App, argparse.Namespace], int | None]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="yuqing",
        description="Watch public sites for posts on sensitive topics and alert the right officers.",
    )
    parser.add_argument("--config", "-c", metavar="FILE", help="settings file (default: $YUQING_SETTINGS or ./settings.yaml)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    import importlib

    for name in COMMAND_MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = App(args.config, args.verbose)
    func: Command = args.func
    try:
        code = func(app, args)
    except YuqingError as exc:
        # Located problems already start with file:line; anything else gets the program's name.
        print(exc.show() if isinstance(exc, ProblemsError) else f"yuqing: {exc.show()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("yuqing: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `yuqing export posts | head`: the reader left; that is not an error worth a traceback.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    return int(code or 0)


def print_json(data: Any) -> None:
    import json

    print(json.dumps(data, ensure_ascii=False, indent=None, default=str))
