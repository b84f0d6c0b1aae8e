"""The gateway's side of its message buttons: block ids and the records of who did what.

The buttons themselves (action ids, the `value` format) are the contract in `slackio.buttons`,
shared with the bot that handles the clicks.

Block ids: every block the gateway draws has a `block_id` starting with `chatops.`, so a handler
can find them in `body["message"]["blocks"]`. Two are part of the contract:
    chatops.actions:<k>   the actions block holding the buttons (absent once resolved/dismissed)
    chatops.record:<k>    the context block saying who did what (absent until someone acts)
The others (`chatops.header`, `chatops.status`, `chatops.alert.<n>`, ...) are layout.

Records: what a click did is kept as an `ActionRecord(actor, action, at, detail, link)` on the
incident (`gateway.incidents`) and drawn in the `chatops.record:<k>` block, e.g.
`✔ Acked by <@U123> at <date>`; `actor` is a Slack user id, `action` the action id without its
`chatops.` prefix (`ack`, `silence`, `rollback`, `retrain`, `dismiss`), `link` an http(s) URL.
A `dismiss` record removes the buttons of a drift message or a promotion card.
"""

from __future__ import annotations

from typing import Final

BLOCK_PREFIX: Final = "chatops."
ACTIONS_BLOCK: Final = "chatops.actions"
RECORD_BLOCK: Final = "chatops.record"
MAX_BLOCK_ID: Final = 255


def block_id(prefix: str, key: str) -> str:
    """`<prefix>:<key>`, clipped to Slack's 255-character block_id limit."""
    return f"{prefix}:{key}"[:MAX_BLOCK_ID]
