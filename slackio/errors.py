"""What can go wrong talking to Slack, translated from slack_sdk/aiohttp at the adapter."""

from __future__ import annotations


class SlackSendError(Exception):
    """A Slack call failed. `code` is Slack's error string or a short local reason."""

    def __init__(self, code: str, *, retry_after: float | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.retry_after = retry_after


class RateLimited(SlackSendError):
    """429 / `ratelimited`: wait `retry_after` seconds before this method is called again."""


class SlackUnavailable(SlackSendError):
    """5xx, timeout, connection refused, garbage body: transient, retry with backoff.

    `maybe_delivered`: the request may have reached Slack and been carried out (a timeout, a
    dropped connection, a 5xx); False only when it surely was not (connection refused).
    """

    def __init__(self, code: str, *, maybe_delivered: bool = True) -> None:
        super().__init__(code)
        self.maybe_delivered = maybe_delivered


class NotInChannel(SlackSendError):
    """The bot is not a member of a public channel: join it, then retry."""


class SlackRejected(SlackSendError):
    """Slack answered ok:false for a reason retrying soon won't fix (bad channel, bad auth).

    Kept in the outbox with a long backoff so fixing the setup (inviting the bot, correcting
    the token) delivers it; never dropped.
    """


class MissingScope(SlackRejected):
    """`missing_scope`: the token lacks a scope the method needs (`needed`, as Slack names it)."""

    def __init__(self, code: str, *, needed: str = "") -> None:
        super().__init__(code)
        self.needed = needed
