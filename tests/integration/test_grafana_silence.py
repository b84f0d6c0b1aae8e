"""Silence 1h on a Grafana alert creates the silence in Grafana, never in Alertmanager.

The whole loop through create_app: a Grafana body -> the gateway message -> a signed click on
its Silence button -> the bot calls the fake Grafana's silences API (a real HTTP server) with
the service account token -> the message says who silenced it, linking Grafana's silence page.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from slackio.buttons import GRAFANA, SILENCE, button_value
from tests.fakes.app import bearer
from tests.fakes.bot_app import OUTSIDER, REQUESTER, BotAppFactory, BotHarness
from tests.fakes.fixtures import fixture_bytes
from tests.fakes.grafana import SILENCES, FakeGrafana
from tests.fakes.slack import FakeMessage

CHANNEL = "#ml-alerts"
ALERT_KEY = "am:0123456789abcdef0123:1"


def silence_value(message: FakeMessage) -> str:
    for block in message.blocks or []:
        for element in block.get("elements", []):
            if element.get("action_id") == SILENCE:
                return str(element["value"])
    raise AssertionError(f"no Silence button in {json.dumps(message.blocks)}")


async def recording_alertmanager(aiohttp_server: Any) -> tuple[Any, list[Any]]:
    """An Alertmanager stand-in that only records silences posted to it (there must be none)."""
    posted: list[Any] = []

    async def post_silence(request: web.Request) -> web.Response:
        posted.append(await request.json())
        return web.json_response({"silenceID": "should-not-happen"})

    app = web.Application()
    app.router.add_post("/api/v2/silences", post_silence)
    return await aiohttp_server(app), posted


async def grafana_message(h: BotHarness, fixture: str) -> FakeMessage:
    body = fixture_bytes(f"grafana/{fixture}.json")
    response = await h.client.post("/webhooks/grafana", data=body, headers=bearer())
    assert response.status == 202, await response.text()
    return await h.message_with(CHANNEL, "Silence 1h")


async def test_silence_on_a_grafana_alert_is_created_in_grafana(
    bot_app: BotAppFactory, fake_grafana: FakeGrafana, aiohttp_server: Any
) -> None:
    am, posted_to_am = await recording_alertmanager(aiohttp_server)
    h = await bot_app(
        gateway_records=True,
        alertmanager_url=f"http://127.0.0.1:{am.port}",
        grafana_url=fake_grafana.url,
        grafana_token=fake_grafana.token,
    )
    message = await grafana_message(h, "empty_annotations")
    answer = await h.answer(await h.click(SILENCE, silence_value(message), user=REQUESTER))
    assert "Silenced for 1 h" in answer
    (request,) = [r for r in fake_grafana.requests if r.method == "POST"]
    assert request.path == SILENCES
    assert request.authorization == f"Bearer {fake_grafana.token}"
    matchers = {m["name"]: m["value"] for m in request.body["matchers"]}
    assert matchers == {"alertname": "alert1", "lbl1": "val1"}, "no empty-valued matcher"
    assert all(m["isEqual"] and not m["isRegex"] for m in request.body["matchers"])
    assert request.body["createdBy"] == REQUESTER
    (silence,) = fake_grafana.silences
    link = f"{fake_grafana.url}/alerting/silence/{silence['id']}/edit?alertmanager=grafana"
    assert link in answer
    assert posted_to_am == [], "nothing was silenced in Alertmanager"
    updated = await h.message_with(CHANNEL, f"by <@{REQUESTER}>")
    assert link in json.dumps(updated.blocks)
    assert fake_grafana.token not in answer + json.dumps(updated.blocks)
    again = await h.answer(await h.click(SILENCE, silence_value(message), user=OUTSIDER))
    assert "Already silenced" in again
    assert len(fake_grafana.silences) == 1


async def test_grafana_failing_is_named_and_nothing_is_recorded(
    bot_app: BotAppFactory, fake_grafana: FakeGrafana
) -> None:
    h = await bot_app(grafana_url=fake_grafana.url, grafana_token=fake_grafana.token)
    fake_grafana.fail_with = 500
    value = button_value(SILENCE, key=ALERT_KEY, model=None, labels={"a": "b"}, source=GRAFANA)
    answer = await h.answer(await h.click(SILENCE, value, user=REQUESTER))
    assert "Grafana refused (500" in answer
    assert h.actions.records == []
    fake_grafana.fail_with = None
    retry = await h.answer(await h.click(SILENCE, value, user=REQUESTER))
    assert "Silenced for 1 h" in retry, "a failed silence does not block the next try"


async def test_a_refused_token_says_which_setting_and_never_shows_it(
    bot_app: BotAppFactory, fake_grafana: FakeGrafana
) -> None:
    h = await bot_app(grafana_url=fake_grafana.url, grafana_token="glsa_wrong-token-value")
    value = button_value(SILENCE, key=ALERT_KEY, model=None, labels={"a": "b"}, source=GRAFANA)
    answer = await h.answer(await h.click(SILENCE, value, user=REQUESTER))
    assert "GRAFANA_TOKEN" in answer
    assert "401" in answer
    assert "glsa_wrong-token-value" not in answer
    assert fake_grafana.silences == []


async def test_without_grafana_configured_a_grafana_silence_says_what_is_missing(
    bot_app: BotAppFactory,
) -> None:
    """A button drawn while Grafana was configured, clicked after it no longer is."""
    h = await bot_app(alertmanager_url="http://127.0.0.1:9")
    value = button_value(SILENCE, key=ALERT_KEY, model=None, labels={"a": "b"}, source=GRAFANA)
    answer = await h.answer(await h.click(SILENCE, value, user=REQUESTER))
    assert "GRAFANA_URL" in answer
    assert "unreachable" not in answer, "Alertmanager was not tried instead"


async def test_grafana_url_credentials_are_never_shown(
    bot_app: BotAppFactory, fake_grafana: FakeGrafana
) -> None:
    url = fake_grafana.url.replace("http://", "http://admin:grafana-pw-123@")
    h = await bot_app(grafana_url=url, grafana_token=fake_grafana.token)
    await fake_grafana.stop()  # unreachable: the error names the URL without its password
    value = button_value(SILENCE, key=ALERT_KEY, model=None, labels={"a": "b"}, source=GRAFANA)
    answer = await h.answer(await h.click(SILENCE, value, user=REQUESTER))
    assert f"Grafana at {fake_grafana.url} is unreachable" in answer
    assert "grafana-pw-123" not in answer


async def test_an_older_grafana_answer_is_read_too(
    bot_app: BotAppFactory, fake_grafana: FakeGrafana
) -> None:
    """Grafana before 10 answered `{"message": "silence created", "id": ...}`."""
    fake_grafana.legacy = True
    h = await bot_app(grafana_url=fake_grafana.url, grafana_token=fake_grafana.token)
    value = button_value(SILENCE, key=ALERT_KEY, model=None, labels={"a": "b"}, source=GRAFANA)
    answer = await h.answer(await h.click(SILENCE, value, user=REQUESTER))
    (silence,) = fake_grafana.silences
    assert f"/alerting/silence/{silence['id']}/edit?alertmanager=grafana" in answer
