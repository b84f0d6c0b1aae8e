"""Talking to Slack, for both sides: Block Kit, button values, the transports, the outbox.

`urls` is a re-export of the `urls` package for bot modules that still import it from here.
"""

__all__ = [
    "blocks",
    "buttons",
    "console",
    "errors",
    "metrics",
    "outbox",
    "transport",
    "webapi",
]
