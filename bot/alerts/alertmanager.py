"""Alertmanager silences (API v2) for the Silence button, over the app's shared aiohttp session.

`POST /api/v2/silences` with equality matchers for the group's labels answers
`{"silenceID": "..."}`; the silence is then shown at `<alertmanager>/#/silences/<id>`. Basic-auth
userinfo in ALERTMANAGER_URL is sent on every request; it is never shown. The HTTP is
`silences.SilencesApi`, shared with Grafana's Alertmanager.
"""

from __future__ import annotations

import aiohttp

from bot.alerts.silences import Silence, SilencesApi, SilenceTarget

__all__ = ["SILENCES_PATH", "STATUS_PATH", "Alertmanager", "Silence", "SilenceTarget"]

SILENCES_PATH = "/api/v2/silences"
STATUS_PATH = "/api/v2/status"


def _link(base: str, silence_id: str) -> str:
    return f"{base}/#/silences/{silence_id}"


def _refused(status: int, text: str) -> str:
    return f"Alertmanager refused the silence ({status}: {text})"


class Alertmanager(SilencesApi):
    """Creates silences in one Alertmanager (basic auth from the URL's userinfo, if any)."""

    def __init__(self, *, url: str, session: aiohttp.ClientSession, timeout: float = 10.0) -> None:
        super().__init__(
            name="Alertmanager",
            url=url,
            path=SILENCES_PATH,
            link=_link,
            session=session,
            timeout=timeout,
            refused=_refused,
        )

    async def version(self) -> str:
        """GET /api/v2/status: Alertmanager's version ("" if it does not say).

        SilenceError when it cannot be reached or does not answer with its API.
        """
        data = await self.call(
            "GET",
            STATUS_PATH,
            refused=lambda status, _: f"Alertmanager answered {status} to {STATUS_PATH}",
        )
        info = data.get("versionInfo") if isinstance(data, dict) else None
        return str(info.get("version", "")) if isinstance(info, dict) else ""
