"""Alertmanager silences (API v2) for the Silence button, over the app's shared aiohttp session.

`POST /api/v2/silences` with equality matchers for the group's labels answers
`{"silenceID": "..."}`; the silence is then shown at `<alertmanager>/#/silences/<id>`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import aiohttp

from bot.errors import SilenceError
from slackio.blocks import brief
from urls import credentials, without_userinfo


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


class Alertmanager:
    """Creates silences in one Alertmanager (basic auth from the URL's userinfo, if any)."""

    def __init__(self, *, url: str, session: aiohttp.ClientSession, timeout: float = 10.0) -> None:
        self.url = without_userinfo(url).rstrip("/")  # what links and errors show
        login = credentials(url)
        self._headers = {"Authorization": aiohttp.encode_basic_auth(*login)} if login else {}
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
        """Silence every alert carrying all of `matchers` for `duration` from `now`."""
        ends_at = now + duration
        body = silence_body(
            matchers, now=now, ends_at=ends_at, created_by=created_by, comment=comment
        )
        try:
            async with self._session.post(
                f"{self.url}/api/v2/silences",
                json=body,
                headers=self._headers,
                timeout=self._timeout,
            ) as response:
                text = await response.text()
                if response.status != 200:
                    raise SilenceError(
                        f"Alertmanager refused the silence ({response.status}: {brief(text)})"
                    )
                data = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as e:
            raise SilenceError(
                f"Alertmanager at {self.url} is unreachable ({type(e).__name__})"
            ) from e
        except ValueError as e:
            raise SilenceError("Alertmanager answered with something that is not JSON") from e
        silence_id = data.get("silenceID") if isinstance(data, dict) else None
        if not isinstance(silence_id, str) or not silence_id:
            raise SilenceError("Alertmanager answered without a silence id")
        return Silence(silence_id, f"{self.url}/#/silences/{silence_id}", ends_at)

    async def version(self) -> str:
        """GET /api/v2/status: Alertmanager's version ("" if it does not say).

        SilenceError when it cannot be reached or does not answer with its API.
        """
        try:
            async with self._session.get(
                f"{self.url}/api/v2/status", timeout=self._timeout
            ) as response:
                if response.status != 200:
                    raise SilenceError(f"Alertmanager answered {response.status} to /api/v2/status")
                data = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as e:
            raise SilenceError(f"Alertmanager is unreachable ({type(e).__name__})") from e
        except ValueError as e:
            raise SilenceError("Alertmanager answered with something that is not JSON") from e
        info = data.get("versionInfo") if isinstance(data, dict) else None
        return str(info.get("version", "")) if isinstance(info, dict) else ""


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
