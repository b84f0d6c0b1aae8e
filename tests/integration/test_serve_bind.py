"""`chatops serve` without CHATOPS_WEBHOOK_TOKEN: loopback by default, refused elsewhere.

Zero-config (no environment at all) still starts, on 127.0.0.1. Asked to listen on another
address with no webhook token, it refuses to start: one line naming the fix, exit 2, no
traceback, unless --allow-unauthenticated-webhooks is given.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr

from chatops.serve import unauthenticated_bind
from chatops.settings import Settings
from tests.fakes.service import free_port

BARE_ENV = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}


def serve(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chatops", "serve", *args],
        capture_output=True,
        text=True,
        env=BARE_ENV | {"PYTHONPATH": os.environ.get("PYTHONPATH", "")},
        cwd=cwd,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "chatops.internal", ""])
def test_serving_unauthenticated_webhooks_off_loopback_is_refused(
    tmp_path: Path, host: str
) -> None:
    result = serve("--host", host, "--port", str(free_port()), cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "CHATOPS_WEBHOOK_TOKEN" in lines[0]
    assert "--allow-unauthenticated-webhooks" in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("host", "token", "allowed", "refused"),
    [
        ("0.0.0.0", None, False, True),
        ("0.0.0.0", "", False, True),
        ("0.0.0.0", "a-token", False, False),
        ("0.0.0.0", None, True, False),
        ("127.0.0.1", None, False, False),
        ("127.0.0.2", None, False, False),
        ("::1", None, False, False),
        ("localhost", None, False, False),
    ],
)
def test_which_binds_need_a_webhook_token(
    host: str, token: str | None, allowed: bool, refused: bool
) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, chatops_webhook_token=SecretStr(token) if token is not None else None
    )
    assert (unauthenticated_bind(settings, host, allowed) is not None) is refused


async def test_zero_config_serve_listens_on_loopback(tmp_path: Path) -> None:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chatops", "serve", "--port", str(port),
        env=BARE_ENV | {"PYTHONPATH": os.environ.get("PYTHONPATH", "")}, cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(300):
                assert proc.returncode is None, "serve exited"
                try:
                    async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                        assert response.status == 200
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)  # a process start has no event to wait on
            else:
                raise AssertionError("serve did not answer on 127.0.0.1")
    finally:
        proc.terminate()
        _, stderr = await proc.communicate()
    assert f"127.0.0.1:{port}" in stderr.decode()
