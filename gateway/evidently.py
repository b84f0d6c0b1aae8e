"""Evidently's own JSON exports, posted as-is to the drift webhook (no envelope).

Three shapes, told apart by their keys (tests/fixtures/evidently/README.md says where each
comes from in Evidently's code):

- a legacy `Report.json()` / `as_dict()` (Evidently 0.4-0.6, `evidently.legacy` in 0.7):
  `{"version"?, "metrics": [{"metric": "DataDriftTable" | "DatasetDriftMetric", "result": …}]}`;
- a legacy `TestSuite.json()` / `as_dict()`: `{"version"?, "tests": [{"name", "status",
  "group", "parameters"}], "summary": …}`, whose data drift tests carry per-column
  `{stattest, score, threshold, detected}`;
- a 0.7 `Snapshot.json()` / `dict()` (what `Report.run()` returns): `{"metrics": [{"id",
  "metric_id" | "metric_name", "config"?, "value"}], "tests": […]}` with `DriftedColumnsCount`
  (value `{count, share}`) and one `ValueDrift` per column (value: the column's score).

Each becomes the gateway's `DriftEvent`; the model comes from the caller (`?model=`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.drift import ColumnDrift, DriftEvent
from gateway.errors import BadPayload, details_of

_DRIFT_METRICS = ("DataDriftTable", "DatasetDriftMetric")
_FAILED = ("FAIL", "WARNING")  # WARNING: a failed test marked not critical
_PARAM = re.compile(r",(?=\s*\w+=)")


class _Lenient(BaseModel):
    # Evidently's json() writes NaN for a score it could not compute: such a column is left out
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Column(_Lenient):
    column_name: str | None = None
    stattest_name: str = ""
    stattest_threshold: float | None = None
    drift_score: float
    drift_detected: bool


class _Result(_Lenient):
    """`DataDriftTable`'s result (with `drift_by_columns`) or `DatasetDriftMetric`'s."""

    drift_share: float | None = None
    number_of_columns: int
    number_of_drifted_columns: int
    share_of_drifted_columns: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
    dataset_drift: bool
    drift_by_columns: dict[str, _Column] = Field(default_factory=dict)


class _TestColumn(_Lenient):
    stattest: str = ""
    score: float
    threshold: float | None = None
    detected: bool
    column_name: str | None = None


class _Test(_Lenient):
    name: str = ""
    status: str
    parameters: dict[str, Any] | None = None


class _Item(_Lenient):
    """One metric of a 0.7 snapshot."""

    metric_id: str = ""
    metric_name: str = ""
    config: dict[str, Any] = Field(default_factory=dict)
    value: Any = None

    @property
    def kind(self) -> str:
        """`ValueDrift`, from `config.type` (`evidently:metric_v2:ValueDrift`) or the id."""
        kind = self.config.get("type")
        if isinstance(kind, str) and kind:
            return kind.rsplit(":", 1)[-1]
        return (self.metric_name or self.metric_id).split("(", 1)[0].strip()

    @property
    def params(self) -> dict[str, Any]:
        """`config` when it is there, else the `k=v` pairs of `ValueDrift(column=a,...)`."""
        if self.config:
            return self.config
        name = self.metric_name or self.metric_id
        inner = name[name.find("(") + 1 : name.rfind(")")] if "(" in name else ""
        pairs = (p.partition("=") for p in _PARAM.split(inner) if "=" in p)
        return {k.strip(): v.strip() for k, _, v in pairs}


def is_export(raw: Mapping[str, Any]) -> bool:
    """An Evidently export rather than our envelope (which has `event`)."""
    return "event" not in raw and isinstance(raw.get("metrics", raw.get("tests")), list)


def parse_export(raw: Mapping[str, Any], model: str) -> DriftEvent:
    """The drift event of an Evidently export; BadPayload naming what is missing."""
    try:
        metrics = raw.get("metrics") or []
        if any(isinstance(m, dict) and "result" in m for m in metrics):
            return _from_legacy_report(metrics, model)
        if metrics:
            return _from_snapshot([_Item.model_validate(m) for m in metrics], model)
        return _from_legacy_tests([_Test.model_validate(t) for t in raw.get("tests") or []], model)
    except ValidationError as e:
        raise BadPayload("invalid Evidently export", details_of(e)) from e


def _from_legacy_report(metrics: list[Any], model: str) -> DriftEvent:
    results = {
        m.get("metric"): _Result.model_validate(m.get("result"))
        for m in metrics
        if isinstance(m, dict) and m.get("metric") in _DRIFT_METRICS
    }
    if not results:
        raise BadPayload(
            "no data drift result in this Evidently report",
            ["metrics: expected a DataDriftTable or DatasetDriftMetric (DataDriftPreset has both)"],
        )
    summary = results.get("DatasetDriftMetric") or results["DataDriftTable"]
    table = results.get("DataDriftTable")
    columns = tuple(
        ColumnDrift(c.column_name or name, c.stattest_name, _finite(c.stattest_threshold),
                    c.drift_score, c.drift_detected)
        for name, c in (table.drift_by_columns.items() if table else ())
        if math.isfinite(c.drift_score)
    )  # fmt: skip
    return DriftEvent(
        model=model,
        source="evidently",
        detected=summary.dataset_drift,
        timestamp=None,
        share_drifted=summary.share_of_drifted_columns,
        drifted_columns=summary.number_of_drifted_columns,
        total_columns=summary.number_of_columns,
        columns=columns,
    )


def _from_legacy_tests(tests: list[_Test], model: str) -> DriftEvent:
    """Share/number-of-drifted-columns tests (their `features`) and per-column drift tests."""
    columns: dict[str, ColumnDrift] = {}
    dataset_tests, column_tests = [], []
    for test in tests:
        params = test.parameters or {}
        if isinstance(params.get("features"), dict):
            dataset_tests.append(test)
            for name, value in params["features"].items():
                columns[name] = _test_column(_TestColumn.model_validate(value), name)
        elif {"score", "detected"} <= params.keys():
            column_tests.append(test)
            column = _TestColumn.model_validate(params)
            name = column.column_name or test.name
            columns[name] = _test_column(column, name)
    if not dataset_tests and not column_tests:
        raise BadPayload(
            "no data drift test in this Evidently test suite",
            ["tests: expected TestShareOfDriftedColumns, TestNumberOfDriftedColumns or "
             "TestColumnDrift (DataDriftTestPreset has them)"],
        )  # fmt: skip
    decisive = dataset_tests or column_tests
    kept = tuple(c for c in columns.values() if math.isfinite(c.score))
    drifted = sum(c.detected for c in kept)
    return DriftEvent(
        model=model,
        source="evidently",
        detected=any(t.status.upper() in _FAILED for t in decisive),
        timestamp=None,
        share_drifted=drifted / len(kept) if kept else None,
        drifted_columns=drifted,
        total_columns=len(kept),
        columns=kept,
    )


def _test_column(column: _TestColumn, name: str) -> ColumnDrift:
    threshold = _finite(column.threshold)
    return ColumnDrift(name, column.stattest, threshold, column.score, column.detected)


def _from_snapshot(items: list[_Item], model: str) -> DriftEvent:
    """`DriftedColumnsCount` decides (share >= its drift_share); `ValueDrift`s are columns."""
    columns = tuple(c for c in (_value_drift(i) for i in items if i.kind == "ValueDrift") if c)
    count = next((i for i in items if i.kind == "DriftedColumnsCount"), None)
    if count is None and not columns:
        raise BadPayload(
            "no data drift metric in this Evidently snapshot",
            ["metrics: expected DriftedColumnsCount or ValueDrift (DataDriftPreset has them)"],
        )
    drifted = sum(c.detected for c in columns)
    share = drifted / len(columns) if columns else None
    detected = drifted > 0
    if count is not None:
        value = count.value if isinstance(count.value, dict) else {}
        drifted = int(_number(value.get("count"), "DriftedColumnsCount.value.count"))
        share = _number(value.get("share"), "DriftedColumnsCount.value.share")
        if drifted < 0 or not 0 <= share <= 1:
            raise BadPayload(
                "invalid Evidently export",
                ["DriftedColumnsCount.value: count must be >= 0 and share within 0..1"],
            )
        threshold = _number(count.params.get("drift_share", 0.5), "drift_share")
        detected = share >= threshold
    return DriftEvent(
        model=model,
        source="evidently",
        detected=detected,
        timestamp=None,
        share_drifted=share,
        drifted_columns=drifted,
        total_columns=round(drifted / share) if share else len(columns) or None,
        columns=columns,
    )


def _value_drift(item: _Item) -> ColumnDrift | None:
    """One column's drift: score vs threshold (below for a p-value, at or above otherwise)."""
    params = item.params
    score, column = item.value, params.get("column")
    if isinstance(score, bool) or not isinstance(score, int | float) or not column:
        return None
    if not math.isfinite(score):
        return None
    method = str(params.get("method") or "")
    p_value = "p_value" in method or "p-value" in method
    threshold = _finite(_maybe_number(params.get("threshold")))
    limit = threshold if threshold is not None else (0.05 if p_value else 0.1)
    detected = score < limit if p_value else score >= limit
    return ColumnDrift(str(column), method, threshold, float(score), detected)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _maybe_number(value: object) -> float | None:
    try:
        return float(value) if isinstance(value, int | float | str) else None
    except ValueError:
        return None


def _number(value: object, where: str) -> float:
    number = _maybe_number(value)
    if number is None or not math.isfinite(number) or isinstance(value, bool):
        raise BadPayload("invalid Evidently export", [f"{where}: expected a number"])
    return number
