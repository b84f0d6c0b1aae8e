"""Domain objects -> Slack Block Kit: the alert-group message, its thread replies, drift messages.

Pure and deterministic: no I/O, no clock (times come from the objects). Slack's limits are
enforced here (with the block builders of `slackio.blocks`) so nothing downstream has to check
them: header 150 chars, section text 3000,
10 fields of 2000, button text 75, 50 blocks, fallback text 4000, and a total of visible text
kept under 11,000 (Slack answers `msg_blocks_too_long` somewhere past 13,000, undocumented).

Alert and drift text is escaped (`&`, `<`, `>`) before it reaches mrkdwn, so an alert cannot
mention `@channel` or smuggle in a link. The only links are those built by `link`, from http(s)
URLs with `|`, `<`, `>` and whitespace percent-encoded. plain_text (header, buttons) is not parsed
by Slack, so it is only clipped. Buttons follow the contract in `slackio.buttons`.
"""

from gateway.render.changes import render_changes
from gateway.render.drift import render_drift
from gateway.render.incident import render_incident
from gateway.render.outbox import message_update
from gateway.render.promotion import render_promotion
from slackio.blocks import Rendered

__all__ = [
    "Rendered",
    "message_update",
    "render_changes",
    "render_drift",
    "render_incident",
    "render_promotion",
]
