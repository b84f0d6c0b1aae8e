"""Slack's payloads as Slack sends them, signed, through create_app to `POST /slack/events`.

Where each payload's shape comes from:
- `ssl_check`: the form body `token=...&ssl_check=1` of bolt-python's
  tests/scenario_tests/test_ssl_check.py (Slack's "verifying requests" docs: the SSL check is
  a signed POST the app answers 200 with an empty body);
- `url_verification`: Slack's Events API `url_verification` event page (`token`, `challenge`,
  `type`), also bolt-python's tests/scenario_tests/test_events_url_verification.py;
- Enterprise Grid org-wide installs: the event body `org_app_mention_event_body` of
  bolt-python's tests/scenario_tests/test_events_org_apps.py (`enterprise_id`, W… user ids,
  `authorizations` with `team_id: null` and `is_enterprise_install: true`); interactivity
  payloads with `team: null`, an `enterprise` object and the user's own `team_id`, as in
  bolt-python's tests/slack_bolt/request/test_internals.py and Slack's "Enterprise Grid:
  org-ready apps" docs; slash commands with `enterprise_id`, `enterprise_name` and
  `is_enterprise_install=true` added to the usual form fields (Slack's slash command docs).
"""

from __future__ import annotations

import json
import time
import urllib.parse
from typing import Any

import pytest

from tests.fakes.app import bearer
from tests.fakes.bot_app import BOT_CONFIG, BotAppFactory, BotHarness
from tests.fakes.slack import TEAM_ID
from tests.fakes.slack_requests import action_body, command_body, signed_headers

ENTERPRISE = "E0ORGWIDE"
GRID_USER = "W0GRIDUSER"  # Enterprise Grid user ids start with W


def with_teams(*team_ids: str) -> dict[str, Any]:
    return {**BOT_CONFIG, "slack": {**BOT_CONFIG["slack"], "team_ids": list(team_ids)}}


ALLOWLISTS = [pytest.param(BOT_CONFIG, id="any-workspace"), pytest.param(None, id="team_ids")]


def config_of(param: dict[str, Any] | None) -> dict[str, Any]:
    return param if param is not None else with_teams(TEAM_ID)


def json_headers(body: str) -> dict[str, str]:
    return signed_headers(body) | {"Content-Type": "application/json"}


@pytest.mark.parametrize("config", ALLOWLISTS)
async def test_ssl_check_is_answered_200_and_empty(
    bot_app: BotAppFactory, config: dict[str, Any] | None
) -> None:
    h = await bot_app(config=config_of(config))
    body = "token=random&ssl_check=1"
    response = await h.post(body)
    assert response.status == 200
    assert await response.text() == ""


