"""Bolt global middleware for every verified Slack request (HTTP and Socket Mode alike).

It runs after Bolt's own checks (signature, `url_verification`, `ssl_check`) and before any
listener:

- the workspace allowlist (`slack.team_ids`): a request naming a workspace outside it, or
  naming none, is refused and nothing is dispatched. A slash command gets an ephemeral
  answer saying so; other interactivity a 403; an event a 200 (an Events API endpoint that
  keeps failing gets its subscription disabled by Slack, for every workspace). Each refusal
  is reported to `on_refused` (log, metric and audit entry);
- Events API traffic we do not act on (`app_rate_limited`, and any event without a listener,
  see `ignore_event`) is answered 200 and ignored, for the same reason.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any

import structlog
from slack_bolt.response import BoltResponse

from bot.service import Refusal

log = structlog.get_logger("bot.slack.inbound")

EVENT_TYPES = frozenset({"event_callback", "app_rate_limited"})


def workspaces(body: Mapping[str, Any]) -> set[str]:
    """Every workspace id a Slack payload names: the request's and the acting user's."""
    found: set[str] = set()
    team, user = body.get("team"), body.get("user")
    candidates = (
        body.get("team_id"),
        team.get("id") if isinstance(team, Mapping) else team,
        user.get("team_id") if isinstance(user, Mapping) else None,
    )
    for value in candidates:
        if isinstance(value, str) and value:
            found.add(value)
    return found


def request_kind(body: Mapping[str, Any]) -> str:
    """command, event, or the interactivity payload type (block_actions, view_submission...)."""
    if "command" in body:
        return "command"
    kind = str(body.get("type") or "unknown")
    return "event" if kind in EVENT_TYPES else kind


def _user(body: Mapping[str, Any]) -> str:
    user = body.get("user")
    if isinstance(user, Mapping):
        return str(user.get("id") or "")
    event = body.get("event")
    if isinstance(event, Mapping) and isinstance(event.get("user"), str):
        return str(event["user"])
    return str(body.get("user_id") or "")


class InboundGuard:
    """The middleware; `team_ids` empty means every workspace the app is installed in."""

    def __init__(self, team_ids: Collection[str], on_refused: Callable[[Refusal], None]) -> None:
        self._team_ids = frozenset(team_ids)
        self._on_refused = on_refused

    async def middleware(
        self,
        body: dict[str, Any],
        next: Callable[[], Awaitable[None]],  # Bolt passes arguments by name
    ) -> BoltResponse | None:
        kind = request_kind(body)
        if self._team_ids and body.get("type") != "url_verification":
            teams = workspaces(body)
            if not teams or not teams <= self._team_ids:
                return self._refuse(body, kind, teams)
        if body.get("type") == "app_rate_limited":
            log.warning("slack_events_rate_limited", minute=body.get("minute_rate_limited"))
            return BoltResponse(status=200, body="")
        await next()
        return None

    def _refuse(self, body: Mapping[str, Any], kind: str, teams: set[str]) -> BoltResponse:
        outside = sorted(teams - self._team_ids) or [_no_workspace(body)]
        refusal = Refusal("workspace_not_allowed", kind, ",".join(outside), _user(body))
        log.warning(
            "slack_request_refused",
            reason=refusal.reason,
            kind=kind,
            team=refusal.team,
            user=refusal.user,
        )
        self._on_refused(refusal)
        text = f"🚫 This app does not serve this Slack workspace ({outside[0]})."
        if kind == "command":
            answer = {"response_type": "ephemeral", "text": text}
            return BoltResponse(status=200, body=json.dumps(answer), headers=_JSON)
        if kind == "event":
            return BoltResponse(status=200, body="")
        error = {"error": "workspace not allowed", "details": [text]}
        return BoltResponse(status=403, body=json.dumps(error), headers=_JSON)


_JSON: dict[str, str | Sequence[str]] = {"content-type": "application/json"}


def _no_workspace(body: Mapping[str, Any]) -> str:
    """For a payload naming no workspace: the Enterprise Grid organisation it names, if any
    (an org-wide install's interactivity can carry `team: null` and only `enterprise`)."""
    enterprise, team = body.get("enterprise"), body.get("team")
    for value in (
        body.get("enterprise_id"),
        enterprise.get("id") if isinstance(enterprise, Mapping) else None,
        team.get("enterprise_id") if isinstance(team, Mapping) else None,
    ):
        if isinstance(value, str) and value:
            return f"no workspace id, organisation {value}"
    return "(none)"


async def ignore_event(ack: Callable[[], Awaitable[None]], body: dict[str, Any]) -> None:
    """An Events API event no listener handles: acknowledged (200) and dropped."""
    await ack()
    event = body.get("event")
    kind = event.get("type") if isinstance(event, Mapping) else None
    log.debug("slack_event_ignored", event_type=kind)
