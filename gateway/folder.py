"""The background folder of deferred notifications (`gateway.deferred`), and their recovery.

Tasks owned by the app (`start`, `stop`): `FOLDERS` fold the waiting groups (`WaitingGroups.next`
decides which), pausing after each fold while webhooks keep arriving (`FOLDER_SHARE`); one more
queues the bodies a dead process parked and never folded: all of them at start, then every
`RECOVER_AFTER` seconds those parked that long ago which this process does not hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog

from gateway.dedup import event_keys
from gateway.deferred import FOLDER_SHARE, RECOVER_AFTER, Waiting, WaitingGroups
from gateway.errors import BadPayload
from storage import Parked, StoreError

if TYPE_CHECKING:
    from gateway.service import Gateway

log = structlog.get_logger("gateway.folder")

RETRY_AFTER = 1.0  # seconds before a fold that the store refused is tried again
MAX_PAUSE = 0.1  # seconds: a fold slowed by a busy store does not hold the others back long
# Folds run this many at a time (each one group; a group's folds one after the other): each
# waits for the store, and for the event loop between its steps while webhooks are answered.
FOLDERS = 4
# Deferred notifications since the last trim that make a burst worth trimming the heap after.
TRIM_AFTER = 1_000
RECOVER_BATCH = 500  # parked bodies read from the store at a time


def heap_trimmer() -> Callable[[], object]:
    """glibc's `malloc_trim(0)`: a burst's bodies (tens of KB each, allocated and freed by the
    thousand) leave free pages in the C heap that the allocator keeps; this returns them. A no-op
    where the C library has none (musl, macOS)."""
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return lambda: None
    return lambda: trim(0)


class Folder:
    """Folds `gateway.waiting` in the background; owned by the app (`start`, `stop`)."""

    def __init__(
        self,
        gateway: Gateway,
        *,
        recover_after: float = RECOVER_AFTER,
        trim: Callable[[], object] | None = None,
    ) -> None:
        self._gateway = gateway
        self._recover_after = recover_after
        self._tasks: list[asyncio.Task[None]] = []
        self._trim = trim if trim is not None else heap_trimmer()
        self._trimmed_at = 0  # `deferred_total` when the heap was last trimmed

    @property
    def waiting(self) -> WaitingGroups:
        return self._gateway.waiting

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._fold_forever(), name=f"gateway-folder-{n}")
            for n in range(FOLDERS)
        ]
        self._tasks.append(asyncio.create_task(self._recover_forever(), name="gateway-recovery"))

    async def stop(self) -> None:
        """Stop the tasks; what still waits stays parked for the next start."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _fold_forever(self) -> None:
        while True:
            group, items = await self.waiting.next()
            deferred_before = self._gateway.deferred_total
            started = time.perf_counter()
            try:
                async with self._gateway.serials.one_at_a_time(group):
                    await self._gateway.fold_waiting(group, items)
            except StoreError as e:
                log.warning("deferred_fold_failed", group_key=group, error=str(e))
                self.waiting.put_back(group, items)
                await asyncio.sleep(RETRY_AFTER)
                continue
            except Exception:  # a bug: logged; the bodies stay parked for the recovery
                log.exception("deferred_fold_crashed", group_key=group)
                continue
            await self._after_burst()
            busy = self._gateway.deferred_total != deferred_before  # webhooks keep coming
            if busy and not self.waiting.first_waiting:  # a new incident is never held back
                spent = time.perf_counter() - started
                await asyncio.sleep(min(MAX_PAUSE, spent * (1 - FOLDER_SHARE) / FOLDER_SHARE))

    async def _after_burst(self) -> None:
        """Once nothing waits after a burst of deferred notifications, give the heap the
        parked bodies went through back to the operating system (in a worker thread)."""
        deferred = self._gateway.deferred_total
        if self.waiting.count or deferred - self._trimmed_at < TRIM_AFTER:
            return
        self._trimmed_at = deferred
        await asyncio.to_thread(self._trim)

    async def _recover_forever(self) -> None:
        before = time.time() + 1  # at start: every parked body is a dead process's
        while True:
            try:
                await self.recover(before=before)
            except StoreError as e:
                log.warning("deferred_recovery_failed", error=str(e))
            await asyncio.sleep(self._recover_after)
            before = time.time() - self._recover_after

    async def recover(self, *, before: float) -> int:
        """Queue for folding the bodies parked before `before` that nobody here holds."""
        found = 0
        after = 0
        while True:
            store = self._gateway.store
            batch = await store.parked(before=before, after=after, limit=RECOVER_BATCH)
            for parked in batch:
                after = parked.id
                if not self.waiting.holds(parked.id):
                    found += await self._requeue(parked)
            if len(batch) < RECOVER_BATCH:
                return found

    async def _requeue(self, parked: Parked) -> int:
        try:
            payload = self._gateway.reader(parked.source)(parked.body.encode("utf-8"))
        except BadPayload as e:  # cannot happen to a body validated before it was parked
            log.error("parked_body_invalid", parked=parked.id, error=e.message)
            await self._gateway.store.unpark([parked.id])
            return 0
        resolved = payload.status == "resolved"
        keys = event_keys(payload)
        waiting = Waiting(payload, keys, parked.id, at=parked.at, resolved=resolved)
        self.waiting.add(payload.group_key, waiting)
        log.info("parked_body_recovered", parked=parked.id, group_key=payload.group_key)
        return 1