@pytest.mark.parametrize("config", ALLOWLISTS)
async def test_url_verification_answers_the_challenge(
    bot_app: BotAppFactory, config: dict[str, Any] | None
) -> None:
    h = await bot_app(config=config_of(config))
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    body = json.dumps(
        {"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "challenge": challenge, "type": "url_verification"}
    )
    response = await h.client.post("/slack/events", data=body, headers=json_headers(body))
    assert response.status == 200
    assert (await response.json()) == {"challenge": challenge}


def org_command(h: BotHarness, name: str, text: str) -> str:
    body = command_body("/chatops", text, user=GRID_USER, response_url=h.slack.response_url(name))
    fields = dict(urllib.parse.parse_qsl(body))
    fields |= {
        "enterprise_id": ENTERPRISE,
        "enterprise_name": "Acme Org",
        "is_enterprise_install": "true",
    }
    return urllib.parse.urlencode(fields)


@pytest.mark.parametrize("config", ALLOWLISTS)
async def test_an_org_wide_install_slash_command_works(
    bot_app: BotAppFactory, config: dict[str, Any] | None
) -> None:
    h = await bot_app(config=config_of(config))
    response = await h.post(org_command(h, "org-help", "help"))
    assert response.status == 200, await response.text()
    assert "/retrain" in await h.answer("org-help")


def org_click(h: BotHarness, name: str, value: str, *, user_team: str | None) -> str:
    """An Ack click in an org-wide install: `team` null, `enterprise` set, a W… user."""
    body = action_body(
        "chatops.ack", value, user=GRID_USER, response_url=h.slack.response_url(name)
    )
    payload = json.loads(urllib.parse.parse_qs(body)["payload"][0])
    payload |= {
        "team": None,
        "enterprise": {"id": ENTERPRISE, "name": "Acme Org"},
        "is_enterprise_install": True,
    }
    payload["user"] = {"id": GRID_USER, "username": "grid.user", "name": "grid.user"}
    if user_team is not None:
        payload["user"]["team_id"] = user_team
    return urllib.parse.urlencode({"payload": json.dumps(payload)})


async def ack_value(h: BotHarness, am_fixture: Any) -> str:
    body = am_fixture("api_firing_single-alert")
    response = await h.client.post("/webhooks/alertmanager", data=body, headers=bearer())
    assert response.status == 202
    message = await h.message_with("#fraud-ml", "chatops.ack")
    for block in message.blocks or []:
        for element in block.get("elements", []):
            if element.get("action_id") == "chatops.ack":
                return str(element["value"])
    raise AssertionError("no Ack button")


@pytest.mark.parametrize("config", ALLOWLISTS)
async def test_an_org_wide_install_click_with_team_null_works(
    bot_app: BotAppFactory, am_fixture: Any, config: dict[str, Any] | None
) -> None:
    h = await bot_app(config=config_of(config), gateway_records=True)
    value = await ack_value(h, am_fixture)
    response = await h.post(org_click(h, "org-ack", value, user_team=TEAM_ID))
    assert response.status == 200, await response.text()
    assert "Acknowledged" in await h.answer("org-ack")
    await h.message_with("#fraud-ml", f"by <@{GRID_USER}>")


async def test_an_allowlist_refuses_a_click_naming_only_the_enterprise(
    bot_app: BotAppFactory, am_fixture: Any
) -> None:
    """With `slack.team_ids`, a payload that names no workspace at all (only the organisation)
    cannot be matched: refused (fail closed), saying which organisation it came from."""
    h = await bot_app(config=with_teams(TEAM_ID), gateway_records=True)
    value = await ack_value(h, am_fixture)
    response = await h.post(org_click(h, "org-only", value, user_team=None))
    assert response.status == 403
    details = (await response.json())["details"][0]
    assert ENTERPRISE in details
    await h.no_answer("org-only")


@pytest.mark.parametrize("config", ALLOWLISTS)
async def test_an_org_wide_install_event_is_acknowledged(
    bot_app: BotAppFactory, config: dict[str, Any] | None
) -> None:
    h = await bot_app(config=config_of(config))
    event = {
        "token": "verification_token",
        "team_id": TEAM_ID,
        "enterprise_id": ENTERPRISE,
        "api_app_id": "A0CHATOPS",
        "event": {
            "type": "app_mention",
            "text": "<@W0BOTUSER> Hi there!",
            "user": GRID_USER,
            "ts": "1595926230.009600",
            "team": TEAM_ID,
            "channel": "C0000001",
            "event_ts": "1595926230.009600",
        },
        "type": "event_callback",
        "event_id": "Ev0ORG",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": ENTERPRISE,
                "team_id": None,
                "user_id": "W0BOTUSER",
                "is_bot": True,
                "is_enterprise_install": True,
            }
        ],
        "is_ext_shared_channel": False,
    }
    body = json.dumps(event)
    response = await h.client.post("/slack/events", data=body, headers=json_headers(body))
    assert response.status == 200
    metrics = await (await h.client.get("/metrics")).text()
    assert "chatops_slack_requests_refused_total{" not in metrics
