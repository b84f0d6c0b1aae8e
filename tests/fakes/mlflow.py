"""A fake MLflow tracking server (REST API 2.0) on 127.0.0.1, port 0.

Exactly the endpoints `registry.mlflow` calls, shaped like the real server's answers:
`GET model-versions/get`, `GET registered-models/alias`, `GET runs/get` and
`POST registered-models/alias`. Errors are MLflow's `{"error_code", "message"}` bodies: a
missing version or run is 404 RESOURCE_DOES_NOT_EXIST, a missing alias is 400
INVALID_PARAMETER_VALUE "Registered model alias <a> not found." (as MLflow answers). With a
`token`, requests need `Authorization: Bearer <token>` (else 401). It records every request and
can be told to fail (`fail(500, method="POST", path="alias")`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from tests.fakes.recording import RecordingServer

API = "/api/2.0/mlflow/"
_CODES = {
    400: "INVALID_PARAMETER_VALUE",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "RESOURCE_DOES_NOT_EXIST",
    500: "INTERNAL_ERROR",
    503: "TEMPORARILY_UNAVAILABLE",
}


def _error(status: int, message: str) -> web.Response:
    return web.json_response(
        {"error_code": _CODES.get(status, "INTERNAL_ERROR"), "message": message}, status=status
    )


@dataclass
class FakeMlflow(RecordingServer):
    """Registered versions, runs and aliases; tests arrange them and read `requests` back."""

    token: str | None = None
    versions: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    aliases: dict[str, dict[str, str]] = field(default_factory=dict)

    def add_version(
        self, name: str, version: str, *, run_id: str, metrics: dict[str, float] | None = None
    ) -> None:
        """A registered version and the run it came from (with these metrics)."""
        self.versions[(name, version)] = {
            "run_id": run_id,
            "source": f"runs:/{run_id}/model",
            "tags": {},
        }
        self.runs[run_id] = {"run_name": f"run-{version}", "metrics": dict(metrics or {})}

    def alias_sets(self) -> list[dict[str, Any]]:
        """The bodies of the POST registered-models/alias requests received."""
        return [r.json for r in self.requests_to("POST", "registered-models/alias")]

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get(API + "model-versions/get", self._get_version)
        app.router.add_get(API + "registered-models/alias", self._get_alias)
        app.router.add_post(API + "registered-models/alias", self._set_alias)
        app.router.add_get(API + "runs/get", self._get_run)
        await self._serve(app)

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        fault = await self._intercept(request)
        if fault is not None:
            return _error(fault.status, fault.message or f"injected {fault.status}")
        wanted = f"Bearer {self.token}"
        if self.token is not None and request.headers.get("Authorization") != wanted:
            return _error(401, "Unauthorized: a valid token is required")
        return await handler(request)

    def _version_json(self, name: str, version: str) -> dict[str, Any]:
        raw = self.versions[(name, version)]
        return {
            "name": name,
            "version": version,
            "creation_timestamp": 1796299528000,
            "current_stage": "None",
            "source": raw["source"],
            "run_id": raw["run_id"],
            "status": "READY",
            "tags": [{"key": k, "value": v} for k, v in raw["tags"].items()],
            "aliases": sorted(a for a, v in self.aliases.get(name, {}).items() if v == version),
        }

    async def _get_version(self, request: web.Request) -> web.Response:
        name, version = request.query.get("name", ""), request.query.get("version", "")
        if (name, version) not in self.versions:
            return _error(404, f"Model Version (name={name}, version={version}) not found")
        return web.json_response({"model_version": self._version_json(name, version)})

    async def _get_alias(self, request: web.Request) -> web.Response:
        name, alias = request.query.get("name", ""), request.query.get("alias", "")
        version = self.aliases.get(name, {}).get(alias)
        if version is None:
            return _error(400, f"Registered model alias {alias} not found.")
        return web.json_response({"model_version": self._version_json(name, version)})

    async def _set_alias(self, request: web.Request) -> web.Response:
        body = await request.json()
        name, alias, version = (str(body.get(k, "")) for k in ("name", "alias", "version"))
        if (name, version) not in self.versions:
            return _error(404, f"Model Version (name={name}, version={version}) not found")
        self.aliases.setdefault(name, {})[alias] = version
        return web.json_response({})

    async def _get_run(self, request: web.Request) -> web.Response:
        run_id = request.query.get("run_id", "")
        run = self.runs.get(run_id)
        if run is None:
            return _error(404, f"Run '{run_id}' not found.")
        metrics = [
            {"key": k, "value": v, "timestamp": 1796299528000, "step": 0}
            for k, v in run["metrics"].items()
        ]
        info = {"run_id": run_id, "run_name": run["run_name"], "experiment_id": "1"}
        return web.json_response({"run": {"info": info, "data": {"metrics": metrics}}})


@pytest.fixture
async def fake_mlflow() -> AsyncIterator[FakeMlflow]:
    """A running fake MLflow; `fake_mlflow.url` is the MLFLOW_TRACKING_URI to use."""
    fake = FakeMlflow()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
