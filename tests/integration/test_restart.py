"""Kill -9 the real `chatops serve` process after a 2xx, restart it on the same store."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from tests.fakes.app import BOT_TOKEN, DEFAULT_CONFIG, SIGNING_SECRET, WEBHOOK_TOKEN, bearer
from tests.fakes.slack import FakeSlack


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Service:
    """One `python -m chatops serve` child process."""

    def __init__(self, fake: FakeSlack, workdir: Path) -> None:
        self.fake = fake
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: asyncio.subprocess.Process | None = None
        config = workdir / "config.yaml"
        config.write_text(yaml.safe_dump(DEFAULT_CONFIG))
        self.env = {
            **os.environ,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake.api_url,
            "CHATOPS_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
            "CHATOPS_STORE_URL": f"sqlite:///{workdir / 'chatops.db'}",
            "CHATOPS_CONFIG": str(config),
            "CHATOPS_LOG_FORMAT": "json",
            "CHATOPS_SLACK_PACING": "0",
            "CHATOPS_SLACK_MAX_BACKOFF": "0.5",
            "CHATOPS_OUTBOX_LEASE": "2",
        }

    async def start(self) -> None:
        log = (self.workdir / "service.log").open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "chatops", "serve", "--host", "127.0.0.1",
            "--port", str(self.port), env=self.env, stdout=log, stderr=log,
        )  # fmt: skip
        log.close()
        async with aiohttp.ClientSession() as session:
            for _ in range(200):
                try:
                    async with session.get(f"{self.url}/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError("service did not start:\n" + self.log_tail())

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> None:
        if self.proc and self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()

    def log_tail(self) -> str:
        return (self.workdir / "service.log").read_text(errors="replace")[-3000:]

    async def post(self, body: bytes) -> int:
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{self.url}/webhooks/alertmanager", data=body, headers=bearer()
            ) as response,
        ):
            return response.status


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
