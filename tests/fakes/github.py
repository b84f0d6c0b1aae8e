"""A fake GitHub REST API on 127.0.0.1, port 0, that PyGithub really talks to.

It speaks what the bot uses: workflow_dispatch (with or without ``return_run_details``),
repository_dispatch, workflow runs (list, get, jobs) and deployments with statuses, and
GitHub's own validation (undeclared inputs, more than 25 inputs, more than 10
client_payload properties are 422). It records requests, checks the token, and can
answer slowly or with an error. A dispatched run can be kept out of listings for
`run_delay` seconds, as GitHub does while it queues the run.

For `chatops doctor` it also answers the token's user (GET /user), a repository with the
token's `permissions` (GET /repos/{owner}/{repo}), and workflow files through the contents API
(base64 `content`, as GitHub sends it), written from the workflow's triggers unless a test
gives the file's text.
"""

from __future__ import annotations

import base64
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml
from aiohttp import web

from tests.fakes.recording import RecordingServer

TOKEN = "ghp_fakeTestToken"  # a test value, not a secret
LOGIN = "chatops-bot"
MAX_INPUTS = 25
MAX_PAYLOAD_PROPERTIES = 10

_DEFAULT_MESSAGES = {
    401: "Bad credentials",
    403: "Resource not accessible by personal access token",
    404: "Not Found",
    422: "Validation Failed",
    500: "Server Error",
    502: "Server Error",
    503: "Service Unavailable",
}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _error(status: int, message: str) -> web.Response:
    body = {"message": message, "documentation_url": "https://docs.github.com/rest"}
    return web.json_response(body, status=status)


@dataclass
class Workflow:
    """A workflow file in a fake repository."""

    id: int
    path: str
    inputs: set[str] | None = None  # declared workflow_dispatch inputs; None: accept any
    dispatch_types: tuple[str, ...] = ()  # repository_dispatch types it listens for
    manual: bool = True  # has a workflow_dispatch trigger
    text: str | None = None  # the file's content; None: written from the fields above

    def content(self) -> str:
        """The workflow file as it would be in the repository."""
        if self.text is not None:
            return self.text
        on: dict[str, Any] = {}
        if self.manual:
            inputs = {name: {"type": "string", "required": False} for name in self.inputs or ()}
            on["workflow_dispatch"] = {"inputs": inputs} if inputs else None
        if self.dispatch_types:
            on["repository_dispatch"] = {"types": list(self.dispatch_types)}
        steps = [{"run": f"echo {self.path}"}]
        doc = {"name": self.path, "on": on, "jobs": {"run": {"runs-on": "ubuntu-latest"}}}
        doc["jobs"]["run"]["steps"] = steps
        return yaml.safe_dump(doc, sort_keys=False)


