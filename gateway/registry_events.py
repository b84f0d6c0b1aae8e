"""Registry events in, promotion cards out: the use case behind `POST /webhooks/mlflow`.

A new version of a configured model becomes one card comparing its run's metrics with the
current champion's (read from the registry, since MLflow's event carries neither). A moved or
removed champion alias updates the cards concerned. MLflow reports a moved alias as one
`model_version_alias.created` for the new version only, and a removed one without a version,
so the store remembers which version's card holds the alias. Every delivery id is remembered:
MLflow retries, and a retry changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime

import structlog

from gateway.card_store import CardStore
from gateway.incident_model import ActionRecord
from gateway.mlflow import RegistryEvent, RegistryEventKind
from gateway.options import Outcome
from gateway.promotions import (
    PromotionCard,
    WatchedModel,
    became_champion,
    compare,
    lost_champion,
    promoted_from_slack,
    with_record,
)
from registry import ModelRegistry, RegistryError, RunSummary
from storage import Store

log = structlog.get_logger("gateway.registry")

_DELIVERY_TTL = 24 * 3600.0
# How long the service's own alias move is expected back from MLflow as a webhook.
_PENDING_TTL = 120.0


class RegistryEvents:
    """Folds registry events into promotion cards; the outbox sender posts them."""

    def __init__(
        self,
        store: Store,
        registry: ModelRegistry | None,
        watched: Mapping[str, WatchedModel],
        *,
        secret: str | None,
        wake_sender: Callable[[str], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.registry = registry
        self.watched = watched
        self.secret = secret
        self.cards = CardStore(store, wake_sender)
        self._clock = clock

    async def ingest(self, event: RegistryEvent, *, delivery_id: str) -> Outcome:
        """Handle one verified delivery exactly once."""
        now = self._clock()
        key = f"mlflow-delivery:{delivery_id}"
        if await self.store.seen([key], now=now):
            return Outcome.DUPLICATE
        watched = self.watched.get(event.name)
        outcome = Outcome.IGNORED
        if watched is not None:
            outcome = await self._dispatch(event, watched, now)
        await self.store.mark_seen([key], ttl=_DELIVERY_TTL, now=now)
        log.info(
            "registry_event_handled", kind=event.kind.value, name=event.name, outcome=outcome.value
        )
        return outcome

    async def _dispatch(self, event: RegistryEvent, watched: WatchedModel, now: float) -> Outcome:
        if event.kind is RegistryEventKind.VERSION_CREATED and event.version:
            return await self._new_card(event, event.version, watched, now)
        if event.alias != watched.champion_alias:
            return Outcome.IGNORED
        if event.kind is RegistryEventKind.ALIAS_CREATED and event.version:
            pending = _pending_key(event.name, event.version)
            if await self.store.seen([pending], now=now):
                return Outcome.DUPLICATE  # the service's own move: `promoted` updates the cards
            return await self._champion_moved(event.name, event.version, watched, now)
        if event.kind is RegistryEventKind.ALIAS_DELETED:
            return await self._champion_moved(event.name, None, watched, now)
        return Outcome.IGNORED

    async def _new_card(
        self, event: RegistryEvent, version: str, watched: WatchedModel, now: float
    ) -> Outcome:
        if await self.cards.exists(event.name, version):
            return Outcome.DUPLICATE
        card = await self._build_card(event, version, watched)
        created = await self.cards.create(card, watched, now)
        return Outcome.ACCEPTED if created else Outcome.DUPLICATE

    async def _build_card(
        self, event: RegistryEvent, version: str, watched: WatchedModel
    ) -> PromotionCard:
        card = PromotionCard(
            model=watched.model,
            registered_name=event.name,
            version=version,
            run_id=event.run_id,
            source=event.source,
            tags=tuple(sorted(event.tags.items())),
        )
        if self.registry is None:
            card = _with_problem(card, "MLFLOW_TRACKING_URI is not set: no metrics to compare")
        else:
            try:
                card = await self._with_metrics(card, watched)
            except RegistryError as e:
                log.warning(
                    "registry_lookup_failed", name=event.name, version=version, error=str(e)
                )
                card = _with_problem(card, f"metrics unavailable: {e}")
        # MLflow delivers events from a thread pool: the alias event for a version can arrive
        # before the version's own `created` event. The card then starts as the champion.
        if card.champion_version == version or await self.cards.champion(event.name) == version:
            note = f"{watched.champion_alias} (set in MLflow)"
            card = became_champion(replace(card, champion_version=None), note)
        return card

    async def _with_metrics(self, card: PromotionCard, watched: WatchedModel) -> PromotionCard:
        assert self.registry is not None
        run = await self._run(card.run_id)
        champion = await self.registry.get_alias(
            name=card.registered_name, alias=watched.champion_alias
        )
        # When this version already is the champion there is nothing to compare it with; its
        # champion_version says so to `_build_card`, which crowns the card.
        other = champion if champion is not None and champion.version != card.version else None
        champion_run = await self._run(other.run_id) if other is not None else None
        return replace(
            card,
            run_name=run.name if run else "",
            run_link=run.link if run else "",
            champion_version=champion.version if champion else None,
            metrics=compare(
                watched.metrics,
                run.metrics if run else {},
                champion_run.metrics if champion_run else ({} if other else None),
            ),
        )

    async def _run(self, run_id: str | None) -> RunSummary | None:
        assert self.registry is not None
        return await self.registry.get_run(run_id=run_id) if run_id else None

    async def _champion_moved(
        self,
        name: str,
        version: str | None,
        watched: WatchedModel,
        now: float,
        crown: Callable[[PromotionCard], PromotionCard] | None = None,
    ) -> Outcome:
        """Record the alias move and update both cards; `crown` changes the new champion's."""
        previous = await self.cards.remember_champion(name, version, now)
        alias = watched.champion_alias
        set_note = f"now {alias}, set in MLflow"
        crowned = crown or (lambda c: became_champion(c, set_note))
        if previous == version:
            return Outcome.DUPLICATE
        if previous is not None:
            note = (
                f"{alias} alias moved to v{version} in MLflow"
                if version
                else f"{alias} alias removed in MLflow"
            )
            await self.cards.update(name, previous, watched, now, lambda c: lost_champion(c, note))
        if version is not None:
            await self.cards.update(name, version, watched, now, crowned)
        return Outcome.ACCEPTED

    # --- what the bot does on promotion cards (through its own Protocols) -----------------------

    async def promoting(self, *, name: str, version: str) -> None:
        """The bot is about to move the alias: its echo from MLflow is not an outside move."""
        now = self._clock()
        await self.store.mark_seen([_pending_key(name, version)], ttl=_PENDING_TTL, now=now)

    async def promoted(
        self, *, name: str, version: str, requested_by: str, approved_by: tuple[str, ...]
    ) -> bool:
        """The service itself moved the champion alias: remember it and update the cards now.

        MLflow's `model_version_alias.created` for this move then finds the champion already
        recorded and changes nothing. If that webhook won the race, the new champion's card
        still learns who requested and approved the promotion.
        """
        watched = self.watched.get(name)
        if watched is None:
            return False
        note = f"promoted to {watched.champion_alias} from Slack"

        def crown(card: PromotionCard) -> PromotionCard:
            return promoted_from_slack(
                card, note, requested_by=requested_by, approved_by=approved_by
            )

        now = self._clock()
        if await self._champion_moved(name, version, watched, now, crown) is Outcome.DUPLICATE:
            await self.cards.update(name, version, watched, now, crown)
        log.info("promotion_recorded", name=name, version=version, requested_by=requested_by)
        return True

    async def note(self, *, name: str, version: str, text: str) -> bool:
        """A reply in the card's thread (the card itself does not change)."""
        watched = self.watched.get(name)
        if watched is None:
            return False
        return await self.cards.update(
            name, version, watched, self._clock(), lambda c: c, reply=text
        )

    async def record(
        self, *, message_key: str, actor: str, action: str, detail: str = "", link: str = ""
    ) -> bool:
        """Who clicked what on a card (`MessageActions` for `promotion:` keys)."""
        kind, _, rest = message_key.partition(":")
        name, _, version = rest.rpartition(":")
        watched = self.watched.get(name)
        if kind != "promotion" or watched is None or not version:
            return False
        now = self._clock()
        at = datetime.fromtimestamp(now, UTC)
        entry = ActionRecord(actor=actor, action=action, at=at, detail=detail, link=link)
        return await self.cards.update(
            name, version, watched, now, lambda c: with_record(c, entry), reply=None
        )


def _with_problem(card: PromotionCard, problem: str) -> PromotionCard:
    return replace(card, problem=problem)


def _pending_key(name: str, version: str) -> str:
    return f"promotion-pending:{name}:{version}"
