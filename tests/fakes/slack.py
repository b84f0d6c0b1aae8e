"""A fake Slack Web API: a real aiohttp server on loopback that the real `slack_sdk` talks to.

It speaks the wire format slack_sdk uses (POST or GET `/api/<method>`, parameters as JSON body,
form body or query string, `Authorization: Bearer` token), keeps channels and messages in memory
so tests assert on what a user would see, records every request, and injects faults (429 with
`Retry-After`, 5xx, `ok: false`, slow answers, non-JSON bodies) so retry paths are tested for real.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import re
import time
from collections import Counter, defaultdict, deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from itertools import count
from typing import Any, Self

import pytest
from aiohttp import web

from bot.slack.manifest import BOT_SCOPES

Json = dict[str, Any]
BOT_USER_ID = "U0FAKEBOT"
BOT_ID = "B0FAKEBOT"
TEAM_ID = "T0FAKE"
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_JSON_STRING_PARAMS = ("blocks", "attachments", "metadata")
_GATEWAY_PAGE = "<html><body><h1>{status}</h1>upstream trouble</body></html>"
# The scope each bot-token method needs (Slack's method reference); without it Slack answers
# `missing_scope` with `needed` and `provided`.
METHOD_SCOPES = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "conversations.info": "channels:read",
    "conversations.list": "channels:read",
    "conversations.join": "channels:join",
    "conversations.history": "channels:history",
    "conversations.replies": "channels:history",
}
DEFAULT_SCOPES = (*BOT_SCOPES, "users:read")


class SlackError(Exception):
    """A Web API error: answered as HTTP 200 `{"ok": false, "error": code}`, like Slack does."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class _MissingScope(SlackError):
    def __init__(self, needed: str) -> None:
        super().__init__("missing_scope")
        self.needed = needed


