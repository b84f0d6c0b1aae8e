"""The HTTP edge under hostile clients, over raw sockets (what an HTTP client library won't send).

Authentication comes from the headers before any of the body is read: an unauthenticated
request announcing a large body is refused at once, without waiting for (or buffering) that
body. An authenticated body that stalls is refused with 408 after the body timeout. Header
bytes that are not UTF-8 or not ASCII are a 401, never a 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.fakes.app import DRIFT_SECRET, WEBHOOK_TOKEN

BIG = 1024 * 1024  # announced, never sent
SIGNATURE = "sha256=" + "ab" * 32
SECRET = {"chatops_drift_secret": DRIFT_SECRET}


async def raw_request(
    client: TestClient[Any, Any], head: bytes, body: bytes = b"", *, within: float
) -> tuple[int, dict[str, Any], float]:
    """Send `head` (request line and headers) and `body`, keep the socket open, read the answer.

    Returns the status, the JSON body and how long the answer took. Fails when no answer
    comes within `within` seconds.
    """
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    started = time.monotonic()
    try:
        writer.write(head + b"\r\n" + body)
        await writer.drain()
        async with asyncio.timeout(within):
            status_line = await reader.readline()
            headers: dict[str, str] = {}
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            payload = await reader.readexactly(int(headers["content-length"]))
        elapsed = time.monotonic() - started
    finally:
        writer.close()
    status = int(status_line.split()[1])
    return status, json.loads(payload), elapsed


def head(path: str, *headers: bytes, length: int = BIG) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1".encode(),
        b"Host: chatops.test",
        b"Content-Type: application/json",
        f"Content-Length: {length}".encode(),
        *headers,
    ]
    return b"\r\n".join(lines) + b"\r\n"


async def http_errors(client: TestClient[Any, Any]) -> float:
    metrics = await (await client.get("/metrics")).text()
    found = re.findall(r'^chatops_errors_total\{where="http"\} (\S+)$', metrics, re.M)
    return sum(float(n) for n in found)


# --- auth before body ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "headers", "settings"),
    [
        ("/webhooks/alertmanager", (), {}),
        ("/webhooks/alertmanager", (b"Authorization: Bearer wrong",), {}),
        ("/webhooks/drift", (), {}),
        ("/webhooks/drift", (), {"chatops_drift_secret": DRIFT_SECRET}),
        ("/drift-webhook", (b"X-Signature-256: sha256=nothex",), {"chatops_drift_secret": "s"}),
        ("/slack/events", (b"X-Slack-Request-Timestamp: 1700000000",), {}),
    ],
    ids=[
        "am-no-token",
        "am-wrong-token",
        "drift-no-token",
        "drift-no-signature",
        "drift-bad-sig",
        "slack-unsigned",
    ],
)
async def test_unauthenticated_large_body_is_401_without_reading_it(
    make_app: Any, path: str, headers: tuple[bytes, ...], settings: dict[str, Any]
) -> None:
    client = await make_app(chatops_body_timeout=30.0, **settings)
    status, payload, elapsed = await raw_request(client, head(path, *headers), within=5)
    assert status == 401
    assert payload["error"] == "unauthorized"
    assert elapsed < 2.0, f"answered after {elapsed:.2f}s: the body was waited for"


async def test_authenticated_stalled_body_is_408_after_the_body_timeout(make_app: Any) -> None:
    client = await make_app(chatops_body_timeout=0.5)
    auth = f"Authorization: Bearer {WEBHOOK_TOKEN}".encode()
    status, payload, elapsed = await raw_request(
        client, head("/webhooks/alertmanager", auth), b'{"status":', within=5
    )
    assert status == 408
    assert payload["error"] == "request timeout"
    assert 0.4 < elapsed < 3.0
    metrics = await (await client.get("/metrics")).text()
    assert 'outcome="body_timeout",source="alertmanager"} 1.0' in metrics


async def test_signed_drift_with_a_stalled_body_is_408(make_app: Any) -> None:
    client = await make_app(chatops_body_timeout=0.5, chatops_drift_secret=DRIFT_SECRET)
    sig = f"X-Signature-256: {SIGNATURE}".encode()
    status, _, elapsed = await raw_request(client, head("/webhooks/drift", sig), within=5)
    assert status == 408
    assert elapsed < 3.0


async def test_signed_slack_request_with_a_stalled_body_is_408(make_app: Any) -> None:
    client = await make_app(chatops_body_timeout=0.5)
    signed = (
        f"X-Slack-Request-Timestamp: {int(time.time())}".encode(),
        b"X-Slack-Signature: v0=" + b"ab" * 32,
    )
    status, payload, elapsed = await raw_request(
        client, head("/slack/events", *signed), b"command=%2Fdeploy", within=5
    )
    assert status == 408
    assert payload["error"] == "request timeout"
    assert elapsed < 3.0


def test_the_body_timeout_is_a_setting_of_ten_seconds_by_default() -> None:
    from chatops.settings import Settings

    assert Settings(_env_file=None).chatops_body_timeout == 10.0  # type: ignore[call-arg]
    assert Settings(_env_file=None, chatops_body_timeout="2.5").chatops_body_timeout == 2.5  # type: ignore[call-arg]


# --- odd header bytes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "header", "settings"),
    [
        ("/webhooks/alertmanager", b"Authorization: Bearer \xff\xfe\xc3", {}),
        ("/webhooks/drift", b"Authorization: Bearer t\xe9st-am-token", {}),
        ("/webhooks/drift", "X-Signature-256: sha256=é".encode(), SECRET),
        ("/webhooks/drift", b"X-Signature-256: sha256=\xff" + b"a" * 63, SECRET),
    ],
    ids=["am-auth-not-utf8", "drift-auth-latin1", "sig-non-ascii", "sig-not-utf8"],
)
async def test_odd_auth_header_bytes_are_401_not_500(
    make_app: Any, path: str, header: bytes, settings: dict[str, Any]
) -> None:
    client = await make_app(**settings)
    body = b"{}"
    status, payload, _ = await raw_request(
        client, head(path, header, length=len(body)), body, within=5
    )
    assert status == 401, payload
    assert payload["error"] == "unauthorized"
    assert await http_errors(client) == 0


@pytest.mark.parametrize("authenticated", [False, True], ids=["unauthenticated", "authenticated"])
async def test_a_trickled_upload_is_answered_and_closed_within_seconds(
    make_app: Any, authenticated: bool
) -> None:
    """A client sending one byte at a time once held its connection for minutes."""
    client = await make_app(chatops_body_timeout=1.0)
    auth = (f"Authorization: Bearer {WEBHOOK_TOKEN}".encode(),) if authenticated else ()
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(head("/webhooks/alertmanager", *auth) + b"\r\n")

    async def trickle() -> None:
        with contextlib.suppress(ConnectionError):
            while True:
                writer.write(b"x")
                await writer.drain()
                await asyncio.sleep(0.2)

    started = time.monotonic()
    task = asyncio.create_task(trickle())
    try:
        async with asyncio.timeout(8):
            status_line = await reader.readline()
            while await reader.read(4096):
                pass  # the rest of the answer, then the server's close
        closed_after = time.monotonic() - started
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        writer.close()
    assert status_line.split()[1] == (b"408" if authenticated else b"401")
    assert closed_after < 5.0
