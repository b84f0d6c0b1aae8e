"""The Bolt `AsyncApp` and its aiohttp route: signature-checked, no network at start-up.

Bolt verifies every request's v0 signature (HMAC-SHA256 of `v0:{timestamp}:{body}` with the
signing secret, timestamp within 5 minutes) and answers 401 otherwise. Authorization is a local
function returning the configured bot token, so Bolt never calls `auth.test` (at start-up or on
a request). The Web API client is built on the app's shared aiohttp session and `SLACK_API_URL`.
`process_before_response=True`: our listeners only acknowledge and hand over to the bot's own
task set, so Bolt can answer as soon as they return, with no task of its own.
"""

from __future__ import annotations

import logging

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.web.async_client import AsyncWebClient

from bot.listeners import Listeners
from bot.service import Bot

SLACK_TIMEOUT = 10


def build_slack_app(
    *,
    bot: Bot,
    bot_token: str,
    signing_secret: str,
    api_url: str,
    session: aiohttp.ClientSession,
) -> AsyncApp:
    """A Bolt app with every command and button listener registered."""

    async def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=bot_token)

    client = AsyncWebClient(
        base_url=api_url, session=session, timeout=SLACK_TIMEOUT, retry_handlers=[]
    )
    app = AsyncApp(
        name="chatops",
        signing_secret=signing_secret,
        authorize=authorize,
        client=client,
        process_before_response=True,
        logger=logging.getLogger("slack_bolt.chatops"),
    )
    Listeners(bot).register(app)
    return app


async def dispatch(app: AsyncApp, request: web.Request) -> web.Response:
    """One `POST /slack/events`: the aiohttp request through Bolt and back."""
    bolt_response = await app.async_dispatch(await to_bolt_request(request))
    return await to_aiohttp_response(bolt_response)
