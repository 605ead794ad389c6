"""The topic confirmation model (rules/confirm.py): what it withdraws, where it says so, how it is
turned off, and that a malformed model file is named with the key at fault."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from pathlib import Path

import pytest

from rules.confirm import SHIPPED, TopicModel, Withdrawal, char_features, describe
from rules.engine import RuleSet
from rules.explain import as_json, as_text
from rules.loading import PACK_DIR, build_ruleset, load_ruleset
from yuqing.cli import main
from yuqing.config import load_settings
from yuqing.errors import RuleError

# A compensation the village committee, as a body, holds (own example b3_002): collective assets by
# the development labeller's conventions, not village affairs; village.core fires on 村委会.
HELD_BY_THE_COMMITTEE = "补偿款打到村委会账上一年了，到现在还没分下来。"
# A village cadre's own conduct with the property: both topics, and the model keeps both.
CADRE_SOLD_IT = "村支书把集体土地低价租给亲戚，谁同意的？"


@pytest.fixture(scope="module")
def rules_alone() -> RuleSet:
    return build_ruleset(sorted(PACK_DIR.glob("*.yaml")), topic_model=False)


def test_the_shipped_model_withdraws_a_topic_the_conventions_leave_out(shipped: RuleSet, rules_alone: RuleSet) -> None:
    assert rules_alone.analyse("", HELD_BY_THE_COMMITTEE).topic_ids == ["collective_assets", "village_affairs"]
    a = shipped.analyse("", HELD_BY_THE_COMMITTEE)
    assert a.topic_ids == ["collective_assets"]
    (w,) = a.withdrawn
    assert (w.topic, w.rule_id) == ("village_affairs", "village.core")
    assert 0 <= w.probability < w.threshold == shipped.topic_model.threshold  # type: ignore[union-attr]
    assert w.reasons and all(r.rsplit(" ", 1)[1].startswith("-") for r in w.reasons)
    # The negativity is the learned model's either way (a rule fired), and the kept topic's severity unchanged.
    b = rules_alone.analyse("", HELD_BY_THE_COMMITTEE)
    assert (a.negative, a.negativity) == (b.negative, b.negativity) and a.topics[0] == b.topics[0]
    both = shipped.analyse("", CADRE_SOLD_IT)
    assert both.topic_ids == ["collective_assets", "village_affairs"] and not both.withdrawn


def test_analyse_and_explain_agree_and_the_withdrawal_survives_pickling(shipped: RuleSet) -> None:
    a = shipped.analyse("", HELD_BY_THE_COMMITTEE)
    assert shipped.explain("", HELD_BY_THE_COMMITTEE)[0] == a == shipped.explain("", HELD_BY_THE_COMMITTEE, segment_all=True)[0]
    assert pickle.loads(pickle.dumps(a)) == a and pickle.loads(pickle.dumps(a)).withdrawn == a.withdrawn


def _model(tmp_path: Path, **changes: object) -> Path:
    doc = json.loads(SHIPPED.read_text(encoding="utf-8"))
    doc.update(changes)
    path = tmp_path / "topic_model.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def test_a_topic_the_model_was_not_trained_on_is_never_withdrawn(make_rules: Callable[..., RuleSet], tmp_path: Path) -> None:
    # A model that withdraws everything it knows (a bias far below any threshold)...
    sceptic = TopicModel.from_file(_model(tmp_path, bias=-50.0))
    rs = make_rules("topic: mine\nrules:\n  - id: m\n    any: [低保]\n", "topic: village_affairs\nrules:\n  - id: v\n    any: [低保]\n")
    rs.topic_model = sceptic
    a = rs.analyse("", "低保名单公示了")
    # ...keeps the operator's own topic and withdraws the shipped one.
    assert a.topic_ids == ["mine"] and [w.topic for w in a.withdrawn] == ["village_affairs"]
    assert as_text("", "低保名单公示了", a, rs.explain("", "低保名单公示了")[1]).count("WITHDRAWN") == 1


def test_every_topic_withdrawn_leaves_a_post_with_no_topic_and_says_why(shipped: RuleSet, tmp_path: Path) -> None:
    rs = build_ruleset(sorted(PACK_DIR.glob("*.yaml")), topic_model=_model(tmp_path, bias=-50.0))
    a, firings = rs.explain("", CADRE_SOLD_IT)
    assert a.topics == () and {w.topic for w in a.withdrawn} == {"collective_assets", "village_affairs"} and firings
    text = as_text("", CADRE_SOLD_IT, a, firings)
    assert text.startswith("No topic: every topic the rules matched was withdrawn.")
    assert "Topic village_affairs: WITHDRAWN by the topic confirmation model" in text and "weighed against it:" in text
    doc = as_json(a, firings)
    assert doc["topics"] == [] and doc["severity"] is None
    assert {w["topic"] for w in doc["withdrawn"]} == {"collective_assets", "village_affairs"}
    assert all(w["probability"] < w["threshold"] and w["against"] for w in doc["withdrawn"])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"threshold": 1.5}, "threshold must lie between 0 and 1, not 1.5"),
        ({"window": -1}, "window must be 0 or more"),
        ({"features": [1, 2]}, "a value of the wrong type"),
        ({"bias": "high"}, "a value of the wrong type"),
        ({"thresold": 0.2}, "unknown key 'thresold'"),
    ],
)
def test_a_malformed_model_names_its_file_and_key(tmp_path: Path, changes: dict[str, object], message: str) -> None:
    path = _model(tmp_path, **changes)
    with pytest.raises(RuleError) as err:
        build_ruleset(sorted(PACK_DIR.glob("*.yaml")), topic_model=path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_a_model_file_that_is_not_json_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "topic_model.json"
    path.write_text('{\n"threshold": 0.2,\n"bias": oops\n}\n', encoding="utf-8")
    with pytest.raises(RuleError) as err:
        TopicModel.from_file(path)
    assert f"{path}:3:" in str(err.value) and "not JSON" in str(err.value)
    missing = tmp_path / "short.json"
    missing.write_text('{"threshold": 0.2}', encoding="utf-8")
    with pytest.raises(RuleError, match="missing key 'features'"):
        TopicModel.from_file(missing)


def test_settings_turn_it_off_and_the_command_line_can_too(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    base = f"database: sqlite:///{tmp_path / 'app.db'}\n"
    on, off = tmp_path / "on.yaml", tmp_path / "off.yaml"
    on.write_text(base, encoding="utf-8")
    off.write_text(base + "rules:\n  topic_model: false\n", encoding="utf-8")
    assert load_ruleset(load_settings(str(on))).topic_model is not None
    assert load_ruleset(load_settings(str(off))).topic_model is None

    def topics(*argv: str) -> tuple[list[str], list[str]]:
        assert main([*argv, "rules", "test", "--json", HELD_BY_THE_COMMITTEE]) == 0
        doc = json.loads(capsys.readouterr().out)
        return doc["topics"], [w["topic"] for w in doc["withdrawn"]]

    assert topics("--config", str(on)) == (["collective_assets"], ["village_affairs"])
    assert topics("--config", str(off)) == (["collective_assets", "village_affairs"], [])
    assert main(["--config", str(on), "rules", "test", "--no-topic-model", "--json", HELD_BY_THE_COMMITTEE]) == 0
    assert json.loads(capsys.readouterr().out)["topics"] == ["collective_assets", "village_affairs"]


def test_a_typo_in_the_setting_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(f"database: sqlite:///{tmp_path / 'app.db'}\nrules:\n  topic_modle: false\n", encoding="utf-8")
    with pytest.raises(Exception) as err:
        load_settings(str(path))
    assert "settings.yaml:3" in str(err.value) and "topic_modle" in str(err.value)


def test_features_and_their_descriptions() -> None:
    assert char_features(["村委会，12a"]) == {"村", "委", "会", "村委", "委会"}
    assert describe("ctx|village_affairs|账上") == "'账上' beside a word"
    assert describe("village_affairs|分") == "'分' in the post"
    assert describe("village_affairs|topics:2") == "topics matched 2"
    assert describe("word:village_affairs:村委会") == "word 村委会"
    assert describe("otherrule:village_affairs:assets.core") == "also rule assets.core"
    assert describe("neg:village_affairs:True") == "negative"
    w = Withdrawal("village_affairs", "village.core", 0.1, 0.2)
    assert w.reasons == ()


def test_backtest_says_which_topics_the_model_withdraws(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from yuqing.storage import MatchRow, PostRow, open_database

    settings = tmp_path / "settings.yaml"
    settings.write_text(
        f"database: sqlite:///{tmp_path / 'app.db'}\n"
        "units:\n  - id: nyj\n    name: 农业农村局\n    topics: [collective_assets, village_affairs]\n"
        "sources:\n  - id: bbs\n    kind: forum\n    start_urls: [https://bbs.example.org/]\n",
        encoding="utf-8",
    )
    db = open_database(f"sqlite:///{tmp_path / 'app.db'}")
    now = datetime.now(UTC)
    with db.session() as s:
        post = PostRow(source_id="bbs", url="https://bbs.example.org/t/1", title="", text=HELD_BY_THE_COMMITTEE, fetched_at=now - timedelta(hours=2))
        s.add(post)
        s.flush()
        # stored while the rules alone decided: both topics
        for topic, rule in (("collective_assets", "assets.compensation"), ("village_affairs", "village.core")):
            s.add(MatchRow(post_id=post.id, unit_id="nyj", topic=topic, rule_id=rule, severity="high", created_at=now))
    assert main(["--config", str(settings), "rules", "backtest", "--since", "1d"]) == 0
    out = capsys.readouterr().out
    assert "1 no longer matching" in out
    assert "- [village_affairs] https://bbs.example.org/t/1 (rule village.core fires; withdrawn by the topic model, probability 0." in out
    assert main(["--config", str(settings), "rules", "backtest", "--since", "1d", "--no-topic-model", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["unchanged"] == 1 and doc["no_longer_matching"] == []


def test_the_shipped_model_names_only_rules_and_topics_of_the_pack(shipped: RuleSet) -> None:
    """The model reads rules by id: a rule renamed or removed without retraining
    (`python -m bench.train_topics --out rules/topic_model.json`) would silently lose its weight."""
    model = TopicModel.shipped()
    assert model.topics == shipped.topics
    ids = {r.id for r in shipped.rules}
    named = {f.split(":", 1)[1] for f in model.weights if f.startswith("rule:")}
    named |= {f.split(":", 2)[2] for f in model.weights if f.startswith("otherrule:")}
    assert named and named <= ids, sorted(named - ids)


def test_the_readme_shows_what_rules_test_prints(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    readme = (PACK_DIR.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The topic confirmation model", 1)[1]
    shown = section.split("```\n", 2)[1].strip().splitlines()
    assert main(["--config", str(tmp_path / "none.yaml"), "rules", "test", HELD_BY_THE_COMMITTEE]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert len(shown) == 2 and all(line in printed for line in shown), (shown, printed)


def test_review_sums_exactly_the_weights_of_the_features_the_trainer_reads(rules_alone: RuleSet) -> None:
    """`review` adds the weights up without naming the features; on every own example the rules
    match, each topic's probability must be the trainer's to the last bit, and so its verdict."""
    from rules.confirm import _evidence, features
    from rules.engine import _scan

    model = TopicModel.shipped()
    pairs = 0
    for line in (Path(__file__).parent / "data" / "own_labelled.jsonl").open(encoding="utf-8"):
        post = json.loads(line)
        title, text = post.get("title", ""), post["text"]
        a = rules_alone.analyse(title, text)
        grams = model._grams_in(_scan(rules_alone, title)[0] + "\x00" + _scan(rules_alone, text)[0])  # as review finds them
        for m in a.topics:
            named = features(m.topic, a.topics, a.negative, title, text, rules_alone.normaliser, model.window)
            summed = model._probability_of(m.topic, *_evidence(m.topic, a.topics, a.negative, title, text, rules_alone.normaliser, model.window), grams)
            assert summed == model.probability(named), (post["id"], m.topic)
            pairs += 1
    assert pairs > 1500


def test_rules_check_says_whether_the_model_is_on(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    mine = tmp_path / "mine.yaml"
    mine.write_text("topic: mine\nrules:\n  - id: m\n    any: [危房改造]\n", encoding="utf-8")
    on = tmp_path / "on.yaml"
    on.write_text(f"database: sqlite:///{tmp_path / 'app.db'}\nrules:\n  paths: [mine.yaml]\n", encoding="utf-8")
    assert main(["--config", str(on), "rules", "check"]) == 0
    assert "topic confirmation model: on for 6 topics (threshold 0.2); never withdraws mine" in capsys.readouterr().out
    off = tmp_path / "off.yaml"
    off.write_text(f"database: sqlite:///{tmp_path / 'app.db'}\nrules:\n  topic_model: false\n", encoding="utf-8")
    assert main(["--config", str(off), "rules", "check", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["topic_model"] is None


def test_the_shipped_model_is_what_the_trainer_makes_of_the_pack_and_the_data(tmp_path: Path, rules_alone: RuleSet) -> None:
    """rules/topic_model.json must be `python -m bench.train_topics --out rules/topic_model.json` run on
    the repository as it stands: a change to the rules or to the training sets without a retrain fails
    here. Compared by what matters, not by bytes (a BLAS elsewhere may round a weight differently):
    the same features, weights within 0.01, and the same withdrawals on the own examples."""
    from bench import train_topics
    from bench.rules_quality import DEV

    if not DEV.exists():
        pytest.skip(f"{DEV} is not present: the model is trained beside the labelled corpus")
    out = tmp_path / "topic_model.json"
    assert train_topics.main(["--no-cv", "--out", str(out)]) == 0
    fresh, shipped = TopicModel.from_file(out), TopicModel.shipped()
    assert (fresh.threshold, fresh.window, fresh.topics) == (shipped.threshold, shipped.window, shipped.topics)
    assert fresh.weights.keys() == shipped.weights.keys(), "retrain: python -m bench.train_topics --out rules/topic_model.json"
    assert abs(fresh.bias - shipped.bias) < 0.01 and all(abs(fresh.weights[f] - w) < 0.01 for f, w in shipped.weights.items())
    for line in (Path(__file__).parent / "data" / "own_labelled.jsonl").open(encoding="utf-8"):
        text = json.loads(line)["text"]
        a = rules_alone.analyse("", text)
        ours = fresh.review(a.topics, a.negative, "", text, rules_alone.normaliser)[0]
        assert ours == shipped.review(a.topics, a.negative, "", text, rules_alone.normaliser)[0], text
