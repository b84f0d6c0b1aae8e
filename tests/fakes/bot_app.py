"""The real app (`create_app` + the bot wiring) against fake Slack, GitLab and GitHub servers.

`bot_app(config=..., **settings)` builds it with fast polling, a recording `MessageActions`, and
returns a `BotHarness` that sends signed slash commands and clicks and reads the answers back.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from bot.options import Tuning
from chatops.app import create_app
from chatops.bot_wiring import BOT
from chatops.config import parse_config
from chatops.keys import STORE
from tests.fakes.app import make_settings
from tests.fakes.github import FakeGitHub
from tests.fakes.gitlab import FakeGitLab
from tests.fakes.slack import FakeMessage, FakeSlack
from tests.fakes.slack_requests import action_body, command_body, signed_headers

_NAMES = count(1)
REQUESTER = "U0REQUESTER"
APPROVER1 = "U0APPROVER1"
APPROVER2 = "U0APPROVER2"
OUTSIDER = "U0OUTSIDER"
ONCALL = "U0ONCALL"
PROJECT = "ml/fraud-detector"
REPO = "acme/churn-predictor"

FAST = Tuning(
    poll_initial=0.05,
    poll_max=0.1,
    follow_deadline=30.0,
    sweep_interval=0.2,
    lease_seconds=1.0,
    drain_timeout=1.0,
    http_timeout=5.0,
)

BOT_CONFIG: dict[str, Any] = {
    "slack": {"default_channel": "#ml-alerts"},
    "models": {
        "fraud-detector": {
            "channel": "#fraud-ml",
            "environments": ["staging", "production"],
            "pipeline": {
                "provider": "gitlab",
                "project": PROJECT,
                "ref": "main",
                "variables": {"MODEL_NAME": "fraud-detector"},
                "allowed_variables": ["DATASET", "EPOCHS", "NOTE"],
                "allowed_refs": ["dev", "release/*"],
            },
        },
        "churn-predictor": {
            "environments": ["staging", "production"],
            "pipeline": {
                "provider": "github",
                "repo": REPO,
                "ref": "main",
                "workflows": {"retrain": "retrain.yml", "deploy": "deploy.yml"},
            },
        },
        "credit-scorer": {"environments": ["production"]},
    },
    "policy": {
        "retrain": {"*": {"approvals": 0}},
        "deploy": {
            "staging": {"approvals": 0},
            "production": {"approvals": 1, "approvers": [APPROVER1, APPROVER2]},
        },
        "rollback": {"*": {"approvals": 0}},
    },
    "drift": {"default_model": "fraud-detector"},
}


@dataclass
class RecordingActions:
    """A `MessageActions` that keeps what it was asked to record (our Protocol, our class)."""

    records: list[dict[str, str]] = field(default_factory=list)
    known: bool = True

    async def record(
        self, *, message_key: str, actor: str, action: str, detail: str = "", link: str = ""
    ) -> bool:
        self.records.append(
            {"key": message_key, "actor": actor, "action": action, "detail": detail, "link": link}
        )
        return self.known


@dataclass
class BotHarness:
    """The running app and the fakes, with helpers that read like what a user does."""

    client: TestClient[Any, Any]
    slack: FakeSlack
    gitlab: FakeGitLab
    github: FakeGitHub
    actions: RecordingActions

    @property
    def bot(self) -> Any:
        return self.client.server.app[BOT]

    @property
    def store(self) -> Any:
        return self.client.server.app[STORE]

    def _response_name(self) -> str:
        return f"r{next(_NAMES)}"  # unique across harnesses: a restarted app shares the fake

    async def post(self, body: str, **header_args: Any) -> ClientResponse:
        return await self.client.post(
            "/slack/events", data=body, headers=signed_headers(body, **header_args)
        )

    async def command(
        self,
        command: str,
        text: str,
        *,
        user: str = REQUESTER,
        retry: int | None = None,
        channel: tuple[str, str] = ("C0COMMANDS", "commands"),
    ) -> str:
        """Send a signed slash command from `channel` (ID, name); returns its response_url name."""
        name = self._response_name()
        channel_id, channel_name = channel
        body = command_body(
            command,
            text,
            user=user,
            response_url=self.slack.response_url(name),
            channel_id=channel_id,
            channel_name=channel_name,
        )
        response = await self.post(body)
        assert response.status == 200, await response.text()
        return name

    async def click(self, action_id: str, value: str, *, user: str) -> str:
        """Send a signed button click; returns the name of its response_url."""
        name = self._response_name()
        body = action_body(action_id, value, user=user, response_url=self.slack.response_url(name))
        response = await self.post(body)
        assert response.status == 200, await response.text()
        return name

    async def answer(
        self,
        name: str,
        timeout: float = 10.0,  # noqa: ASYNC109 - a test helper: the timeout is the assertion
    ) -> str:
        """The text of the first ephemeral answer posted to response_url `name`."""
        await self.slack.wait_for(lambda s: bool(s.responses(name)), timeout)
        body = self.slack.responses(name)[0]
        assert body.get("response_type") == "ephemeral", body
        return json.dumps(body.get("blocks"), ensure_ascii=False) + "\n" + str(body.get("text"))

    async def no_answer(self, name: str, wait: float = 0.5) -> None:
        await asyncio.sleep(wait)
        assert not self.slack.responses(name), self.slack.responses(name)

    def messages(self, channel: str) -> list[FakeMessage]:
        return self.slack.messages(channel)

    async def message_with(
        self,
        channel: str,
        text: str,
        timeout: float = 10.0,  # noqa: ASYNC109 - a test helper: the timeout is the assertion
    ) -> FakeMessage:
        """Wait until a top-level message in `channel` shows `text` (in its text or blocks)."""

        def found(s: FakeSlack) -> bool:
            return any(text in _visible(m) for m in s.messages(channel))

        await self.slack.wait_for(found, timeout)
        return next(m for m in self.slack.messages(channel) if text in _visible(m))

    def pipelines(self) -> list[dict[str, Any]]:
        """GitLab pipelines created, as the fake recorded them."""
        return [r.json for r in self.gitlab.requests_to("POST", "/pipeline")]


async def until(
    predicate: Callable[[], bool],
    timeout: float = 10.0,  # noqa: ASYNC109 - a test helper: the timeout is the assertion
    what: str = "",
) -> None:
    """Poll `predicate` (for state the fakes do not signal) until it holds or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s: {what}")
        await asyncio.sleep(0.02)


