"""The gateway reuses its own last write of an incident, and only while the store agrees."""

from __future__ import annotations

import json
from pathlib import Path

from gateway.incident_model import state_key
from gateway.incidents import load_incident
from gateway.options import GatewayOptions, Outcome
from gateway.service import Gateway
from slackio.metrics import Metrics
from storage.sqlite import SqliteStore
from tests.fakes.service import group_body


def group_key(group: int) -> str:
    return str(json.loads(group_body(group, 1))["groupKey"])


def gateway(store: SqliteStore) -> Gateway:
    return Gateway(store, GatewayOptions(), Metrics(), wake_sender=lambda _channel: None)


async def send(gw: Gateway, body: bytes) -> Outcome:
    screened, repeat = await gw.screen_alertmanager(body)
    if repeat is not None:
        return repeat
    assert screened.intake is not None
    return await gw.ingest_alertmanager(screened.intake.payload, screened)


async def test_a_write_by_another_replica_is_read_back_not_overwritten(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'chatops.db'}"
    store_a, store_b = await SqliteStore.open(url), await SqliteStore.open(url)
    a, b = gateway(store_a), gateway(store_b)
    try:
        assert await send(a, group_body(1, 3)) is Outcome.ACCEPTED
        assert await send(a, group_body(1, 6)) is Outcome.ACCEPTED
        assert a._incidents.parsed == 0, "its own writes are not parsed back"
        assert await send(b, group_body(1, 9)) is Outcome.ACCEPTED  # the other replica
        assert await send(a, group_body(1, 12)) is Outcome.ACCEPTED
        assert a._incidents.parsed == 1, "the store moved on: read back"
        stored = await store_a.get_state(state_key(group_key(1)))
        assert stored is not None
        incident = load_incident(stored.data)
        assert len(incident.alerts) == 12
        assert stored.version == 4
        assert await send(a, group_body(1, 15)) is Outcome.ACCEPTED
        assert a._incidents.parsed == 1
    finally:
        await store_a.close()
        await store_b.close()


async def test_a_rewrite_with_the_same_text_is_read_back_too(tmp_path: Path) -> None:
    """A button click or another replica rewrites the stored incident: the next fold reads it."""
    store = await SqliteStore.open(f"sqlite:///{tmp_path / 'chatops.db'}")
    gw = gateway(store)
    try:
        assert await send(gw, group_body(1, 3)) is Outcome.ACCEPTED
        key = state_key(group_key(1))
        stored = await store.get_state(key)
        assert stored is not None
        # another writer stores the very same text: only the version says it was rewritten
        assert await store.save(key=key, data=stored.data, expected_version=stored.version, now=1)
        assert await send(gw, group_body(1, 6)) is Outcome.ACCEPTED
        assert gw._incidents.parsed == 1, "a new version is read back even with the same text"
    finally:
        await store.close()
