"""`POST /slack/events` before any listener: the signing secret, the workspace allowlist, and
Events API traffic the app does not act on. Through create_app with real signed requests.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from typing import Any

import pytest

from chatops.config import parse_config
from tests.fakes.bot_app import APPROVER1, BOT_CONFIG, REQUESTER, BotAppFactory, BotHarness
from tests.fakes.slack import TEAM_ID
from tests.fakes.slack_requests import action_body, command_body, signed_headers

OTHER_TEAM = "T0OTHERTEAM"


def with_teams(*team_ids: str) -> dict[str, Any]:
    return {**BOT_CONFIG, "slack": {**BOT_CONFIG["slack"], "team_ids": list(team_ids)}}


def json_headers(body: str, **kwargs: Any) -> dict[str, str]:
    return signed_headers(body, **kwargs) | {"Content-Type": "application/json"}


async def metric(h: BotHarness, pattern: str) -> float:
    text = await (await h.client.get("/metrics")).text()
    found = re.findall(rf"^{pattern} (\S+)$", text, re.M)
    return sum(float(n) for n in found)


# --- no signing secret: Socket Mode only --------------------------------------------------------


@pytest.mark.parametrize("secret", [None, "", "  "], ids=["unset", "empty", "blank"])
async def test_without_a_signing_secret_http_requests_are_not_served(
    bot_app: BotAppFactory, secret: str | None
) -> None:
    """Signed with the empty key, a production /deploy once went through (old slack_sdk) or
    was a 500 with a traceback (current one). Now: 404, never dispatched."""
    h = await bot_app(slack_signing_secret=secret)
    name = "empty-key"
    body = command_body(
        "/deploy",
        "fraud-detector production",
        user=REQUESTER,
        response_url=h.slack.response_url(name),
    )
    for headers in (signed_headers(body, secret=""), signed_headers(body)):
        response = await h.client.post("/slack/events", data=body, headers=headers)
        assert response.status == 404
        payload = await response.json()
        assert payload["error"] == "not found"
        assert "SLACK_SIGNING_SECRET" in payload["details"][0]
    await h.no_answer(name)
    assert h.pipelines() == []
    assert await metric(h, r'chatops_errors_total\{where="http"\}') == 0


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-Slack-Signature", None),
        ("X-Slack-Request-Timestamp", None),
        ("X-Slack-Signature", "v0=" + "é" * 64),
        ("X-Slack-Signature", "v1=" + "ab" * 32),
        ("X-Slack-Request-Timestamp", "yesterday"),
        ("X-Slack-Request-Timestamp", "1e9"),
    ],
    ids=["no-signature", "no-timestamp", "non-ascii", "wrong-version", "words", "float"],
)
async def test_missing_or_malformed_signature_headers_are_401_not_500(
    bot_app: BotAppFactory, header: str, value: str | None
) -> None:
    h = await bot_app()
    body = command_body("/retrain", "fraud-detector", user=REQUESTER, response_url="http://x/")
    headers = signed_headers(body)
    if value is None:
        del headers[header]
    else:
        headers[header] = value
    response = await h.client.post("/slack/events", data=body, headers=headers)
    assert response.status == 401
    assert (await response.json())["error"] == "unauthorized"
    assert await metric(h, r'chatops_errors_total\{where="http"\}') == 0


# --- workspace allowlist ------------------------------------------------------------------------


def parse_command_text(response: dict[str, Any]) -> str:
    assert response["response_type"] == "ephemeral", response
    return str(response["text"])


async def test_a_command_from_another_workspace_is_refused_and_audited(
    bot_app: BotAppFactory,
) -> None:
    h = await bot_app(config=with_teams(TEAM_ID))
    name = "foreign"
    body = command_body(
        "/retrain", "fraud-detector", user="U0FOREIGN", response_url=h.slack.response_url(name)
    )
    body = body.replace(f"team_id={TEAM_ID}", f"team_id={OTHER_TEAM}")
    response = await h.client.post("/slack/events", data=body, headers=signed_headers(body))
    assert response.status == 200
    text = parse_command_text(await response.json())
    assert "does not serve this Slack workspace" in text
    assert OTHER_TEAM in text
    await h.no_answer(name)
    assert h.pipelines() == []
    reason = 'reason="workspace_not_allowed"'
    assert await metric(h, rf"chatops_slack_requests_refused_total\{{{reason}\}}") == 1

    async def audited() -> list[Any]:
        return [e for e in await h.bot.auditor.recent(model=None) if e.actor == "U0FOREIGN"]

    for _ in range(100):
        if await audited():
            break
        await h.no_answer(name, wait=0.02)
    (entry,) = await audited()
    assert (entry.action, entry.outcome) == ("slack.command", "refused")
    assert OTHER_TEAM in entry.detail


async def test_the_allowed_workspace_still_works(bot_app: BotAppFactory) -> None:
    h = await bot_app(config=with_teams("T0SOMEOTHER", TEAM_ID))
    name = await h.command("/chatops", "help")
    assert "/retrain" in await h.answer(name)


async def test_a_click_by_a_user_of_another_workspace_is_refused(bot_app: BotAppFactory) -> None:
    """In a channel shared with another organisation, the clicker's own workspace counts."""
    h = await bot_app(config=with_teams(TEAM_ID))
    name = "foreign-click"
    body = action_body(
        "chatops.approve", "t-1", user=APPROVER1, response_url=h.slack.response_url(name)
    )
    payload = json.loads(urllib.parse.parse_qs(body)["payload"][0])
    payload["user"]["team_id"] = OTHER_TEAM
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    response = await h.client.post("/slack/events", data=body, headers=signed_headers(body))
    assert response.status == 403
    assert (await response.json())["error"] == "workspace not allowed"
    await h.no_answer(name)


