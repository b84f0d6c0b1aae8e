"""The audit trail: who asked, approved, denied, started what, and how it ended.

Each entry goes to the store (`/chatops audit` reads it back) and to the log as one structured
`audit_recorded` event, so both tell the same story.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from storage import AuditEntry, Store

log = structlog.get_logger("bot.audit.trail")


class Auditor:
    """Appends audit entries and logs them."""

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    async def record(
        self,
        *,
        actor: str,
        action: str,
        model: str,
        outcome: str,
        detail: str = "",
        **extra: str,
    ) -> None:
        """One audit entry, e.g. actor=U1 action=deploy.approve model=x outcome=now_approved."""
        entry = AuditEntry(
            at=self._clock(),
            actor=actor,
            action=action,
            model=model,
            outcome=outcome,
            detail=detail,
            extra=dict(extra),
        )
        await self._store.append_audit(entry)
        log.info(
            "audit_recorded",
            actor=actor,
            audit_action=action,
            model=model,
            outcome=outcome,
            detail=detail,
            **extra,
        )

    async def recent(self, *, model: str | None, limit: int = 20) -> list[AuditEntry]:
        """The newest entries (for one model, or all), newest first."""
        return await self._store.recent_audit(model=model, limit=limit)
