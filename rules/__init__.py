"""The rules engine: loading and validating rule files, compiling, matching and explaining.

It never imports Scrapy or Twisted, so it can be used from the command line, the crawler and tests alike.
"""
