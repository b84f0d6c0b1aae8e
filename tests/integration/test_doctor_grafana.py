"""`chatops doctor` checks Grafana's silences API with the token when GRAFANA_URL is set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chatops.config import parse_config
from chatops.doctor import Check, report, run_doctor
from tests.fakes.app import make_settings
from tests.fakes.grafana import SILENCES, FakeGrafana


async def grafana_lines(tmp_path: Path, **settings: Any) -> list[Check]:
    checks = await run_doctor(make_settings(None, tmp_path / "c.db", **settings), parse_config({}))
    return [c for c in checks if c.name == "grafana"]


async def test_no_grafana_line_without_grafana_url(tmp_path: Path) -> None:
    assert await grafana_lines(tmp_path) == []


async def test_grafana_answers_with_the_token(tmp_path: Path, fake_grafana: FakeGrafana) -> None:
    (check,) = await grafana_lines(
        tmp_path, grafana_url=fake_grafana.url, grafana_token=fake_grafana.token
    )
    assert check.ok, check.line
    assert f"silences API answers at {fake_grafana.url}" in check.detail
    (request,) = fake_grafana.requests
    assert (request.method, request.path) == ("GET", SILENCES)
    assert request.authorization == f"Bearer {fake_grafana.token}"


async def test_a_refused_token_fails_and_is_never_shown(
    tmp_path: Path, fake_grafana: FakeGrafana
) -> None:
    settings = {"grafana_url": fake_grafana.url, "grafana_token": "glsa_not-the-right-one"}
    (check,) = await grafana_lines(tmp_path, **settings)
    assert not check.ok
    assert "401" in check.detail
    assert "GRAFANA_TOKEN" in check.fix
    out = report([check], make_settings(None, tmp_path / "c.db", **settings).secret_values())
    assert "glsa_not-the-right-one" not in out


async def test_grafana_down_names_the_url_without_credentials(tmp_path: Path) -> None:
    (check,) = await grafana_lines(
        tmp_path, grafana_url="http://admin:pw-in-url@127.0.0.1:9", grafana_token="glsa_x"
    )
    assert not check.ok
    assert "GRAFANA_URL=http://127.0.0.1:9" in check.detail
    assert "pw-in-url" not in check.line


async def test_grafana_url_without_a_token_fails(tmp_path: Path) -> None:
    (check,) = await grafana_lines(tmp_path, grafana_url="http://127.0.0.1:9")
    assert not check.ok
    assert "GRAFANA_TOKEN: required" in check.detail
