"""URL userinfo: taken out for the call, never rendered (the urls package, Settings, MLflow)."""

from __future__ import annotations

import aiohttp
import pytest

from chatops.settings import Settings
from registry.mlflow import MlflowRegistry
from urls import auth_headers, credentials, without_userinfo


@pytest.mark.parametrize(
    ("url", "shown", "login"),
    [
        ("http://user:pw@host:9093/am/", "http://host:9093/am/", ("user", "pw")),
        ("https://u%40x:p%3Aw@host", "https://host", ("u@x", "p:w")),
        ("http://token@host/x?y=a@b", "http://host/x?y=a@b", ("token", "")),
        ("http://a:b@c@[::1]:9090", "http://[::1]:9090", ("a", "b@c")),
        ("http://host:9090/path@x", "http://host:9090/path@x", None),
        ("redis://:redis-pw@redis:6379/0", "redis://redis:6379/0", ("", "redis-pw")),
    ],
)
def test_userinfo_is_split_from_the_url(url: str, shown: str, login: object) -> None:
    assert without_userinfo(url) == shown
    assert credentials(url) == login


def test_url_passwords_are_secrets_for_the_log_redactor() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        alertmanager_url="http://user:am-pw-1@am:9093",
        prometheus_url="http://user:prom-pw-2@prometheus:9090",
        chatops_store_url="redis://:store-pw-3@redis:6379/0",
    )
    assert {"am-pw-1", "prom-pw-2", "store-pw-3"} <= set(settings.secret_values())


async def test_the_registry_shows_its_tracking_uri_without_credentials() -> None:
    """What MLflow errors and run links show is the same stripped URL as every other client's."""
    async with aiohttp.ClientSession() as session:
        registry = MlflowRegistry(session, tracking_uri="http://ml:mlflow-pw@mlflow:5000/")
    assert registry.ui_url == "http://mlflow:5000"


def test_a_token_wins_over_userinfo_and_userinfo_is_basic_auth() -> None:
    assert auth_headers("http://u:p@host", "tok-1") == {"Authorization": "Bearer tok-1"}
    assert auth_headers("http://u:p@host") == {"Authorization": "Basic dTpw"}
    assert auth_headers("http://host", None) == {}
