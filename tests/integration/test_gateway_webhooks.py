"""Real Alertmanager bodies through create_app() to the fake Slack: one living message per group."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chatops.keys import STORE
from gateway import alertmanager, incidents, intake
from gateway.alertmanager import OFF_LOOP_BYTES, parse_alertmanager
from gateway.folding import OFF_LOOP_ALERTS
from gateway.incident_model import state_key
from gateway.incidents import load_incident
from tests.fakes.app import DEFAULT_CONFIG, bearer, outbox_drained
from tests.fakes.service import group_body, group_key
from tests.fakes.slack import FakeSlack


async def post_am(client: Any, body: bytes, *, headers: dict[str, str] | None = None) -> Any:
    return await client.post("/webhooks/alertmanager", data=body, headers=headers or bearer())


def top_level(fake: FakeSlack, channel: str) -> list[Any]:
    return [m for m in fake.messages(channel) if not m.thread_ts]


async def settle(fake: FakeSlack, seconds: float = 0.3) -> None:
    """Let the sender run; used only to show that nothing *more* happens."""
    await asyncio.sleep(seconds)


async def test_firing_resend_resolved_is_one_message_updated_in_place(
    make_app: Any, fake_slack: FakeSlack, am_fixture: Any
) -> None:
    client = await make_app()
    for name in ("api_firing_single-alert", "api_firing_single-alert_resend"):
        response = await post_am(client, am_fixture(name))
        assert response.status in (200, 202)
    await fake_slack.wait_for(lambda f: len(f.calls("chat.postMessage")) == 1)

    response = await post_am(client, am_fixture("api_resolved_single-alert"))
    assert response.status == 202
    await fake_slack.wait_for(lambda f: len(f.calls("chat.update")) == 1)
    await fake_slack.wait_for(lambda f: len(f.thread_replies("#fraud-ml", _ts(f))) == 1)
    await settle(fake_slack)

    posts = [c for c in fake_slack.calls("chat.postMessage") if not c.params.get("thread_ts")]
    assert len(posts) == 1
    update = fake_slack.calls("chat.update")[0]
    assert update.params["ts"] == posts[0].params.get("ts", _ts(fake_slack))
    (message,) = top_level(fake_slack, "#fraud-ml")
    rendered = json.dumps(message.blocks)
    assert "resolved" in (message.text + rendered).lower()
    assert "chatops.ack" not in rendered, "a resolved message keeps no action buttons"


async def test_templated_resend_is_not_a_new_notification(
    make_app: Any, fake_slack: FakeSlack, am_fixture: Any
) -> None:
    client = await make_app()
    await post_am(client, am_fixture("prometheus_firing_error-rate"))
    response = await post_am(client, am_fixture("prometheus_firing_error-rate_resend"))
    assert (await response.json())["status"] == "duplicate"
    await fake_slack.wait_for(lambda f: len(f.calls("chat.postMessage")) == 1)
    await settle(fake_slack)
    assert len(fake_slack.calls("chat.postMessage")) == 1
    assert fake_slack.calls("chat.update") == []


async def test_mixed_group_updates_and_replies_with_what_changed(
    make_app: Any, fake_slack: FakeSlack, am_fixture: Any
) -> None:
    client = await make_app()
    sequence = [
        "api_one-group_3-alerts",
        "api_mixed_2-firing_1-resolved",
        "api_after-mixed_resend_2-firing",
        "api_resolved_one-group_2-alerts",
    ]
    for name in sequence:
        assert (await post_am(client, am_fixture(name))).status in (200, 202)
        await outbox_drained(client)
    (message,) = top_level(fake_slack, "#ml-alerts")
    replies = fake_slack.thread_replies("#ml-alerts", message.ts)
    text = "\n".join(r.text for r in replies)
    assert "churn-predictor" in text
    assert len(replies) == 2, text  # one resolved, then the last two resolved
    assert message.updates == 2
    assert "resolved" in message.text.lower()


async def test_truncated_alerts_are_shown_and_not_read_as_resolved(
    make_app: Any, fake_slack: FakeSlack, am_fixture: Any
) -> None:
    client = await make_app()
    await post_am(client, am_fixture("api_truncated_max-alerts-2_of-5"))
    await fake_slack.wait_for(lambda f: len(f.calls("chat.postMessage")) == 1)
    (message,) = top_level(fake_slack, "#fraud-ml")
    body = json.dumps(message.blocks)
    assert "+3" in body
    assert "firing" in (message.text + body).lower()


async def test_separate_groups_route_by_model(
    make_app: Any, fake_slack: FakeSlack, am_fixture: Any
) -> None:
    client = await make_app()
    for model in ("churn-predictor", "credit-scorer", "fraud-detector"):
        await post_am(client, am_fixture(f"api_separate-groups_3-models_{model}"))
    await fake_slack.wait_for(lambda f: len(f.calls("chat.postMessage")) == 3)
    assert len(top_level(fake_slack, "#fraud-ml")) == 1
    assert len(top_level(fake_slack, "#ml-alerts")) == 2


async def test_slack_down_then_rate_limited_delivers_each_message_once(
    make_app: Any, fake_slack: FakeSlack, am_fixture: Any
) -> None:
    fake_slack.fail("chat.postMessage", status=500, times=3)
    fake_slack.fail("chat.postMessage", status=429, retry_after=1, times=2)
    client = await make_app(chatops_slack_max_backoff=0.2)
    names = [f"api_separate-groups_3-models_{m}" for m in ("churn-predictor", "credit-scorer")]
    for name in names:
        response = await post_am(client, am_fixture(name))
        assert response.status == 202, "the webhook is answered while Slack is failing"
    await fake_slack.wait_for(lambda f: len(top_level(f, "#ml-alerts")) == 2, timeout=15)
    await settle(fake_slack)
    assert len(top_level(fake_slack, "#ml-alerts")) == 2
    failed = [c for c in fake_slack.calls("chat.postMessage")]
    assert len(failed) == 2 + 5, "five failed attempts, then one success per group"


async def test_not_in_channel_joins_and_posts(
    make_app: Any, fake_slack: FakeSlack, am_fixture: Any
) -> None:
    fake_slack.remove_bot("#fraud-ml")
    client = await make_app()
    await post_am(client, am_fixture("api_firing_single-alert"))
    await fake_slack.wait_for(lambda f: len(top_level(f, "#fraud-ml")) == 1, timeout=10)
    assert fake_slack.calls("conversations.join")


def _ts(fake: FakeSlack) -> str:
    return str(top_level(fake, "#fraud-ml")[0].ts)


async def test_a_post_that_timed_out_but_reached_slack_is_adopted_not_repeated(
    make_app: Any, fake_slack: FakeSlack, am_fixture: Any
) -> None:
    # Slack takes the post but answers after the client gave up: the outcome is unknown.
    fake_slack.answer_late("chat.postMessage", 3.0)
    client = await make_app(chatops_slack_timeout=1, chatops_slack_max_backoff=0.5)
    response = await post_am(client, am_fixture("api_firing_single-alert"))
    assert response.status == 202
    await fake_slack.wait_for(lambda f: len(f.calls("conversations.history")) >= 1, timeout=15)
    await settle(fake_slack)
    assert len(top_level(fake_slack, "#fraud-ml")) == 1, "the timed-out post was sent again"
    assert len(fake_slack.calls("chat.postMessage")) == 1


async def test_slack_unreachable_then_back_posts_once(
    make_app: Any, fake_slack: FakeSlack, am_fixture: Any
) -> None:
    await fake_slack.refuse_connections()  # as if Slack (or the proxy to it) were down
    client = await make_app(chatops_slack_max_backoff=0.3)
    response = await post_am(client, am_fixture("api_firing_single-alert"))
    assert response.status == 202, "the webhook is answered while Slack is unreachable"
    await asyncio.sleep(1.5)
    assert fake_slack.calls("chat.postMessage") == []
    await fake_slack.accept_connections()
    await fake_slack.wait_for(lambda f: len(top_level(f, "#fraud-ml")) == 1, timeout=15)
    await settle(fake_slack)
    assert len(fake_slack.calls("chat.postMessage")) == 1
    assert fake_slack.calls("conversations.history") == [], "a refused call cannot have landed"


@pytest.fixture(params=["sqlite", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'chatops.db'}"
    return str(request.getfixturevalue("redis_url"))


async def test_one_alert_in_two_groups_posts_in_both(
    make_app: Any, fake_slack: FakeSlack, am_fixture: Any, store_url: str
) -> None:
    """Two routes (team channel, SRE channel) send the same alert: each group gets it."""
    client = await make_app(chatops_store_url=store_url)
    team = am_fixture("api_firing_single-alert")
    sre = json.loads(team)
    sre["receiver"] = "sre-webhook"
    sre["groupKey"] = '{}/{severity="page"}:{alertname="ModelDriftDetected"}'
    for body in (team, json.dumps(sre).encode(), team, json.dumps(sre).encode()):
        assert (await post_am(client, body)).status in (200, 202)
    await outbox_drained(client)
    assert len(top_level(fake_slack, "#fraud-ml")) == 2, "one message per group"
    again = await post_am(client, json.dumps(sre).encode())
    assert (await again.json())["status"] == "duplicate", "each group still deduplicates"


async def test_a_huge_group_keeps_a_bounded_state_and_counts_the_rest(
    make_app: Any, fake_slack: FakeSlack, store_url: str
) -> None:
    """Over `dedup.max_alerts_per_incident`, alerts are counted, shown as +N, never re-announced."""
    config = {**DEFAULT_CONFIG, "dedup": {"max_alerts_per_incident": 10}}
    client = await make_app(config, chatops_store_url=store_url)
    for size in (30, 40, 40):  # Alertmanager sends the whole group each time; it grows by 10
        assert (await post_am(client, group_body(1, size))).status in (200, 202)
        await outbox_drained(client)
    (message,) = top_level(fake_slack, "#fraud-ml")
    shown = message.text + json.dumps(message.blocks)
    assert "+30 more alerts not shown (30 firing, 0 resolved)" in shown
    assert "40 of 40 alerts firing" in message.text
    replies = [r.text for r in fake_slack.thread_replies("#fraud-ml", message.ts)]
    assert replies == ["🔥 New: 10 alerts (StormAlert0001 (10))"], "the counted 20 are not new"
    stored = await client.server.app[STORE].get_state(state_key(group_key(1)))
    assert len(load_incident(stored.data).alerts) == 10


async def test_large_bodies_are_parsed_and_merged_off_the_event_loop(
    make_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The event loop keeps serving (/healthz) while a body of hundreds of alerts is folded."""
    threads: defaultdict[str, set[int]] = defaultdict(set)

    def recorded(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            threads[name].add(threading.get_ident())
            return fn(*args, **kwargs)

        return run

    monkeypatch.setattr(alertmanager, "parse_alertmanager", recorded("parse", parse_alertmanager))
    monkeypatch.setattr(intake, "read", recorded("parse", intake.read))  # the usual way in
    monkeypatch.setattr(incidents, "merge", recorded("merge", incidents.merge))
    client = await make_app()
    loop_thread = threading.get_ident()
    large = group_body(1, 2 * OFF_LOOP_ALERTS)
    assert len(large) > OFF_LOOP_BYTES
    webhook, health = await asyncio.gather(post_am(client, large), client.get("/healthz"))
    assert (webhook.status, health.status) == (202, 200)
    assert threads["parse"]
    assert threads["merge"]
    assert loop_thread not in threads["parse"] | threads["merge"]
    threads.clear()
    assert (await post_am(client, group_body(2, 3))).status == 202
    assert threads == {"parse": {loop_thread}, "merge": {loop_thread}}, "small ones stay inline"
