"""Slack Web API adapter: the only module that calls slack_sdk's AsyncWebClient for sending."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from slackio.errors import (
    MissingScope,
    NotInChannel,
    RateLimited,
    SlackRejected,
    SlackSendError,
    SlackUnavailable,
)
from slackio.transport import Blocks, Posted

_TRANSIENT_CODES = frozenset({"internal_error", "fatal_error", "service_unavailable", "timeout"})
# Private channels the bot is in are listed too (scope groups:read); an app installed before
# that scope was in the manifest gets `missing_scope`, and then looks among public ones only.
_ALL_CHANNELS = "public_channel,private_channel"
_PUBLIC_CHANNELS = "public_channel"

log = structlog.get_logger("slackio")


def make_client(
    *, token: str, base_url: str, session: aiohttp.ClientSession, timeout: int = 10
) -> AsyncWebClient:
    """One AsyncWebClient per process, on our session; its retries are off (the outbox retries)."""
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        session=session,
        timeout=timeout,
        retry_handlers=[],
    )


@dataclass(frozen=True)
class SlackIdentity:
    """Who the bot token is (auth.test), and its scopes as Slack reported them.

    `scopes` is None when the answer had no `X-OAuth-Scopes` header.
    """

    user: str
    user_id: str
    team: str
    scopes: frozenset[str] | None


@dataclass(frozen=True)
class ChannelInfo:
    """A channel as the bot sees it: enough to tell whether it can post there."""

    id: str
    name: str
    is_private: bool
    is_member: bool


class WebApiTransport:
    """SlackTransport over a real (or fake) Slack Web API.

    Beyond posting, `identity`, `channel_info` and `open_socket` answer the setup questions
    `chatops doctor` asks (who the token is, its scopes, each channel, the app token).
    """

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client
        self._channel_types = _ALL_CHANNELS

    async def post(
        self,
        *,
        channel: str,
        text: str,
        blocks: Blocks,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Posted:
        kwargs: dict[str, Any] = {"channel": channel, "text": text, "blocks": list(blocks)}
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        if metadata:
            kwargs["metadata"] = metadata
        data = await _call(self._client.chat_postMessage(**kwargs, unfurl_links=False))
        return Posted(channel_id=str(data["channel"]), ts=str(data["ts"]))

    async def update(self, *, channel_id: str, ts: str, text: str, blocks: Blocks) -> None:
        await _call(
            self._client.chat_update(channel=channel_id, ts=ts, text=text, blocks=list(blocks))
        )

    async def join(self, *, channel: str) -> None:
        await _call(self._client.conversations_join(channel=await self._channel_id(channel)))

    async def find_posted(
        self, *, channel: str, key: str, thread_ts: str | None = None
    ) -> Posted | None:
        channel_id = await self._channel_id(channel)
        if thread_ts is None:
            call = self._client.conversations_history(
                channel=channel_id, limit=100, include_all_metadata=True
            )
        else:
            call = self._client.conversations_replies(
                channel=channel_id, ts=thread_ts, limit=200, include_all_metadata=True
            )
        data = await _call(call)
        for message in data.get("messages", []):
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            in_thread = message.get("thread_ts") not in (None, message.get("ts"))
            if payload.get("key") == key and in_thread == (thread_ts is not None):
                return Posted(channel_id=channel_id, ts=str(message["ts"]))
        return None

    async def identity(self) -> SlackIdentity:
        """auth.test, with the scopes from the answer's `X-OAuth-Scopes` header."""
        try:
            response = await self._client.auth_test()
        except Exception as e:
            raise _error(e) from e
        data: dict[str, Any] = response.data if isinstance(response.data, dict) else {}
        header = (response.headers or {}).get("X-OAuth-Scopes")
        if isinstance(header, list):
            header = ",".join(header)
        scopes = None
        if isinstance(header, str):
            scopes = frozenset(s.strip() for s in header.split(",") if s.strip())
        return SlackIdentity(
            user=str(data.get("user", "")),
            user_id=str(data.get("user_id", "")),
            team=str(data.get("team", "")),
            scopes=scopes,
        )

    async def channel_info(self, channel: str) -> ChannelInfo:
        """A channel by ID or #name (names: public channels only, as `join` resolves them)."""
        data = await _call(self._client.conversations_info(channel=await self._channel_id(channel)))
        info = data.get("channel") or {}
        return ChannelInfo(
            id=str(info.get("id", "")),
            name=str(info.get("name", "")),
            is_private=bool(info.get("is_private")),
            is_member=bool(info.get("is_member")),
        )

    async def open_socket(self, *, app_token: str) -> bool:
        """apps.connections.open with the app-level token: whether Slack gave a socket URL.

        The WebSocket itself is not opened.
        """
        data = await _call(self._client.apps_connections_open(app_token=app_token))
        return bool(data.get("url"))

    async def _channel_id(self, channel: str) -> str:
        if channel.startswith(("C", "G")) and not channel.startswith("#"):
            return channel
        return await self._lookup(channel.lstrip("#"))

    async def _lookup(self, name: str) -> str:
        try:
            return await self._scan(name, self._channel_types)
        except SlackRejected as e:
            if e.code != "missing_scope" or self._channel_types == _PUBLIC_CHANNELS:
                raise
        log.warning("slack_private_channels_unlisted", reason="the app lacks groups:read")
        self._channel_types = _PUBLIC_CHANNELS
        return await self._scan(name, self._channel_types)

    async def _scan(self, name: str, types: str) -> str:
        cursor: str | None = None
        for _ in range(20):
            data = await _call(
                self._client.conversations_list(
                    limit=1000, cursor=cursor, exclude_archived=True, types=types
                )
            )
            for item in data.get("channels", []):
                if item.get("name") == name:
                    return str(item["id"])
            cursor = (data.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
        raise SlackRejected("channel_not_found")


async def _call(awaitable: Any) -> dict[str, Any]:
    try:
        response = await awaitable
    except _SDK_ERRORS as e:
        raise _error(e) from e
    data: dict[str, Any] = response.data if isinstance(response.data, dict) else {}
    return data


_SDK_ERRORS = (SlackApiError, TimeoutError, aiohttp.ClientError, ValueError)


def _error(e: Exception) -> SlackSendError:
    """Our error for one of `_SDK_ERRORS` raised by a slack_sdk call."""
    if isinstance(e, SlackApiError):
        return _translate(e)
    if isinstance(e, aiohttp.ClientConnectorError):  # nothing was sent
        return SlackUnavailable(type(e).__name__, maybe_delivered=False)
    return SlackUnavailable(type(e).__name__)


def _translate(e: SlackApiError) -> SlackSendError:
    status = getattr(e.response, "status_code", 200)
    data = e.response.data if isinstance(e.response.data, dict) else {}
    code = str(data.get("error") or f"http_{status}")
    if status == 429 or code == "ratelimited":
        return RateLimited(code, retry_after=_retry_after(e.response.headers))
    if status >= 500 or code in _TRANSIENT_CODES:
        return SlackUnavailable(code)
    if code == "not_in_channel":
        return NotInChannel(code)
    if code == "missing_scope":
        return MissingScope(code, needed=str(data.get("needed") or ""))
    return SlackRejected(code)


def _retry_after(headers: Any) -> float:
    value = None
    for key in ("Retry-After", "retry-after"):
        if headers and key in headers:
            value = headers[key]
            break
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return max(0.0, float(value)) if value is not None else 1.0
    except ValueError:
        return 1.0