@dataclass(frozen=True)
class RecordedCall:
    """One request as the fake received it: params merged from query and body, JSON decoded."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    at: float
    path: str = ""


@dataclass
class FakeMessage:
    """A message as Slack stores it; mutable because chat.update edits it in place."""

    channel: str
    ts: str
    text: str = ""
    blocks: list[Json] | None = None
    attachments: list[Json] | None = None
    metadata: Json | None = None
    thread_ts: str | None = None
    unfurl_links: bool | None = None
    user: str | None = None  # recipient, for ephemeral messages only
    updates: int = 0

    def to_api(self, *, with_metadata: bool, reply_count: int = 0) -> Json:
        """The message object Slack returns in API responses."""
        out: Json = {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID}
        out |= {"text": self.text, "ts": self.ts, "team": TEAM_ID}
        for key in ("blocks", "attachments", "thread_ts"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if reply_count:
            out |= {"thread_ts": self.ts, "reply_count": reply_count}
        if with_metadata and self.metadata is not None:
            out["metadata"] = self.metadata
        return out


@dataclass
class _Channel:
    id: str
    name: str
    member: bool
    messages: dict[str, FakeMessage] = field(default_factory=dict)  # ts -> message, ts order
    private: bool = False

    def info(self) -> Json:
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": True,  # also private ones, since their IDs start with C (2021)
            "is_private": self.private,
            "is_member": self.member,
        }


@dataclass(frozen=True)
class _Fault:
    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    delay: float = 0.0
    answer_late: float = 0.0
    garbage: bool = False

    def response(self) -> web.Response:
        if self.garbage:
            return web.Response(text="<html>not json</html>", content_type="text/html")
        if self.status in (502, 503, 504):  # load balancers answer with an HTML page
            page = _GATEWAY_PAGE.format(status=self.status)
            return web.Response(status=self.status, text=page, content_type="text/html")
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else None
        body = {"ok": False, "error": self.error or "fatal_error"}
        return web.json_response(body, status=self.status, headers=headers)


def _flag(value: Any) -> bool:
    """Slack booleans arrive as true/false (JSON), "1"/"0" (slack_sdk params) or "true"."""
    return value is True or str(value).lower() in ("1", "true")


def _listed(ch: _Channel, types: set[str]) -> bool:
    """Whether conversations.list with `types` shows the channel to the bot."""
    if ch.private:
        return ch.member and "private_channel" in types
    return "public_channel" in types


def _normalize(ref: str) -> str:
    return ref if _CHANNEL_ID.match(ref) else ref.removeprefix("#").lower()


# Block Kit limits Slack enforces (answering `invalid_blocks`), from its block reference.
MAX_BLOCKS = 50
MAX_BLOCK_ID = 255
MAX_SECTION_TEXT = 3000
MAX_SECTION_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS_ELEMENTS = 25
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ACTION_ID = 255


def _text_ok(obj: Any, limit: int, *, plain_only: bool = False) -> bool:
    """A text object: plain_text or mrkdwn, 1..limit characters."""
    kinds = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    return (
        isinstance(obj, dict)
        and obj.get("type") in kinds
        and isinstance(obj.get("text"), str)
        and 0 < len(obj["text"]) <= limit
    )


def _elements_ok(block: Json, limit: int) -> bool:
    elements = block.get("elements")
    return isinstance(elements, list) and 0 < len(elements) <= limit


def _button_ok(element: Any) -> bool:
    if not isinstance(element, dict) or element.get("type") != "button":
        return isinstance(element, dict)
    return (
        _text_ok(element.get("text"), MAX_BUTTON_TEXT, plain_only=True)
        and len(str(element.get("value", ""))) <= MAX_BUTTON_VALUE
        and len(str(element.get("action_id", ""))) <= MAX_ACTION_ID
    )


def _section_ok(block: Json) -> bool:
    text, fields = block.get("text"), block.get("fields")
    if text is None and not fields:
        return False
    if text is not None and not _text_ok(text, MAX_SECTION_TEXT):
        return False
    return fields is None or (
        isinstance(fields, list)
        and 0 < len(fields) <= MAX_SECTION_FIELDS
        and all(_text_ok(f, MAX_FIELD_TEXT) for f in fields)
    )


def _block_ok(block: Any) -> bool:
    """One block within the limits Slack checks for its type (unknown types: shape only)."""
    if not (isinstance(block, dict) and isinstance(block.get("type"), str)):
        return False
    if len(str(block.get("block_id", ""))) > MAX_BLOCK_ID:
        return False
    kind = block["type"]
    if kind == "section":
        return _section_ok(block)
    if kind == "header":
        return _text_ok(block.get("text"), MAX_HEADER_TEXT, plain_only=True)
    if kind == "context":
        return _elements_ok(block, MAX_CONTEXT_ELEMENTS)
    if kind == "image":  # Slack: an http(s) image_url of at most 3000, alt_text of at most 2000
        url, alt = block.get("image_url"), block.get("alt_text")
        return (
            isinstance(url, str)
            and url.startswith(("http://", "https://"))
            and len(url) <= 3000
            and isinstance(alt, str)
            and 0 < len(alt) <= 2000
        )
    if kind == "actions":
        return _elements_ok(block, MAX_ACTIONS_ELEMENTS) and all(
            _button_ok(e) for e in block["elements"]
        )
    return True


def validate_content(p: Json, *, required: bool) -> None:
    """The content checks Slack applies to chat.postMessage/update; raises SlackError.

    Public so unit tests can hold rendered messages to the same limits the fake enforces:
    at most 50 blocks; section text 3000, fields 10 x 2000; header 150 (plain_text); context
    10 elements; actions 25 elements; button text 75, value 2000, action_id 255; block_id 255;
    text objects never empty.
    """
    if required and not (p.get("text") or p.get("blocks") or p.get("attachments")):
        raise SlackError("no_text")
    if len(str(p.get("text") or "")) > 40_000:
        raise SlackError("msg_too_long")
    blocks = p.get("blocks")
    if blocks is not None and not (
        isinstance(blocks, list) and len(blocks) <= MAX_BLOCKS and all(map(_block_ok, blocks))
    ):
        raise SlackError("invalid_blocks")
    meta = p.get("metadata")
    if meta is not None and not (
        isinstance(meta, dict)
        and isinstance(meta.get("event_type"), str)
        and isinstance(meta.get("event_payload"), dict)
    ):
        raise SlackError("invalid_metadata_format")


async def _read_params(request: web.Request) -> Json:
    """Merge query string and body (JSON or form) the way Slack does; decode JSON-string fields."""
    params: Json = dict(request.query)
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            body = None
        params.update(body if isinstance(body, dict) else {})
    elif request.body_exists:
        form = await request.post()
        params.update({k: v if isinstance(v, str) else "(file)" for k, v in form.items()})
    for key in _JSON_STRING_PARAMS:
        if isinstance(params.get(key), str):
            with contextlib.suppress(ValueError):  # else kept: content checks say invalid_*
                params[key] = json.loads(params[key])
    return params


class FakeSlack:
    """The fake Slack server: start it, point AsyncWebClient(base_url=...) at api_url."""

    def __init__(
        self,
        *,
        not_member: Iterable[str] = (),
        valid_tokens: Iterable[str] | None = None,
        users: dict[str, str] | None = None,
        response_url_uses: int = 5,
        scopes: Iterable[str] = DEFAULT_SCOPES,
        app_tokens: Iterable[str] | None = None,
        private: Iterable[str] = (),
    ) -> None:
        """`private`: private channels the bot was invited to. `scopes`: the bot token's
        scopes, sent back in X-OAuth-Scopes and checked by the methods that need one."""
        self.valid_tokens = set(valid_tokens) if valid_tokens is not None else None
        self.scopes = set(scopes)  # granted to the bot token; sent back in X-OAuth-Scopes
        self.app_tokens = set(app_tokens) if app_tokens is not None else None
        self.users = dict(users or {})
        self.response_url_uses = response_url_uses
        self._not_member = {_normalize(ref) for ref in not_member}
        self._channels: dict[str, _Channel] = {}  # by ID
        self._ids_by_name: dict[str, str] = {}
        self._ids = count(1)
        self._clock = count(int(time.time()) * 1_000_000 + 100, 100)  # microseconds
        self._calls: list[RecordedCall] = []
        self._responses: defaultdict[str, list[Json]] = defaultdict(list)
        self._ephemerals: list[FakeMessage] = []
        self._faults: defaultdict[str, deque[_Fault]] = defaultdict(deque)
        self._sticky: dict[str, _Fault] = {}
        self._changed = asyncio.Condition()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._port = 0
        for ref in self._not_member:
            self._channel(ref, names=True)
        for ref in private:
            self._channel(ref, names=True).private = True
        self._methods: dict[str, Callable[[Json], Json]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.getPermalink": self._permalink,
            "conversations.join": self._join,
            "conversations.info": self._info,
            "conversations.list": self._list,
            "conversations.history": self._history,
            "conversations.replies": self._replies,
            "users.info": self._user_info,
            "apps.connections.open": self._connections_open,
        }

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Serve on 127.0.0.1 on a free port."""
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{name}", self._response_url)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await self._site.start()
        self._port = int(self._runner.addresses[0][1])

    async def refuse_connections(self) -> None:
        """Slack unreachable: stop listening and drop open connections, so clients get
        `connection refused` (not an HTTP error) until `accept_connections()`."""
        if self._runner is None or self._site is None:
            raise RuntimeError("FakeSlack is not started")
        await self._site.stop()
        self._site = None
        if self._runner.server is not None:
            await self._runner.server.shutdown(0.1)

    async def accept_connections(self) -> None:
        """Listen again on the same port."""
        if self._runner is None:
            raise RuntimeError("FakeSlack is not started")
        self._site = web.TCPSite(self._runner, "127.0.0.1", self._port)
        await self._site.start()

    async def stop(self) -> None:
        """Stop serving; delayed answers still pending return at once instead of blocking."""
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """Base URL of the server, e.g. `http://127.0.0.1:PORT`."""
        if self._runner is None:
            raise RuntimeError("FakeSlack is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_url(self) -> str:
        """Web API base for `AsyncWebClient(base_url=...)`, with the trailing slash it needs."""
        return f"{self.url}/api/"

    def response_url(self, name: str) -> str:
        """A `response_url` (as Slack puts in commands and actions) whose posts are recorded."""
        return f"{self.url}/response/{name}"

    # -- inspection --------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[RecordedCall]:
        """Every request received (also failed ones), optionally only for one method."""
        return [c for c in self._calls if method is None or c.method == method]

    def reset_calls(self) -> None:
        self._calls.clear()

    def channel_id(self, channel: str) -> str:
        """The stable ID for a channel name or ID (`#ml-alerts` and `ml-alerts` are the same)."""
        return self._channel(channel, names=True).id

    def add_channel(self, name: str, *, member: bool = True, private: bool = False) -> str:
        """Make a channel exist (public or private, with or without the bot); returns its ID."""
        ch = self._channel(name, names=True)
        ch.member, ch.private = member, private
        return ch.id

    def remove_bot(self, channel: str) -> None:
        """Make the bot leave a channel: posts answer not_in_channel until conversations.join."""
        self._channel(channel, names=True).member = False

    def messages(self, channel: str) -> list[FakeMessage]:
        """Top-level messages currently in a channel (name or ID), oldest first."""
        found = self._find(channel)
        return [m for m in found.messages.values() if m.thread_ts is None] if found else []

    def thread_replies(self, channel: str, ts: str) -> list[FakeMessage]:
        """Replies in the thread under `ts`, oldest first."""
        found = self._find(channel)
        return [m for m in found.messages.values() if m.thread_ts == ts] if found else []

    def ephemerals(self, user: str | None = None) -> list[FakeMessage]:
        """Ephemeral messages sent (to one user, or to anyone)."""
        return [m for m in self._ephemerals if user is None or m.user == user]

    def responses(self, name: str) -> list[Json]:
        """JSON bodies accepted on `response_url(name)`, in order."""
        return list(self._responses[name])

    def summary(self) -> str:
        """What the fake has seen, for assertion messages."""
        counts = Counter(c.method for c in self._calls)
        lines = [f"calls: {dict(counts) or 'none'}"]
        for ch in self._channels.values():
            texts = [m.text[:60] for m in ch.messages.values()]
            lines.append(f"#{ch.name} ({ch.id}, member={ch.member}): {texts}")
        lines += [f"response_url {n}: {len(r)} posts" for n, r in self._responses.items()]
        return "\n".join(lines)

    async def wait_for(
        self,
        predicate: Callable[[FakeSlack], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 (a test helper: the timeout is the assertion)
    ) -> None:
        """Wait until `predicate(self)` holds; re-checked whenever a request was handled."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: predicate(self))
        except TimeoutError:
            raise AssertionError(f"condition not met in {timeout}s\n{self.summary()}") from None

    # -- fault injection ---------------------------------------------------------------------

    def fail(self, method: str, status: int = 429, *, retry_after: int = 1, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with an HTTP error (429 has Retry-After)."""
        self._queue(method, self._status_fault(status, retry_after), times)

    def error(self, method: str, error: str, *, times: int = 1) -> None:
        """Answer the next calls with HTTP 200 `{"ok": false, "error": error}`."""
        self._queue(method, _Fault(error=error), times)

    def delay(self, method: str, seconds: float, *, times: int = 1) -> None:
        """Sleep before handling the next calls (which then take effect, as on a slow Slack)."""
        self._queue(method, _Fault(delay=seconds), times)

    def answer_late(self, method: str, seconds: float, *, times: int = 1) -> None:
        """Carry out the next calls at once but answer only after `seconds` (a client that
        gives up sooner cannot know its call took effect)."""
        self._queue(method, _Fault(answer_late=seconds), times)

    def garbage(self, method: str, *, times: int = 1) -> None:
        """Answer the next calls with HTTP 200 and a body that is not JSON."""
        self._queue(method, _Fault(garbage=True), times)

    def fail_all(self, method: str, status: int = 500, *, retry_after: int = 1) -> None:
        """Fail every call of `method` ("*": any API method) until clear_faults()."""
        self._sticky[method] = self._status_fault(status, retry_after)

    def clear_faults(self) -> None:
        self._faults.clear()
        self._sticky.clear()

    @staticmethod
    def _status_fault(status: int, retry_after: int) -> _Fault:
        if status == 429:
            return _Fault(status=429, error="ratelimited", retry_after=retry_after)
        return _Fault(status=status, error="fatal_error")

    def _queue(self, method: str, fault: _Fault, times: int) -> None:
        self._faults[method].extend([fault] * times)

    def _take_fault(self, method: str) -> _Fault | None:
        keys = (method,) if method == "response_url" else (method, "*")  # "*": API methods only
        for key in keys:
            if self._faults[key]:
                return self._faults[key].popleft()
        return next((self._sticky[k] for k in keys if k in self._sticky), None)

    # -- HTTP --------------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        params = await _read_params(request)
        method = request.match_info["method"]
        answer = functools.partial(self._dispatch, method, params, request)
        return await self._serve(request, method, params, answer)

    async def _response_url(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        try:
            body = await request.json()
        except ValueError:
            body = {}
        answer = functools.partial(self._respond, name, body)
        return await self._serve(request, "response_url", body, answer)

    async def _serve(
        self, request: web.Request, method: str, params: Json, answer: Callable[[], web.Response]
    ) -> web.Response:
        """Record, apply a pending fault if any, answer, and wake wait_for()."""
        headers = dict(request.headers)
        self._calls.append(RecordedCall(method, params, headers, time.time(), request.path))
        await self._notify()
        fault = self._take_fault(method)
        try:
            if fault is not None and fault.delay and await self._closed_during(fault.delay):
                return web.json_response({"ok": False, "error": "service_unavailable"}, status=503)
            if fault is not None and fault.answer_late:
                response = answer()
                await self._notify()
                await self._closed_during(fault.answer_late)
                return response
            if fault is not None and not fault.delay:
                return fault.response()
            return answer()
        finally:
            await self._notify()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _closed_during(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._closing.wait(), seconds)
        except TimeoutError:
            return False
        return True

    def _dispatch(self, method: str, params: Json, request: web.Request) -> web.Response:
        headers: dict[str, str] = {}
        try:
            token = self._authenticate(request, params, app_level=method == "apps.connections.open")
            if not token.startswith("xapp-"):  # Slack reports a bot token's scopes on each answer
                headers["X-OAuth-Scopes"] = ",".join(sorted(self.scopes))
                self._require_scope(method)
            handler = self._methods.get(method)
            if handler is None:
                raise SlackError("unknown_method")
            return web.json_response({"ok": True, **handler(params)}, headers=headers)
        except _MissingScope as e:
            body = {"ok": False, "error": "missing_scope", "needed": e.needed}
            body["provided"] = ",".join(sorted(self.scopes))
            return web.json_response(body, headers=headers)
        except SlackError as e:
            return web.json_response({"ok": False, "error": e.code}, headers=headers)

    def _authenticate(self, request: web.Request, params: Json, *, app_level: bool) -> str:
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
        token = token or str(params.get("token") or "")
        if not token:
            raise SlackError("not_authed")
        if app_level != token.startswith("xapp-"):  # app-level tokens only for apps.* methods
            raise SlackError("not_allowed_token_type")
        valid = self.app_tokens if app_level else self.valid_tokens
        if valid is not None and token not in valid:
            raise SlackError("invalid_auth")
        return token

    def _require_scope(self, method: str) -> None:
        needed = METHOD_SCOPES.get(method)
        if needed is not None and needed not in self.scopes:
            raise _MissingScope(needed)

    def _respond(self, name: str, body: Any) -> web.Response:
        accepted = self._responses[name]
        if len(accepted) >= self.response_url_uses:
            return web.json_response({"ok": False, "error": "used_url"}, status=404)
        accepted.append(body if isinstance(body, dict) else {"body": body})
        return web.json_response({"ok": True})

    # -- channels and messages ---------------------------------------------------------------

    def _find(self, ref: str) -> _Channel | None:
        key = _normalize(ref)
        return self._channels.get(self._ids_by_name.get(key, key))

    def _channel(self, ref: Any, *, names: bool = False) -> _Channel:
        """Resolve a channel; names only where Slack accepts them. Any ID-shaped ref exists."""
        key = _normalize(str(ref or ""))
        if not key or (not names and not _CHANNEL_ID.match(key)):
            raise SlackError("channel_not_found")
        found = self._find(key)
        if found is not None:
            return found
        if _CHANNEL_ID.match(key):
            found = _Channel(key, key.lower(), member=key not in self._not_member)
        else:
            new_id = next(i for n in self._ids if (i := f"C{n:07d}") not in self._channels)
            found = _Channel(new_id, key, member=key not in self._not_member)
            self._ids_by_name[key] = new_id
        self._channels[found.id] = found
        return found

    def _next_ts(self) -> str:
        micros = next(self._clock)
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _reply_count(self, ch: _Channel, ts: str) -> int:
        return sum(1 for m in ch.messages.values() if m.thread_ts == ts)

    # -- Web API methods ---------------------------------------------------------------------

    def _auth_test(self, _: Json) -> Json:
        team = {"url": f"{self.url}/", "team": "Fake Team", "team_id": TEAM_ID}
        bot = {"user": "chatops", "user_id": BOT_USER_ID, "bot_id": BOT_ID}
        return team | bot | {"is_enterprise_install": False}

    def _post_message(self, p: Json) -> Json:
        ch = self._channel(p.get("channel"), names=True)
        if not ch.member:
            raise SlackError("not_in_channel")
        validate_content(p, required=True)
        thread_ts = p.get("thread_ts") or None
        parent = ch.messages.get(str(thread_ts)) if thread_ts else None
        if parent is not None and parent.thread_ts:  # replying to a reply lands in its thread
            thread_ts = parent.thread_ts
        msg = FakeMessage(channel=ch.id, ts=self._next_ts(), text=str(p.get("text") or ""))
        msg.blocks, msg.attachments = p.get("blocks"), p.get("attachments")
        msg.metadata = p.get("metadata")
        msg.thread_ts = str(thread_ts) if thread_ts else None  # an unknown parent: an orphan reply
        msg.unfurl_links = _flag(p["unfurl_links"]) if "unfurl_links" in p else None
        ch.messages[msg.ts] = msg
        return {"channel": ch.id, "ts": msg.ts, "message": msg.to_api(with_metadata=True)}

    def _update(self, p: Json) -> Json:
        ch = self._channel(p.get("channel"))
        msg = ch.messages.get(str(p.get("ts")))
        if msg is None:
            raise SlackError("message_not_found")
        validate_content(p, required=False)
        for key in ("text", "blocks", "attachments", "metadata"):  # absent fields are kept
            if p.get(key) is not None:
                setattr(msg, key, p[key])
        msg.updates += 1
        reply = msg.to_api(with_metadata=True)
        return {"channel": ch.id, "ts": msg.ts, "text": msg.text, "message": reply}

    def _post_ephemeral(self, p: Json) -> Json:
        ch = self._channel(p.get("channel"), names=True)
        if not p.get("user"):
            raise SlackError("user_not_found")
        if not ch.member:
            raise SlackError("not_in_channel")
        validate_content(p, required=True)
        msg = FakeMessage(channel=ch.id, ts=self._next_ts(), text=str(p.get("text") or ""))
        msg.blocks, msg.user, msg.thread_ts = p.get("blocks"), str(p["user"]), p.get("thread_ts")
        self._ephemerals.append(msg)
        return {"message_ts": msg.ts}

    def _permalink(self, p: Json) -> Json:
        ch = self._channel(p.get("channel"))
        ts = str(p.get("message_ts"))
        if ts not in ch.messages:
            raise SlackError("message_not_found")
        link = f"{self.url}/archives/{ch.id}/p{ts.replace('.', '')}"
        return {"channel": ch.id, "permalink": link}

    def _join(self, p: Json) -> Json:
        ch = self._channel(p.get("channel"))
        if ch.private:  # a bot must be invited to a private channel
            raise SlackError("method_not_supported_for_channel_type")
        was_member, ch.member = ch.member, True
        warning = {"warning": "already_in_channel"} if was_member else {}
        return {"channel": ch.info(), **warning}

    def _info(self, p: Json) -> Json:
        ch = self._channel(p.get("channel"))
        if ch.private and not ch.member:  # private channels are invisible to non-members
            raise SlackError("channel_not_found")
        return {"channel": ch.info()}

    def _list(self, p: Json) -> Json:
        """Public channels by default; private ones (the caller's only) when asked for in
        `types` and the token has groups:read, else `missing_scope` as on Slack."""
        types = set(str(p.get("types") or "public_channel").split(","))
        if "private_channel" in types and not self._granted("groups:read"):
            raise SlackError("missing_scope")
        channels = [ch.info() for ch in self._channels.values() if _listed(ch, types)]
        return {"channels": channels, "response_metadata": {"next_cursor": ""}}

    def _granted(self, scope: str) -> bool:
        return scope in self.scopes

    def _history(self, p: Json) -> Json:
        ch = self._channel(p.get("channel"))
        if not ch.member:
            raise SlackError("not_in_channel")
        inclusive = _flag(p.get("inclusive"))
        oldest, latest = float(p.get("oldest") or 0), float(p.get("latest") or "inf")
        limit = int(p.get("limit") or 100)
        meta = _flag(p.get("include_all_metadata"))
        found = [
            m.to_api(with_metadata=meta, reply_count=self._reply_count(ch, m.ts))
            for m in reversed(self.messages(ch.id))
            if (oldest <= float(m.ts) <= latest if inclusive else oldest < float(m.ts) < latest)
        ]
        page = {"messages": found[:limit], "has_more": len(found) > limit}
        return page | {"response_metadata": {"next_cursor": ""}}

    def _replies(self, p: Json) -> Json:
        ch = self._channel(p.get("channel"))
        parent = ch.messages.get(str(p.get("ts")))
        if parent is None or parent.thread_ts is not None:
            raise SlackError("thread_not_found")
        meta = _flag(p.get("include_all_metadata"))
        replies = self.thread_replies(ch.id, parent.ts)
        head = parent.to_api(with_metadata=meta, reply_count=len(replies))
        thread = [head] + [m.to_api(with_metadata=meta) for m in replies]
        return {"messages": thread, "has_more": False}

    def _connections_open(self, _: Json) -> Json:
        return {"url": f"{self.url.replace('http://', 'ws://')}/link/?ticket=fake-ticket"}

    def _user_info(self, p: Json) -> Json:
        user_id = str(p.get("user") or "")
        if user_id not in self.users:
            raise SlackError("user_not_found")
        real = self.users[user_id]
        profile = {"real_name": real, "display_name": real.split()[0] if real else ""}
        user = {"id": user_id, "team_id": TEAM_ID, "name": real.lower().replace(" ", ".")}
        return {"user": user | {"real_name": real, "is_bot": False, "profile": profile}}


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    """A started FakeSlack with default settings, stopped after the test."""
    async with FakeSlack() as fake:
        yield fake
