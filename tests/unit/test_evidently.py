"""Evidently exports to drift events: the shapes' corners (tests/fixtures/evidently/README.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.drift import parse_drift
from gateway.errors import BadPayload
from tests.fakes.fixtures import fixture_json


def parsed(body: Any, model: str = "m") -> Any:
    return parse_drift(json.dumps(body).encode(), model_param=model, default_model=None)


def metric(name: str, value: Any) -> dict[str, Any]:
    """One metric of a 0.7 snapshot in its later form (`metric_name`, no `config`)."""
    return {"id": name[:8], "metric_name": name, "value": value}


def test_a_column_evidently_could_not_score_is_left_out() -> None:
    body = fixture_json("evidently/legacy-report_data-drift-preset_drift.json")
    table = body["metrics"][1]["result"]["drift_by_columns"]
    table["country"]["drift_score"] = float("nan")
    event = parse_drift(
        json.dumps(body).encode(), model_param="m", default_model=None
    )  # json.dumps writes NaN, as Evidently's json() does
    assert "country" not in {c.column for c in event.columns}
    assert (event.drifted_columns, event.total_columns) == (3, 5), "the summary is Evidently's"


def test_a_snapshot_is_read_from_metric_names_when_there_is_no_config() -> None:
    body = {
        "metrics": [
            metric("DriftedColumnsCount(drift_share=0.3)", {"count": 1.0, "share": 0.5}),
            metric("ValueDrift(column=city, state,method=psi,threshold=0.2)", 0.25),
            metric("ValueDrift(column=age,method=K-S p_value,threshold=0.05)", 0.2),
        ],
        "tests": [],
    }
    event = parsed(body)
    assert event.detected, "0.5 of the columns is over the drift_share of 0.3"
    columns = {c.column: c for c in event.columns}
    assert columns["city, state"].detected, "a distance at or over its threshold"
    assert columns["city, state"].test == "psi"
    assert not columns["age"].detected, "a p-value over its threshold"
    assert (event.drifted_columns, event.total_columns) == (1, 2)


def test_value_drifts_alone_decide_by_their_columns() -> None:
    body = {"metrics": [metric("ValueDrift(column=age,method=K-S p_value,threshold=0.05)", 0.001)]}
    event = parsed(body)
    assert event.detected
    assert event.share_drifted == 1.0


def test_a_test_suite_without_failures_is_no_drift() -> None:
    body = fixture_json("evidently/legacy-test-suite_data-drift-test-preset_drift.json")
    for test in body["tests"]:
        test["status"] = "SUCCESS"
    assert not parsed(body).detected


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"metrics": [{"metric": "ColumnSummaryMetric", "result": {}}]}, "no data drift result"),
        ({"tests": [{"name": "Missing Values", "status": "FAIL"}]}, "no data drift test"),
        (
            {"metrics": [{"id": "x", "metric_id": "RowCount()", "value": 10}]},
            "no data drift metric",
        ),
        (
            {"metrics": [{"metric_id": "DriftedColumnsCount()", "value": {"count": "many"}}]},
            "invalid Evidently export",
        ),
        (
            {"metrics": [metric("DriftedColumnsCount()", {"count": 3, "share": 1.5})]},
            "invalid Evidently export",
        ),
        (
            {"metrics": [{"metric": "DatasetDriftMetric", "result": {"dataset_drift": "maybe"}}]},
            "invalid Evidently export",
        ),
    ],
)
def test_an_export_without_usable_drift_is_refused(body: dict[str, Any], error: str) -> None:
    with pytest.raises(BadPayload) as e:
        parsed(body)
    assert e.value.message.startswith(error)


def test_an_export_needs_a_model() -> None:
    body = fixture_json("evidently/snapshot-0.7_data-drift-preset_drift.json")
    with pytest.raises(BadPayload) as e:
        parse_drift(json.dumps(body).encode(), model_param=None, default_model=None)
    assert "?model=" in e.value.details[0]