@dataclass
class FakeGitHub(RecordingServer):
    """State and behaviour of the fake; tests arrange it and read `requests` back."""

    token: str = TOKEN
    push: dict[str, bool] = field(default_factory=dict)  # per repository; default True
    run_delay: float = 0.0
    return_run_details: bool = True
    default_progression: list[tuple[str, str | None]] = field(default_factory=list)
    workflows: dict[str, dict[str, Workflow]] = field(default_factory=dict)
    runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    deployment_list: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    statuses: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    _visible_at: dict[int, float] = field(default_factory=dict)
    _progressions: dict[int, list[tuple[str, str | None]]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(5001))

    # ------------------------------------------------------------ arranging

    def add_workflow(
        self,
        repo: str,
        path: str,
        *,
        inputs: Iterable[str] | None = None,
        dispatch_types: Iterable[str] = (),
        manual: bool = True,
        text: str | None = None,
    ) -> Workflow:
        """Add a workflow file to a repository (the repository exists from then on)."""
        wf = Workflow(
            next(self._ids),
            path,
            None if inputs is None else set(inputs),
            tuple(dispatch_types),
            manual,
            text,
        )
        self.workflows.setdefault(repo, {})[path] = wf
        return wf

    def add_run(
        self, repo: str, path: str, *, event: str, branch: str = "main", created_at: str = ""
    ) -> dict[str, Any]:
        """Create a run of a workflow (as a dispatch or someone else would), visible now."""
        wf = self.workflows[repo][path]
        run_id = next(self._ids)
        created = created_at or _now()
        base = f"{self.url}/repos/{repo}/actions/runs/{run_id}"
        self.runs[run_id] = {
            "id": run_id,
            "name": path,
            "display_title": path,
            "workflow_id": wf.id,
            "path": f".github/workflows/{path}",
            "event": event,
            "head_branch": branch,
            "head_sha": f"{run_id:040x}",
            "status": "queued",
            "conclusion": None,
            "run_attempt": 1,
            "url": base,
            "jobs_url": f"{base}/jobs",
            "html_url": f"{self.url}/{repo}/actions/runs/{run_id}",
            "created_at": created,
            "updated_at": created,
            "run_started_at": created,
            "_repo": repo,
        }
        if self.default_progression:
            self.progress(run_id, self.default_progression)
        return self.runs[run_id]

    def advance(self, run_id: int | str, status: str, conclusion: str | None = None) -> None:
        """Set a run's status (and conclusion, once completed)."""
        run = self.runs[int(run_id)]
        now = _now()
        run.update(status=status, conclusion=conclusion, updated_at=now)
        if status == "in_progress":
            run["run_started_at"] = now

    def progress(self, run_id: int | str, steps: list[tuple[str, str | None]]) -> None:
        """Script a run: each later GET of it moves one (status, conclusion) step along."""
        self._progressions[int(run_id)] = list(steps)

    def add_job(
        self,
        run_id: int | str,
        name: str,
        *,
        conclusion: str = "failure",
        failed_step: str | None = None,
    ) -> dict[str, Any]:
        """Add a completed job to a run, optionally with the step that failed.

        The shape of GitHub's "list jobs for a workflow run": the job's `conclusion`
        (failure, timed_out, ...) and its `steps`, each with its own `conclusion`.
        """
        run = self.runs[int(run_id)]
        job_id = next(self._ids)
        now = _now()
        done = {"status": "completed", "started_at": now, "completed_at": now}
        steps = [{"name": "Set up job", "conclusion": "success", "number": 1, **done}]
        if failed_step:
            steps.append({"name": failed_step, "conclusion": "failure", "number": 2, **done})
        job = {
            "id": job_id,
            "run_id": run["id"],
            "run_url": run["url"],
            "run_attempt": run["run_attempt"],
            "head_sha": run["head_sha"],
            "head_branch": run["head_branch"],
            "workflow_name": run["name"],
            "name": name,
            "conclusion": conclusion,
            "created_at": now,
            **done,
            "html_url": f"{self.url}/{run['_repo']}/actions/runs/{run['id']}/job/{job_id}",
            "url": f"{self.url}/repos/{run['_repo']}/actions/jobs/{job_id}",
            "check_run_url": f"{self.url}/repos/{run['_repo']}/check-runs/{job_id}",
            "labels": ["ubuntu-latest"],
            "steps": steps,
        }
        self.jobs.setdefault(run["id"], []).append(job)
        return job

    def add_deployment(
        self,
        repo: str,
        environment: str,
        states: list[str],
        *,
        created_at: str,
        ref: str = "main",
        sha: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Record a deployment with its statuses, given oldest first."""
        self.workflows.setdefault(repo, {})
        dep_id = next(self._ids)
        dep = {
            "id": dep_id,
            "url": f"{self.url}/repos/{repo}/deployments/{dep_id}",
            "statuses_url": f"{self.url}/repos/{repo}/deployments/{dep_id}/statuses",
            "sha": sha or f"{dep_id:040x}",
            "ref": ref,
            "task": "deploy",
            "payload": payload or {},
            "environment": environment,
            "original_environment": environment,
            "created_at": created_at,
            "updated_at": created_at,
            "description": None,
        }
        self.deployment_list.setdefault(repo, []).append(dep)
        self.statuses[dep_id] = [
            {
                "id": next(self._ids),
                "state": state,
                "environment": environment,
                "log_url": f"{self.url}/{repo}/actions/runs/{dep_id}",
                "target_url": f"{self.url}/{repo}/actions/runs/{dep_id}",
                "created_at": created_at,
            }
            for state in states
        ]
        return dep

    # ------------------------------------------------------------ serving

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = web.Application(middlewares=[self._middleware])
        repo = "/repos/{owner}/{name}"
        app.router.add_get("/user", self._user)
        app.router.add_get(repo, self._get_repo)
        app.router.add_get(f"{repo}/contents/{{path:.+}}", self._contents)
        app.router.add_post(f"{repo}/actions/workflows/{{wf}}/dispatches", self._wf_dispatch)
        app.router.add_get(f"{repo}/actions/workflows/{{wf}}/runs", self._wf_runs)
        app.router.add_post(f"{repo}/dispatches", self._repo_dispatch)
        app.router.add_get(f"{repo}/actions/runs", self._repo_runs)
        app.router.add_get(f"{repo}/actions/runs/{{run}}", self._get_run)
        app.router.add_get(f"{repo}/actions/runs/{{run}}/jobs", self._run_jobs)
        app.router.add_get(f"{repo}/deployments", self._deployments)
        app.router.add_get(f"{repo}/deployments/{{dep}}/statuses", self._statuses)
        await self._serve(app)

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        fault = await self._intercept(request)
        if fault is not None:
            return _error(fault.status, fault.message or _DEFAULT_MESSAGES.get(fault.status, ""))
        if request.headers.get("Authorization") not in (
            f"token {self.token}",
            f"Bearer {self.token}",
        ):
            return _error(401, "Bad credentials")
        if "owner" in request.match_info and self._repo(request) not in self.workflows:
            return _error(404, "Not Found")
        return await handler(request)

    @staticmethod
    def _repo(request: web.Request) -> str:
        return f"{request.match_info['owner']}/{request.match_info['name']}"

    def _visible(self, run: dict[str, Any]) -> bool:
        return time.monotonic() >= self._visible_at.get(run["id"], 0.0)

    def _dispatched(self, repo: str, path: str, event: str, branch: str) -> dict[str, Any]:
        run = self.add_run(repo, path, event=event, branch=branch)
        self._visible_at[run["id"]] = time.monotonic() + self.run_delay
        return run

    async def _user(self, request: web.Request) -> web.Response:
        user = {"login": LOGIN, "id": 9, "type": "User", "url": f"{self.url}/users/{LOGIN}"}
        return web.json_response(user)

    async def _get_repo(self, request: web.Request) -> web.Response:
        repo = self._repo(request)
        push = self.push.get(repo, True)
        body = {"id": abs(hash(repo)) % 10**6, "name": request.match_info["name"]}
        body |= {"full_name": repo, "private": True, "default_branch": "main"}
        body |= {"url": f"{self.url}/repos/{repo}", "html_url": f"{self.url}/{repo}"}
        body["permissions"] = {"admin": False, "maintain": False, "push": push, "pull": True}
        return web.json_response(body)

    async def _contents(self, request: web.Request) -> web.Response:
        repo, path = self._repo(request), request.match_info["path"]
        prefix = ".github/workflows/"
        wf = (
            self.workflows[repo].get(path.removeprefix(prefix)) if path.startswith(prefix) else None
        )
        if wf is None:
            return _error(404, "Not Found")
        raw = wf.content().encode()
        encoded = base64.encodebytes(raw).decode()  # GitHub wraps base64 at 60-76 columns
        url = f"{self.url}/repos/{repo}/contents/{path}"
        body = {"type": "file", "encoding": "base64", "size": len(raw), "name": wf.path}
        body |= {"path": path, "content": encoded, "sha": f"{wf.id:040x}", "url": url}
        body |= {"html_url": f"{self.url}/{repo}/blob/main/{path}", "download_url": None}
        return web.json_response(body)

    async def _wf_dispatch(self, request: web.Request) -> web.Response:
        repo = self._repo(request)
        wf = self.workflows[repo].get(request.match_info["wf"])
        if wf is None:
            return _error(404, "Not Found")
        body = await request.json()
        inputs = body.get("inputs") or {}
        if not wf.manual:
            return _error(422, "Workflow does not have 'workflow_dispatch' trigger")
        if not body.get("ref"):
            return _error(422, 'Invalid request.\n\n"ref" wasn\'t supplied.')
        if len(inputs) > MAX_INPUTS:
            return _error(422, f"you may only define up to {MAX_INPUTS} `inputs`")
        unexpected = sorted(set(inputs) - wf.inputs) if wf.inputs is not None else []
        if unexpected:
            return _error(422, f"Unexpected inputs provided: {unexpected}")
        run = self._dispatched(repo, wf.path, "workflow_dispatch", body["ref"])
        if body.get("return_run_details") and self.return_run_details:
            details = {
                "workflow_run_id": run["id"],
                "run_url": run["url"],
                "html_url": run["html_url"],
            }
            return web.json_response(details)
        return web.Response(status=204)

    async def _repo_dispatch(self, request: web.Request) -> web.Response:
        repo = self._repo(request)
        body = await request.json()
        if not body.get("event_type"):
            return _error(422, 'Invalid request.\n\n"event_type" wasn\'t supplied.')
        if len(body.get("client_payload") or {}) > MAX_PAYLOAD_PROPERTIES:
            return _error(422, "Invalid request.\n\nNo more than 10 properties are allowed")
        for wf in self.workflows[repo].values():
            if body["event_type"] in wf.dispatch_types:
                self._dispatched(repo, wf.path, "repository_dispatch", "main")
        return web.Response(status=204)

    def _list_runs(self, request: web.Request, path: str | None) -> web.Response:
        repo = self._repo(request)
        q = request.query
        runs = [
            {k: v for k, v in r.items() if not k.startswith("_")}
            for r in sorted(self.runs.values(), key=lambda r: r["id"], reverse=True)
            if r["_repo"] == repo
            and (path is None or r["name"] == path)
            and ("event" not in q or r["event"] == q["event"])
            and ("branch" not in q or r["head_branch"] == q["branch"])
            and self._visible(r)
        ]
        per_page = int(q.get("per_page", "30"))
        return web.json_response({"total_count": len(runs), "workflow_runs": runs[:per_page]})

    async def _wf_runs(self, request: web.Request) -> web.Response:
        wf = self.workflows[self._repo(request)].get(request.match_info["wf"])
        if wf is None:
            return _error(404, "Not Found")
        return self._list_runs(request, wf.path)

    async def _repo_runs(self, request: web.Request) -> web.Response:
        return self._list_runs(request, None)

    def _run(self, request: web.Request) -> dict[str, Any] | None:
        run = self.runs.get(int(request.match_info["run"]))
        if run is None or run["_repo"] != self._repo(request):
            return None
        return run

    async def _get_run(self, request: web.Request) -> web.Response:
        run = self._run(request)
        if run is None:
            return _error(404, "Not Found")
        steps = self._progressions.get(run["id"])
        if steps:
            self.advance(run["id"], *steps.pop(0))
        return web.json_response({k: v for k, v in run.items() if not k.startswith("_")})

    async def _run_jobs(self, request: web.Request) -> web.Response:
        run = self._run(request)
        if run is None:
            return _error(404, "Not Found")
        jobs = self.jobs.get(run["id"], [])
        return web.json_response({"total_count": len(jobs), "jobs": jobs})

    async def _deployments(self, request: web.Request) -> web.Response:
        env = request.query.get("environment")
        deps = [
            d
            for d in reversed(self.deployment_list.get(self._repo(request), []))
            if env is None or d["environment"] == env
        ]
        return web.json_response(deps[: int(request.query.get("per_page", "30"))])

    async def _statuses(self, request: web.Request) -> web.Response:
        statuses = self.statuses.get(int(request.match_info["dep"]))
        if statuses is None:
            return _error(404, "Not Found")
        return web.json_response(list(reversed(statuses)))


@pytest.fixture
async def fake_github() -> AsyncIterator[FakeGitHub]:
    """A running fake GitHub API; `fake_github.url` is the GITHUB_API_URL to use."""
    fake = FakeGitHub()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
