"""Grafana Alerting silences for the Silence button on alerts Grafana sent.

Grafana serves an Alertmanager-compatible API for its own Alertmanager:
`POST <grafana>/api/alertmanager/grafana/api/v2/silences` takes Alertmanager's postable silence
and answers 202 `{"silenceID": "..."}` (Grafana before 10 answered `{"message": "silence
created", "id": "..."}`; both are read, and 200 is accepted too). It is
called with a service account token (`Authorization: Bearer <GRAFANA_TOKEN>`) whose role may
create silences (Editor, or the "Silences Writer" permission). The silence is then shown at
`<grafana>/alerting/silence/<id>/edit?alertmanager=grafana`. Basic-auth userinfo in GRAFANA_URL
is used when no token is given; it is never shown. The HTTP is `silences.SilencesApi`, shared
with Alertmanager.
"""

from __future__ import annotations

import aiohttp

from bot.alerts.silences import SilencesApi
from bot.errors import SilenceError

SILENCES_PATH = "/api/alertmanager/grafana/api/v2/silences"
_REFUSED_AUTH = (401, 403)


def _link(base: str, silence_id: str) -> str:
    return f"{base}/alerting/silence/{silence_id}/edit?alertmanager=grafana"


def _refused(status: int, text: str) -> str:
    if status in _REFUSED_AUTH:
        return (
            f"Grafana refused the token ({status}): GRAFANA_TOKEN must be a "
            "service account token allowed to create silences"
        )
    return f"Grafana refused ({status}: {text})"


class Grafana(SilencesApi):
    """Creates silences in one Grafana's own Alertmanager (202 or 200; `silenceID` or `id`)."""

    def __init__(
        self,
        *,
        url: str,
        token: str | None,
        session: aiohttp.ClientSession,
        timeout: float = 10.0,
    ) -> None:
        super().__init__(
            name="Grafana",
            url=url,
            path=SILENCES_PATH,
            link=_link,
            session=session,
            timeout=timeout,
            token=token,
            refused=_refused,
            ok=(200, 202),
            id_keys=("silenceID", "id"),
        )

    async def silences(self) -> int:
        """How many silences Grafana lists (the doctor's check that the token may read them)."""
        data = await self.call("GET", SILENCES_PATH)
        if not isinstance(data, list):
            raise SilenceError("Grafana answered the silences list with something else")
        return len(data)
