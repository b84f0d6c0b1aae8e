"""MLflow webhook deliveries: the signature as MLflow computes it, and the bodies it sends
(tests/fixtures/mlflow/deliveries.jsonl, captured from a real mlflow server)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.errors import BadPayload, Unauthorized
from gateway.mlflow import RegistryEventKind, parse_registry_event, verify_delivery
from tests.fakes.fixtures import fixture_bytes

SECRET = "s3cret"


def deliveries() -> list[dict[str, Any]]:
    lines = fixture_bytes("mlflow/deliveries.jsonl").decode().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.mark.parametrize(
    "delivery", deliveries(), ids=lambda d: d["headers"]["X-MLflow-Delivery-Id"]
)
def test_real_deliveries_verify(delivery: dict[str, Any]) -> None:
    headers, body = delivery["headers"], delivery["body"].encode()
    now = float(headers["X-MLflow-Timestamp"])
    assert (
        verify_delivery(SECRET, headers=headers, body=body, now=now)
        == (headers["X-MLflow-Delivery-Id"])
    )


def _first() -> tuple[dict[str, str], bytes, float]:
    delivery = deliveries()[0]
    headers = delivery["headers"]
    return headers, delivery["body"].encode(), float(headers["X-MLflow-Timestamp"])


@pytest.mark.parametrize(
    "change",
    [
        lambda h, b: (h, b + b" "),  # body changed
        lambda h, b: ({**h, "X-MLflow-Delivery-Id": "other"}, b),  # another delivery's id
        lambda h, b: ({**h, "X-MLflow-Signature": "v1,AAAA"}, b),
        lambda h, b: ({**h, "X-MLflow-Signature": "v1,é☃"}, b),  # odd bytes: refused, no crash
        lambda h, b: ({k: v for k, v in h.items() if k != "X-MLflow-Signature"}, b),
        lambda h, b: ({**h, "X-MLflow-Timestamp": "soon"}, b),
        lambda h, b: ({**h, "X-MLflow-Timestamp": "\uff11\uff12\uff13"}, b),  # fullwidth digits
    ],
)
def test_tampered_or_unsigned_deliveries_are_refused(change: Any) -> None:
    headers, body, now = _first()
    headers, body = change(headers, body)
    with pytest.raises(Unauthorized):
        verify_delivery(SECRET, headers=headers, body=body, now=now)


def test_wrong_secret_and_stale_timestamp_are_refused() -> None:
    headers, body, now = _first()
    with pytest.raises(Unauthorized):
        verify_delivery("other-secret", headers=headers, body=body, now=now)
    with pytest.raises(Unauthorized, match="5 minutes"):
        verify_delivery(SECRET, headers=headers, body=body, now=now + 301)
    with pytest.raises(Unauthorized, match="5 minutes"):
        verify_delivery(SECRET, headers=headers, body=body, now=now - 301)
    assert verify_delivery(SECRET, headers=headers, body=body, now=now + 299)


def test_captured_bodies_parse_to_typed_events() -> None:
    events = [parse_registry_event(d["body"].encode()) for d in deliveries()]
    assert [e.kind for e in events] == [
        RegistryEventKind.VERSION_CREATED,
        RegistryEventKind.ALIAS_CREATED,
        RegistryEventKind.VERSION_CREATED,
        RegistryEventKind.ALIAS_CREATED,
        RegistryEventKind.ALIAS_DELETED,
    ]
    created = events[2]
    assert (created.name, created.version) == ("fraud-detector", "2")
    assert created.run_id == "d5b7f940e6d8476b95ab94bafed75ef8"
    assert dict(created.tags) == {"team": "fraud"}
    assert (events[3].alias, events[3].version) == ("champion", "2")
    assert (events[4].alias, events[4].version) == ("champion", None)


def test_other_events_are_typed_as_other() -> None:
    body = {"entity": "prompt", "action": "created", "data": {"name": "p"}}
    assert parse_registry_event(json.dumps(body).encode()).kind is RegistryEventKind.OTHER


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", ""),
        (b'{"entity": "model_version", "action": "created"}', "data"),
        (b'{"entity": "model_version", "action": "created", "data": {"version": "1"}}', "name"),
        (b'{"entity": "model_version", "action": "created", "data": {"name": "m"}}', "version"),
        (
            b'{"entity": "model_version_alias", "action": "created",'
            b' "data": {"name": "m", "version": "1"}}',
            "alias",
        ),
    ],
)
def test_bad_bodies_name_the_field(body: bytes, field: str) -> None:
    with pytest.raises(BadPayload) as err:
        parse_registry_event(body)
    assert any(field in d for d in err.value.details)
