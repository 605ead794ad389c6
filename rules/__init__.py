"""The rules engine: loading and validating rule files, compiling, matching and explaining.

It never imports Scrapy or Twisted, so it can be used from the command line, the crawler and tests
alike. Contract: `load_ruleset(settings) -> RuleSet`; `RuleSet.analyse(title, text) -> Analysis`
with one `TopicMatch` per topic; `RuleHolder` for hot reload.
"""

from .engine import Analysis, RuleSet, TopicMatch
from .loading import build_ruleset, load_ruleset, topic_ids

__all__ = ["Analysis", "RuleSet", "TopicMatch", "build_ruleset", "load_ruleset", "topic_ids"]
