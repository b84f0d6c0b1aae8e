"""Inbound rules (docs/security.md): 401/400/413/405 as JSON, nothing posted; health and metrics."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
from typing import Any

import pytest

from tests.fakes.app import DRIFT_SECRET, WEBHOOK_TOKEN, bearer, outbox_drained
from tests.fakes.slack import FakeSlack


def sign(body: bytes, secret: str = DRIFT_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Basic {WEBHOOK_TOKEN}"},
        {"Authorization": f"Bearer {WEBHOOK_TOKEN}x"},
    ],
    ids=["missing", "wrong", "wrong-scheme", "longer"],
)
async def test_bad_or_missing_token_is_401(
    make_app: Any, fake_slack: FakeSlack, am_fixture: Any, headers: dict[str, str]
) -> None:
    client = await make_app()
    response = await client.post(
        "/webhooks/alertmanager", data=am_fixture("api_firing_single-alert"), headers=headers
    )
    assert response.status == 401
    assert (await response.json())["error"] == "unauthorized"
    await asyncio.sleep(0.2)
    assert fake_slack.calls("chat.postMessage") == []


@pytest.mark.parametrize(
    ("body", "expected_detail"),
    [
        (b"this is not json", "(body): not valid JSON"),
        (b"[]", "(body)"),
        (b'{"alerts": "x"}', "groupKey: field required"),
        (
            b'{"status":"firing","groupKey":"g","alerts":[{"status":"burning","labels":{},'
            b'"startsAt":"2026-11-22T19:42:42.181Z"}]}',
            "alerts.0.status",
        ),
        (
            b'{"status":"firing","groupKey":"g","alerts":[{"status":"firing","labels":{},'
            b'"startsAt":"yesterday"}]}',
            "alerts.0.startsAt",
        ),
        (b'{"status":"firing","groupKey":"g","alerts":[],"version":"3"}', "version"),
    ],
    ids=["not-json", "array", "missing-fields", "bad-status", "bad-time", "bad-version"],
)
async def test_bad_alertmanager_body_is_400_naming_the_field(
    make_app: Any, fake_slack: FakeSlack, body: bytes, expected_detail: str
) -> None:
    client = await make_app()
    response = await client.post("/webhooks/alertmanager", data=body, headers=bearer())
    assert response.status == 400
    payload = await response.json()
    assert payload["error"]
    assert any(expected_detail in d for d in payload["details"]), payload
    assert "Traceback" not in json.dumps(payload)
    await asyncio.sleep(0.1)
    assert fake_slack.calls("chat.postMessage") == []


async def test_body_over_one_mebibyte_is_413(make_app: Any, fake_slack: FakeSlack) -> None:
    client = await make_app()
    big = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    response = await client.post("/webhooks/drift", data=io.BytesIO(big), headers=bearer())
    assert response.status == 413
    assert (await response.json())["error"] == "payload too large"
    # a whole alert group may be larger (up to 16 MiB): this one is read, and refused as a shape
    response = await client.post("/webhooks/alertmanager", data=io.BytesIO(big), headers=bearer())
    assert response.status == 400
    assert fake_slack.calls("chat.postMessage") == []


async def test_chunked_body_over_limit_is_413(make_app: Any) -> None:
    client = await make_app()

    async def chunks() -> Any:
        for _ in range(20):
            yield b"x" * 100_000

    response = await client.post("/webhooks/drift", data=chunks(), headers=bearer())
    assert response.status == 413


@pytest.mark.parametrize("path", ["/webhooks/alertmanager", "/webhooks/drift", "/drift-webhook"])
async def test_wrong_method_is_405_json(make_app: Any, path: str) -> None:
    client = await make_app()
    response = await client.get(path)
    assert response.status == 405
    assert (await response.json())["error"] == "method not allowed"
    assert "POST" in response.headers.get("Allow", "")


async def test_unknown_path_is_404_json(make_app: Any) -> None:
    client = await make_app()
    response = await client.get("/nope")
    assert response.status == 404
    assert (await response.json())["error"] == "not found"


async def test_health_ready_and_metrics(
    make_app: Any, fake_slack: FakeSlack, am_fixture: Any
) -> None:
    client = await make_app()
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200
    body = am_fixture("api_firing_single-alert")
    await client.post("/webhooks/alertmanager", data=body, headers=bearer())
    await client.post("/webhooks/alertmanager", data=body, headers=bearer())
    await client.post("/webhooks/alertmanager", data=b"nope", headers=bearer())
    await outbox_drained(client)
    text = await (await client.get("/metrics")).text()
    assert 'chatops_webhooks_received_total{outcome="accepted",source="alertmanager"} 1.0' in text
    assert 'chatops_webhooks_received_total{outcome="duplicate",source="alertmanager"} 1.0' in text
    assert 'chatops_webhooks_received_total{outcome="invalid",source="alertmanager"} 1.0' in text
    assert 'chatops_notifications_deduplicated_total{source="alertmanager"} 1.0' in text
    assert 'chatops_slack_requests_total{method="chat.postMessage",outcome="ok"} 1.0' in text
    assert "chatops_outbox_pending" in text
    assert "chatops_webhook_duration_seconds_bucket" in text


async def test_request_id_is_echoed(make_app: Any) -> None:
    client = await make_app()
    response = await client.get("/healthz", headers={"X-Request-Id": "abc123"})
    assert response.headers["X-Request-Id"] == "abc123"


async def test_a_request_without_an_id_gets_a_new_unique_one(make_app: Any) -> None:
    client = await make_app()
    ids = [(await client.get("/healthz")).headers["X-Request-Id"] for _ in range(3)]
    assert len(set(ids)) == 3
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


class TestDriftAuth:
    async def test_signed_drift_without_bearer_is_accepted(
        self, make_app: Any, fake_slack: FakeSlack, drift_fixture: Any
    ) -> None:
        client = await make_app(chatops_drift_secret=DRIFT_SECRET)
        body = drift_fixture("drift-script_event-drift")
        response = await client.post(
            "/drift-webhook", data=body, headers={"X-Signature-256": sign(body)}
        )
        assert response.status == 202
        await fake_slack.wait_for(lambda f: len(f.calls("chat.postMessage")) == 1)

    async def test_bad_signature_is_401_even_with_bearer(
        self, make_app: Any, fake_slack: FakeSlack, drift_fixture: Any
    ) -> None:
        client = await make_app(chatops_drift_secret=DRIFT_SECRET)
        body = drift_fixture("drift-script_event-drift")
        headers = {**bearer(), "X-Signature-256": sign(body, "other-secret")}
        response = await client.post("/webhooks/drift", data=body, headers=headers)
        assert response.status == 401

    async def test_unsigned_drift_needs_bearer_when_secret_set(
        self, make_app: Any, fake_slack: FakeSlack, drift_fixture: Any
    ) -> None:
        client = await make_app(chatops_drift_secret=DRIFT_SECRET)
        body = drift_fixture("drift-script_event-drift")
        assert (await client.post("/webhooks/drift", data=body)).status == 401
        response = await client.post("/webhooks/drift", data=body, headers=bearer())
        assert response.status == 202

    async def test_signature_over_modified_body_is_401(
        self, make_app: Any, drift_fixture: Any
    ) -> None:
        client = await make_app(chatops_drift_secret=DRIFT_SECRET)
        body = drift_fixture("drift-script_event-drift")
        tampered = body.replace(b"0.001", b"0.002")
        response = await client.post(
            "/webhooks/drift", data=tampered, headers={"X-Signature-256": sign(body)}
        )
        assert response.status == 401

    async def test_drift_without_any_model_is_400(self, make_app: Any, drift_fixture: Any) -> None:
        client = await make_app(config={"slack": {"default_channel": "#x"}})
        body = drift_fixture("drift-script_event-drift")
        response = await client.post("/webhooks/drift", data=body, headers=bearer())
        assert response.status == 400
        assert "payload.model" in (await response.json())["details"][0]
