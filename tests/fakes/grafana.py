"""A fake Grafana: its Alertmanager-compatible silences API and health, on 127.0.0.1, port 0.

Built from Grafana's documented HTTP API ("Alerting: Alertmanager" in the HTTP API reference):
- `POST /api/alertmanager/grafana/api/v2/silences` takes Alertmanager's postable silence
  (`matchers` with name/value/isRegex/isEqual, `startsAt`, `endsAt`, `createdBy`, `comment`) and
  answers 202 `{"silenceID": "<uuid>"}` (`legacy`: `{"message": "silence created", "id": ...}`,
  as Grafana before 10 did); a body without matchers or with `endsAt` not after `startsAt` is
  400 `{"message": ...}`.
- `GET /api/alertmanager/grafana/api/v2/silences` lists gettable silences (`id`, `status.state`
  and the posted fields).
- Both need `Authorization: Bearer <service account token>`; anything else is 401, as Grafana
  answers without a valid token (`{"message": "Unauthorized", "messageId":
  "auth.unauthorized", "statusCode": 401}`).
- `GET /api/health` answers `{"commit", "database": "ok", "version"}` without authentication.

Arrange `fail_with` (e.g. 500 or 401) to make the silences API fail; read `requests` back.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from aiohttp import web

SILENCES = "/api/alertmanager/grafana/api/v2/silences"
TOKEN = "glsa_fake-grafana-service-account-token"


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    authorization: str
    body: Any


@dataclass
class FakeGrafana:
    token: str = TOKEN
    version: str = "11.0.0"
    fail_with: int | None = None
    legacy: bool = False
    requests: list[Recorded] = field(default_factory=list)
    silences: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post(SILENCES, self._post_silence)
        app.router.add_get(SILENCES, self._list_silences)
        app.router.add_get("/api/health", self._health)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _record(self, request: web.Request) -> web.Response | None:
        text = await request.text()
        body = json.loads(text) if text else None
        auth = request.headers.get("Authorization", "")
        self.requests.append(Recorded(request.method, request.path, auth, body))
        if auth != f"Bearer {self.token}" or self.fail_with == 401:
            error = {"message": "Unauthorized", "messageId": "auth.unauthorized"}
            return web.json_response(error | {"statusCode": 401}, status=401)
        if self.fail_with is not None:
            return web.json_response({"message": "internal server error"}, status=self.fail_with)
        return None

    async def _post_silence(self, request: web.Request) -> web.Response:
        refused = await self._record(request)
        if refused is not None:
            return refused
        body = self.requests[-1].body
        problem = _silence_problem(body)
        if problem:
            return web.json_response({"message": problem}, status=400)
        silence_id = str(uuid.uuid4())
        self.silences.append({"id": silence_id, "status": {"state": "active"}} | body)
        answer = {"message": "silence created", "id": silence_id} if self.legacy else None
        return web.json_response(answer or {"silenceID": silence_id}, status=202)

    async def _list_silences(self, request: web.Request) -> web.Response:
        refused = await self._record(request)
        return refused or web.json_response(self.silences)

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"commit": "fake", "database": "ok", "version": self.version})


def _silence_problem(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "bad request data"
    matchers = body.get("matchers")
    if not isinstance(matchers, list) or not matchers:
        return "silence invalid: at least one matcher required"
    for m in matchers:
        if not (isinstance(m, dict) and m.get("name") and isinstance(m.get("value"), str)):
            return "silence invalid: bad matcher"
    try:
        starts = datetime.fromisoformat(str(body["startsAt"]).replace("Z", "+00:00"))
        ends = datetime.fromisoformat(str(body["endsAt"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return "silence invalid: startsAt and endsAt required"
    if ends <= starts:
        return "silence invalid: end time must not be before start time"
    if not body.get("createdBy") or not body.get("comment"):
        return "silence invalid: createdBy and comment required"
    return None


@pytest.fixture
async def fake_grafana() -> AsyncIterator[FakeGrafana]:
    """A running fake Grafana (silences API with `TOKEN`, health)."""
    fake = FakeGrafana()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
