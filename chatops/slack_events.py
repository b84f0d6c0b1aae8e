"""`POST /slack/events`: Slack's commands and buttons over HTTP, handed to Bolt once checked.

With no bot token (console mode) the route answers 503; with no signing secret (Socket Mode)
it is not served (404) and nothing reaches Bolt. Otherwise the signature headers must be there
before the body is read (401), and the body must arrive within CHATOPS_BODY_TIMEOUT (408) and
fit in 1 MiB (413).
"""

from __future__ import annotations

import re

from aiohttp import web
from slack_bolt.async_app import AsyncApp

from bot.slack.app import dispatch
from chatops.keys import SETTINGS
from chatops.settings import Settings, secret_value
from gateway.routes import BodyTimeout, BodyTooLarge, error_response, read_body

SLACK_APP = web.AppKey("slack_app", AsyncApp)

EVENTS_PATH = "/slack/events"

_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def add_bot_routes(app: web.Application) -> None:
    """`POST /slack/events`: commands and buttons, signature-verified by Bolt."""
    app.router.add_post(EVENTS_PATH, slack_events)


def signing_secret(settings: Settings) -> str | None:
    """The signing secret; None when unset or blank (Socket Mode only: HTTP is not served)."""
    secret = secret_value(settings.slack_signing_secret)
    return secret if secret is not None and secret.strip() else None


def _signature_headers_ok(request: web.Request) -> bool:
    """Slack's signature headers are there and well-formed (checked before the body is read;
    malformed values would otherwise crash the verification: a 500)."""
    signature = request.headers.get("X-Slack-Signature", "")
    timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
    return bool(_SIGNATURE.fullmatch(signature) and _TIMESTAMP.fullmatch(timestamp))


async def slack_events(request: web.Request) -> web.Response:
    slack = request.app.get(SLACK_APP)
    if slack is None:
        return error_response(
            503, "Slack is not configured", ["SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET must be set"]
        )
    settings = request.app[SETTINGS]
    if signing_secret(settings) is None:
        # Socket Mode only: a request could not be verified, so none is looked at.
        return error_response(404, "not found", ["Slack HTTP requests need SLACK_SIGNING_SECRET"])
    if not _signature_headers_ok(request):
        return error_response(401, "unauthorized", ["missing or malformed X-Slack-Signature"])
    try:
        body = await read_body(request, within=settings.chatops_body_timeout)
    except BodyTooLarge as e:
        return error_response(413, "payload too large", [str(e)])
    except BodyTimeout as e:
        return error_response(408, "request timeout", [str(e)])
    return await dispatch(slack, request, body)
