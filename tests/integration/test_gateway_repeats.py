"""Re-sends answered before full validation; the store touched only for what changed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import gateway.routes
from gateway import alertmanager, intake
from gateway.alertmanager import AlertmanagerPayload
from gateway.options import GatewayOptions, Outcome
from gateway.service import Gateway
from slackio.metrics import Metrics
from storage import MessageUpdate
from storage.sqlite import SqliteStore
from tests.fakes.app import bearer, outbox_drained
from tests.fakes.service import group_body
from tests.fakes.slack import FakeSlack


async def post_am(client: Any, body: bytes) -> Any:
    return await client.post("/webhooks/alertmanager", data=body, headers=bearer())


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The bodies with alerts validated: fully by the route, or any alert by the intake."""
    seen: list[bytes] = []

    async def counting(body: bytes) -> AlertmanagerPayload:
        seen.append(body)
        return await alertmanager.read_alertmanager(body)

    def reading(body: bytes, known_alerts: intake.KnownAlerts) -> intake.Intake:
        read = original(body, known_alerts)
        if read.fresh:
            seen.append(body)
        return read

    original = intake.read
    monkeypatch.setattr(gateway.routes, "read_alertmanager", counting)
    monkeypatch.setattr(intake, "read", reading)
    return seen


def with_value(body: bytes, value: str) -> bytes:
    doc = json.loads(body)
    for alert in doc["alerts"]:
        alert["annotations"]["description"] = f"value is {value}"
    return json.dumps(doc).encode()


async def test_resends_are_answered_without_validation_and_changes_still_fold(
    make_app: Any, fake_slack: FakeSlack, validations: list[bytes]
) -> None:
    client = await make_app()
    first = group_body(1, 30)
    assert (await post_am(client, first)).status == 202
    await outbox_drained(client)
    assert len(validations) == 1

    for resend in (first, first, with_value(first, "0.91"), with_value(first, "0.93")):
        response = await post_am(client, resend)
        assert (response.status, await response.json()) == (200, {"status": "duplicate"})
    assert len(validations) == 1, "re-sends of remembered events are not validated again"

    grown = group_body(1, 33)  # the group grew: validated and folded into the same message
    assert (await post_am(client, grown)).status == 202
    await outbox_drained(client)
    assert len(validations) == 2
    posts = [c for c in fake_slack.calls("chat.postMessage") if not c.params.get("thread_ts")]
    assert len(posts) == 1
    assert len(fake_slack.calls("chat.update")) == 1
    again = await post_am(client, grown)
    assert (await again.json())["status"] == "duplicate"
    assert len(validations) == 2


async def test_a_malformed_body_that_is_not_a_repeat_still_gets_its_400(
    make_app: Any, validations: list[bytes]
) -> None:
    client = await make_app()
    body = group_body(1, 3)
    assert (await post_am(client, body)).status == 202
    doc = json.loads(group_body(1, 4))
    doc["alerts"][3]["labels"]["severity"] = 3  # the new alert is malformed
    response = await post_am(client, json.dumps(doc).encode())
    assert response.status == 400
    assert "alerts.3.labels.severity" in json.dumps(await response.json())
    doc = json.loads(body)
    doc["alerts"][0]["annotations"]["summary"] = 7  # a known alert with a bad field: refused
    response = await post_am(client, json.dumps(doc).encode())
    assert response.status == 400
    assert "alerts.0.annotations.summary" in json.dumps(await response.json())


async def test_a_repeat_after_a_restart_is_validated_and_found_in_the_store(
    make_app: Any, validations: list[bytes]
) -> None:
    body = group_body(1, 5)
    assert (await post_am(await make_app(), body)).status == 202
    client = await make_app()  # a new process: nothing remembered, the store still knows
    response = await post_am(client, body)
    assert (await response.json())["status"] == "duplicate"
    assert len(validations) == 2


