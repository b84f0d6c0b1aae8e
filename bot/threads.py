"""A bounded thread pool owned by one SDK adapter.

python-gitlab, PyGithub and prometheus-api-client block, so their calls run in threads. Each
adapter gets its own small pool instead of the event loop's default executor: a provider that
hangs for minutes then fills only its own pool, never the one aiohttp's DNS lookups use.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class SdkThreads:
    """Runs blocking SDK calls for one adapter; `close()` when the adapter closes."""

    def __init__(self, name: str, *, workers: int = 8) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)

    async def run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
