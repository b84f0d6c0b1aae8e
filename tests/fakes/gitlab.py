"""A fake GitLab REST API (v4) on 127.0.0.1, port 0, that python-gitlab really talks to.

It speaks the part of the API the bot uses: create a pipeline, get a pipeline, list a
pipeline's jobs and variables, list a project's deployments; and what `chatops doctor` reads:
the current user, the token itself (personal_access_tokens/self, with its scopes) and a project
with the token user's `permissions` and its pipeline-variable settings, which pipeline creation
also enforces. It records every request,
checks the PRIVATE-TOKEN header, and can be told to answer slowly or with an error.
Pipeline state moves when a test says so (`advance`) or one step per GET (`progress`,
or `default_progression` for every new pipeline).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web

from tests.fakes.recording import RecordingServer

TOKEN = "glpat-fake-test-token"  # a test value, not a secret
USERNAME = "chatops-bot"
ROLE_LEVELS = {"developer": 30, "maintainer": 40, "owner": 50}


_DEFAULT_MESSAGES = {
    401: "401 Unauthorized",
    403: "403 Forbidden",
    404: "404 Project Not Found",
    429: "Retry later",
    500: "500 Internal Server Error",
    502: "502 Bad Gateway",
    503: "503 Service Unavailable",
}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class FakeGitLab(RecordingServer):
    """State and behaviour of the fake; tests arrange it and read `requests` back."""

    token: str = TOKEN
    token_scopes: list[str] = field(default_factory=lambda: ["api"])
    token_self: bool = True  # False: no personal_access_tokens/self (older GitLab): 404
    default_progression: list[str] = field(default_factory=list)
    projects: dict[str, int] = field(default_factory=dict)
    project_settings: dict[int, dict[str, Any]] = field(default_factory=dict)
    pipelines: dict[int, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    variables: dict[int, list[dict[str, str]]] = field(default_factory=dict)
    deployment_list: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    _progressions: dict[int, list[str]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))

    # ------------------------------------------------------------ arranging

    def add_project(
        self,
        path: str,
        project_id: int | None = None,
        *,
        access_level: int | None = 30,
        restrict_variables: bool | None = False,
        minimum_override_role: str | None = "developer",
    ) -> int:
        """Make a project exist; returns its numeric id.

        `access_level` is the token user's role on it (30 Developer, 40 Maintainer, 50 Owner);
        the two variable settings are GitLab's (None: not reported, as older GitLab).
        """
        pid = project_id if project_id is not None else next(self._ids)
        self.projects[path] = pid
        self.project_settings[pid] = {
            "access_level": access_level,
            "restrict_user_defined_variables": restrict_variables,
            "ci_pipeline_variables_minimum_override_role": minimum_override_role,
        }
        return pid

    def may_set_variables(self, project_id: int) -> bool:
        """GitLab's rule: restriction off, or the user's role reaches the minimum role."""
        settings = self.project_settings.get(project_id, {})
        if not settings.get("restrict_user_defined_variables"):
            return True
        role = settings.get("ci_pipeline_variables_minimum_override_role") or "maintainer"
        needed = ROLE_LEVELS.get(role)
        return needed is not None and (settings.get("access_level") or 0) >= needed

    def advance(self, pipeline_id: int | str, status: str) -> None:
        """Set a pipeline's status now (timestamps follow GitLab's rules)."""
        pipeline = self.pipelines[int(pipeline_id)]
        pipeline["status"] = status
        pipeline["updated_at"] = _now()
        if status == "running" and not pipeline["started_at"]:
            pipeline["started_at"] = _now()
        if status in ("success", "failed", "canceled", "skipped"):
            pipeline["started_at"] = pipeline["started_at"] or _now()
            pipeline["finished_at"] = _now()

    def progress(self, pipeline_id: int | str, statuses: list[str]) -> None:
        """Script a pipeline: each later GET of it moves it one status along `statuses`."""
        self._progressions[int(pipeline_id)] = list(statuses)

    def add_job(
        self,
        pipeline_id: int | str,
        name: str,
        *,
        stage: str = "test",
        status: str = "failed",
        failure_reason: str | None = "script_failure",
    ) -> dict[str, Any]:
        """Add a job to a pipeline (failed by default).

        The shape of GitLab's "list pipeline jobs": `stage`, `status`, and `failure_reason`
        (script_failure, stuck_or_timeout_failure, runner_system_failure, ...) on failed jobs.
        """
        job_id = next(self._ids)
        pipeline = self.pipelines.get(int(pipeline_id), {})
        now = _now()
        job = {
            "id": job_id,
            "name": name,
            "stage": stage,
            "status": status,
            "failure_reason": failure_reason if status == "failed" else None,
            "allow_failure": False,
            "ref": pipeline.get("ref", "main"),
            "created_at": now,
            "started_at": now,
            "finished_at": now,
            "pipeline": {k: pipeline.get(k) for k in ("id", "project_id", "ref", "sha", "status")},
            "web_url": f"{self.url}/-/jobs/{job_id}",
        }
        self.jobs.setdefault(int(pipeline_id), []).append(job)
        return job

    def add_deployment(
        self,
        project: str,
        environment: str,
        status: str,
        *,
        created_at: str,
        ref: str = "main",
        sha: str | None = None,
        tag: bool = False,
        model_version: str | None = None,
        variables: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Record a deployment and the pipeline that made it, with these variables."""
        project_id = self.projects[project]
        dep_id = next(self._ids)
        pipeline_id = next(self._ids)
        sha = sha or f"{dep_id:040x}"
        variables = dict(variables or {})
        if model_version is not None:
            variables["MODEL_VERSION"] = model_version
        self.variables[pipeline_id] = [
            {"key": k, "value": v, "variable_type": "env_var"} for k, v in variables.items()
        ]
        deps = self.deployment_list.setdefault(project_id, [])
        deployment = {
            "id": dep_id,
            "iid": len(deps) + 1,
            "ref": ref,
            "sha": sha,
            "status": status,
            "created_at": created_at,
            "updated_at": created_at,
            "environment": {"id": 1, "name": environment, "external_url": None},
            "deployable": {
                "id": next(self._ids),
                "name": f"deploy-{environment}",
                "stage": "deploy",
                "status": status,
                "ref": ref,
                "tag": tag,
                "web_url": f"{self.url}/{project}/-/jobs/{dep_id}",
                "pipeline": {
                    "id": pipeline_id,
                    "ref": ref,
                    "sha": sha,
                    "status": status,
                    "web_url": f"{self.url}/{project}/-/pipelines/{pipeline_id}",
                },
            },
        }
        deps.append(deployment)
        return deployment

    def delete_pipeline(self, pipeline_id: int | str) -> None:
        """Forget a pipeline as GitLab's pipeline retention does: its API answers 404 from now on.

        The deployments it made stay listed (with their `deployable.pipeline`), as in GitLab.
        """
        self.pipelines.pop(int(pipeline_id), None)
        self.variables.pop(int(pipeline_id), None)

    # ------------------------------------------------------------ serving

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = web.Application(middlewares=[self._middleware])
        api = "/api/v4/projects/{project}"
        app.router.add_get("/api/v4/user", self._user)
        app.router.add_get("/api/v4/personal_access_tokens/self", self._token_self)
        app.router.add_get(api, self._project)
        app.router.add_post(f"{api}/pipeline", self._create_pipeline)
        app.router.add_get(f"{api}/pipelines/{{pid}}", self._get_pipeline)
        app.router.add_get(f"{api}/pipelines/{{pid}}/jobs", self._pipeline_jobs)
        app.router.add_get(f"{api}/pipelines/{{pid}}/variables", self._pipeline_variables)
        app.router.add_get(f"{api}/deployments", self._deployments)
        await self._serve(app)

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        fault = await self._intercept(request)
        if fault is not None:
            message = fault.message or _DEFAULT_MESSAGES.get(fault.status, str(fault.status))
            return web.json_response({"message": message}, status=fault.status)
        if request.headers.get("PRIVATE-TOKEN") != self.token:
            return web.json_response({"message": "401 Unauthorized"}, status=401)
        return await handler(request)

    def _project_id(self, request: web.Request) -> int:
        key = request.match_info["project"]
        if key in self.projects:
            return self.projects[key]
        if key.isdigit() and int(key) in self.projects.values():
            return int(key)
        raise web.HTTPNotFound(
            text='{"message":"404 Project Not Found"}', content_type="application/json"
        )

    def _pipeline(self, request: web.Request) -> dict[str, Any]:
        project_id = self._project_id(request)
        pipeline = self.pipelines.get(int(request.match_info["pid"]))
        if pipeline is None or pipeline["project_id"] != project_id:
            raise web.HTTPNotFound(
                text='{"message":"404 Not found"}', content_type="application/json"
            )
        return pipeline

    async def _user(self, request: web.Request) -> web.Response:
        return web.json_response({"id": 7, "username": USERNAME, "name": "ChatOps Bot"})

    async def _token_self(self, request: web.Request) -> web.Response:
        if not self.token_self:
            return web.json_response({"error": "404 Not Found"}, status=404)
        token = {"id": 42, "name": "chatops", "revoked": False, "created_at": _now()}
        token |= {"scopes": list(self.token_scopes), "user_id": 7, "active": True}
        return web.json_response(token | {"last_used_at": _now(), "expires_at": None})

    async def _project(self, request: web.Request) -> web.Response:
        project_id = self._project_id(request)
        path = next(p for p, pid in self.projects.items() if pid == project_id)
        settings = dict(self.project_settings.get(project_id, {}))
        level = settings.pop("access_level", None)
        access = {"access_level": level, "notification_level": 3} if level else None
        body = {"id": project_id, "path_with_namespace": path, "default_branch": "main"}
        body |= {"web_url": f"{self.url}/{path}", "visibility": "private"}
        body["permissions"] = {"project_access": access, "group_access": None}
        body |= {k: v for k, v in settings.items() if v is not None}
        return web.json_response(body)

    async def _create_pipeline(self, request: web.Request) -> web.Response:
        project_id = self._project_id(request)
        body = await request.json()
        if not body.get("ref"):
            return web.json_response({"message": "400 Bad request - ref is missing"}, status=400)
        if body.get("variables") and not self.may_set_variables(project_id):
            message = {"base": ["Insufficient permissions to set pipeline variables"]}
            return web.json_response({"message": message}, status=400)
        pid = next(self._ids)
        now = _now()
        project_path = request.match_info["project"]
        self.pipelines[pid] = {
            "id": pid,
            "iid": len(self.pipelines) + 1,
            "project_id": project_id,
            "status": "created",
            "source": "api",
            "ref": body["ref"],
            "sha": f"{pid:040x}",
            "web_url": f"{self.url}/{project_path}/-/pipelines/{pid}",
            "created_at": now,
            "updated_at": now,
            "started_at": None,
            "finished_at": None,
        }
        self.variables[pid] = [
            {"key": v["key"], "value": v["value"], "variable_type": "env_var"}
            for v in body.get("variables", [])
        ]
        if self.default_progression:
            self.progress(pid, self.default_progression)
        return web.json_response(self.pipelines[pid], status=201)

    async def _get_pipeline(self, request: web.Request) -> web.Response:
        pipeline = self._pipeline(request)
        steps = self._progressions.get(pipeline["id"])
        if steps:
            self.advance(pipeline["id"], steps.pop(0))
        return web.json_response(pipeline)

    async def _pipeline_jobs(self, request: web.Request) -> web.Response:
        pipeline = self._pipeline(request)
        scopes = request.query.getall("scope[]", []) or request.query.getall("scope", [])
        jobs = [j for j in self.jobs.get(pipeline["id"], []) if not scopes or j["status"] in scopes]
        return _page(jobs)

    async def _pipeline_variables(self, request: web.Request) -> web.Response:
        pipeline_id = int(request.match_info["pid"])
        self._project_id(request)
        if pipeline_id not in self.variables:
            raise web.HTTPNotFound(
                text='{"message":"404 Not found"}', content_type="application/json"
            )
        return _page(self.variables[pipeline_id])

    async def _deployments(self, request: web.Request) -> web.Response:
        deps = list(self.deployment_list.get(self._project_id(request), []))
        env = request.query.get("environment")
        status = request.query.get("status")
        deps = [
            d
            for d in deps
            if (env is None or d["environment"]["name"] == env)
            and (status is None or d["status"] == status)
        ]
        key = request.query.get("order_by", "id")
        deps.sort(key=lambda d: d[key], reverse=request.query.get("sort", "asc") == "desc")
        per_page = int(request.query.get("per_page", "20"))
        return _page(deps[:per_page], total=len(deps), per_page=per_page)


def _page(items: list[Any], *, total: int | None = None, per_page: int = 20) -> web.Response:
    headers = {
        "X-Page": "1",
        "X-Per-Page": str(per_page),
        "X-Total": str(len(items) if total is None else total),
        "X-Total-Pages": "1",
    }
    return web.json_response(items, headers=headers)


@pytest.fixture
async def fake_gitlab() -> AsyncIterator[FakeGitLab]:
    """A running fake GitLab; `fake_gitlab.url` is the GITLAB_URL to use."""
    fake = FakeGitLab()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
