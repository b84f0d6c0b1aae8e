"""Slack: the bot token (auth.test), its scopes, every configured channel, the app token."""

from __future__ import annotations

import aiohttp

from bot.slack.manifest import BOT_SCOPES
from chatops.config import AppConfig
from chatops.doctor.checks import Check, failed, passed, shown, skipped
from chatops.settings import Settings, secret_value
from slackio.errors import MissingScope, SlackSendError, SlackUnavailable
from slackio.webapi import SlackIdentity, WebApiTransport, make_client

REINSTALL = "reinstall the app after adding them"
SLACK_BOT_FIX = (
    "copy the Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page "
    "into SLACK_BOT_TOKEN"
)


async def slack_checks(
    settings: Settings, config: AppConfig, session: aiohttp.ClientSession
) -> list[Check]:
    """auth.test, scopes, channels (with a working bot token), then Socket Mode."""
    client = make_client(
        token=secret_value(settings.slack_bot_token) or "",
        base_url=settings.slack_api_url,
        session=session,
        timeout=settings.chatops_slack_timeout,
    )
    slack = WebApiTransport(client)
    checks = await _bot_checks(settings, config, slack)
    checks.append(await _socket_check(settings, slack))
    return checks


async def _bot_checks(settings: Settings, config: AppConfig, slack: WebApiTransport) -> list[Check]:
    if secret_value(settings.slack_bot_token) is None:
        why = "SLACK_BOT_TOKEN is not set (console mode: messages are printed, not posted)"
        return [skipped("slack", why)]
    try:
        me = await slack.identity()
    except SlackSendError as e:
        return [
            _token_failed(e, settings),
            skipped("slack channels", "the bot token does not work"),
        ]
    checks = [passed("slack token", f"bot @{me.user} ({me.user_id}) in {me.team}")]
    checks.append(_scopes_check(me))
    joinable = me.scopes is None or "channels:join" in me.scopes
    for channel in _channels(config):
        checks.append(await _channel_check(slack, channel, me.user, joinable=joinable))
    return checks


def _token_failed(e: SlackSendError, settings: Settings) -> Check:
    if isinstance(e, SlackUnavailable):
        return _unreachable("slack token", e, settings)
    detail = f"SLACK_BOT_TOKEN is not valid ({e.code})"
    return failed("slack token", detail, SLACK_BOT_FIX)


def _unreachable(name: str, e: SlackSendError, settings: Settings) -> Check:
    where = shown(settings.slack_api_url)
    return failed(
        name,
        f"cannot reach Slack at SLACK_API_URL={where} ({e.code})",
        "check SLACK_API_URL and the network (proxy, firewall) to Slack",
    )


def _scopes_check(me: SlackIdentity) -> Check:
    if me.scopes is None:
        return skipped("slack scopes", "Slack did not report the token's scopes (X-OAuth-Scopes)")
    missing = sorted(set(BOT_SCOPES) - me.scopes)
    if missing:
        return failed(
            "slack scopes",
            f"the bot token lacks {', '.join(missing)}",
            f"add them under OAuth & Permissions > Bot Token Scopes (or recreate the app from "
            f"`chatops manifest`), then {REINSTALL}",
        )
    return passed("slack scopes", f"all {len(BOT_SCOPES)} the service uses are granted")


def _channels(config: AppConfig) -> list[str]:
    found = {config.slack.default_channel}
    found.update(config.channel_for(model) for model in config.models)
    return sorted(found)


async def _channel_check(
    slack: WebApiTransport, channel: str, bot: str, *, joinable: bool
) -> Check:
    name = f"slack channel {channel}"
    invite = f"invite the bot: /invite @{bot} in {channel}"
    try:
        info = await slack.channel_info(channel)
    except MissingScope as e:
        needed = e.needed or "channels:read"
        return failed(
            name, f"cannot be looked up: the token lacks {needed}", f"add {needed}, {REINSTALL}"
        )
    except SlackUnavailable as e:
        return failed(name, f"Slack did not answer ({e.code})", "run the doctor again")
    except SlackSendError as e:
        if e.code == "channel_not_found":
            return failed(
                name,
                "not found (names are looked up among public channels)",
                "create the channel, or for a private channel invite the bot and configure its "
                "ID (C…) instead of the name",
            )
        return failed(name, f"Slack refused the lookup ({e.code})", invite)
    label = f"{'private' if info.is_private else 'public'} ({info.id})"
    if info.is_member:
        return passed(name, f"{label}, the bot is a member")
    if not info.is_private and joinable:
        return passed(name, f"{label}, the bot joins it on its first post (channels:join)")
    if info.is_private:
        return failed(name, f"{label}, the bot is not a member", invite)
    return failed(name, f"{label}, the bot is not a member and lacks channels:join", invite)


async def _socket_check(settings: Settings, slack: WebApiTransport) -> Check:
    name = "slack socket mode"
    app_token = secret_value(settings.slack_app_token)
    if app_token is None:
        return skipped(name, "SLACK_APP_TOKEN is not set (HTTP mode)")
    fix = (
        "generate an app-level token (xapp-…) with connections:write under Basic Information > "
        "App-Level Tokens, enable Socket Mode, and set SLACK_APP_TOKEN"
    )
    try:
        opened = await slack.open_socket(app_token=app_token)
    except SlackUnavailable as e:
        return _unreachable(name, e, settings)
    except SlackSendError as e:
        reasons = {
            "not_allowed_token_type": "SLACK_APP_TOKEN is not an app-level token",
            "missing_scope": "SLACK_APP_TOKEN lacks connections:write",
        }
        return failed(name, reasons.get(e.code, f"SLACK_APP_TOKEN is not valid ({e.code})"), fix)
    if not opened:
        return failed(name, "apps.connections.open gave no socket URL", fix)
    return passed(name, "SLACK_APP_TOKEN opens a connection (apps.connections.open)")
