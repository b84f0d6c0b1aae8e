"""The bot's user-facing exception tree.

Every error a Slack user can cause (bad command text, a click they may not make, a model or
environment that is not configured) is a `BotError` carrying a `message` that can be shown to
them as-is, ephemerally. Listeners catch `BotError` only; anything else is a bug and goes to the
one error handler that logs it with context.
"""

from __future__ import annotations

from collections.abc import Iterable


class BotError(Exception):
    """Base of every error whose `message` is safe and useful to show the Slack user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(BotError):
    """The command text could not be understood; `usage` is that command's usage text."""

    def __init__(self, message: str, usage: str) -> None:
        super().__init__(message)
        self.usage = usage


class NotAllowed(BotError):
    """The policy forbids this user this request, approval or denial; `message` names the rule."""


class UnknownModel(BotError):
    """The command names a model the config does not know."""

    def __init__(self, model: str, known: Iterable[str] = ()) -> None:
        names = sorted(known)
        hint = f"; known models: {', '.join(names)}" if names else "; no models are configured"
        super().__init__(f"unknown model {model}{hint}")
        self.model = model


class UnknownEnvironment(BotError):
    """The command names an environment the model's config does not list."""

    def __init__(self, model: str, environment: str, known: Iterable[str] = ()) -> None:
        names = sorted(known)
        hint = f"; it has: {', '.join(names)}" if names else "; it has no environments configured"
        super().__init__(f"model {model} has no environment {environment}{hint}")
        self.model = model
        self.environment = environment


class NoPipelineConfigured(BotError):
    """The model exists (or is asked for with no config at all) but has no pipeline to run.

    A pipeline whose config lacks what one action needs is `bot.ci.provider.PipelineIncomplete`.
    """

    def __init__(self, model: str) -> None:
        super().__init__(f"model {model} has no pipeline configured")
        self.model = model
