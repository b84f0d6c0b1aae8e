"""Real Slack-signed requests: slash-command form bodies and block_actions payloads.

Slack signs each request with the app's signing secret: the header `X-Slack-Signature` is
`v0=` + hex HMAC-SHA256 over `v0:{X-Slack-Request-Timestamp}:{raw body}`. Slash commands are
`application/x-www-form-urlencoded` fields; interactivity is one form field `payload` holding
JSON. These builders produce exactly that, so tests go through Bolt's real verification.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import urllib.parse
from typing import Any

from tests.fakes.app import SIGNING_SECRET
from tests.fakes.slack import TEAM_ID

FORM = "application/x-www-form-urlencoded"
_triggers = itertools.count(1)


def signature(body: str, *, secret: str = SIGNING_SECRET, timestamp: int) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    body: str,
    *,
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
    retry: int | None = None,
) -> dict[str, str]:
    """Headers Slack sends with `body`; `retry` adds X-Slack-Retry-Num (a re-delivery)."""
    ts = int(time.time()) if timestamp is None else timestamp
    headers = {
        "Content-Type": FORM,
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": signature(body, secret=secret, timestamp=ts),
    }
    if retry is not None:
        headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
    return headers


def command_body(
    command: str,
    text: str,
    *,
    user: str,
    response_url: str,
    channel_id: str = "C0COMMANDS",
    channel_name: str = "commands",
    trigger_id: str | None = None,
) -> str:
    """The form body of a slash command invocation (a DM: channel D…, name "directmessage")."""
    fields = {
        "token": "deprecated-verification-token",
        "team_id": TEAM_ID,
        "team_domain": "fake",
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user,
        "user_name": user.lower(),
        "command": command,
        "text": text,
        "api_app_id": "A0CHATOPS",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or f"{next(_triggers)}.{int(time.time())}.abcdef",
    }
    return urllib.parse.urlencode(fields)


def action_body(
    action_id: str,
    value: str,
    *,
    user: str,
    response_url: str,
    action_ts: str | None = None,
    channel_id: str = "C0000001",
    message_ts: str = "1700000000.000100",
) -> str:
    """The form body of a block_actions payload for one button click."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
        "api_app_id": "A0CHATOPS",
        "token": "deprecated-verification-token",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        },
        "trigger_id": f"{next(_triggers)}.{int(time.time())}.abcdef",
        "team": {"id": TEAM_ID, "domain": "fake"},
        "channel": {"id": channel_id, "name": "alerts"},
        "message": {"type": "message", "ts": message_ts, "text": "", "blocks": []},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": "chatops.actions",
                "type": "button",
                "value": value,
                "text": {"type": "plain_text", "text": action_id},
                "action_ts": action_ts or f"{time.time():.6f}",
            }
        ],
    }
    return urllib.parse.urlencode({"payload": json.dumps(payload)})