async def test_an_event_from_another_workspace_is_acknowledged_but_refused(
    bot_app: BotAppFactory,
) -> None:
    h = await bot_app(config=with_teams(TEAM_ID))
    body = json.dumps(event_callback("app_mention", team=OTHER_TEAM))
    response = await h.client.post("/slack/events", data=body, headers=json_headers(body))
    assert response.status == 200
    assert await metric(h, r"chatops_slack_requests_refused_total\{[^}]*\}") == 1


@pytest.mark.parametrize("secret", ["", "   "])
def test_a_blank_signing_secret_stops_http_mode_at_start_up(secret: str) -> None:
    from chatops.settings import Settings

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, slack_bot_token="xoxb-x", slack_signing_secret=secret, slack_app_token="x"
    )
    assert any(p.startswith("SLACK_SIGNING_SECRET: required") for p in settings.problems())
    assert settings.problems(socket_mode=True) == []  # Socket Mode needs no signing secret


def test_team_ids_must_be_workspace_ids() -> None:
    from chatops.config import ConfigError

    for bad in ([], ["not-a-team"], "T0ONE"):
        with pytest.raises(ConfigError) as e:
            parse_config({"slack": {"team_ids": bad}})
        assert e.value.problems[0].startswith("slack.team_ids")
    assert parse_config({"slack": {"team_ids": ["T0ONE"]}}).slack.team_ids == ["T0ONE"]


# --- Events API ---------------------------------------------------------------------------------


def event_callback(event_type: str, *, team: str = TEAM_ID) -> dict[str, Any]:
    return {
        "token": "deprecated-verification-token",
        "team_id": team,
        "api_app_id": "A0CHATOPS",
        "event": {
            "type": event_type,
            "user": "U0SOMEONE",
            "text": "<@U0BOT> hello",
            "ts": "1700000000.000200",
            "channel": "C0000001",
            "event_ts": "1700000000.000200",
        },
        "type": "event_callback",
        "event_id": "Ev0001",
        "event_time": int(time.time()),
    }


async def test_unhandled_events_are_200_not_404(bot_app: BotAppFactory) -> None:
    h = await bot_app(config=with_teams(TEAM_ID))
    rate_limited = {
        "token": "deprecated-verification-token",
        "type": "app_rate_limited",
        "team_id": TEAM_ID,
        "minute_rate_limited": 1518467820,
        "api_app_id": "A0CHATOPS",
    }
    for payload in (event_callback("app_mention"), event_callback("reaction_added"), rate_limited):
        body = json.dumps(payload)
        response = await h.client.post("/slack/events", data=body, headers=json_headers(body))
        assert response.status == 200, (payload["type"], await response.text())
    assert h.pipelines() == []


async def test_url_verification_still_answers_the_challenge(bot_app: BotAppFactory) -> None:
    h = await bot_app(config=with_teams(TEAM_ID))
    body = json.dumps(
        {
            "token": "deprecated",
            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification",
        }
    )
    response = await h.client.post("/slack/events", data=body, headers=json_headers(body))
    assert response.status == 200
    assert (await response.json())["challenge"].startswith("3eZbrw1aBm2")
    unsigned = await h.client.post(
        "/slack/events", data=body, headers={"Content-Type": "application/json"}
    )
    assert unsigned.status == 401
