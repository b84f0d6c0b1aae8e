"""`GitHubActions`: the `PipelineProvider` for GitHub Actions, and what the doctor reads.

It composes the client (threads, translated errors), the runs (dispatch and identification)
and the deployments lookup; see the package docstring for how a request becomes a run.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr

from bot.ci.github import deployments
from bot.ci.github.client import DEFAULT_API_URL, GitHubClient, not_found
from bot.ci.github.runs import Runs
from bot.ci.provider import (
    Deployment,
    JobFailure,
    PipelineRequest,
    PipelineRun,
    PipelineTarget,
)

_NO_REPO = PipelineTarget(model="-", provider="github", repo="(the token)")  # for token errors


@dataclass(frozen=True)
class RepoAccess:
    """A repository as the token sees it; `push` is None when GitHub did not say."""

    full_name: str
    default_branch: str
    push: bool | None


class GitHubActions:
    """`PipelineProvider` for GitHub Actions.

    Deployment versions: ``MODEL_VERSION`` (or ``version``) from the deployment's
    payload when the deploy workflow sets one, else the short commit sha.
    """

    name = "github"

    def __init__(
        self,
        *,
        url: str = DEFAULT_API_URL,
        token: SecretStr,
        timeout: float = 10.0,
        discovery_timeout: float = 30.0,
        discovery_interval: float = 1.0,
    ) -> None:
        """Build the SDK client; no network I/O here."""
        self._client = GitHubClient(url=url, token=token, timeout=timeout)
        self._runs = Runs(
            self._client,
            discovery_timeout=discovery_timeout,
            discovery_interval=discovery_interval,
        )

    async def close(self) -> None:
        """Close the SDK's HTTP connections."""
        await self._client.close()

    async def start(self, *, target: PipelineTarget, request: PipelineRequest) -> PipelineRun:
        """Dispatch the action's workflow (or repository_dispatch event) and find its run."""
        return await self._runs.start(target, request)

    async def get_run(self, *, target: PipelineTarget, run_id: str) -> PipelineRun:
        """Fetch one workflow run."""
        return await self._runs.get(target, run_id)

    async def failed_jobs(self, *, target: PipelineTarget, run_id: str) -> list[JobFailure]:
        """The run's failed jobs, each with its first failed step and its conclusion."""
        return await self._runs.failed_jobs(target, run_id)

    async def deployments(self, *, target: PipelineTarget, environment: str) -> list[Deployment]:
        """The environment's latest deployments, newest first, each with its outcome."""
        return await deployments.deployments(self._client, target, environment)

    async def token_user(self) -> str:
        """The login of the token's user (GET /user)."""
        gh = self._client.gh
        return await self._client.call(_NO_REPO, lambda: str(gh.get_user().login), "")

    async def repo_access(self, target: PipelineTarget) -> RepoAccess:
        """GET the repository: its name, default branch and the token's push permission."""

        def get() -> RepoAccess:
            repo = self._client.repo(target)
            permissions = repo.permissions
            push = getattr(permissions, "push", None) if permissions is not None else None
            return RepoAccess(repo.full_name, repo.default_branch, push)

        return await self._client.call(target, get, f"repository {target.repo}")

    async def workflow_text(self, target: PipelineTarget, workflow: str) -> str:
        """The text of `.github/workflows/<workflow>` on the target's ref (contents API)."""
        path = f".github/workflows/{workflow}"

        def get() -> str:
            found = self._client.repo(target).get_contents(path, ref=target.ref)
            if isinstance(found, list):  # a directory
                raise not_found()
            return bytes(found.decoded_content).decode("utf-8", "replace")

        return await self._client.call(target, get, f"{path} on {target.ref}")
