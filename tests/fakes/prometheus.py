"""A fake Prometheus instant-query API and Alertmanager status API, on 127.0.0.1, port 0.

`GET|POST /api/v1/query` answers the instant-vector JSON of the Prometheus HTTP API
(`{"status": "success", "data": {"resultType": "vector", "result": [...]}}`) for the queries a
test gave series for, an empty vector for any other, and `400 bad_data` (as Prometheus does
for a query that does not parse) for unbalanced brackets or a query marked bad.
`/api/v1/query_range` answers an empty matrix. `unavailable = n`: the next n queries are
answered `503` with Prometheus' error body (as when a query times out or the server is not
ready yet). Alertmanager's
`GET /api/v2/status` answers its version and cluster status. Real binaries are for tests/e2e.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

_PAIRS = {")": "(", "}": "{", "]": "["}


def parse_error(query: str) -> str | None:
    """Prometheus' message for a query with unbalanced brackets (enough for the fake)."""
    stack: list[str] = []
    for i, char in enumerate(query, start=1):
        if char in "({[":
            stack.append(char)
        elif char in _PAIRS and (not stack or stack.pop() != _PAIRS[char]):
            return f'1:{i}: parse error: unexpected "{char}"'
    return "1:1: parse error: unclosed left bracket" if stack else None


@dataclass
class FakePrometheus:
    """Arrange `series` (exact query -> vector) and `bad`; read `queries` back."""

    series: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    bad: dict[str, str] = field(default_factory=dict)
    queries: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # the status each query was answered
    unavailable: int = 0
    version: str = "0.27.0"
    url: str = ""
    _runner: web.AppRunner | None = None

    def add_series(self, query: str, value: float, **labels: str) -> None:
        """One more series in the answer to exactly `query`."""
        sample = {"metric": labels, "value": [time.time(), repr(value)]}
        self.series.setdefault(query, []).append(sample)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/v1/query", self._query)
        app.router.add_route("*", "/api/v1/query_range", self._query)
        app.router.add_get("/api/v2/status", self._status)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _query(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        if request.method == "POST":
            params.update({k: str(v) for k, v in (await request.post()).items()})
        query = params.get("query", "")
        self.queries.append(query)
        response = self._answer(query, ranged=request.path.endswith("_range"))
        self.statuses.append(response.status)
        return response

    def _answer(self, query: str, *, ranged: bool) -> web.Response:
        if self.unavailable > 0:
            self.unavailable -= 1
            body = {"status": "error", "errorType": "timeout", "error": "query timed out"}
            return web.json_response(body, status=503)
        error = self.bad.get(query) or parse_error(query)
        if not query or error:
            body = {"status": "error", "errorType": "bad_data", "error": error or "no query"}
            return web.json_response(body, status=400)
        if ranged:
            return web.json_response(
                {"status": "success", "data": {"resultType": "matrix", "result": []}}
            )
        data = {"resultType": "vector", "result": self.series.get(query, [])}
        return web.json_response({"status": "success", "data": data})

    async def _status(self, request: web.Request) -> web.Response:
        info = {"version": self.version, "revision": "fake", "branch": "HEAD"}
        body = {"cluster": {"name": "fake", "status": "ready", "peers": []}}
        body |= {"versionInfo": info, "config": {"original": "route: {}"}, "uptime": "now"}
        return web.json_response(body)


@pytest.fixture
async def fake_prometheus() -> AsyncIterator[FakePrometheus]:
    """A running fake Prometheus (its `url` also serves Alertmanager's /api/v2/status)."""
    fake = FakePrometheus()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
