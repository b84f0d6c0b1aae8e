"""A rendered message as the outbox entry that posts it, or edits it in place."""

from __future__ import annotations

import json

from slackio.blocks import Rendered
from storage import MessageUpdate


def message_update(
    key: str, channel: str, rendered: Rendered, *, reply: str | None, event_type: str
) -> MessageUpdate:
    """The entry for message `key`; Slack's message metadata carries the key under
    `event_type` (`chatops_incident`, `chatops_drift`, `chatops_promotion`)."""
    return MessageUpdate(
        key=key,
        channel=channel,
        text=rendered.text,
        blocks_json=json.dumps(rendered.blocks),
        reply=reply,
        metadata_json=json.dumps({"event_type": event_type, "event_payload": {"key": key}}),
    )
