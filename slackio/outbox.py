"""The outbox sender: the one background task that brings Slack in line with the store.

Webhook handlers and bot actions only write desired message content to the store (which
coalesces repeated updates into the latest one). This sender claims due items with a lease, has
`slackio.delivery` make one Slack call per claim (post, update or thread reply) and record the
result, and paces each channel to about one call per second, across replicas (send slots are
booked in the store). A claim puts a still-pending item behind the others, so a storm is served
round robin: each group's latest state, not every intermediate one. 429 waits `Retry-After`;
5xx, timeouts and refused connections back off exponentially; nothing is dropped. After a
restart the pending items are simply still in the store. A post whose outcome is unknown (its
sender died, or its call timed out after Slack may have carried it out) is looked for by its
metadata before it is sent again, so it is adopted rather than repeated.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import Callable

import structlog

from slackio.delivery import Delivery
from slackio.errors import (
    NotInChannel,
    RateLimited,
    SlackRejected,
    SlackSendError,
    SlackUnavailable,
)
from slackio.metrics import Metrics
from slackio.transport import SlackTransport
from storage import OutboxItem, Store, StoreError

log = structlog.get_logger("slackio.outbox")


class OutboxSender:
    """Owns the sending loop; `start()` in a cleanup context, `stop()` on shutdown."""

    def __init__(
        self,
        store: Store,
        transport: SlackTransport,
        metrics: Metrics,
        *,
        pacing: float = 1.0,
        lease_seconds: float = 60.0,
        poll_interval: float = 1.0,
        base_backoff: float = 1.0,
        max_backoff: float = 300.0,
        max_in_flight: int = 8,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._transport = transport
        self._metrics = metrics
        self._pacing = pacing
        self._lease_seconds = lease_seconds
        self._poll_interval = poll_interval
        self._base_backoff = base_backoff
        self._max_backoff = max_backoff
        self._max_in_flight = max_in_flight
        self._clock = clock
        self._delivery = Delivery(store, transport, metrics, clock=clock)
        self._owner = uuid.uuid4().hex[:12]
        self._wake = asyncio.Event()
        self._busy: set[str] = set()
        self._not_before: dict[str, float] = {}
        self._in_flight: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False

    def notify(self, channel: str | None = None) -> None:
        """New work was written to the store: look now instead of at the next poll.

        Work for a channel this sender is busy with or pacing needs no look now: the end of
        that send, or of that pause, wakes the loop anyway. In a storm this spares the store
        a claim (and a next-due query) per webhook that could not be served yet.
        """
        if channel is not None and (
            channel in self._busy or self._not_before.get(channel, 0.0) > self._clock()
        ):
            return
        self._wake.set()

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._run(), name="slack-outbox-sender")

    async def stop(self, *, drain_timeout: float = 5.0) -> None:
        """Finish in-flight sends (bounded) and stop; anything unsent stays in the store."""
        self._stopping = True
        self._wake.set()
        if self._loop_task is not None:
            await asyncio.wait({self._loop_task}, timeout=drain_timeout)
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=drain_timeout)
        for task in list(self._in_flight):
            task.cancel()
        await asyncio.gather(*self._in_flight, return_exceptions=True)

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            item = await self._claim_next()
            if item is not None:
                self._launch(item)
                continue
            await self._sleep(await self._idle_timeout())

    async def _claim_next(self) -> OutboxItem | None:
        if len(self._in_flight) >= self._max_in_flight:
            return None
        now = self._clock()
        blocked = self._busy | {c for c, t in self._not_before.items() if t > now}
        try:
            return await self._store.claim(
                owner=self._owner,
                lease_seconds=self._lease_seconds,
                now=now,
                exclude_channels=sorted(blocked),
            )
        except StoreError as e:
            log.warning("outbox_claim_failed", error=str(e))
            return None

    def _launch(self, item: OutboxItem) -> None:
        self._busy.add(item.channel)
        task = asyncio.create_task(self._send(item), name=f"slack-send:{item.key}")
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _idle_timeout(self) -> float:
        now = self._clock()
        timeout = self._poll_interval
        try:
            due = await self._store.next_due(now=now)
        except StoreError:
            return timeout
        if due is not None and due > now:
            timeout = min(timeout, due - now)
        cooling = [t - now for t in self._not_before.values() if t > now]
        if cooling:
            timeout = min(timeout, min(cooling))
        return max(timeout, 0.01)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _send(self, item: OutboxItem) -> None:
        try:
            if not await self._wait_turn(item):
                log.warning("outbox_lease_lost", key=item.key, channel=item.channel)
                return  # another sender has the item now; sending it too would repeat it
            try:
                await self._delivery.deliver(item)
            except SlackSendError as e:
                await self._reschedule(item, e)
        except StoreError as e:
            # The lease stays; the item is claimed again once it runs out.
            log.warning("outbox_store_failed", key=item.key, error=str(e))
        finally:
            self._busy.discard(item.channel)
            now = self._clock()
            self._not_before[item.channel] = max(
                self._not_before.get(item.channel, 0.0), now + self._pacing
            )
            self._wake.set()

    async def _wait_turn(self, item: OutboxItem) -> bool:
        """Wait for the channel's next send slot, booked in the store so that all replicas
        together (not each one) keep to about one message per `pacing` seconds per channel
        and honour a `Retry-After` that any of them was given.

        The wait can outlast the claim's lease (a long Retry-After, a busy channel shared by
        several replicas), so the lease is renewed while waiting and once more at the end,
        giving the Slack calls a whole lease. False if the lease was lost meanwhile.
        """
        at = await self._store.reserve_channel(
            item.channel, interval=self._pacing, now=self._clock()
        )
        while (left := at - self._clock()) > 0:
            await asyncio.sleep(min(left, self._lease_seconds / 3))
            renewed = await self._store.renew_lease(
                item, lease_seconds=self._lease_seconds, now=self._clock()
            )
            if not renewed:
                return False
        return True

    async def _reschedule(self, item: OutboxItem, error: SlackSendError) -> None:
        now = self._clock()
        if isinstance(error, RateLimited):
            wait = error.retry_after if error.retry_after is not None else self._base_backoff
            self._not_before[item.channel] = now + wait
            # Slack's wait holds for every replica: book the channel for that long.
            await self._store.reserve_channel(item.channel, interval=wait, now=now)
        elif isinstance(error, NotInChannel):
            wait = await self._join(item)
        elif isinstance(error, SlackRejected):
            wait = self._max_backoff
        else:
            wait = self._backoff(item.attempts)
        log_method = log.error if isinstance(error, SlackRejected) else log.warning
        log_method(
            "slack_send_failed",
            key=item.key,
            channel=item.channel,
            error=error.code,
            attempt=item.attempts + 1,
            retry_in=round(wait, 2),
        )
        # A post or thread reply that may have landed must be looked for before it is repeated
        # (an update is safe to repeat); an earlier attempt's doubt outlives this one.
        landed = isinstance(error, SlackUnavailable) and error.maybe_delivered
        posting = item.needs_post or bool(item.replies)
        uncertain = item.uncertain or (landed and posting)
        await self._store.retry_later(item, at=now + wait, error=error.code, uncertain=uncertain)

    async def _join(self, item: OutboxItem) -> float:
        """Join the channel the app was not in; the wait before the next attempt."""
        return 0.0 if await self._delivery.join(item.channel) else self._max_backoff

    def _backoff(self, attempts: int) -> float:
        wait: float = min(self._max_backoff, self._base_backoff * (2 ** min(attempts, 16)))
        return wait * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not crypto
