"""Promotion cards: one Slack message per new model version, compared with the champion.

A card is created when the registry announces a version of a configured model; it shows the
version's run metrics beside the current champion's, each judged by the direction the config
gives it (`max`: higher is better, `min`: lower is better). When the champion alias moves, the
cards concerned change status. A candidate card carries Promote and Dismiss buttons (the bot
handles them; `slackio.buttons`); who clicked is kept as `ActionRecord`s, and a promotion made
from Slack names who requested and who approved it. The functions here are pure;
`gateway.card_store` keeps them in the store and `gateway.registry_events` handles the events.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Literal

from pydantic import TypeAdapter

from gateway.incident_model import ActionRecord

Direction = Literal["max", "min"]


@dataclass(frozen=True)
class WatchedModel:
    """A configured model whose registry versions get cards."""

    model: str
    channel: str
    champion_alias: str = "champion"
    metrics: Mapping[str, Direction] = field(default_factory=dict)


class CardStatus(StrEnum):
    CANDIDATE = "candidate"
    CHAMPION = "champion"
    REPLACED = "replaced"


class Verdict(StrEnum):
    BETTER = "better"
    WORSE = "worse"
    SAME = "same"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class MetricRow:
    """One configured metric: this version's value beside the champion's."""

    name: str
    direction: Direction
    value: float | None
    champion: float | None

    @property
    def verdict(self) -> Verdict:
        if self.value is None or self.champion is None:
            return Verdict.UNKNOWN
        if math.isclose(self.value, self.champion, rel_tol=1e-12, abs_tol=1e-12):
            return Verdict.SAME
        better = (
            self.value > self.champion if self.direction == "max" else self.value < self.champion
        )
        return Verdict.BETTER if better else Verdict.WORSE


@dataclass(frozen=True)
class PromotionCard:
    """What the service knows about one registered version, and what its message shows."""

    model: str
    registered_name: str
    version: str
    run_id: str | None = None
    run_name: str = ""
    run_link: str = ""
    source: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    champion_version: str | None = None
    metrics: tuple[MetricRow, ...] = ()
    problem: str | None = None
    status: CardStatus = CardStatus.CANDIDATE
    notes: tuple[str, ...] = ()
    actions: tuple[ActionRecord, ...] = ()
    requested_by: str | None = None  # who asked for the promotion from Slack
    approved_by: tuple[str, ...] = ()

    @property
    def message_key(self) -> str:
        return message_key(self.registered_name, self.version)

    @property
    def dismissed(self) -> bool:
        return any(a.action.removeprefix("chatops.") == "dismiss" for a in self.actions)


def message_key(registered_name: str, version: str) -> str:
    """The store key (and outbox message key) of one version's card."""
    return f"promotion:{registered_name}:{version}"


def champion_key(registered_name: str) -> str:
    """The store key remembering which version's card holds the champion alias."""
    return f"promotion-champion:{registered_name}"


def compare(
    metrics: Mapping[str, Direction],
    values: Mapping[str, float],
    champion: Mapping[str, float] | None,
) -> tuple[MetricRow, ...]:
    """Rows for the configured metrics, in config order."""
    return tuple(
        MetricRow(
            name=name,
            direction=direction,
            value=_finite(values.get(name)),
            champion=_finite(champion.get(name)) if champion is not None else None,
        )
        for name, direction in metrics.items()
    )


def became_champion(card: PromotionCard, note: str) -> PromotionCard:
    """The card of the version the champion alias now points at."""
    if card.status is CardStatus.CHAMPION:
        return card
    return replace(card, status=CardStatus.CHAMPION, notes=(*card.notes, note)[-10:])


def promoted_from_slack(
    card: PromotionCard, note: str, *, requested_by: str, approved_by: tuple[str, ...]
) -> PromotionCard:
    """The champion's card, naming who requested and approved the promotion."""
    champion = became_champion(card, note)
    return replace(champion, requested_by=requested_by, approved_by=approved_by)


def with_record(card: PromotionCard, record: ActionRecord) -> PromotionCard:
    """The card with one more record of who did what (a `dismiss` removes its buttons)."""
    return replace(card, actions=(*card.actions, record)[-10:])


def lost_champion(card: PromotionCard, note: str) -> PromotionCard:
    """The card of the version the champion alias moved away from (or was removed from)."""
    status = CardStatus.REPLACED if card.status is CardStatus.CHAMPION else card.status
    return replace(card, status=status, notes=(*card.notes, note)[-10:])


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


_CODEC = TypeAdapter(PromotionCard)


def dump_card(card: PromotionCard) -> str:
    return _CODEC.dump_json(card).decode()


def load_card(data: str) -> PromotionCard:
    return _CODEC.validate_json(data)
