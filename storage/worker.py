"""One worker thread for a blocking client, with calls handed over in batches.

Every hand-off to a thread costs a queue put, a thread wake-up and a wake-up of the event loop
when the result is back: on a busy gateway that cost more than most SQLite statements it
carried. Calls made while the thread is busy wait in a list and go over together, so under
load the hand-off is paid once per batch; when idle, a call goes over at once as before.
Calls run one at a time, in the order they were made; each keeps its own result or error.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

_Call = tuple[Callable[[], Any], "asyncio.Future[Any]"]
_Outcome = tuple[bool, Any]


class WorkerClosed(RuntimeError):
    """The worker was closed (or its loop stopped) before the call could run."""


class BatchingWorker:
    """Runs blocking calls on one thread of its own; owned by the client that made it."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._queue: list[_Call] = []
        self._in_flight: list[_Call] = []
        self._idle: asyncio.Event | None = None
        self._closed = False
        self.batches = 0  # hand-overs so far: fewer than calls means batching took place

    async def run(self, fn: Callable[[], T]) -> T:
        """`fn()` on the worker thread; its exception, if any, is raised here."""
        if self._closed:
            raise WorkerClosed(f"{self._name} worker is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.append((fn, future))
        if not self._in_flight:
            self._hand_over(loop)
        result: T = await future
        return result

    async def close(self, last: Callable[[], object] | None = None) -> None:
        """Finish the queued calls, run `last` (closing the client) and stop the thread."""
        self._closed = True
        while self._in_flight:
            self._idle = asyncio.Event()
            await self._idle.wait()
        if last is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, last)
        self._executor.shutdown(wait=False)

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        """Send everything queued to the thread as one batch (the loop thread only)."""
        batch, self._queue = self._queue, []
        self._in_flight = batch
        self.batches += 1
        done = self._executor.submit(_call_all, [fn for fn, _ in batch])

        def back(_: object) -> None:  # on the worker thread
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting
                loop.call_soon_threadsafe(self._settle, loop, done)

        done.add_done_callback(back)

    def _settle(self, loop: asyncio.AbstractEventLoop, done: Future[list[_Outcome]]) -> None:
        """Back on the loop: give each call its outcome, then send the next batch."""
        batch, self._in_flight = self._in_flight, []
        error = done.exception()
        outcomes = done.result() if error is None else [(False, error)] * len(batch)
        for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
            if future.done():  # its caller was cancelled
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
        if self._queue:
            self._hand_over(loop)
        elif self._idle is not None:
            self._idle.set()


def _call_all(fns: list[Callable[[], Any]]) -> list[_Outcome]:
    """On the worker thread: each call's result, or the exception it raised."""
    outcomes: list[_Outcome] = []
    for fn in fns:
        try:
            outcomes.append((True, fn()))
        except Exception as e:  # handed back to that call's awaiter, raised there
            outcomes.append((False, e))
    return outcomes
