"""Alertmanager's API v2 silences, wherever it is served: one HTTP adapter for both targets.

Alertmanager serves it at `/api/v2/silences`, Grafana for its own Alertmanager at
`/api/alertmanager/grafana/api/v2/silences`: the same postable silence goes in, the same
`{"silenceID": "..."}` comes back. `SilencesApi` holds what differs (base URL and path, the
auth header, the service's name in errors) and does the HTTP once, over the app's shared aiohttp
session, translating every failure into a `SilenceError` that names the URL without its userinfo.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import aiohttp

from bot.errors import SilenceError
from slackio.blocks import brief
from urls import credentials, without_userinfo

Refusal = Callable[[int, str], str]  # (status, body) -> the SilenceError's message


@dataclass(frozen=True)
class Silence:
    """A created silence: its id, where to see it, when it ends."""

    id: str
    url: str
    ends_at: datetime


class SilenceTarget(Protocol):
    """Where the Silence button creates silences: Alertmanager, or Grafana (alerts/grafana.py)."""

    url: str  # without credentials: what links and errors show

    async def create_silence(
        self,
        *,
        matchers: Mapping[str, str],
        duration: timedelta,
        created_by: str,
        comment: str,
        now: datetime,
    ) -> Silence:
        """Silence every alert carrying all of `matchers` for `duration` from `now`."""
        ...


def silence_body(
    matchers: Mapping[str, str], *, now: datetime, ends_at: datetime, created_by: str, comment: str
) -> dict[str, object]:
    """Alertmanager's API v2 postable silence (Grafana's Alertmanager API takes the same)."""
    return {
        "matchers": [
            {"name": name, "value": value, "isRegex": False, "isEqual": True}
            for name, value in sorted(matchers.items())
        ],
        "startsAt": _iso(now),
        "endsAt": _iso(ends_at),
        "createdBy": created_by,
        "comment": comment,
    }


class SilencesApi:
    """The silences endpoint at `url` + `path`, a `SilenceTarget`: a bearer `token`, else the
    URL's userinfo as basic auth, else no auth. `link(base, id)` is where a silence is shown;
    `refused` words a non-OK answer (default: `<name> refused (<status>: <body>)`); `ok` are
    the statuses a create may answer, `id_keys` where its answer may hold the silence id.
    """

    def __init__(
        self,
        *,
        name: str,
        url: str,
        path: str,
        link: Callable[[str, str], str],
        session: aiohttp.ClientSession,
        timeout: float,
        token: str | None = None,
        refused: Refusal | None = None,
        ok: tuple[int, ...] = (200,),
        id_keys: tuple[str, ...] = ("silenceID",),
    ) -> None:
        self.name = name
        self.url = without_userinfo(url).rstrip("/")  # what links and errors show
        self.path = path
        self._link = link
        login = credentials(url)
        self._headers: dict[str, str] = {}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        elif login:
            self._headers["Authorization"] = aiohttp.encode_basic_auth(*login)
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._refused = refused or (lambda status, text: f"{name} refused ({status}: {text})")
        self._created = ok
        self._id_keys = id_keys

    async def create_silence(
        self,
        *,
        matchers: Mapping[str, str],
        duration: timedelta,
        created_by: str,
        comment: str,
        now: datetime,
    ) -> Silence:
        """POST a silence of every alert carrying all of `matchers` for `duration` from `now`."""
        ends_at = now + duration
        body = silence_body(
            matchers, now=now, ends_at=ends_at, created_by=created_by, comment=comment
        )
        data = await self.call("POST", self.path, body, ok=self._created)
        found = data if isinstance(data, dict) else {}
        silence_id = next((found[k] for k in self._id_keys if found.get(k)), None)
        if not isinstance(silence_id, str) or not silence_id:
            raise SilenceError(f"{self.name} answered without a silence id")
        return Silence(silence_id, self._link(self.url, silence_id), ends_at)

    async def call(
        self,
        method: str,
        path: str,
        body: dict[str, object] | None = None,
        *,
        ok: tuple[int, ...] = (200,),
        refused: Refusal | None = None,
    ) -> Any:
        """One request; its JSON answer, or a `SilenceError` worded for a user."""
        try:
            async with self._session.request(
                method, f"{self.url}{path}", json=body, headers=self._headers, timeout=self._timeout
            ) as response:
                text = await response.text()
                if response.status not in ok:
                    raise SilenceError((refused or self._refused)(response.status, brief(text)))
                return await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as e:
            raise SilenceError(
                f"{self.name} at {self.url} is unreachable ({type(e).__name__})"
            ) from e
        except ValueError as e:
            raise SilenceError(f"{self.name} answered with something that is not JSON") from e


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
