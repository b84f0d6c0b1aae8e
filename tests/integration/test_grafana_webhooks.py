"""Grafana Alerting as a sender: its webhook contact point, through the real app (create_app).

Grafana's bodies (tests/fixtures/grafana, from Grafana's documentation and tests) are accepted
on `/webhooks/grafana` and, told by their shape, on `/webhooks/alertmanager`; they become the
same one-message-per-group incidents, showing Grafana's values, links and image, with Grafana's
own silence page instead of an Alertmanager link Grafana does not serve.
"""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.app import bearer
from tests.fakes.fixtures import fixture_bytes
from tests.fakes.slack import FakeMessage, FakeSlack

CHANNEL = "#ml-alerts"


def grafana(name: str) -> bytes:
    return fixture_bytes(f"grafana/{name}.json")


def visible(message: FakeMessage) -> str:
    return message.text + json.dumps(message.blocks, ensure_ascii=False)


def action_ids(message: FakeMessage) -> list[str]:
    blocks = message.blocks or []
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


async def only_message(fake_slack: FakeSlack, text: str = "") -> FakeMessage:
    await fake_slack.wait_for(lambda f: any(text in visible(m) for m in f.messages(CHANNEL)))
    (message,) = fake_slack.messages(CHANNEL)
    return message


async def post(client: Any, body: bytes, path: str = "/webhooks/grafana") -> None:
    response = await client.post(path, data=body, headers=bearer())
    assert response.status == 202, await response.text()


async def test_a_firing_grafana_group_is_one_message_with_values_and_grafana_links(
    make_app: Any, fake_slack: FakeSlack
) -> None:
    client = await make_app()
    await post(client, grafana("docs_firing"))
    message = await only_message(fake_slack, "High memory usage")
    shown = visible(message)
    assert "Firing" in shown
    assert "High CPU usage" in shown
    assert "B=44.2394, C=1" in shown, "the rule's query values are shown"
    assert "Silence in Grafana" in shown
    assert "https://play.grafana.org/alerting/silence/new?alertmanager=grafana" in shown
    assert "matcher=team%3Dblue" in shown
    assert "orgId=1" in shown
    assert "Alertmanager" not in shown, "no link to an Alertmanager UI Grafana does not serve"
    assert "<https://play.grafana.org/|Grafana>" in shown
    assert action_ids(message) == ["chatops.ack"], "no Silence button without GRAFANA_URL"


async def test_resolved_updates_the_same_message(make_app: Any, fake_slack: FakeSlack) -> None:
    client = await make_app()
    await post(client, grafana("docs_firing"))
    await only_message(fake_slack, "Firing")
    await post(client, grafana("docs_resolved"))
    message = await only_message(fake_slack, "Resolved")
    assert message.updates >= 1, "the message was updated, not reposted"
    assert action_ids(message) == [], "a resolved group has no buttons"
    assert "Silence in Grafana" not in visible(message)


async def test_a_repeat_of_the_same_notification_changes_nothing(
    make_app: Any, fake_slack: FakeSlack
) -> None:
    client = await make_app()
    await post(client, grafana("docs_firing"))
    response = await client.post("/webhooks/grafana", data=grafana("docs_firing"), headers=bearer())
    assert response.status == 200
    assert (await response.json())["status"] == "duplicate"


async def test_dashboard_panel_links_value_string_and_image(
    make_app: Any, fake_slack: FakeSlack
) -> None:
    client = await make_app()
    await post(client, grafana("empty_annotations"))
    message = await only_message(fake_slack, "alert1")
    shown = visible(message)
    assert "<http://localhost/d/abcd?orgId=1|Dashboard>" in shown
    assert "<http://localhost/d/abcd?orgId=1&viewPanel=efgh|Panel>" in shown
    assert "[ var='B' labels={} value=97.5 ]" in shown, "valueString when there are no values"
    (image,) = [b for b in message.blocks or [] if b["type"] == "image"]
    assert image["image_url"] == "https://images.example.com/grafana/panel-efgh.png"
    own = "http://localhost/alerting/silence/new?alertmanager=grafana&matcher=alertname%3Dalert1"
    assert f"<{own}&matcher=lbl1%3Dval1&orgId=1|🔕 Silence in Grafana>" in shown, "its silenceURL"


