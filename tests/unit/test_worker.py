"""The store's worker thread: one call at a time, in order, batched while busy."""

from __future__ import annotations

import asyncio
import threading

import pytest

from storage.worker import BatchingWorker, WorkerClosed


async def test_calls_run_on_one_other_thread_in_the_order_made() -> None:
    worker = BatchingWorker("test")
    ran: list[tuple[int, str]] = []

    def call(n: int) -> int:
        ran.append((n, threading.current_thread().name))
        return n * 10

    results = await asyncio.gather(*(worker.run(lambda n=n: call(n)) for n in range(20)))
    await worker.close()

    assert results == [n * 10 for n in range(20)]
    assert [n for n, _ in ran] == list(range(20))
    threads = {name for _, name in ran}
    assert len(threads) == 1
    assert threads != {threading.current_thread().name}


async def test_calls_made_while_the_thread_is_busy_go_over_as_one_batch() -> None:
    worker = BatchingWorker("test")
    release = threading.Event()
    first = asyncio.ensure_future(worker.run(lambda: release.wait(5)))
    await asyncio.sleep(0.05)  # the first call is on the thread, blocked
    rest = [asyncio.ensure_future(worker.run(lambda n=n: n)) for n in range(50)]
    await asyncio.sleep(0.05)
    assert not any(f.done() for f in rest)
    release.set()

    assert await first is True
    assert await asyncio.gather(*rest) == list(range(50))
    assert worker.batches == 2
    await worker.close()


async def test_each_call_gets_its_own_error() -> None:
    worker = BatchingWorker("test")

    def boom() -> int:
        raise ValueError("bad call")

    outcomes = await asyncio.gather(
        worker.run(lambda: 1), worker.run(boom), worker.run(lambda: 3), return_exceptions=True
    )
    await worker.close()

    assert outcomes[0] == 1
    assert outcomes[2] == 3
    assert isinstance(outcomes[1], ValueError)
    assert str(outcomes[1]) == "bad call"


async def test_a_cancelled_caller_does_not_disturb_the_others() -> None:
    worker = BatchingWorker("test")
    release = threading.Event()
    blocked = asyncio.ensure_future(worker.run(lambda: release.wait(5)))
    await asyncio.sleep(0.05)
    cancelled = asyncio.ensure_future(worker.run(lambda: "never read"))
    kept = asyncio.ensure_future(worker.run(lambda: "kept"))
    await asyncio.sleep(0)
    cancelled.cancel()
    release.set()

    assert await blocked is True
    assert await kept == "kept"
    assert cancelled.cancelled()
    await worker.close()


async def test_close_finishes_queued_calls_runs_the_last_one_and_refuses_more() -> None:
    worker = BatchingWorker("test")
    release = threading.Event()
    order: list[str] = []
    busy = asyncio.ensure_future(worker.run(lambda: release.wait(5)))
    await asyncio.sleep(0.05)
    queued = asyncio.ensure_future(worker.run(lambda: order.append("queued")))
    await asyncio.sleep(0)
    closing = asyncio.ensure_future(worker.close(last=lambda: order.append("last")))
    await asyncio.sleep(0.05)
    assert not closing.done()
    release.set()
    await closing

    assert await busy is True
    assert queued.done()
    assert order == ["queued", "last"]
    with pytest.raises(WorkerClosed):
        await worker.run(lambda: None)
