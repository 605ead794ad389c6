"""Logs with secrets redacted (text and JSON lines), and the frozen configuration crawls are given."""

from __future__ import annotations

import io
import json
import logging

from rules import load_ruleset
from yuqing.config import load_settings
from yuqing.logs import JsonFormatter, RedactFilter, redact, settings_secrets
from yuqing.runconfig import freeze

SETTINGS = """
database: sqlite:///var/yuqing.db
smtp: {host: 127.0.0.1, port: 25, sender: yuqing@example.org, username: yq, password: ${SMTP_PASSWORD}}
rules: {paths: [mine.yaml]}
units:
  - id: zzb
    name: 组织部
    emails: [zzb@example.org]
    topics: [probe_topic]
    webhooks:
      - {kind: wecom, url: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=ROBOTKEY-1234-abcd"}
      - {kind: dingtalk, url: "https://oapi.dingtalk.com/robot/send?access_token=DDTOKEN99", secret: SECdingsign77}
"""

RULES = """topic: probe_topic
name: 测试
rules:
  - id: probe.one
    any: [{word}]
"""


def _settings(tmp_path, monkeypatch, word: str = "蓝鲸计划"):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SMTP_PASSWORD", "hunter2-very-secret")
    (tmp_path / "mine.yaml").write_text(RULES.format(word=word), encoding="utf-8")
    (tmp_path / "settings.yaml").write_text(SETTINGS, encoding="utf-8")
    return load_settings(str(tmp_path / "settings.yaml"))


def _log_through(handler_formatter: logging.Formatter, secrets: list[str], emit) -> str:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(handler_formatter)
    handler.addFilter(RedactFilter(secrets))
    logger = logging.getLogger("yuqing.test.redact")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
    return out.getvalue()


def test_secrets_never_reach_the_log(tmp_path, monkeypatch) -> None:
    settings = _settings(tmp_path, monkeypatch)
    secrets = settings_secrets(settings)
    assert {"hunter2-very-secret", "ROBOTKEY-1234-abcd", "DDTOKEN99", "SECdingsign77"} <= set(secrets)

    def emit(log: logging.Logger) -> None:
        log.warning("smtp login failed for yq with %s", settings.smtp.password)
        log.warning("posting to %s", settings.units[0].webhooks[0].url)
        log.warning("db postgresql+psycopg://yuqing:pg-pass-42@db.example.org/yuqing unreachable")
        log.warning("feishu https://open.feishu.cn/hook?sign=abc123&timestamp=1 secret=xyz789 password: p4ss")
        try:
            raise RuntimeError(f"robot said no: {settings.units[0].webhooks[1].url}")
        except RuntimeError:
            log.exception("delivery failed")

    text = _log_through(logging.Formatter("%(message)s"), secrets, emit)
    for secret in (
        "hunter2-very-secret",
        "ROBOTKEY-1234-abcd",
        "DDTOKEN99",
        "pg-pass-42",
        "abc123",
        "xyz789",
        "p4ss",
    ):
        assert secret not in text
    assert "key=***" in text and "yuqing:***@db.example.org" in text
    assert "robot said no: https://oapi.dingtalk.com/robot/send?access_token=***" in text  # the traceback too
    assert "timestamp=1" in text  # what is not a secret stays readable

    lines = _log_through(JsonFormatter(), secrets, emit).splitlines()
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    assert [e["level"] for e in entries] == ["warning"] * 4 + ["error"]
    assert "hunter2" not in json.dumps(entries) and "DDTOKEN99" not in json.dumps(entries)
    assert "Traceback" in entries[-1]["exc"]


def test_redact_leaves_ordinary_text_alone() -> None:
    line = "crawl county-news: ok, 12 pages, 3 new posts (https://news.example.org/list.html?page=2)"
    assert redact(line) == line


def test_frozen_configuration_keeps_the_rules_it_was_given(tmp_path, monkeypatch) -> None:
    settings = _settings(tmp_path, monkeypatch)
    frozen = freeze(settings, tmp_path / "run" / "config", 1)

    # The copy points at the same database and keeps the secret as a reference, not its value.
    assert frozen.database_url() == settings.database_url()
    copy_text = (tmp_path / "run" / "config" / "1" / "settings.yaml").read_text(encoding="utf-8")
    assert "${SMTP_PASSWORD}" in copy_text and "hunter2" not in copy_text
    assert frozen.smtp.password == "hunter2-very-secret"

    # The operator breaks the rule file: the frozen configuration still loads the old, good rules.
    (tmp_path / "mine.yaml").write_text("topic: probe_topic\nrules: [\n", encoding="utf-8")
    ruleset = load_ruleset(frozen)
    assert [t.topic for t in ruleset.analyse("", "今天蓝鲸计划启动").topics] == ["probe_topic"]

    # The next good generation replaces it; the one before stays, older ones go.
    (tmp_path / "mine.yaml").write_text(RULES.format(word="白鲸行动"), encoding="utf-8")
    freeze(load_settings(str(tmp_path / "settings.yaml")), tmp_path / "run" / "config", 2)
    third = freeze(load_settings(str(tmp_path / "settings.yaml")), tmp_path / "run" / "config", 3)
    assert sorted(p.name for p in (tmp_path / "run" / "config").iterdir()) == ["2", "3"]
    assert [t.topic for t in load_ruleset(third).analyse("", "白鲸行动开始").topics] == ["probe_topic"]
