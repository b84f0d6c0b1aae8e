"""`--socket-mode`: the same listeners, fed over a Socket Mode WebSocket instead of HTTP.

A small loopback server plays Slack's side: `apps.connections.open` (called with the app token)
answers a `ws://` URL; on that socket it sends `hello`, then a slash command envelope, and
records the acknowledgement the bot sends back. The command's answer goes to its response_url,
which the same server records.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSMsgType, web

from chatops.app import create_app
from chatops.config import parse_config
from tests.fakes.app import make_settings
from tests.fakes.bot_app import BOT_CONFIG, FAST
from tests.fakes.slack import TEAM_ID

APP_TOKEN = "xapp-1-test"


class FakeSocketSlack:
    """apps.connections.open + the Socket Mode WebSocket + a response_url, on 127.0.0.1."""

    def __init__(self) -> None:
        self.url = ""
        self.opened_with: list[str] = []
        self.acks: list[dict[str, Any]] = []
        self.responses: list[dict[str, Any]] = []
        self.changed = asyncio.Event()
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/apps.connections.open", self._open)
        app.router.add_get("/link", self._socket)
        app.router.add_post("/response", self._response)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _open(self, request: web.Request) -> web.Response:
        self.opened_with.append(request.headers.get("Authorization", ""))
        ws_url = self.url.replace("http://", "ws://") + "/link"
        return web.json_response({"ok": True, "url": ws_url})

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "hello", "num_connections": 1})
        await ws.send_json(
            {
                "envelope_id": "env-1",
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": {
                    "team_id": TEAM_ID,
                    "user_id": "U0SOCKET",
                    "channel_id": "C0COMMANDS",
                    "command": "/chatops",
                    "text": "help",
                    "response_url": f"{self.url}/response",
                    "trigger_id": "1.2.socket",
                    "api_app_id": "A0CHATOPS",
                },
            }
        )
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                self.acks.append(json.loads(message.data))
                self.changed.set()
        return ws

    async def _response(self, request: web.Request) -> web.Response:
        self.responses.append(await request.json())
        self.changed.set()
        return web.json_response({"ok": True})


@pytest.fixture
async def socket_slack() -> AsyncIterator[FakeSocketSlack]:
    fake = FakeSocketSlack()
    await fake.start()
    yield fake
    await fake.stop()


async def test_commands_arrive_over_socket_mode(
    aiohttp_client: Any, socket_slack: FakeSocketSlack, store_path: Path
) -> None:
    settings = make_settings(
        None,
        store_path,
        slack_bot_token="xoxb-test",
        slack_app_token=APP_TOKEN,
        slack_api_url=f"{socket_slack.url}/api/",
    )
    app = create_app(settings, parse_config(BOT_CONFIG), tuning=FAST, socket_mode=True)
    await aiohttp_client(app)
    async with asyncio.timeout(10):
        while not (socket_slack.acks and socket_slack.responses):
            socket_slack.changed.clear()
            await socket_slack.changed.wait()
    assert socket_slack.opened_with == [f"Bearer {APP_TOKEN}"]
    assert socket_slack.acks[0]["envelope_id"] == "env-1", "acknowledged over the socket"
    (answer,) = socket_slack.responses
    assert answer["response_type"] == "ephemeral"
    assert "/retrain" in answer["text"]


async def test_socket_mode_refuses_a_workspace_outside_the_allowlist(
    aiohttp_client: Any, socket_slack: FakeSocketSlack, store_path: Path
) -> None:
    settings = make_settings(
        None,
        store_path,
        slack_bot_token="xoxb-test",
        slack_app_token=APP_TOKEN,
        slack_signing_secret=None,
        slack_api_url=f"{socket_slack.url}/api/",
    )
    config = {**BOT_CONFIG, "slack": {"team_ids": ["T0ONLYTHIS"]}}
    app = create_app(settings, parse_config(config), tuning=FAST, socket_mode=True)
    await aiohttp_client(app)
    async with asyncio.timeout(10):
        while not socket_slack.acks:
            socket_slack.changed.clear()
            await socket_slack.changed.wait()
    (ack,) = socket_slack.acks
    assert ack["envelope_id"] == "env-1"
    assert "does not serve this Slack workspace" in ack["payload"]["text"]
    await asyncio.sleep(0.3)
    assert socket_slack.responses == [], "the refused command was not run"
