"""A real `mlflow server` for the registry end-to-end test, and the few REST calls it needs.

The server comes from `.tools/mlflow` (a virtualenv of its own made by scripts/install-tools;
MLflow is not a dependency of the service), or from CHATOPS_MLFLOW_BIN. Without it the test
skips locally and fails with CI=true. The server runs on SQLite with a free loopback port and
with the settings a delivery to a plain-http loopback receiver needs (MLflow refuses http and
private addresses for webhooks by default, and encrypts webhook secrets with a key that must
stay the same across restarts).
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

ROOT = Path(__file__).resolve().parents[2]


def mlflow_binary() -> str:
    candidates = [os.environ.get("CHATOPS_MLFLOW_BIN", ""), str(ROOT / ".tools/mlflow/bin/mlflow")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    reason = "mlflow not installed in .tools/mlflow (run scripts/install-tools)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (required in CI)", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class MlflowServer:
    url: str
    log: Path


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    binary = mlflow_binary()
    home = tmp_path_factory.mktemp("mlflow")
    port = _free_port()
    env = {
        **os.environ,
        "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
        "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
        "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
    }
    log = home / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                binary, "server",
                "--backend-store-uri", f"sqlite:///{home / 'mlflow.db'}",
                "--default-artifact-root", str(home / "artifacts"),
                "--host", "127.0.0.1", "--port", str(port),
            ],
            env=env, stdout=out, stderr=subprocess.STDOUT, cwd=home,
        )  # fmt: skip
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", process, log)
        yield MlflowServer(url=f"http://127.0.0.1:{port}", log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    import urllib.request

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"mlflow server exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"mlflow server not healthy in 180 s:\n{log.read_text()[-3000:]}")


class MlflowRest:
    """The registry and tracking calls a data scientist's code makes, over MLflow's REST API."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session, self.api = session, f"{url}/api/2.0/mlflow/"

    async def call(self, method: str, path: str, **body: Any) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"params": body} if method == "GET" else {"json": body}
        async with self.session.request(method, self.api + path, **kwargs) as response:
            answer: dict[str, Any] = await response.json(content_type=None)
            assert response.status == 200, (path, response.status, answer)
            return answer

    async def run_with_metrics(self, **metrics: float) -> str:
        run = await self.call("POST", "runs/create", experiment_id="0")
        run_id = str(run["run"]["info"]["run_id"])
        now = int(time.time() * 1000)
        for key, value in metrics.items():
            await self.call(
                "POST", "runs/log-metric", run_id=run_id, key=key, value=value, timestamp=now
            )
        await self.call("POST", "runs/update", run_id=run_id, status="FINISHED")
        return run_id

    async def new_version(self, name: str, run_id: str) -> str:
        created = await self.call(
            "POST",
            "model-versions/create",
            name=name,
            source=f"runs:/{run_id}/model",
            run_id=run_id,
        )
        return str(created["model_version"]["version"])

    async def set_alias(self, name: str, alias: str, version: str) -> None:
        await self.call("POST", "registered-models/alias", name=name, alias=alias, version=version)

    async def alias(self, name: str, alias: str) -> str:
        found = await self.call("GET", "registered-models/alias", name=name, alias=alias)
        return str(found["model_version"]["version"])

    async def webhook(self, name: str, url: str, secret: str) -> None:
        events = [
            {"entity": "MODEL_VERSION", "action": "CREATED"},
            {"entity": "MODEL_VERSION_ALIAS", "action": "CREATED"},
            {"entity": "MODEL_VERSION_ALIAS", "action": "DELETED"},
        ]
        await self.call("POST", "webhooks", name=name, url=url, events=events, secret=secret)
