"""Grafana Alerting silences for the Silence button on alerts Grafana sent.

Grafana serves an Alertmanager-compatible API for its own Alertmanager:
`POST <grafana>/api/alertmanager/grafana/api/v2/silences` takes Alertmanager's postable silence
and answers 202 `{"silenceID": "..."}` (Grafana before 10 answered `{"message": "silence
created", "id": "..."}`; both are read, and 200 is accepted too). It is
called with a service account token (`Authorization: Bearer <GRAFANA_TOKEN>`) whose role may
create silences (Editor, or the "Silences Writer" permission). The silence is then shown at
`<grafana>/alerting/silence/<id>/edit?alertmanager=grafana`. Basic-auth userinfo in GRAFANA_URL
is used when no token is given; it is never shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import aiohttp

from bot.alerts.alertmanager import Silence, silence_body
from bot.errors import SilenceError
from slackio.blocks import brief
from urls import credentials, without_userinfo

SILENCES_PATH = "/api/alertmanager/grafana/api/v2/silences"
_REFUSED_AUTH = (401, 403)


class Grafana:
    """Creates silences in one Grafana's own Alertmanager."""

    def __init__(
        self,
        *,
        url: str,
        token: str | None,
        session: aiohttp.ClientSession,
        timeout: float = 10.0,
    ) -> None:
        self.url = without_userinfo(url).rstrip("/")  # what links and errors show
        login = credentials(url)
        self._headers: dict[str, str] = {}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        elif login:
            self._headers["Authorization"] = aiohttp.encode_basic_auth(*login)
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def create_silence(
        self,
        *,
        matchers: Mapping[str, str],
        duration: timedelta,
        created_by: str,
        comment: str,
        now: datetime,
    ) -> Silence:
        """Silence every Grafana alert carrying all of `matchers` for `duration` from `now`."""
        ends_at = now + duration
        body = silence_body(
            matchers, now=now, ends_at=ends_at, created_by=created_by, comment=comment
        )
        data = await self._call("POST", SILENCES_PATH, body, ok=(200, 202))
        found = data if isinstance(data, dict) else {}
        silence_id = found.get("silenceID") or found.get("id")
        if not isinstance(silence_id, str) or not silence_id:
            raise SilenceError("Grafana answered without a silence id")
        link = f"{self.url}/alerting/silence/{silence_id}/edit?alertmanager=grafana"
        return Silence(silence_id, link, ends_at)

    async def silences(self) -> int:
        """How many silences Grafana lists (the doctor's check that the token may read them)."""
        data = await self._call("GET", SILENCES_PATH, None, ok=(200,))
        if not isinstance(data, list):
            raise SilenceError("Grafana answered the silences list with something else")
        return len(data)

    async def _call(
        self, method: str, path: str, body: dict[str, object] | None, *, ok: tuple[int, ...]
    ) -> Any:
        try:
            async with self._session.request(
                method, f"{self.url}{path}", json=body, headers=self._headers, timeout=self._timeout
            ) as response:
                text = await response.text()
                if response.status in _REFUSED_AUTH:
                    raise SilenceError(
                        f"Grafana refused the token ({response.status}): GRAFANA_TOKEN must be a "
                        "service account token allowed to create silences"
                    )
                if response.status not in ok:
                    raise SilenceError(f"Grafana refused ({response.status}: {brief(text)})")
                return await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as e:
            raise SilenceError(f"Grafana at {self.url} is unreachable ({type(e).__name__})") from e
        except ValueError as e:
            raise SilenceError("Grafana answered with something that is not JSON") from e
