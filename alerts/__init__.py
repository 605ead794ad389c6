"""Alerts: the outbox, digest and alert rendering (jinja2, HTML + text), and delivery channels.

The rules engine decides what matters; this package only delivers, from stored rows, through an
outbox that records a message before sending it and marks it after. It never imports Scrapy.
"""
