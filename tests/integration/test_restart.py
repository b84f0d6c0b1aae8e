"""Kill -9 the real `chatops serve` process after a 2xx, restart it on the same store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.service import Service
from tests.fakes.slack import FakeSlack


@pytest.fixture
async def service(fake_slack: FakeSlack, tmp_path: Path) -> AsyncIterator[Service]:
    svc = Service(fake_slack, tmp_path)
    yield svc
    await svc.stop()


def top_level(fake: FakeSlack) -> list[Any]:
    return [m for m in fake.messages("#fraud-ml") if not m.thread_ts]


async def test_killed_before_slack_answered_resumes_and_posts_once(
    service: Service, fake_slack: FakeSlack, am_fixture: Any
) -> None:
    fake_slack.fail_all("chat.postMessage", status=500)
    await service.start()
    assert await service.post(am_fixture("api_firing_single-alert")) == 202
    await service.kill()
    fake_slack.clear_faults()

    await service.start()
    await fake_slack.wait_for(lambda f: len(top_level(f)) == 1, timeout=10)
    assert await service.post(am_fixture("api_firing_single-alert_resend")) == 200
    assert await service.post(am_fixture("api_resolved_single-alert")) == 202
    await fake_slack.wait_for(lambda f: len(f.calls("chat.update")) == 1, timeout=10)
    await asyncio.sleep(0.3)
    (message,) = top_level(fake_slack)
    assert fake_slack.calls("chat.update")[0].params["ts"] == message.ts, service.log_tail()


async def test_killed_after_posting_updates_the_same_message(
    service: Service, fake_slack: FakeSlack, am_fixture: Any
) -> None:
    await service.start()
    assert await service.post(am_fixture("api_firing_single-alert")) == 202
    await fake_slack.wait_for(lambda f: len(top_level(f)) == 1, timeout=10)
    await service.kill()

    await service.start()
    assert await service.post(am_fixture("api_firing_single-alert_resend")) == 200
    assert await service.post(am_fixture("api_resolved_single-alert")) == 202
    await fake_slack.wait_for(lambda f: len(f.calls("chat.update")) == 1, timeout=10)
    await asyncio.sleep(0.3)
    assert len(top_level(fake_slack)) == 1
    assert (
        len([c for c in fake_slack.calls("chat.postMessage") if "thread_ts" not in c.params]) == 1
    )


async def test_sigterm_shuts_down_cleanly(service: Service) -> None:
    await service.start()
    await service.stop()
    assert service.proc is not None
    assert service.proc.returncode == 0, service.log_tail()
