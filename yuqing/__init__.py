"""yuqing (舆情): watch public news sites, forums and feeds, flag posts on a unit's sensitive topics,
and tell the right officers in time.

The core package owns what the stage packages share: settings (`yuqing.config`), the typed records
that flow between stages (`yuqing.records`), storage (`yuqing.storage`), errors and the command line.
"""

__version__ = "0.1.0"