class CountingStore(SqliteStore):
    """The real SQLite store, recording which keys were looked up and marked."""

    looked_up: list[list[str]]
    marked: list[list[str]]
    saves_marking: int = 0

    async def seen(self, keys: Sequence[str], *, now: float) -> set[str]:
        self.looked_up.append(list(keys))
        return await super().seen(keys, now=now)

    async def mark_seen(self, keys: Sequence[str], *, ttl: float, now: float) -> None:
        self.marked.append(list(keys))
        await super().mark_seen(keys, ttl=ttl, now=now)

    async def save(
        self,
        *,
        key: str,
        data: str,
        expected_version: int,
        messages: Sequence[MessageUpdate] = (),
        now: float,
        seen: Sequence[str] = (),
        seen_ttl: float = 0.0,
        unpark: Sequence[int] = (),
    ) -> bool:
        saved = await super().save(
            key=key,
            data=data,
            expected_version=expected_version,
            messages=messages,
            now=now,
            seen=seen,
            seen_ttl=seen_ttl,
            unpark=unpark,
        )
        if saved and seen:  # marked in the same transaction as the state
            self.marked.append(list(seen))
            self.saves_marking += 1
        return saved


async def test_the_store_reads_and_marks_only_the_events_not_remembered(tmp_path: Path) -> None:
    store = await CountingStore.open(f"sqlite:///{tmp_path / 'chatops.db'}")
    store.looked_up, store.marked = [], []
    clock = [1000.0]
    gw = Gateway(
        store,
        GatewayOptions(dedup_window=100.0),
        Metrics(),
        wake_sender=lambda _channel: None,
        clock=lambda: clock[0],
    )
    try:

        async def send(alerts: int) -> Outcome:
            body = group_body(1, alerts)
            screened, repeat = await gw.screen_alertmanager(body)
            if repeat is not None:
                return repeat
            return await gw.ingest_alertmanager(alertmanager.parse_alertmanager(body), screened)

        assert await send(30) is Outcome.ACCEPTED
        assert [len(k) for k in store.looked_up] == [30]
        assert [len(k) for k in store.marked] == [30]
        clock[0] += 10
        assert await send(33) is Outcome.ACCEPTED
        assert [len(k) for k in store.looked_up] == [30, 3], "only the 3 new ones looked up"
        assert [len(k) for k in store.marked] == [30, 3], "and marked"
        assert await send(33) is Outcome.DUPLICATE
        clock[0] += 45  # past half the window for the first 30: refreshed with the next fold
        assert await send(36) is Outcome.ACCEPTED
        assert [len(k) for k in store.marked] == [30, 3, 33]
        assert set(store.marked[0]) <= set(store.marked[2])
        clock[0] += 54  # the first 30 would have expired at 1100 without that refresh
        assert await send(36) is Outcome.DUPLICATE
        assert len(await store.seen(store.marked[0], now=clock[0])) == 30
        assert store.saves_marking == 3, "every fold marked its keys with its own write"
    finally:
        await store.close()


def compact(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()  # as Alertmanager (Go) writes it


async def test_a_value_resend_is_known_by_its_shape_and_a_bad_annotation_is_still_refused(
    make_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[bytes] = []
    original = intake.read

    def reading(body: bytes, known_alerts: intake.KnownAlerts) -> intake.Intake:
        reads.append(body)
        return original(body, known_alerts)

    monkeypatch.setattr(intake, "read", reading)
    client = await make_app()
    doc = json.loads(group_body(1, 30))
    assert (await post_am(client, compact(doc))).status == 202
    assert len(reads) == 1
    for value in ("0.91", "0.935", "1"):
        for alert in doc["alerts"]:
            alert["annotations"]["description"] = f"PSI is {value}"
        response = await post_am(client, compact(doc))
        assert (response.status, await response.json()) == (200, {"status": "duplicate"})
    assert len(reads) == 1, "re-sends differing only in annotations are not read again"

    doc["alerts"][4]["annotations"]["summary"] = 7
    response = await post_am(client, compact(doc))
    assert response.status == 400
    assert "alerts.4.annotations.summary" in json.dumps(await response.json())
    doc["alerts"][4]["annotations"]["summary"] = "fine"
    lone = compact(doc).replace(b'"summary":"fine"', b'"summary":"\\udc00"')
    response = await post_am(client, lone)
    assert response.status == 400
