"""Build the real app (`create_app`) against the fake Slack, on a temporary SQLite store."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from chatops.app import create_app
from chatops.config import AppConfig, parse_config
from chatops.settings import Settings
from tests.fakes.slack import FakeSlack

WEBHOOK_TOKEN = "test-am-token"
DRIFT_SECRET = "drift-test-secret"
BOT_TOKEN = "xoxb-test-token"
SIGNING_SECRET = "test-signing-secret"

DEFAULT_CONFIG: dict[str, Any] = {
    "slack": {"default_channel": "#ml-alerts"},
    "models": {
        "fraud-detector": {
            "channel": "#fraud-ml",
            "environments": ["staging", "production"],
            "pipeline": {"provider": "gitlab", "project": "ml/fraud-detector", "ref": "main"},
        },
        "credit-scorer": {"environments": ["production"]},
    },
    "drift": {"default_model": "fraud-detector"},
}


def make_settings(fake_slack: FakeSlack | None, store_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": BOT_TOKEN if fake_slack else None,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": fake_slack.api_url if fake_slack else "http://127.0.0.1:9/api/",
        "chatops_webhook_token": WEBHOOK_TOKEN,
        "chatops_drift_secret": None,
        "chatops_store_url": f"sqlite:///{store_path}",
        "chatops_slack_pacing": 0.0,
        "chatops_slack_max_backoff": 2.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


AppFactory = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "chatops.db"


@pytest.fixture
async def make_app(aiohttp_client: Any, fake_slack: FakeSlack, store_path: Path) -> AppFactory:
    """make_app(config=None, **settings_overrides) -> a test client on a fresh create_app()."""

    async def build(config: dict[str, Any] | AppConfig | None = None, **overrides: Any) -> Any:
        settings = make_settings(fake_slack, store_path, **overrides)
        if config is None:
            config = DEFAULT_CONFIG
        parsed = config if isinstance(config, AppConfig) else parse_config(config)
        return await aiohttp_client(create_app(settings, parsed))

    return build


def bearer(token: str = WEBHOOK_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


async def outbox_drained(client: TestClient[Any, Any], within: float = 10.0) -> None:
    """Wait until the app's outbox has nothing pending (every queued send reached Slack)."""
    import asyncio

    from chatops.keys import STORE

    store = client.server.app[STORE]
    deadline = asyncio.get_running_loop().time() + within
    while True:
        stats = await store.outbox_stats()
        if stats.pending == 0:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"outbox still has {stats.pending} pending after {within}s")
        await asyncio.sleep(0.05)
