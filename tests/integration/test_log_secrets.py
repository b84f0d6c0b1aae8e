"""No secret ever reaches the logs: the real `chatops serve` process, and the redactor itself.

The integration test runs `python -m chatops serve` as a child process with JSON logs, every
secret environment variable set to a fresh random value, drives it through the requests that
log (good and bad webhooks, near-miss tokens, Slack failing, bad drift signatures, Slack
commands), then scans everything it wrote, and every response it sent, for any 8-character
piece of any secret: a token with one typo is still a leaked token.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import logging
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import structlog
import yaml

from chatops.logs import configure_logging
from tests.fakes.app import DEFAULT_CONFIG
from tests.fakes.fixtures import fixture_bytes
from tests.fakes.gitlab import FakeGitLab
from tests.fakes.slack import FakeSlack
from tests.fakes.slack_requests import command_body, signed_headers

WINDOW = 8  # no piece of a secret this long may appear anywhere


def fresh_secrets() -> dict[str, str]:
    """Distinctive values, made up per run (never written to a file by the test)."""
    return {
        "SLACK_BOT_TOKEN": f"xoxb-{secrets.token_hex(16)}",
        "SLACK_SIGNING_SECRET": secrets.token_hex(16),
        "SLACK_APP_TOKEN": f"xapp-{secrets.token_hex(16)}",
        "GITLAB_TOKEN": f"glpat-{secrets.token_hex(12)}",
        "GITHUB_TOKEN": f"ghp_{secrets.token_hex(18)}",
        "CHATOPS_WEBHOOK_TOKEN": secrets.token_urlsafe(24),
        "CHATOPS_DRIFT_SECRET": secrets.token_urlsafe(24),
    }


def typo(value: str) -> str:
    """The value with one character changed, as a person mistyping it would send it."""
    middle = len(value) // 2
    return value[:middle] + ("x" if value[middle] != "x" else "y") + value[middle + 1 :]


def leaks(text: str, values: dict[str, str]) -> list[str]:
    """Names of the secrets of which some WINDOW-long piece appears in `text`."""
    found = []
    for name, value in values.items():
        pieces = {value[i : i + WINDOW] for i in range(len(value) - WINDOW + 1)}
        if any(piece in text for piece in pieces):
            found.append(name)
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Service:
    """One `python -m chatops serve` child process; stdout and stderr kept in files."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.proc: asyncio.subprocess.Process | None = None
        self.responses: list[str] = []  # every response body, scanned too

    async def start(self) -> None:
        out = (self.workdir / "stdout.log").open("ab")
        err = (self.workdir / "stderr.log").open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "chatops", "serve", "--host", "127.0.0.1",
            "--port", str(self.port), env=self.env, stdout=out, stderr=err,
        )  # fmt: skip
        out.close()
        err.close()
        async with aiohttp.ClientSession() as session:
            for _ in range(200):
                try:
                    async with session.get(f"{self.url}/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError("service did not start:\n" + self.output()[-3000:])

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self.proc.wait(), 15)

    def output(self) -> str:
        return "".join(
            (self.workdir / name).read_text(errors="replace")
            for name in ("stdout.log", "stderr.log")
            if (self.workdir / name).exists()
        )

    async def request(
        self, method: str, path: str, *, data: bytes | str = b"", headers: dict[str, str]
    ) -> int:
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, self.url + path, data=data, headers=headers) as response,
        ):
            self.responses.append(await response.text())
            self.responses.append(json.dumps(dict(response.headers)))
            return response.status

    async def raw(self, data: bytes) -> bytes:
        """Send bytes that are not valid HTTP and read what comes back."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(data)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(65536), 5)
        writer.close()
        await writer.wait_closed()
        self.responses.append(answer.decode(errors="replace"))
        return answer


@pytest.fixture
async def fake_gitlab_with_token() -> AsyncIterator[FakeGitLab]:
    fake = FakeGitLab(token="replaced-per-test")
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def service(
    tmp_path: Path, fake_slack: FakeSlack, fake_gitlab_with_token: FakeGitLab
) -> AsyncIterator[tuple[Service, dict[str, str]]]:
    values = fresh_secrets()
    fake_gitlab_with_token.token = values["GITLAB_TOKEN"]
    fake_gitlab_with_token.add_project("ml/fraud-detector")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(DEFAULT_CONFIG))
    env = {
        **os.environ,
        **values,
        "SLACK_API_URL": fake_slack.api_url,
        "GITLAB_URL": fake_gitlab_with_token.url,
        "GITHUB_API_URL": "http://127.0.0.1:9",
        "CHATOPS_STORE_URL": f"sqlite:///{tmp_path / 'chatops.db'}",
        "CHATOPS_CONFIG": str(config),
        "CHATOPS_LOG_FORMAT": "json",
        "CHATOPS_SLACK_PACING": "0",
        "CHATOPS_SLACK_MAX_BACKOFF": "0.3",
    }
    svc = Service(tmp_path, env)
    await svc.start()
    yield svc, values
    await svc.stop()


def drift_signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def drive_webhooks(svc: Service, values: dict[str, str], fake: FakeSlack) -> None:
    """Good and bad webhooks, near-miss tokens, and Slack failing while posting."""
    token = values["CHATOPS_WEBHOOK_TOKEN"]
    good = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    am = fixture_bytes("alertmanager/api_firing_single-alert.json")
    path = "/webhooks/alertmanager"
    assert await svc.request("POST", path, data=am, headers=good) == 202
    await fake.wait_for(lambda f: len(f.calls("chat.postMessage")) == 1, timeout=10)
    assert await svc.request("POST", path, data=am, headers=good) == 200
    for header in (f"Bearer {typo(token)}", f"Basic {token}", token, f"Bearer {token}{token}"):
        status = await svc.request("POST", path, data=am, headers={"Authorization": header})
        assert status == 401
    assert await svc.request("POST", f"{path}?token={token}", data=am, headers={}) == 401
    leaky = json.dumps({"status": token, "groupKey": token, "alerts": [{"labels": token}]})
    for bad in (b"not json", b"[]", leaky.encode(), token.encode()):
        assert await svc.request("POST", path, data=bad, headers=good) == 400

    fake.fail("chat.postMessage", 500, times=2)
    group = fixture_bytes("alertmanager/api_separate-groups_3-models_fraud-detector.json")
    assert await svc.request("POST", path, data=group, headers=good) == 202
    await fake.wait_for(lambda f: len(f.calls("chat.postMessage")) >= 4, timeout=10)
    fake.error("chat.postMessage", "invalid_auth", times=2)
    other = fixture_bytes("alertmanager/api_separate-groups_3-models_credit-scorer.json")
    assert await svc.request("POST", path, data=other, headers=good) == 202
    await fake.wait_for(lambda f: len(f.calls("chat.postMessage")) >= 7, timeout=10)


async def drive_drift(svc: Service, values: dict[str, str]) -> None:
    """Signed, badly signed and unsigned drift webhooks."""
    secret, token = values["CHATOPS_DRIFT_SECRET"], values["CHATOPS_WEBHOOK_TOKEN"]
    body = fixture_bytes("drift/drift-script_event-drift.json")
    path = "/webhooks/drift"
    signed = {"X-Signature-256": drift_signature(body, secret)}
    assert await svc.request("POST", path, data=body, headers=signed) == 202
    for bad in (drift_signature(body, typo(secret)), f"sha256={secret}", secret):
        status = await svc.request("POST", path, data=body, headers={"X-Signature-256": bad})
        assert status == 401
    assert await svc.request("POST", "/drift-webhook", data=body, headers={}) == 401
    bad_body = json.dumps({"event": secret, "payload": {"p_val": token}}).encode()
    resigned = {"X-Signature-256": drift_signature(bad_body, secret)}
    assert await svc.request("POST", path, data=bad_body, headers=resigned) == 400


async def drive_slack(svc: Service, values: dict[str, str], fake: FakeSlack) -> None:
    """Slash commands, correctly and wrongly signed (whatever the bot answers)."""
    secret = values["SLACK_SIGNING_SECRET"]
    body = command_body(
        "/retrain", "fraud-detector", user="U0ALICE", response_url=fake.response_url("r1")
    )
    statuses = [
        await svc.request(
            "POST", "/slack/events", data=body, headers=signed_headers(body, secret=s)
        )
        for s in (secret, typo(secret))
    ]
    stale = signed_headers(body, secret=secret, timestamp=int(time.time()) - 3600)
    statuses.append(await svc.request("POST", "/slack/events", data=body, headers=stale))
    assert all(s < 500 for s in statuses), statuses
    await asyncio.sleep(1.0)  # let a started command reach the fake GitLab and fail or finish


async def drive_malformed_http(svc: Service, values: dict[str, str]) -> None:
    """Requests aiohttp itself refuses, with a secret in the broken header."""
    token = values["CHATOPS_WEBHOOK_TOKEN"]
    await svc.raw(
        b"POST /webhooks/alertmanager HTTP/1.1\r\nHost: x\r\n"
        + f"Authorization: Bearer {token}\x01\r\n".encode()
        + b"Content-Length: 2\r\n\r\n{}"
    )
    await svc.raw(
        b"POST /webhooks/alertmanager HTTP/1.1\r\nHost: x\r\n"
        + f"Authorization: Bearer {token}{'a' * 9000}\r\n\r\n".encode()
    )


async def test_no_secret_in_any_output_of_the_service(
    service: tuple[Service, dict[str, str]], fake_slack: FakeSlack
) -> None:
    svc, values = service
    await drive_webhooks(svc, values, fake_slack)
    await drive_drift(svc, values)
    await drive_slack(svc, values, fake_slack)
    metrics = await svc.request("GET", "/metrics", headers={})
    assert metrics == 200
    await svc.stop()

    output = svc.output()
    events = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    names = {e.get("event") for e in events}
    assert {"incident_updated", "webhook_rejected", "slack_send_failed"} <= names, names
    errors = {e.get("error") for e in events if e.get("event") == "slack_send_failed"}
    assert "invalid_auth" in errors, errors
    assert leaks(output, values) == [], "secret in the service's output"
    assert leaks("\n".join(svc.responses), values) == [], "secret in a response"


async def test_no_secret_in_logs_of_malformed_requests(
    service: tuple[Service, dict[str, str]],
) -> None:
    svc, values = service
    await drive_malformed_http(svc, values)
    await svc.stop()

    output = svc.output()
    assert "Error handling request" in output  # aiohttp did log both requests
    assert leaks(output, values) == [], "secret in the service's output"
    # (aiohttp's 400 answer echoes the bad header line to its sender: not a leak)


# --- the redactor -------------------------------------------------------------------------------

SECRET = "s3cr3t-" + "q7Rw2" * 4


@pytest.fixture
def json_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """configure_logging(json, secrets=[SECRET]) into a buffer; read() returns the log lines."""
    buffer = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buffer)
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging(fmt="json", secrets=[SECRET, "abc"])

    def read() -> list[dict[str, Any]]:
        return [json.loads(line) for line in buffer.getvalue().splitlines()]

    yield read
    structlog.configure(**saved)
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize("key", ["token", "secret", "authorization", "Authorization", "password"])
def test_credential_keys_are_blanked(json_logs: Any, key: str) -> None:
    structlog.get_logger("t").info("request_seen", **{key: "anything at all"})
    (line,) = json_logs()
    assert line[key] == "***"


def test_secret_values_inside_other_strings_are_blanked(json_logs: Any) -> None:
    log = structlog.get_logger("t")
    log.info("call_failed", url=f"https://x/api?token={SECRET}&a=1", note=SECRET)
    logging.getLogger("aiohttp.server").error("stdlib says %s", SECRET)
    lines = json_logs()
    assert lines[0]["url"] == "https://x/api?token=***&a=1"
    assert lines[0]["note"] == "***"
    assert lines[1]["event"] == "stdlib says ***"
    assert SECRET not in json.dumps(lines)


def test_short_values_are_not_treated_as_secrets(json_logs: Any) -> None:
    structlog.get_logger("t").info("abc_seen", word="abcdef")
    (line,) = json_logs()
    assert line["word"] == "abcdef"


def test_secret_values_in_nested_values_are_blanked(json_logs: Any) -> None:
    structlog.get_logger("t").info(
        "call_failed",
        headers={"Authorization": f"Bearer {SECRET}"},
        details=[f"bad value {SECRET}"],
        error=RuntimeError(f"auth failed for {SECRET}"),
    )
    assert SECRET not in json.dumps(json_logs())


def test_secret_values_in_tracebacks_are_blanked(json_logs: Any) -> None:
    try:
        raise RuntimeError(f"request with token {SECRET} failed")
    except RuntimeError:
        structlog.get_logger("t").exception("request_failed")
        logging.getLogger("aiohttp.server").exception("Error handling request")
    lines = json_logs()
    assert len(lines) == 2
    assert SECRET not in json.dumps(lines)
