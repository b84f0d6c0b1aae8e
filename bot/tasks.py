"""A small owned set of background tasks: named, referenced, drained or cancelled on shutdown.

Slack wants an answer within 3 s, so the bot acknowledges first and does the work in a task. A
bare `create_task` can be garbage-collected mid-flight and its errors vanish; a `TaskSet` keeps
every task referenced until it ends, logs and counts any unexpected error in one place, and at
shutdown waits a bounded time for work in progress before cancelling what is left.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import structlog

log = structlog.get_logger("bot.tasks")

OnError = Callable[[str, BaseException], None]


def _log_error(name: str, error: BaseException) -> None:
    log.error("background_task_failed", task=name, error=repr(error), exc_info=error)


class TaskSet:
    """Tasks this process owns; `spawn` them, `drain` or `cancel` them once at shutdown."""

    def __init__(self, name: str, *, on_error: OnError = _log_error) -> None:
        self._name = name
        self._on_error = on_error
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def __len__(self) -> int:
        return len(self._tasks)

    @property
    def closed(self) -> bool:
        return self._closed

    def spawn(self, coro: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None] | None:
        """Run `coro` as an owned task; None (and the coroutine closed) once the set is closed."""
        if self._closed:
            coro.close()
            log.warning("background_task_refused", set=self._name, task=name)
            return None
        task = asyncio.create_task(coro, name=f"{self._name}:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            self._on_error(task.get_name(), error)

    async def drain(self, timeout: float) -> None:  # noqa: ASYNC109 - a bounded shutdown wait
        """Refuse new tasks, wait up to `timeout` s for the running ones, cancel the rest."""
        self._closed = True
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
        await self.cancel()

    async def cancel(self) -> None:
        """Refuse new tasks and cancel the running ones, waiting until they have ended."""
        self._closed = True
        pending = set(self._tasks)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
