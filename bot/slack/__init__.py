"""The Slack side of the bot: the Bolt app and route, thin listeners, inbound checks, manifest."""

__all__ = ["app", "manifest"]
