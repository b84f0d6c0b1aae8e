"""Promotion cards in the store: each change to a card queues its Slack message in the outbox.

Beside the cards, one record per registered model names the version that holds the champion
alias, so a moved or removed alias (which MLflow reports without the previous version) finds
the card that held it.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from gateway.promotions import (
    PromotionCard,
    WatchedModel,
    champion_key,
    dump_card,
    load_card,
    message_key,
)
from gateway.render import message_update, render_promotion
from storage import MessageUpdate, Store, Versioned, cas
from storage.cas import Write


class CardStore:
    """The cards of watched models and their champion records; `wake_sender` after each write."""

    def __init__(self, store: Store, wake_sender: Callable[[str], None]) -> None:
        self.store = store
        self.wake_sender = wake_sender

    async def exists(self, name: str, version: str) -> bool:
        return await self.store.get_state(message_key(name, version)) is not None

    async def create(self, card: PromotionCard, watched: WatchedModel, now: float) -> bool:
        """Save a new card and queue its message; False when it exists already."""
        if not await self.store.save(
            key=card.message_key,
            data=dump_card(card),
            expected_version=0,
            messages=[card_message(card, watched, reply=None)],
            now=now,
        ):
            return False
        self.wake_sender(watched.channel)
        return True

    async def champion(self, name: str) -> str | None:
        """The version recorded as holding the champion alias."""
        stored = await self.store.get_state(champion_key(name))
        version = json.loads(stored.data).get("version") if stored else None
        return str(version) if version is not None else None

    async def remember_champion(self, name: str, version: str | None, now: float) -> str | None:
        """Record which version holds the alias; return the one that held it before."""
        previous: str | None = None

        def remember(stored: Versioned | None) -> Write | None:
            nonlocal previous
            previous = json.loads(stored.data).get("version") if stored else None
            return None if previous == version else Write(json.dumps({"version": version}))

        await cas.update(self.store, champion_key(name), remember, now=now)
        return previous

    async def update(
        self,
        name: str,
        version: str,
        watched: WatchedModel,
        now: float,
        change: Callable[[PromotionCard], PromotionCard],
        *,
        reply: str | None = "",
    ) -> bool:
        """Apply `change` to the stored card; `reply`: the thread reply ("": the newest note).

        False when there is no card (a version registered before the service watched it).
        """
        found = False

        def apply(stored: Versioned | None) -> Write | None:
            nonlocal found
            found = stored is not None
            if stored is None:
                return None
            card = load_card(stored.data)
            changed = change(card)
            if changed == card and not reply:
                return None
            text = (changed.notes[-1] if changed.notes else None) if reply == "" else reply
            return Write(dump_card(changed), [card_message(changed, watched, reply=text)])

        written = await cas.update(self.store, message_key(name, version), apply, now=now)
        if written is not None:
            self.wake_sender(watched.channel)
        return found


def card_message(card: PromotionCard, watched: WatchedModel, *, reply: str | None) -> MessageUpdate:
    """The outbox entry that posts (or edits) the card in the model's channel."""
    rendered = render_promotion(card)
    return message_update(
        card.message_key, watched.channel, rendered, reply=reply, event_type="chatops_promotion"
    )
