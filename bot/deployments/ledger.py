"""The deployment ledger: which versions the service itself deployed (or rolled back to).

Every deploy and rollback the service started that finished successfully is one entry under
`ledger:<model>:<environment>` in the store (versioned state, compare-and-set), newest first and
bounded to the last `LEDGER_LIMIT`. `/rollback` without a version goes back through it and
`/chatops models` shows what is live; both fall back to the provider's deployment history when
the ledger does not know enough.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import structlog

from storage import Store, Versioned, cas
from storage.cas import Write

log = structlog.get_logger("bot.deployments.ledger")

LEDGER_LIMIT = 50


@dataclass(frozen=True)
class LedgerEntry:
    """One successful deploy or rollback. `version` is the model version, None when the
    pipeline chose it (or the target was a commit, then in `commit`)."""

    model: str
    environment: str
    action: str
    version: str | None
    run_url: str
    requester: str
    approvers: tuple[str, ...]
    at: float
    commit: str | None = None

    @property
    def label(self) -> str:
        return target_label(self.version, self.commit)


def target_label(version: str | None, commit: str | None = None) -> str:
    """How replies name what was (or is to be) deployed: the version, else `commit abc1234 (no
    model version recorded)`; a commit is never called a version."""
    if version:
        return version
    if commit:
        return f"commit {commit} (no model version recorded)"
    return "(pipeline default)"


def ledger_key(model: str, environment: str) -> str:
    return f"ledger:{model}:{environment}"


class Ledger:
    """Store-backed, bounded per model and environment, safe between replicas."""

    def __init__(self, store: Store, *, limit: int = LEDGER_LIMIT) -> None:
        self._store = store
        self._limit = limit

    async def entries(self, model: str, environment: str) -> list[LedgerEntry]:
        """Newest first; an unreadable record counts as empty (and is logged)."""
        stored = await self._store.get_state(ledger_key(model, environment))
        return _load(stored.data) if stored is not None else []

    async def record(self, entry: LedgerEntry) -> None:
        """Add `entry` in front, keeping the newest `limit`."""

        def add(stored: Versioned | None) -> Write:
            current = _load(stored.data) if stored is not None else []
            return Write(json.dumps([asdict(e) for e in [entry, *current][: self._limit]]))

        await cas.update(self._store, ledger_key(entry.model, entry.environment), add, now=entry.at)
        log.info(
            "deployment_recorded",
            model=entry.model,
            environment=entry.environment,
            version=entry.version,
            commit=entry.commit,
        )


def _load(data: str) -> list[LedgerEntry]:
    try:
        raw = json.loads(data)
        return [_entry(item) for item in raw]
    except (ValueError, TypeError, KeyError) as e:
        log.warning("ledger_unreadable", error=str(e))
        return []


def _entry(item: dict[str, Any]) -> LedgerEntry:
    return LedgerEntry(
        model=str(item["model"]),
        environment=str(item["environment"]),
        action=str(item["action"]),
        version=_opt(item.get("version")),
        run_url=str(item.get("run_url") or ""),
        requester=str(item.get("requester") or ""),
        approvers=tuple(str(a) for a in item.get("approvers") or ()),
        at=float(item["at"]),
        commit=_opt(item.get("commit")),
    )


def _opt(value: object) -> str | None:
    return str(value) if value is not None else None
