"""Buttons on gateway messages (Ack, Silence, Dismiss, Retrain, Rollback) through create_app.

Values are built with the gateway's own `button_value`, so these tests also hold the two sides
of the button contract together. Silence talks to a real Alertmanager.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from slackio.buttons import ACK, DISMISS, RETRAIN, ROLLBACK, SILENCE, button_value
from tests.e2e.harness import run_alertmanager
from tests.fakes.bot_app import (
    BOT_CONFIG,
    OUTSIDER,
    PROJECT,
    REQUESTER,
    BotAppFactory,
    variables,
)

ALERT_KEY = "am:0123456789abcdef0123:1"
DRIFT_KEY = "drift:fraud-detector:1"


async def test_ack_is_recorded_on_the_message(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    value = button_value(ACK, key=ALERT_KEY, model="fraud-detector")
    assert "Acknowledged" in await h.answer(await h.click(ACK, value, user=OUTSIDER))
    assert h.actions.records == [
        {"key": ALERT_KEY, "actor": OUTSIDER, "action": ACK, "detail": "", "link": ""}
    ]
    again = await h.answer(await h.click(ACK, value, user=OUTSIDER))
    assert "Already recorded" in again
    assert len(h.actions.records) == 1


async def test_dismiss_is_recorded(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    value = button_value(DISMISS, key=DRIFT_KEY, model="fraud-detector")
    assert "Dismissed" in await h.answer(await h.click(DISMISS, value, user=REQUESTER))
    assert h.actions.records[0]["action"] == DISMISS


async def test_retrain_button_starts_one_pipeline_and_records_the_link(
    bot_app: BotAppFactory,
) -> None:
    h = await bot_app()
    value = button_value(RETRAIN, key=DRIFT_KEY, model="fraud-detector")
    names = await asyncio.gather(
        h.click(RETRAIN, value, user=REQUESTER), h.click(RETRAIN, value, user=OUTSIDER)
    )
    answers = [await h.answer(n) for n in names]
    assert sum("Started retrain" in a for a in answers) == 1, answers
    assert sum("Already requested" in a or "just" in a for a in answers) == 1, answers
    (pipeline,) = h.pipelines()
    assert variables(pipeline)["ACTION"] == "retrain"
    (record,) = h.actions.records
    assert record["action"] == RETRAIN
    assert "/-/pipelines/" in record["link"]


async def test_rollback_button_uses_the_production_environment(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    h.gitlab.add_deployment(
        PROJECT, "production", "success", created_at="2024-05-01T00:00:00Z", model_version="v1"
    )
    h.gitlab.add_deployment(
        PROJECT, "production", "success", created_at="2024-05-02T00:00:00Z", model_version="v2"
    )
    value = button_value(ROLLBACK, key=ALERT_KEY, model="fraud-detector", environment="production")
    answer = await h.answer(await h.click(ROLLBACK, value, user=REQUESTER))
    assert "Started rollback of fraud-detector" in answer
    pipeline_vars = variables(h.pipelines()[0])
    assert (pipeline_vars["ENVIRONMENT"], pipeline_vars["ROLLBACK_TO"]) == ("production", "v1")
    assert h.actions.records[0]["action"] == ROLLBACK


async def test_rollback_button_of_a_staging_alert_rolls_back_staging(
    bot_app: BotAppFactory,
) -> None:
    h = await bot_app()
    for env, day, version in [("staging", 1, "s1"), ("staging", 2, "s2"), ("production", 3, "p1")]:
        h.gitlab.add_deployment(
            PROJECT, env, "success", created_at=f"2024-05-0{day}T00:00:00Z", model_version=version
        )
    value = button_value(ROLLBACK, key=ALERT_KEY, model="fraud-detector", environment="staging")
    answer = await h.answer(await h.click(ROLLBACK, value, user=REQUESTER))
    assert "Started rollback of fraud-detector" in answer
    pipeline_vars = variables(h.pipelines()[0])
    assert (pipeline_vars["ENVIRONMENT"], pipeline_vars["ROLLBACK_TO"]) == ("staging", "s1")


async def test_rollback_button_without_an_environment_is_refused(bot_app: BotAppFactory) -> None:
    """A button drawn before it carried `e` (or for an alert with no environment): no guess."""
    h = await bot_app()
    value = json.dumps({"k": ALERT_KEY, "m": "fraud-detector"})
    answer = await h.answer(await h.click(ROLLBACK, value, user=REQUESTER))
    assert "/rollback fraud-detector &lt;environment&gt;" in answer
    assert h.pipelines() == []
    assert h.actions.records == []


async def test_rollback_button_for_an_unknown_environment_is_refused(
    bot_app: BotAppFactory,
) -> None:
    h = await bot_app()
    value = button_value(ROLLBACK, key=ALERT_KEY, model="fraud-detector", environment="qa")
    answer = await h.answer(await h.click(ROLLBACK, value, user=REQUESTER))
    assert "model fraud-detector has no environment qa" in answer
    assert h.pipelines() == []


async def test_rollback_button_follows_the_same_policy(bot_app: BotAppFactory) -> None:
    config = BOT_CONFIG | {"policy": {"rollback": {"*": {"requesters": ["U0ONCALL"]}}}}
    h = await bot_app(config)
    value = button_value(ROLLBACK, key=ALERT_KEY, model="fraud-detector", environment="production")
    answer = await h.answer(await h.click(ROLLBACK, value, user=OUTSIDER))
    assert "not allowed to request rollback of production" in answer
    assert h.actions.records == []
    assert h.pipelines() == []


async def test_rollback_button_for_a_model_without_pipeline(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    value = button_value(ROLLBACK, key=ALERT_KEY, model="credit-scorer")
    answer = await h.answer(await h.click(ROLLBACK, value, user=REQUESTER))
    assert "model credit-scorer has no pipeline configured" in answer


async def test_a_forged_button_value_is_refused(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    answer = await h.answer(await h.click(SILENCE, '{"k": 1}', user=REQUESTER))
    assert "not valid" in answer


async def test_silence_creates_an_alertmanager_silence(
    bot_app: BotAppFactory, tmp_path: Path
) -> None:
    async with run_alertmanager(tmp_path, webhook_url="http://127.0.0.1:9/", token="t") as am:
        h = await bot_app(alertmanager_url=am.url)
        labels = {"alertname": "ModelDriftHigh", "model": "fraud-detector", "severity": "page"}
        value = button_value(SILENCE, key=ALERT_KEY, model="fraud-detector", labels=labels)
        answer = await h.answer(await h.click(SILENCE, value, user=REQUESTER))
        assert "Silenced for 1 h" in answer
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{am.url}/api/v2/silences") as response,
        ):
            silences = await response.json()
        (silence,) = silences
        assert silence["status"]["state"] == "active"
        assert silence["createdBy"] == REQUESTER
        assert {m["name"]: m["value"] for m in silence["matchers"]} == labels
        (record,) = h.actions.records
        assert record["action"] == SILENCE
        assert record["link"] == f"{am.url}/#/silences/{silence['id']}"
        again = await h.answer(await h.click(SILENCE, value, user=OUTSIDER))
        assert "Already silenced" in again


async def test_silence_without_alertmanager_says_what_is_missing(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    value = button_value(SILENCE, key=ALERT_KEY, model=None, labels={"alertname": "X"})
    answer = await h.answer(await h.click(SILENCE, value, user=REQUESTER))
    assert "ALERTMANAGER_URL" in answer


async def test_unreachable_alertmanager_is_named_and_nothing_is_recorded(
    bot_app: BotAppFactory,
) -> None:
    h = await bot_app(alertmanager_url="http://127.0.0.1:9")
    value = button_value(SILENCE, key=ALERT_KEY, model=None, labels={"alertname": "X"})
    answer = await h.answer(await h.click(SILENCE, value, user=REQUESTER))
    assert "Alertmanager at http://127.0.0.1:9 is unreachable" in answer
    assert h.actions.records == []
    again = await h.answer(await h.click(SILENCE, value, user=REQUESTER))
    assert "unreachable" in again, "a failed silence does not block the next try"


async def test_alertmanager_credentials_are_used_but_never_shown(
    bot_app: BotAppFactory, aiohttp_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """ALERTMANAGER_URL=http://user:secret@host: basic auth on the call, no password shown.

    Alertmanager behind basic auth (its web config, or a proxy) answers 401 without it.
    """
    expected = "Basic " + base64.b64encode(b"user:am-secret-pw").decode()
    created: list[dict[str, Any]] = []

    async def post_silence(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != expected:
            return web.Response(status=401, text="Unauthorized")
        created.append(await request.json())
        return web.json_response({"silenceID": "5e1f0c4a-0000-4000-8000-000000000001"})

    app = web.Application()
    app.router.add_post("/api/v2/silences", post_silence)
    server = await aiohttp_server(app)
    h = await bot_app(alertmanager_url=f"http://user:am-secret-pw@127.0.0.1:{server.port}/")
    value = button_value(SILENCE, key=ALERT_KEY, model=None, labels={"alertname": "X"})
    answer = await h.answer(await h.click(SILENCE, value, user=REQUESTER))
    assert "Silenced for 1 h" in answer
    assert len(created) == 1, "the credentials were sent"
    (record,) = h.actions.records
    port = server.port
    assert record["link"].startswith(f"http://127.0.0.1:{port}/#/silences/")
    await server.close()  # now unreachable: the error names the URL without its password
    other = button_value(SILENCE, key=ALERT_KEY[:-1] + "2", model=None, labels={"alertname": "Y"})
    again = await h.answer(await h.click(SILENCE, other, user=REQUESTER))
    assert f"Alertmanager at http://127.0.0.1:{port} is unreachable" in again
    calls = json.dumps([c.params for c in h.slack.calls()])
    shown = answer + again + calls + json.dumps(h.actions.records)
    assert "am-secret-pw" not in shown
    logs = capsys.readouterr().out
    assert "is unreachable" in logs, "the failure was logged (with the URL)"
    assert "am-secret-pw" not in logs
