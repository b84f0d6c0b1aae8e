"""The bot's own buttons (Approve/Deny on a request) and the `MessageActions` seam.

The gateway's buttons (Ack, Silence, Rollback, Retrain, Dismiss, Promote) follow the contract in
`slackio.buttons`, which parses their clicks. `MessageActions` is how a click on a gateway
message is recorded on it ("Ack by @ana"); the composition root implements it with gateway code.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Final, Protocol

from slackio.buttons import BadButtonValue

APPROVE: Final = "chatops.approve"
DENY: Final = "chatops.deny"
BOT_ACTIONS: Final = (APPROVE, DENY)
CLAIM_GRACE: Final = 60.0  # a claim whose ticket is not saved yet is in flight this long
_TICKET_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


class MessageActions(Protocol):
    """Records on a gateway message who did what (the message then shows it)."""

    async def record(
        self, *, message_key: str, actor: str, action: str, detail: str = "", link: str = ""
    ) -> bool:
        """Add the record and queue the message update; False if the message is unknown."""
        ...


def parse_ticket_id(value: object) -> str:
    """The ticket id an Approve/Deny button carries; `BadButtonValue` for anything else."""
    if not isinstance(value, str) or not _TICKET_ID.match(value):
        raise BadButtonValue("not a request id")
    return value


def claim_key(message_key: str, action_id: str) -> str:
    """The state key that makes one action on one message happen once at a time."""
    digest = hashlib.sha256(json.dumps([message_key, action_id]).encode()).hexdigest()[:32]
    return f"btn:{digest}"
