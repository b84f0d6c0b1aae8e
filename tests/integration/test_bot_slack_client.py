"""The bot's Slack client runs on the app's shared session, so CHATOPS_SLACK_TIMEOUT bounds its
calls (slack_sdk's own `timeout` applies only to sessions it makes itself)."""

from __future__ import annotations

import time

import pytest

from chatops.slack_events import SLACK_APP
from tests.fakes.bot_app import BotAppFactory
from tests.fakes.slack import FakeSlack


async def test_the_bots_slack_calls_give_up_after_chatops_slack_timeout(
    bot_app: BotAppFactory, fake_slack: FakeSlack
) -> None:
    h = await bot_app(chatops_slack_timeout=1)
    fake_slack.answer_late("chat.postMessage", 4.0)
    client = h.client.server.app[SLACK_APP].client
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await client.chat_postMessage(channel="#fraud-ml", text="late")
    assert time.monotonic() - started < 3, "the session's 1 s timeout applies, not a longer one"
