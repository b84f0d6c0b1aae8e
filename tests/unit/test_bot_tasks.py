"""The owned task set: errors reach the handler, shutdown drains then cancels."""

from __future__ import annotations

import asyncio

from bot.tasks import TaskSet


async def test_errors_go_to_the_handler() -> None:
    seen: list[tuple[str, str]] = []
    tasks = TaskSet("t", on_error=lambda name, e: seen.append((name, str(e))))

    async def boom() -> None:
        raise RuntimeError("boom")

    tasks.spawn(boom(), name="x")
    await tasks.drain(1.0)
    assert seen == [("t:x", "boom")]


async def test_drain_waits_for_short_work_and_cancels_long_work() -> None:
    tasks = TaskSet("t")
    done: list[str] = []

    async def work(name: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        done.append(name)

    tasks.spawn(work("short", 0.01), name="short")
    tasks.spawn(work("long", 60), name="long")
    await tasks.drain(0.2)
    assert done == ["short"]
    assert len(tasks) == 0
    assert tasks.spawn(work("late", 0), name="late") is None, "closed sets refuse new work"
