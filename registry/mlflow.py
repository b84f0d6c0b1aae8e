"""The MLflow adapter: the registry's REST API (2.0) over the app's aiohttp session.

The only module that speaks MLflow. Every call has a timeout; HTTP and MLflow error codes are
translated into `RegistryNotFound` / `RegistryUnavailable` / `RegistryError` with messages that
never carry the tracking URI's credentials. `MLFLOW_TRACKING_TOKEN` is sent as a bearer token,
as MLflow's own client does; without one, the tracking URI's `user:password@` is sent as basic
auth (the same way as every other adapter's URL, `urls.auth_headers`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import aiohttp
from yarl import URL

from registry.base import (
    ModelVersion,
    RegistryError,
    RegistryNotFound,
    RegistryUnavailable,
    RunSummary,
)
from urls import auth_headers, without_userinfo

_API = "api/2.0/mlflow/"
# MLflow answers a missing alias with 400 INVALID_PARAMETER_VALUE, not 404.
_NOT_FOUND_CODES = frozenset({"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"})


class MlflowRegistry:
    """`ModelRegistry` over MLflow's REST API."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        tracking_uri: str,
        token: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.ui_url = without_userinfo(tracking_uri).rstrip("/")  # what links and errors show
        self._session = session
        self._base = URL(self.ui_url + "/")
        self._headers = auth_headers(tracking_uri, token)
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def get_version(self, *, name: str, version: str) -> ModelVersion:
        body = await self._call(
            "GET", "model-versions/get", params={"name": name, "version": version}
        )
        return _version(body.get("model_version") or {})

    async def get_alias(self, *, name: str, alias: str) -> ModelVersion | None:
        try:
            body = await self._call(
                "GET", "registered-models/alias", params={"name": name, "alias": alias}
            )
        except RegistryNotFound:
            return None
        except RegistryError as e:
            if "not found" in str(e).lower():
                return None
            raise
        return _version(body.get("model_version") or {})

    async def get_run(self, *, run_id: str) -> RunSummary:
        body = await self._call("GET", "runs/get", params={"run_id": run_id})
        run = body.get("run") or {}
        info = run.get("info") or {}
        metrics = {
            str(m["key"]): float(m["value"])
            for m in (run.get("data") or {}).get("metrics") or []
            if isinstance(m, dict) and "key" in m and isinstance(m.get("value"), int | float)
        }
        experiment = info.get("experiment_id", "")
        return RunSummary(
            run_id=run_id,
            name=str(info.get("run_name") or ""),
            link=f"{self.ui_url}/#/experiments/{experiment}/runs/{run_id}",
            metrics=MappingProxyType(metrics),
        )

    async def set_alias(self, *, name: str, alias: str, version: str) -> None:
        await self._call(
            "POST",
            "registered-models/alias",
            json={"name": name, "alias": alias, "version": version},
        )

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        url = self._base.join(URL(_API + path))
        where = f"MLflow {method} {path}"
        try:
            async with self._session.request(
                method,
                url,
                params=params,
                json=json,
                headers=self._headers,
                timeout=self._timeout,
            ) as response:
                body = await _json(response)
                status = response.status
        except TimeoutError as e:
            raise RegistryUnavailable(f"{where}: no answer from {self.ui_url} in time") from e
        except aiohttp.ClientError as e:
            raise RegistryUnavailable(
                f"{where}: cannot reach {self.ui_url} ({type(e).__name__})"
            ) from e
        if status < 300:
            return body
        message = str(body.get("message") or f"HTTP {status}")[:300]
        code = str(body.get("error_code") or "")
        if status == 404 or code in _NOT_FOUND_CODES:
            raise RegistryNotFound(f"{where}: {message}")
        if status >= 500:
            raise RegistryUnavailable(f"{where}: {self.ui_url} answered {status}")
        if status in (401, 403):
            raise RegistryError(f"{where}: refused ({status}); check MLFLOW_TRACKING_TOKEN")
        raise RegistryError(f"{where}: {message}")


async def _json(response: aiohttp.ClientResponse) -> dict[str, Any]:
    try:
        body = await response.json(content_type=None)
    except (ValueError, aiohttp.ContentTypeError):
        return {}
    return body if isinstance(body, dict) else {}


def _version(raw: Mapping[str, Any]) -> ModelVersion:
    if not raw.get("name") or raw.get("version") in (None, ""):
        raise RegistryError("MLflow answered without a model version")
    tags = {
        str(t["key"]): str(t.get("value", ""))
        for t in raw.get("tags") or []
        if isinstance(t, dict) and "key" in t
    }
    return ModelVersion(
        name=str(raw["name"]),
        version=str(raw["version"]),
        run_id=str(raw["run_id"]) if raw.get("run_id") else None,
        source=str(raw.get("source") or ""),
        tags=MappingProxyType(tags),
        aliases=tuple(str(a) for a in raw.get("aliases") or ()),
    )
