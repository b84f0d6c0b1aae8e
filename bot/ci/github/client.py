"""The PyGithub client behind `GitHubActions`: worker threads, timeouts, translated errors.

Every SDK call goes through `GitHubClient.call`, which runs it in a worker thread under a
guard and turns PyGithub's and requests' exceptions into the bot's `ProviderError` tree; no
other module of the adapter catches an SDK exception.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from github import Auth, Github, GithubException, RateLimitExceededException
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

DISPLAY_NAME = "GitHub"
DEFAULT_API_URL = "https://api.github.com"


class GitHubClient:
    """One PyGithub client with its own threads; no network I/O until called."""

    def __init__(self, *, url: str, token: SecretStr, timeout: float) -> None:
        self.timeout = max(1, math.ceil(timeout))  # PyGithub takes whole seconds
        self._threads = SdkThreads("github")
        self.gh = Github(
            base_url=url.rstrip("/"),
            auth=Auth.Token(token.get_secret_value()),
            timeout=self.timeout,
            retry=None,
            seconds_between_requests=None,
            seconds_between_writes=None,
            lazy=True,
        )

    async def close(self) -> None:
        """Close the SDK's HTTP connections."""
        await self._threads.run(self.gh.close)
        self._threads.close()

    def repo(self, target: PipelineTarget) -> Any:
        """The target's repository, lazily (call inside the worker thread)."""
        if not target.repo:
            raise PipelineIncomplete(f"model {target.model} has no GitHub repository configured")
        return self.gh.get_repo(target.repo)

    async def call(
        self, target: PipelineTarget, fn: Callable[[], T], what: str, *, requests_made: int = 1
    ) -> T:
        """Run SDK calls making `requests_made` requests in a thread; translate errors."""
        guard = self.timeout * requests_made + 1.0
        try:
            return await asyncio.wait_for(self._threads.run(fn), timeout=guard)
        except (TimeoutError, requests.Timeout) as e:
            answer = f"no answer within {self.timeout} s ({what})"
            raise ProviderTimeout(provider=DISPLAY_NAME, target=target, answer=answer) from e
        except requests.RequestException as e:
            answer = f"cannot reach {DISPLAY_NAME} ({e})"
            raise ProviderUnavailable(provider=DISPLAY_NAME, target=target, answer=answer) from e
        except GithubException as e:
            raise translate(e, target, what) from e


def not_found() -> GithubException:
    """GitHub's 404, for an answer that is not what was asked for (a directory for a file)."""
    return GithubException(404, {"message": "Not Found"}, None)


def translate(e: GithubException, target: PipelineTarget, what: str) -> ProviderError:
    """PyGithub's exception as the bot's `ProviderError` (by status; rate limits: unavailable)."""
    data = e.data if isinstance(e.data, dict) else {}
    message = e.message or data.get("message") or ""
    answer = f"{e.status} {message}" + (f" ({what})" if what else "")
    answer = answer.replace("  ", " ")
    cls = ProviderUnavailable if isinstance(e, RateLimitExceededException) else None
    return (cls or error_for_status(e.status))(
        provider=DISPLAY_NAME, target=target, answer=answer, status=e.status
    )
