"""Real `python -m chatops serve` child processes, and Alertmanager traffic to feed them.

`Service` runs one replica against the fake Slack (SQLite in its work dir by default, or
any CHATOPS_STORE_URL, e.g. a shared redis-server for several replicas). `group_body`
rewrites a captured Alertmanager body into many distinct groups that grow and resolve the
way Alertmanager sends them, for replica, storm and fault scenarios.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import os
import signal
import socket
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from tests.fakes.app import BOT_TOKEN, DEFAULT_CONFIG, SIGNING_SECRET, WEBHOOK_TOKEN, bearer
from tests.fakes.fixtures import fixture_json
from tests.fakes.slack import FakeSlack, RecordedCall

_TEMPLATE = "alertmanager/api_firing_single-alert.json"
_START_ATTEMPTS = 300


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Service:
    """One `python -m chatops serve` child process (one replica)."""

    def __init__(
        self,
        fake: FakeSlack,
        workdir: Path,
        *,
        name: str = "service",
        store_url: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.fake = fake
        self.workdir = workdir
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: asyncio.subprocess.Process | None = None
        self.log_path = workdir / f"{name}.log"
        config = workdir / "config.yaml"
        config.write_text(yaml.safe_dump(DEFAULT_CONFIG))
        self.env = {
            **os.environ,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake.api_url,
            "CHATOPS_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
            "GITLAB_TOKEN": "glpat-unused",  # DEFAULT_CONFIG has a gitlab pipeline
            "CHATOPS_STORE_URL": store_url or f"sqlite:///{workdir / 'chatops.db'}",
            "CHATOPS_CONFIG": str(config),
            "CHATOPS_LOG_FORMAT": "json",
            "CHATOPS_SLACK_PACING": "0",
            "CHATOPS_SLACK_MAX_BACKOFF": "0.5",
            "CHATOPS_OUTBOX_LEASE": "2",
            **(env or {}),
        }

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self) -> None:
        """Start the process and return once /healthz answers."""
        with self.log_path.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "chatops", "serve", "--host", "127.0.0.1",
                "--port", str(self.port), env=self.env, stdout=log, stderr=log,
            )  # fmt: skip
        async with aiohttp.ClientSession() as session:
            for _ in range(_START_ATTEMPTS):
                if not self.running:
                    break
                try:
                    async with session.get(f"{self.url}/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)  # a process start has no event to wait on
        raise AssertionError(f"{self.name} did not start:\n{self.log_tail()}")

    async def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a node or OOM kill."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def terminate(self, timeout: float = 30.0) -> int:  # noqa: ASYNC109
        """SIGTERM (what Kubernetes sends) and wait for the exit code."""
        assert self.proc is not None
        self.proc.terminate()
        return await asyncio.wait_for(self.proc.wait(), timeout)

    async def stop(self) -> None:
        if self.running:
            assert self.proc is not None
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()

    def log_tail(self, chars: int = 3000) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-chars:]

    async def post(
        self,
        body: bytes,
        *,
        session: aiohttp.ClientSession | None = None,
        path: str = "/webhooks/alertmanager",
    ) -> int:
        """POST a webhook body; the HTTP status (connection errors raise aiohttp.ClientError)."""
        if session is None:
            async with aiohttp.ClientSession() as own:
                return await self.post(body, session=own, path=path)
        async with session.post(f"{self.url}{path}", data=body, headers=bearer()) as response:
            await response.read()
            return response.status

    async def get(self, path: str) -> tuple[int, Any]:
        """GET a route: the status and the JSON body (or the text when it is not JSON)."""
        async with aiohttp.ClientSession() as session, session.get(self.url + path) as response:
            text = await response.text()
            try:
                return response.status, json.loads(text)
            except ValueError:
                return response.status, text


# --- Alertmanager traffic ----------------------------------------------------------------------


def group_name(group: int) -> str:
    """The alertname of generated group `group`; it makes the message subject unique."""
    return f"StormAlert{group:04d}"


def group_key(group: int, model: str = "fraud-detector") -> str:
    """The groupKey Alertmanager builds for `group_by: [alertname, model]`."""
    return f'{{}}:{{alertname="{group_name(group)}", model="{model}"}}'


def group_body(
    group: int, alerts: int, *, resolved: bool = False, model: str = "fraud-detector"
) -> bytes:
    """A real captured body rewritten as group `group` holding alerts 0..alerts-1.

    Labels, fingerprints and groupKey are rewritten consistently (a fingerprint is a hash of
    the label set); the rest (annotations, URLs, timestamps) is the captured alert's. With
    `resolved`, every alert is resolved, as in Alertmanager's last notification of a group.
    """
    captured = fixture_json(_TEMPLATE)
    template = captured["alerts"][0]
    name = group_name(group)
    starts = template["startsAt"]
    ends = _rfc3339(datetime.fromisoformat(starts.replace("Z", "+00:00")) + timedelta(minutes=5))
    body = copy.deepcopy(captured)
    body["alerts"] = []
    for i in range(alerts):
        alert = copy.deepcopy(template)
        alert["labels"] = {
            **template["labels"], "alertname": name, "model": model, "instance": f"node-{i:05d}"
        }  # fmt: skip
        alert["annotations"]["description"] = f"{name} on node-{i:05d} ({model})"
        alert["fingerprint"] = _fingerprint(alert["labels"])
        alert["status"] = "resolved" if resolved else "firing"
        alert["endsAt"] = ends if resolved else template["endsAt"]
        body["alerts"].append(alert)
    body["status"] = "resolved" if resolved else "firing"
    body["groupLabels"] = {"alertname": name, "model": model}
    common = {k: v for k, v in template["labels"].items() if k != "instance"}
    body["commonLabels"] = {**common, "alertname": name, "model": model}
    body["commonAnnotations"] = {"runbook_url": template["annotations"]["runbook_url"]}
    body["groupKey"] = group_key(group, model)
    return json.dumps(body, separators=(",", ":")).encode() + b"\n"


def _fingerprint(labels: dict[str, str]) -> str:
    return hashlib.sha256(repr(sorted(labels.items())).encode()).hexdigest()[:16]


def _rfc3339(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# --- what Slack saw ------------------------------------------------------------------------------


def top_posts(fake: FakeSlack) -> list[RecordedCall]:
    """Successful-or-not top-level chat.postMessage calls (thread replies left out)."""
    return [c for c in fake.calls("chat.postMessage") if not c.params.get("thread_ts")]


def message_key_of(message: Any) -> str | None:
    """The outbox key a posted message carries in its metadata (how the gateway adopts it)."""
    payload = (message.metadata or {}).get("event_payload") or {}
    key = payload.get("key")
    return str(key) if key is not None else None


def subject(text: str) -> str:
    """`🔴 FIRING: StormAlert0007 · fraud-detector (critical) — …` -> `StormAlert0007 · …`."""
    head = text.split(": ", 1)[-1]
    return head.split(" (", 1)[0].split(" — ", 1)[0]