async def test_an_image_url_that_is_not_http_gets_no_image_block(
    make_app: Any, fake_slack: FakeSlack
) -> None:
    body = json.loads(grafana("empty_annotations"))
    body["alerts"][0]["imageURL"] = "file:///var/lib/grafana/png/panel.png"
    client = await make_app()
    await post(client, json.dumps(body).encode())
    message = await only_message(fake_slack, "alert1")
    assert [b for b in message.blocks or [] if b["type"] == "image"] == []
    assert "file:" not in visible(message)


async def test_the_contact_point_test_is_a_clear_test_message(
    make_app: Any, fake_slack: FakeSlack
) -> None:
    client = await make_app(alertmanager_url="http://127.0.0.1:9093")
    await post(client, grafana("test_notification"))
    message = await only_message(fake_slack, "Test notification from Grafana")
    shown = visible(message)
    assert "chatops" in shown
    assert "Notification test" in shown
    assert action_ids(message) == [], "nothing to ack or silence on a test"
    assert "Firing" not in shown


async def test_grafana_bodies_are_recognised_on_the_alertmanager_url(
    make_app: Any, fake_slack: FakeSlack
) -> None:
    """A contact point pointed at /webhooks/alertmanager (as the README once said) works too."""
    client = await make_app()
    await post(client, grafana("docs_firing"), path="/webhooks/alertmanager")
    message = await only_message(fake_slack, "High memory usage")
    assert "Silence in Grafana" in visible(message)


async def test_alertmanager_bodies_still_go_to_alertmanager(
    make_app: Any, fake_slack: FakeSlack, am_fixture: Any
) -> None:
    client = await make_app()
    response = await client.post(
        "/webhooks/grafana", data=am_fixture("api_firing_single-alert"), headers=bearer()
    )
    assert response.status == 400, "an Alertmanager body is not a Grafana one"
    assert "Grafana" in (await response.json())["error"]


async def test_grafana_webhook_needs_the_bearer_token(make_app: Any) -> None:
    client = await make_app()
    response = await client.post("/webhooks/grafana", data=grafana("docs_firing"))
    assert response.status == 401
    response = await client.post(
        "/webhooks/grafana", data=grafana("docs_firing"), headers=bearer("wrong")
    )
    assert response.status == 401


async def test_a_broken_grafana_body_is_a_400_naming_the_field(make_app: Any) -> None:
    body = json.loads(grafana("docs_firing"))
    body["alerts"][0]["values"] = {"B": "high"}
    client = await make_app()
    response = await client.post("/webhooks/grafana", data=json.dumps(body), headers=bearer())
    assert response.status == 400
    assert any("values" in d for d in (await response.json())["details"])


async def test_with_grafana_configured_grafana_alerts_get_silence(
    make_app: Any, fake_slack: FakeSlack, fake_grafana: Any
) -> None:
    client = await make_app(grafana_url=fake_grafana.url, grafana_token=fake_grafana.token)
    await post(client, grafana("docs_firing"))
    message = await only_message(fake_slack, "High memory usage")
    assert action_ids(message) == ["chatops.ack", "chatops.silence"]
    (value,) = [
        e["value"]
        for b in message.blocks or []
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "chatops.silence"
    ]
    assert json.loads(value)["s"] == "grafana"


async def test_alertmanager_url_alone_brings_no_silence_to_grafana_alerts(
    make_app: Any, fake_slack: FakeSlack
) -> None:
    client = await make_app(alertmanager_url="http://127.0.0.1:9093")
    await post(client, grafana("docs_firing"))
    message = await only_message(fake_slack, "High memory usage")
    assert action_ids(message) == ["chatops.ack"]


async def test_an_image_slack_cannot_fetch_is_a_link_not_an_image_block(
    make_app: Any, fake_slack: FakeSlack
) -> None:
    """Slack refuses a whole message whose image it cannot download: the alert must still post."""
    body = json.loads(grafana("empty_annotations"))
    url = "http://localhost:3000/public/img/attachments/panel.png"
    body["alerts"][0]["imageURL"] = url
    client = await make_app()
    await post(client, json.dumps(body).encode())
    message = await only_message(fake_slack, "alert1")
    assert [b for b in message.blocks or [] if b["type"] == "image"] == []
    assert f"<{url}|📷 Image>" in visible(message)
