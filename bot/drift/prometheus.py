"""Prometheus queries behind a small seam; the only module importing prometheus_api_client.

The SDK is synchronous (requests), so each query runs in a worker thread with the SDK's own
timeout and an overall guard around the thread. Left to itself, `PrometheusConnect` mounts a
urllib3 `Retry` (3 tries with backoff, on connection errors and 408/429/5xx) on its session;
here it gets `Retry(total=0)` and a session of our own, so every query is one request and an
unreachable or overloaded Prometheus is reported at once, in one line. Errors are translated
once, in `_call`: no answer, a connection error or a 5xx (the session's hook raises it before the
SDK reads the body) is `PrometheusUnavailable`; any other non-200 (400 bad_data, 422) is the
SDK's `PrometheusApiClientException`, a `PrometheusQueryError`.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, TypeVar

import requests
from prometheus_api_client.exceptions import PrometheusApiClientException
from prometheus_api_client.prometheus_connect import PrometheusConnect
from urllib3.util.retry import Retry

from bot.errors import PrometheusQueryError, PrometheusUnavailable
from bot.threads import SdkThreads
from slackio.blocks import brief
from urls import credentials, without_userinfo

T = TypeVar("T")


Point = tuple[datetime, float]


class MetricsSource(Protocol):
    """What `/drift status` needs from Prometheus."""

    async def instant(self, query: str) -> list[float]:
        """The current value of each series the query returns (NaN left out)."""
        ...

    async def series(
        self, query: str, *, start: datetime, end: datetime, step: float
    ) -> list[list[Point]]:
        """Each series of a range query, as (time, value) points."""
        ...


class PrometheusClient:
    """`MetricsSource` over the HTTP API of a real Prometheus."""

    def __init__(self, *, url: str, timeout: float = 5.0) -> None:
        """Build the SDK client; no network I/O here. Userinfo in `url` becomes basic auth."""
        self.url = without_userinfo(url).rstrip("/")  # what errors show
        self.shown_url = self.url
        self._threads = SdkThreads("prometheus")
        self._timeout = max(1, math.ceil(timeout))  # the SDK takes whole seconds
        login = credentials(url)
        auth: dict[str, Any] = {"auth": login} if login else {}
        self._client = PrometheusConnect(
            url=self.url,
            retry=NO_RETRY,
            session=_session(),
            timeout=self._timeout,
            **auth,
        )

    async def close(self) -> None:
        await self._threads.run(self._client.close)
        self._threads.close()

    async def instant(self, query: str) -> list[float]:
        result = await self._call(lambda: self._client.custom_query(query))
        values = [_number(item.get("value")) for item in _items(result)]
        return [v for v in values if v is not None]

    async def series(
        self, query: str, *, start: datetime, end: datetime, step: float
    ) -> list[list[Point]]:
        def fetch() -> Any:
            return self._client.custom_query_range(query, start, end, step=f"{step:g}s")

        found = []
        for item in _items(await self._call(fetch)):
            points = []
            for pair in item.get("values") or []:
                value = _number(pair)
                if value is not None:
                    points.append((datetime.fromtimestamp(float(pair[0]), start.tzinfo), value))
            found.append(points)
        return found

    async def _call(self, fn: Callable[[], T]) -> T:
        try:
            return await asyncio.wait_for(self._threads.run(fn), timeout=self._timeout + 1.0)
        except (TimeoutError, requests.Timeout) as e:
            raise PrometheusUnavailable(
                f"Prometheus at {self.shown_url} did not answer within {self._timeout:g} s"
            ) from e
        except requests.HTTPError as e:  # a 5xx, raised by `_server_errors`
            raise PrometheusUnavailable(
                f"Prometheus at {self.shown_url} answered {_answer(e.response)}"
            ) from e
        except requests.RequestException as e:
            raise PrometheusUnavailable(
                f"Prometheus at {self.shown_url} is unreachable ({type(e).__name__})"
            ) from e
        except PrometheusApiClientException as e:
            raise PrometheusQueryError(f"Prometheus refused a query: {brief(str(e))}") from e
        except (ValueError, KeyError, TypeError) as e:
            raise PrometheusUnavailable(
                f"Prometheus at {self.shown_url} answered with something unexpected"
            ) from e


NO_RETRY = Retry(total=0, connect=0, read=0, status=0, other=0)


def _server_errors(response: requests.Response, *args: object, **kwargs: object) -> None:
    """Session hook: a 5xx is Prometheus (or a proxy before it) failing, not a refused query."""
    if response.status_code >= 500:
        _ = response.content  # read here, in the worker thread: the connection is released
        raise requests.HTTPError(f"{response.status_code}", response=response)


def _session() -> requests.Session:
    session = requests.Session()
    session.hooks["response"].append(_server_errors)
    return session


def _answer(response: requests.Response | None) -> str:
    """`503 (query timed out ...)`: the status and Prometheus' error text, or the reason phrase."""
    if response is None:
        return "with an error"
    try:
        data = response.json()
    except ValueError:
        data = None
    said = data.get("error") if isinstance(data, dict) else None
    return f"{response.status_code} ({brief(str(said or response.reason or 'no reason'))})"


def _items(result: object) -> list[dict[str, Any]]:
    if not isinstance(result, list):
        raise PrometheusUnavailable("Prometheus answered with something unexpected")
    return [item for item in result if isinstance(item, dict)]


def _number(pair: object) -> float | None:
    if not isinstance(pair, list | tuple) or len(pair) != 2:
        return None
    try:
        value = float(pair[1])
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value
