"""Drift webhooks (docs/architecture.md): three formats, HMAC signatures, one message per model.

Formats: the existing script's `{"event": "drift", "payload": {"p_val", "is_drift", ...}}`, an
Evidently-style summary `{"event": "drift", "source": "evidently", "payload": {...}}`, and
Evidently's own Report/TestSuite/snapshot JSON as exported (gateway/evidently.py).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError

from gateway.alertmanager import parse_timestamp
from gateway.errors import BadPayload, details_of
from gateway.incident_model import ActionRecord

MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


class _Lenient(BaseModel):
    # No NaN/Infinity (nor 1e999, which JSON parsers read as inf): the store's JSON codec
    # writes them as null and the next event for the model could not load its state.
    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)


# A drift event's time: RFC 3339 as Alertmanager writes it (`gateway.alertmanager`).
Timestamp = Annotated[datetime | None, BeforeValidator(parse_timestamp)]


class ScriptPayload(_Lenient):
    p_val: Annotated[float, Field(ge=0, le=1)]
    is_drift: bool
    timestamp: Timestamp = None
    model: str | None = None
    report_url: str | None = None


class ColumnPayload(_Lenient):
    column_name: str | None = None
    stattest_name: str = ""
    stattest_threshold: float | None = None
    drift_score: float
    drift_detected: bool


class EvidentlyPayload(_Lenient):
    model: str | None = None
    model_version: str | None = None
    timestamp: Timestamp = None
    dataset_drift: bool
    drift_share: float | None = None
    number_of_columns: int | None = None
    number_of_drifted_columns: int | None = None
    share_of_drifted_columns: Annotated[float, Field(ge=0, le=1)]
    drift_by_columns: dict[str, ColumnPayload] = Field(default_factory=dict)
    report_url: str | None = None


class ScriptBody(_Lenient):
    event: Literal["drift"]
    source: Literal["script"] | None = None
    payload: ScriptPayload


class EvidentlyBody(_Lenient):
    event: Literal["drift"]
    source: Literal["evidently"]
    payload: EvidentlyPayload


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    test: str
    threshold: float | None
    score: float
    detected: bool


@dataclass(frozen=True)
class DriftEvent:
    """One drift observation for one model, whichever format it came in."""

    model: str
    source: str
    detected: bool
    timestamp: datetime | None
    p_value: float | None = None
    share_drifted: float | None = None
    drifted_columns: int | None = None
    total_columns: int | None = None
    columns: tuple[ColumnDrift, ...] = ()
    model_version: str | None = None
    report_url: str | None = None


@dataclass(frozen=True)
class DriftIncident:
    """The living drift message of one model: repeated drift updates it instead of reposting."""

    model: str
    generation: int
    first_at: datetime
    last_at: datetime
    count: int
    latest: DriftEvent
    actions: tuple[ActionRecord, ...] = field(default=())

    @property
    def message_key(self) -> str:
        return f"drift:{self.model}:{self.generation}"

    def with_action(self, record: ActionRecord) -> DriftIncident:
        """This drift message with one more record of who did what."""
        return replace(self, actions=(*self.actions, record))


def parse_drift(body: bytes, *, model_param: str | None, default_model: str | None) -> DriftEvent:
    """Validate a drift body and resolve its model (payload.model, ?model=, default_model)."""
    from gateway import evidently  # it builds this module's DriftEvent

    try:
        raw = TypeAdapter(dict[str, Any]).validate_json(body)
        if evidently.is_export(raw):
            return evidently.parse_export(raw, _model(None, model_param, default_model))
        parsed: ScriptBody | EvidentlyBody = (
            EvidentlyBody.model_validate(raw)
            if raw.get("source") == "evidently"
            else ScriptBody.model_validate(raw)
        )
    except ValidationError as e:
        raise BadPayload("invalid drift webhook payload", [*details_of(e), *ACCEPTED]) from e
    model = _model(parsed.payload.model, model_param, default_model)
    if isinstance(parsed, EvidentlyBody):
        return _from_evidently(parsed.payload, model)
    p = parsed.payload
    return DriftEvent(
        model=model,
        source="script",
        detected=p.is_drift,
        timestamp=p.timestamp,
        p_value=p.p_val,
        report_url=p.report_url,
    )


# Said with every refused body: what is accepted and where it is described.
ACCEPTED = (
    'accepted: {"event": "drift", "payload": {"p_val", "is_drift"}} (a drift script), '
    '{"event": "drift", "source": "evidently", "payload": {"dataset_drift", '
    '"share_of_drifted_columns"}} (a summary), or an Evidently Report, TestSuite or '
    "snapshot JSON posted as exported, with ?model= (see README.md, Supported senders)",
)


def _model(named: str | None, model_param: str | None, default_model: str | None) -> str:
    """The event's model: the body's, else ?model=, else drift.default_model; a valid name."""
    model = named or model_param or default_model
    if not model:
        raise BadPayload(
            "drift event names no model",
            ["payload.model: field required (or pass ?model=, or set drift.default_model)"],
        )
    if not MODEL_NAME.match(model):
        raise BadPayload("invalid drift webhook payload", [f"model: invalid name {model[:80]!r}"])
    return model


def _from_evidently(p: EvidentlyPayload, model: str) -> DriftEvent:
    columns = tuple(
        ColumnDrift(
            column=c.column_name or name,
            test=c.stattest_name,
            threshold=c.stattest_threshold,
            score=c.drift_score,
            detected=c.drift_detected,
        )
        for name, c in p.drift_by_columns.items()
    )
    return DriftEvent(
        model=model,
        source="evidently",
        detected=p.dataset_drift,
        timestamp=p.timestamp,
        share_drifted=p.share_of_drifted_columns,
        drifted_columns=p.number_of_drifted_columns,
        total_columns=p.number_of_columns,
        columns=columns,
        model_version=p.model_version,
        report_url=p.report_url,
    )


def valid_signature(secret: str, body: bytes, header: str | None) -> bool:
    """`X-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`, compared in constant time."""
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header[len("sha256=") :].strip().lower())


def occurrence_key(event: DriftEvent, body: bytes) -> str:
    """Identity of one drift delivery: the same event re-sent is a repeat."""
    stamp = event.timestamp.isoformat() if event.timestamp else hashlib.sha256(body).hexdigest()
    return f"drift:{event.model}:{event.source}:{stamp}"


def fold(
    current: DriftIncident | None, event: DriftEvent, *, now: datetime, window: float
) -> DriftIncident:
    """Repeated drift within the dedup window updates the model's message; later, a new one."""
    if current is not None and (now - current.last_at).total_seconds() <= window:
        return replace(current, last_at=now, count=current.count + 1, latest=event)
    generation = 1 if current is None else current.generation + 1
    return DriftIncident(
        model=event.model, generation=generation, first_at=now, last_at=now, count=1, latest=event
    )


_CODEC: TypeAdapter[DriftIncident] = TypeAdapter(DriftIncident)


def dump_drift(incident: DriftIncident) -> str:
    return _CODEC.dump_json(incident).decode()


def load_drift(data: str) -> DriftIncident:
    return _CODEC.validate_json(data)