def _visible(message: FakeMessage) -> str:
    return message.text + json.dumps(message.blocks or [], ensure_ascii=False)


def variables(pipeline: dict[str, Any]) -> dict[str, str]:
    return {v["key"]: v["value"] for v in pipeline["variables"]}


BotAppFactory = Callable[..., Awaitable[BotHarness]]


@pytest.fixture
async def bot_app(
    aiohttp_client: Any,
    fake_slack: FakeSlack,
    fake_gitlab: FakeGitLab,
    fake_github: FakeGitHub,
    store_path: Path,
) -> AsyncIterator[BotAppFactory]:
    """bot_app(config=None, tuning=FAST, actions=None, gateway_records=False, **settings).

    Returns a started BotHarness. Clicks on gateway messages are recorded by a
    `RecordingActions`, or with `gateway_records=True` by the real gateway.
    """
    fake_gitlab.add_project(PROJECT)

    async def build(
        config: dict[str, Any] | None = None,
        *,
        tuning: Tuning = FAST,
        actions: RecordingActions | None = None,
        gateway_records: bool = False,
        **overrides: Any,
    ) -> BotHarness:
        values = {
            "gitlab_url": fake_gitlab.url,
            "gitlab_token": fake_gitlab.token,
            "github_api_url": fake_github.url,
            "github_token": fake_github.token,
        } | overrides
        settings = make_settings(fake_slack, store_path, **values)
        recording = actions or RecordingActions()
        app = create_app(
            settings,
            parse_config(config if config is not None else BOT_CONFIG),
            tuning=tuning,
            # gateway_records: the composition root's own, the gateway's records
            message_actions=None if gateway_records else recording,
        )
        client = await aiohttp_client(app)
        return BotHarness(client, fake_slack, fake_gitlab, fake_github, recording)

    return build
