"""Promotion cards: metric comparison by direction, champion moves, the rendered card."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

from gateway.incident_model import ActionRecord
from gateway.promotions import (
    CardStatus,
    MetricRow,
    PromotionCard,
    Verdict,
    became_champion,
    compare,
    dump_card,
    load_card,
    lost_champion,
    promoted_from_slack,
    with_record,
)
from gateway.render import render_promotion


def test_verdict_follows_the_metric_direction() -> None:
    assert MetricRow("auc", "max", 0.93, 0.91).verdict is Verdict.BETTER
    assert MetricRow("auc", "max", 0.90, 0.91).verdict is Verdict.WORSE
    assert MetricRow("latency_ms", "min", 40, 45).verdict is Verdict.BETTER
    assert MetricRow("latency_ms", "min", 50, 45).verdict is Verdict.WORSE
    assert MetricRow("auc", "max", 0.9, 0.9).verdict is Verdict.SAME
    assert MetricRow("auc", "max", None, 0.9).verdict is Verdict.UNKNOWN
    assert MetricRow("auc", "max", 0.9, None).verdict is Verdict.UNKNOWN


def test_compare_keeps_config_order_and_drops_non_finite_values() -> None:
    rows = compare({"b": "min", "a": "max"}, {"a": 1.0, "b": float("nan")}, {"a": 0.5})
    assert [r.name for r in rows] == ["b", "a"]
    assert rows[0].value is None
    assert rows[1].verdict is Verdict.BETTER
    assert all(r.champion is None for r in compare({"a": "max"}, {"a": 1.0}, None))


CARD = PromotionCard(
    model="fraud-detector",
    registered_name="fraud-detector",
    version="2",
    run_id="r2",
    run_name="bald-worm-188",
    run_link="http://mlflow.example/#/experiments/0/runs/r2",
    tags=(("team", "fraud"),),
    champion_version="1",
    metrics=(MetricRow("auc", "max", 0.93, 0.91), MetricRow("latency_ms", "min", 45.0, 40.0)),
)


def test_card_round_trips_through_its_stored_form() -> None:
    assert load_card(dump_card(CARD)) == CARD


def test_champion_moves() -> None:
    crowned = became_champion(CARD, "now champion, set in MLflow")
    assert crowned.status is CardStatus.CHAMPION
    assert became_champion(crowned, "again") is crowned
    replaced = lost_champion(crowned, "champion alias moved to v3 in MLflow")
    assert replaced.status is CardStatus.REPLACED
    assert replaced.notes[-1] == "champion alias moved to v3 in MLflow"
    assert lost_champion(CARD, "x").status is CardStatus.CANDIDATE


def test_rendered_card_compares_with_the_champion() -> None:
    rendered = render_promotion(CARD)
    text = json.dumps(rendered.blocks, ensure_ascii=False)
    assert "New version: fraud-detector v2" in text
    assert "Compared with champion v1" in text
    assert "✅ `auc` ↑ *0.93* vs 0.91 (v1), +0.02" in text
    assert "⚠️ `latency_ms` ↓ *45* vs 40 (v1), +5" in text
    assert "<http://mlflow.example/#/experiments/0/runs/r2|bald-worm-188>" in text
    assert "`team`=team" not in text
    assert "`team`=fraud" in text
    assert rendered.text.endswith("(1 better, 1 worse)")


def test_rendered_card_without_champion_or_metrics_says_so() -> None:
    lonely = replace(CARD, champion_version=None, metrics=(MetricRow("auc", "max", 0.9, None),))
    text = json.dumps(render_promotion(lonely).blocks, ensure_ascii=False)
    assert "No champion yet" in text
    assert "vs" not in text
    problem = replace(CARD, metrics=(), problem="metrics unavailable: MLflow did not answer")
    text = json.dumps(render_promotion(problem).blocks, ensure_ascii=False)
    assert "metrics unavailable: MLflow did not answer" in text
    assert "No metrics configured" in text


def test_card_text_is_escaped() -> None:
    hostile = replace(CARD, tags=(("<!channel>", "<http://evil|x>"),), run_name="<!here>")
    text = json.dumps(render_promotion(hostile).blocks)
    assert "<!channel>" not in text
    assert "<!here>" not in text
    assert "<http://evil" not in text


def _action_ids(card: PromotionCard) -> list[str]:
    blocks = render_promotion(card).blocks
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


def test_only_an_undismissed_candidate_has_promote_and_dismiss() -> None:
    card = PromotionCard(model="fraud-detector", registered_name="fraud-detector", version="7")
    assert _action_ids(card) == ["chatops.promote", "chatops.dismiss"]
    value = json.loads(render_promotion(card).blocks[-1]["elements"][0]["value"])
    assert value == {"k": "promotion:fraud-detector:7", "m": "fraud-detector"}
    at = datetime(2026, 12, 3, tzinfo=UTC)
    dismissed = with_record(card, ActionRecord("U0ML", "chatops.dismiss", at))
    assert _action_ids(dismissed) == []
    assert "Dismissed by <@U0ML>" in json.dumps(render_promotion(dismissed).blocks)
    champion = promoted_from_slack(card, "promoted", requested_by="U0R", approved_by=("U0A",))
    assert _action_ids(champion) == []
    shown = json.dumps(render_promotion(champion).blocks)
    assert "request of <@U0R>, approved by <@U0A>" in shown
    assert load_card(dump_card(champion)) == champion
    assert load_card(dump_card(dismissed)) == dismissed
