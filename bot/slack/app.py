"""The Bolt `AsyncApp` and its aiohttp route: signature-checked, no network at start-up.

Bolt verifies every request's v0 signature (HMAC-SHA256 of `v0:{timestamp}:{body}` with the
signing secret, timestamp within 5 minutes) and answers 401 otherwise. Authorization is a local
function returning the configured bot token, so Bolt never calls `auth.test` (at start-up or on
a request). The Web API client is built on the app's shared aiohttp session and `SLACK_API_URL`.
`process_before_response=True`: our listeners only acknowledge and hand over to the bot's own
task set, so Bolt can answer as soon as they return, with no task of its own. A global
middleware (`bot.slack.inbound`) refuses workspaces outside `slack.team_ids` and answers the Events
API traffic we do not act on with a 200.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

from bot.service import Bot, Refusal
from bot.slack.inbound import InboundGuard, ignore_event
from bot.slack.listeners import Listeners


def build_slack_app(
    *,
    bot: Bot,
    bot_token: str,
    signing_secret: str,
    api_url: str,
    session: aiohttp.ClientSession,
    team_ids: Collection[str] = (),
    on_refused: Callable[[Refusal], None] = lambda refusal: None,
) -> AsyncApp:
    """A Bolt app with every command and button listener registered.

    `signing_secret` may be empty only for Socket Mode, whose requests Bolt does not verify:
    the HTTP route (`chatops.slack_events`) is not served then.
    """

    async def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=bot_token)

    # No `timeout=`: slack_sdk ignores it on a session it did not make; `session`'s governs.
    client = AsyncWebClient(base_url=api_url, session=session, retry_handlers=[])
    app = AsyncApp(
        name="chatops",
        signing_secret=signing_secret,
        authorize=authorize,
        client=client,
        process_before_response=True,
        logger=logging.getLogger("slack_bolt.chatops"),
    )
    app.middleware(InboundGuard(team_ids, on_refused).middleware)
    Listeners(bot).register(app)
    app.event(re.compile(".*"))(ignore_event)  # last: events without a listener of their own
    return app


async def dispatch(app: AsyncApp, request: web.Request, body: bytes) -> web.Response:
    """One `POST /slack/events` (its body already read) through Bolt and back.

    Bytes that are not UTF-8 are replaced, so such a body fails the signature check (401).
    """
    bolt_request = AsyncBoltRequest(
        body=body.decode("utf-8", "replace"),
        query=request.query_string,
        headers=request.headers,  # type: ignore[arg-type]  # as Bolt's own aiohttp adapter
    )
    bolt_response = await app.async_dispatch(bolt_request)
    return await to_aiohttp_response(bolt_response)
