"""The bot's one exception tree: every error whose `message` can be shown to a Slack user as is.

    BotError                        safe and useful to show the user, ephemerally
    ├── UsageError                  the command text was not understood (carries the usage)
    ├── NotAllowed                  the policy forbids this user this request, approval or denial
    ├── UnknownModel, UnknownEnvironment, NoPipelineConfigured     not in the config
    ├── RegistryProblem             the model registry refused, did not answer, lacks the version
    ├── SilenceError                Alertmanager or Grafana could not create the silence
    ├── PrometheusError             ── PrometheusUnavailable, PrometheusQueryError
    └── PipelineError               about a pipeline; nothing started unless said otherwise
        ├── InvalidPipelineRequest  the request cannot be sent as it is
        │   ├── NotPermitted        a variable or ref the config does not allow (also NotAllowed)
        │   └── NotShowable         cannot be shown to approvers exactly as it would run
        ├── PipelineIncomplete, ProviderMissing, NoRollbackTarget, RunNotFound, StartFailed
        └── ProviderError           GitLab/GitHub answered with an error, or not at all
            └── ProviderAuthError, ProviderNotFound, ProviderTimeout, ProviderUnavailable,
                ProviderRejected    (`error_for_status` picks one from an HTTP status)

Adapters translate their SDK's exceptions into this tree at their edge (the CI adapters into
`ProviderError`, the Prometheus adapter into `PrometheusError`, the silence adapters into
`SilenceError`); nothing else in the bot sees an SDK exception. `bot.service.answering` turns a
`BotError` into the user's answer in one place, by branch: usage, refused, failed, invalid.
Anything else is a bug: logged with context by the one error handler. Outside this tree:
`policy.PolicyError`, raised while the configuration is validated, never at run time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar, Protocol

from slackio.blocks import brief

_ANSWER_LIMIT = 200


class Located(Protocol):
    """Where a pipeline runs, as a `ProviderError` names it (a `ci.provider.PipelineTarget`)."""

    @property
    def model(self) -> str: ...

    @property
    def location(self) -> str: ...


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
        super().__init__(
            f"model {model} has no pipeline configured (add one under models.{model}.pipeline"
            " in the config file; examples/chatops.yaml has both kinds)"
        )
        self.model = model


class RegistryProblem(BotError):
    """The registry refused, did not answer or lacks the version: nothing was started."""


class SilenceError(BotError):
    """Alertmanager could not be reached or refused the silence."""


class PrometheusError(BotError):
    """Prometheus could not answer a query."""


class PrometheusUnavailable(PrometheusError):
    """Prometheus is unreachable, timed out, or answered with something that is not its API."""


class PrometheusQueryError(PrometheusError):
    """Prometheus refused a query (bad PromQL in the config, or a server-side limit)."""


class PipelineError(BotError):
    """Base of every pipeline error the bot can show a user as is (`message`)."""


class InvalidPipelineRequest(PipelineError):
    """The request cannot be sent as it is (bad variables, too many inputs); nothing started."""


class NotPermitted(NotAllowed, InvalidPipelineRequest):
    """A variable or ref the model's config does not allow from Slack; nothing started."""


class NotShowable(InvalidPipelineRequest):
    """The request cannot be shown to approvers exactly as it would run; nothing is stored."""


class PipelineIncomplete(PipelineError):
    """The model has a pipeline, but its config lacks what this action needs (no project or
    repository, no workflow for the action); nothing started. A model with no pipeline at all is
    `bot.errors.NoPipelineConfigured`, a user error rather than a failed start."""


class ProviderMissing(PipelineError):
    """The model's provider has no credentials in this process (GITLAB_TOKEN/GITHUB_TOKEN)."""


class NoRollbackTarget(PipelineError):
    """There is no earlier successful deployment to roll back to."""


class RunNotFound(PipelineError):
    """A workflow was dispatched but its run could not be identified in time."""


class StartFailed(PipelineError):
    """The request was allowed and its ticket saved as failed: the provider refused or failed to
    start its pipeline. `reason` is the provider's answer (the ticket's error)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class ProviderError(PipelineError):
    """GitLab or GitHub answered with an error, or not at all.

    The message names the provider, the model, where (project/repository) and the
    provider's own answer, so the user can tell a bad token from a typo in the config.
    """

    verb: ClassVar[str] = "failed"
    hint: ClassVar[str] = ""

    def __init__(
        self,
        *,
        provider: str,
        target: Located,
        answer: str,
        status: int | None = None,
    ) -> None:
        self.provider = provider
        self.model = target.model
        self.where = target.location
        self.answer = brief(answer, _ANSWER_LIMIT)
        self.status = status
        message = f"{provider} {self.verb} for model {self.model} ({self.where}): {self.answer}"
        super().__init__(f"{message}. {self.hint}" if self.hint else message)


class ProviderAuthError(ProviderError):
    """401/403: the token is wrong or lacks access."""

    verb = "refused the request"
    hint = "Check the bot's token and its access to the project."


class ProviderNotFound(ProviderError):
    """404: the project, repository, workflow or run does not exist (or is hidden)."""

    verb = "found nothing"
    hint = "Check the model's pipeline config."


class ProviderTimeout(ProviderError):
    """The provider did not answer within the timeout."""

    verb = "did not answer in time"


class ProviderUnavailable(ProviderError):
    """5xx, rate limit or connection failure: try again later."""

    verb = "is unavailable"
    hint = "Try again later."


class ProviderRejected(ProviderError):
    """Another 4xx: the provider understood and refused (e.g. unknown ref, bad input)."""

    verb = "rejected the request"


def error_for_status(status: int | None) -> type[ProviderError]:
    """The exception class for an HTTP status from a provider."""
    if status in (401, 403):
        return ProviderAuthError
    if status == 404:
        return ProviderNotFound
    if status is None or status == 429 or status >= 500:
        return ProviderUnavailable
    return ProviderRejected
