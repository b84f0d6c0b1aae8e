"""The one silences adapter behind Alertmanager and Grafana: paths, auth, errors.

Against a loopback server that wants basic auth: Grafana without a token falls back to the URL's
userinfo on its own Alertmanager's path; Alertmanager sends it on /api/v2/silences and
/api/v2/status. The password is never in a link or an error.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.alerts.alertmanager import Alertmanager
from bot.alerts.grafana import Grafana
from bot.errors import SilenceError

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
BASIC = "Basic " + base64.b64encode(b"user:pw-in-url").decode()


async def _server(aiohttp_server: Any, seen: list[tuple[str, str]]) -> Any:
    async def handle(request: web.Request) -> web.Response:
        seen.append((request.method, request.path))
        if request.headers.get("Authorization") != BASIC:
            return web.Response(status=401, text="Unauthorized")
        if request.path.endswith("/status"):
            return web.json_response({"versionInfo": {"version": "0.27.0"}})
        if request.method == "GET":
            return web.json_response([{"id": "a"}, {"id": "b"}])
        return web.json_response(
            {"silenceID": "s-1"}, status=202 if "grafana" in request.path else 200
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return await aiohttp_server(app)


async def test_grafana_without_a_token_uses_the_userinfo_on_its_path(aiohttp_server: Any) -> None:
    seen: list[tuple[str, str]] = []
    server = await _server(aiohttp_server, seen)
    async with aiohttp.ClientSession() as session:
        grafana = Grafana(
            url=f"http://user:pw-in-url@127.0.0.1:{server.port}/", token=None, session=session
        )
        silence = await grafana.create_silence(
            matchers={"alertname": "X"},
            duration=timedelta(hours=1),
            created_by="U1",
            comment="c",
            now=NOW,
        )
        assert await grafana.silences() == 2
    path = "/api/alertmanager/grafana/api/v2/silences"
    assert seen == [("POST", path), ("GET", path)]
    assert (
        silence.url
        == f"http://127.0.0.1:{server.port}/alerting/silence/s-1/edit?alertmanager=grafana"
    )
    assert silence.ends_at == NOW + timedelta(hours=1)


async def test_alertmanager_sends_the_userinfo_and_never_shows_it(aiohttp_server: Any) -> None:
    seen: list[tuple[str, str]] = []
    server = await _server(aiohttp_server, seen)
    async with aiohttp.ClientSession() as session:
        am = Alertmanager(url=f"http://user:pw-in-url@127.0.0.1:{server.port}", session=session)
        silence = await am.create_silence(
            matchers={"alertname": "X"},
            duration=timedelta(hours=2),
            created_by="U1",
            comment="c",
            now=NOW,
        )
        assert await am.version() == "0.27.0"
        bare = Alertmanager(url=f"http://127.0.0.1:{server.port}", session=session)
        with pytest.raises(SilenceError) as refused:
            await bare.create_silence(
                matchers={"a": "b"},
                duration=timedelta(hours=1),
                created_by="U1",
                comment="c",
                now=NOW,
            )
        with pytest.raises(SilenceError) as status:
            await bare.version()
    assert seen[:2] == [("POST", "/api/v2/silences"), ("GET", "/api/v2/status")]
    assert silence.url == f"http://127.0.0.1:{server.port}/#/silences/s-1"
    assert refused.value.message == "Alertmanager refused the silence (401: Unauthorized)"
    assert status.value.message == "Alertmanager answered 401 to /api/v2/status"
    assert "pw-in-url" not in silence.url + refused.value.message + status.value.message
