"""The MLflow adapter's credentials (fake MLflow): from the tracking URI or the token, never shown.

Like every other adapter, it takes a `user:password@` out of its URL once (`urls.credentials`)
and sends it as basic auth; MLFLOW_TRACKING_TOKEN, when set, is sent instead as a bearer token.
"""

from __future__ import annotations

import base64

import aiohttp
import pytest

from registry import RegistryUnavailable
from registry.mlflow import MlflowRegistry
from tests.fakes.mlflow import FakeMlflow


def _with_login(url: str, login: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{login}@{rest}"


async def test_userinfo_in_the_tracking_uri_is_sent_as_basic_auth(
    fake_mlflow: FakeMlflow,
) -> None:
    fake_mlflow.add_version("fraud-model", "1", run_id="run1")
    async with aiohttp.ClientSession() as session:
        registry = MlflowRegistry(
            session, tracking_uri=_with_login(fake_mlflow.url, "ml:mlflow-pw-1")
        )
        version = await registry.get_version(name="fraud-model", version="1")
    assert version.run_id == "run1"
    (request,) = fake_mlflow.requests_to("GET", "model-versions/get")
    expected = "Basic " + base64.b64encode(b"ml:mlflow-pw-1").decode()
    assert request.headers["Authorization"] == expected


async def test_the_token_wins_over_userinfo_in_the_tracking_uri(fake_mlflow: FakeMlflow) -> None:
    fake_mlflow.token = "mlflow-token-1"
    fake_mlflow.add_version("fraud-model", "1", run_id="run1")
    async with aiohttp.ClientSession() as session:
        registry = MlflowRegistry(
            session,
            tracking_uri=_with_login(fake_mlflow.url, "ml:mlflow-pw-1"),
            token="mlflow-token-1",
        )
        version = await registry.get_version(name="fraud-model", version="1")
    assert version.version == "1"
    (request,) = fake_mlflow.requests_to("GET", "model-versions/get")
    assert request.headers["Authorization"] == "Bearer mlflow-token-1"


async def test_errors_name_the_registry_without_its_password(fake_mlflow: FakeMlflow) -> None:
    fake_mlflow.fail(503)
    async with aiohttp.ClientSession() as session:
        registry = MlflowRegistry(
            session, tracking_uri=_with_login(fake_mlflow.url, "ml:mlflow-pw-1")
        )
        with pytest.raises(RegistryUnavailable) as raised:
            await registry.get_version(name="fraud-model", version="1")
    assert fake_mlflow.url in str(raised.value)
    assert "mlflow-pw-1" not in str(raised.value)
