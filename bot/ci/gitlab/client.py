"""The python-gitlab client behind `GitLabCI`: worker threads, timeouts, translated errors.

Every SDK call goes through `GitLabClient.call`, which runs it in a worker thread under a
guard and turns python-gitlab's and requests' exceptions into the bot's `ProviderError` tree;
no other module of the adapter catches an SDK exception except `access` (an older GitLab's 404
on personal_access_tokens/self).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import gitlab
import gitlab.exceptions
import requests
from pydantic import SecretStr

from bot.ci.provider import PipelineTarget
from bot.errors import (
    PipelineIncomplete,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    error_for_status,
)
from bot.threads import SdkThreads

T = TypeVar("T")

DISPLAY_NAME = "GitLab"

# SDK keyword arguments for every request: no 429 sleeping, no transient retries.
NO_RETRY: dict[str, Any] = {"obey_rate_limit": False, "retry_transient_errors": False}


class GitLabClient:
    """One python-gitlab client with its own threads; no network I/O until called."""

    def __init__(self, *, url: str, token: SecretStr, timeout: float) -> None:
        self.timeout = timeout
        self._threads = SdkThreads("gitlab")
        self.gl = gitlab.Gitlab(
            url=url,
            private_token=token.get_secret_value(),
            timeout=timeout,
            retry_transient_errors=False,
        )

    async def close(self) -> None:
        """Close the SDK's HTTP session."""
        await self._threads.run(self.gl.session.close)
        self._threads.close()

    def project(self, target: PipelineTarget) -> Any:
        """The target's project, lazily (call inside the worker thread)."""
        if not target.project:
            raise PipelineIncomplete(f"model {target.model} has no GitLab project configured")
        return self.gl.projects.get(target.project, lazy=True)

    async def call(self, target: PipelineTarget, fn: Callable[[], T]) -> T:
        """Run one SDK call in a thread, translating its errors into ours."""
        try:
            return await asyncio.wait_for(self._threads.run(fn), timeout=self.timeout + 1.0)
        except (TimeoutError, requests.Timeout) as e:
            raise _error(ProviderTimeout, target, f"no answer within {self.timeout:g} s") from e
        except requests.RequestException as e:
            raise _error(ProviderUnavailable, target, f"cannot reach GitLab ({e})") from e
        except gitlab.exceptions.GitlabError as e:
            raise _translate(e, target) from e


def _error(cls: type[ProviderError], target: PipelineTarget, answer: str) -> ProviderError:
    return cls(provider=DISPLAY_NAME, target=target, answer=answer)


def _translate(e: gitlab.exceptions.GitlabError, target: PipelineTarget) -> ProviderError:
    status = e.response_code
    message = e.error_message
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    answer = str(message)
    if status is not None and not answer.startswith(str(status)):
        answer = f"{status} {answer}"
    return error_for_status(status)(
        provider=DISPLAY_NAME, target=target, answer=answer, status=status
    )


def time(value: Any) -> datetime | None:
    """GitLab's ISO 8601 time, or None."""
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None
