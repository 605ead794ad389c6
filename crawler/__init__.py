"""The crawler's plumbing: items, pipelines, middlewares, Scrapy settings built from settings.yaml,
text normalisation, charset and date handling, and extraction.

Fetched pages become `yuqing.records.Post`s; pipelines normalise, dedupe, match and store them.
No pipeline ever sends anything: delivery happens later, from stored rows, in `alerts/`.
"""
