"""`yuqing db upgrade` and `yuqing demo`."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    db = sub.add_parser("db", help="database schema")
    dbsub = db.add_subparsers(dest="db_command", metavar="ACTION")
    up = dbsub.add_parser("upgrade", help="create or upgrade the schema to the newest migration")
    up.set_defaults(func=cmd_db_upgrade)

    demo = sub.add_parser("demo", help="serve the bundled sample site, crawl it, and deliver digests locally")
    demo.add_argument("--out", default="demo-out", help="folder for the demo database and received e-mails")
    demo.set_defaults(func=cmd_demo)


def cmd_db_upgrade(app: Any, args: argparse.Namespace) -> int:
    app.db.upgrade()
    print(f"schema is up to date ({app.db.dialect})")
    return 0


def cmd_demo(app: Any, args: argparse.Namespace) -> int:
    from ..demo import run_demo

    return run_demo(args.out)
