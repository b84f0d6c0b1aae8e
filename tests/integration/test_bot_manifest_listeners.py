"""Every command in the manifest, and every button the bot claims, has a registered listener."""

from __future__ import annotations

import json
import urllib.parse

from bot.slack.listeners import ACTIONS
from bot.slack.manifest import manifest
from tests.fakes.bot_app import REQUESTER, BotAppFactory
from tests.fakes.slack_requests import action_body, command_body


async def test_each_manifest_command_is_acknowledged(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    for command in manifest()["features"]["slash_commands"]:
        body = command_body(
            command["command"], "help", user=REQUESTER, response_url=h.slack.response_url("m")
        )
        response = await h.post(body)
        assert response.status == 200, f"{command['command']}: {response.status}"


async def test_an_unregistered_command_is_not_handled(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    body = command_body("/unknown", "", user=REQUESTER, response_url="http://127.0.0.1:9/")
    response = await h.post(body)
    assert response.status == 404, "Bolt answers 404 for a request no listener matches"


async def test_each_button_is_acknowledged(bot_app: BotAppFactory) -> None:
    h = await bot_app()
    for action_id in ACTIONS:
        body = action_body(action_id, "{}", user=REQUESTER, response_url=h.slack.response_url("b"))
        response = await h.post(body)
        assert response.status == 200, action_id
    payload = json.loads(urllib.parse.parse_qs(body)["payload"][0])
    assert payload["type"] == "block_actions"
