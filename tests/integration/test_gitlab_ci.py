"""The GitLab adapter through real python-gitlab against the fake GitLab API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

from bot.ci.follow import follow_run
from bot.ci.gitlab import GitLabCI
from bot.ci.provider import PipelineRequest, PipelineRun, PipelineStatus, PipelineTarget
from bot.deployments.rollback import choose_rollback_target
from bot.errors import (
    InvalidPipelineRequest,
    NoRollbackTarget,
    ProviderAuthError,
    ProviderError,
    ProviderNotFound,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
)
from tests.fakes.gitlab import FakeGitLab

MODEL = "fraud-detector"
PROJECT = "ml/fraud-detector"
FAST = {"poll_initial": 0.01, "poll_max": 0.05, "deadline": 10.0}


@pytest.fixture
def target(fake_gitlab: FakeGitLab) -> PipelineTarget:
    fake_gitlab.add_project(PROJECT)
    return PipelineTarget(
        model=MODEL,
        provider="gitlab",
        project=PROJECT,
        ref="main",
        variables={"MODEL_NAME": MODEL, "DATASET": "2024-q1"},
        allowed_variables=("EPOCHS", "OPT_*"),
        allowed_refs=("release", "feature/*"),
    )


@pytest.fixture
async def gitlab_ci(fake_gitlab: FakeGitLab) -> AsyncIterator[GitLabCI]:
    ci = GitLabCI(url=fake_gitlab.url, token=SecretStr(fake_gitlab.token), timeout=0.5)
    yield ci
    await ci.close()


def posted_variables(fake: FakeGitLab) -> dict[str, str]:
    (post,) = fake.requests_to("POST", "/pipeline")
    return {v["key"]: v["value"] for v in post.json["variables"]}


class Changes:
    def __init__(self) -> None:
        self.seen: list[PipelineStatus] = []

    async def __call__(self, run: PipelineRun) -> None:
        self.seen.append(run.status)


async def test_retrain_creates_a_pipeline_with_exactly_the_expected_variables(
    fake_gitlab: FakeGitLab, gitlab_ci: GitLabCI, target: PipelineTarget
) -> None:
    request = PipelineRequest(action="retrain", model=MODEL, variables={"EPOCHS": "20"})

    run = await gitlab_ci.start(target=target, request=request)

    (post,) = fake_gitlab.requests_to("POST", "/pipeline")
    assert post.path == f"/api/v4/projects/{PROJECT}/pipeline"
    assert post.json["ref"] == "main"
    assert posted_variables(fake_gitlab) == {
        "ACTION": "retrain",
        "MODEL_NAME": MODEL,
        "DATASET": "2024-q1",
        "EPOCHS": "20",
    }
    assert run.status is PipelineStatus.PENDING
    assert run.provider_status == "created"
    assert run.url.endswith(f"/{PROJECT}/-/pipelines/{run.id}")


async def test_deploy_and_rollback_carry_environment_version_and_ref(
    fake_gitlab: FakeGitLab, gitlab_ci: GitLabCI, target: PipelineTarget
) -> None:
    deploy = PipelineRequest(
        action="deploy", model=MODEL, environment="production", version="1.4.2", ref="release"
    )
    run = await gitlab_ci.start(target=target, request=deploy)
    assert run.ref == "release"
    assert posted_variables(fake_gitlab) == {
        "ACTION": "deploy",
        "MODEL_NAME": MODEL,
        "DATASET": "2024-q1",
        "ENVIRONMENT": "production",
        "MODEL_VERSION": "1.4.2",
    }

    fake_gitlab.requests.clear()
    rollback = PipelineRequest(
        action="rollback", model=MODEL, environment="production", rollback_to="1.4.1"
    )
    await gitlab_ci.start(target=target, request=rollback)
    variables = posted_variables(fake_gitlab)
    assert variables["ACTION"] == "rollback"
    assert variables["ROLLBACK_TO"] == "1.4.1"
    assert "MODEL_VERSION" not in variables


async def test_a_user_variable_may_not_override_the_bots_own(
    fake_gitlab: FakeGitLab, gitlab_ci: GitLabCI, target: PipelineTarget
) -> None:
    request = PipelineRequest(action="retrain", model=MODEL, variables={"ACTION": "deploy"})
    with pytest.raises(InvalidPipelineRequest, match="ACTION is set by the bot"):
        await gitlab_ci.start(target=target, request=request)
    assert fake_gitlab.requests == []


@pytest.mark.parametrize(
    ("variables", "refused"),
    [
        ({"CI_DEBUG_TRACE": "true"}, "CI_DEBUG_TRACE is reserved"),
        ({"GITLAB_USER_LOGIN": "x"}, "GITLAB_USER_LOGIN is reserved"),
        ({"DATASET": "evil"}, "DATASET is set in models.fraud-detector.pipeline.variables"),
        ({"GIT_STRATEGY": "none"}, "GIT_STRATEGY is not allowed for fraud-detector"),
    ],
)
async def test_the_adapter_refuses_variables_the_config_does_not_allow(
    fake_gitlab: FakeGitLab,
    gitlab_ci: GitLabCI,
    target: PipelineTarget,
    variables: dict[str, str],
    refused: str,
) -> None:
    """Also checked before a request is stored; here in case config changed before approval."""
    request = PipelineRequest(action="retrain", model=MODEL, variables=variables)
    with pytest.raises(InvalidPipelineRequest, match=refused):
        await gitlab_ci.start(target=target, request=request)
    assert fake_gitlab.requests == []


async def test_the_adapter_refuses_a_ref_the_config_does_not_allow(
    fake_gitlab: FakeGitLab, gitlab_ci: GitLabCI, target: PipelineTarget
) -> None:
    for ref in ("refs/merge-requests/1/head", "dev", "feature"):
        request = PipelineRequest(action="retrain", model=MODEL, ref=ref)
        with pytest.raises(InvalidPipelineRequest, match=f"ref {ref} is not allowed"):
            await gitlab_ci.start(target=target, request=request)
    assert fake_gitlab.requests == []
    ok = PipelineRequest(action="retrain", model=MODEL, ref="feature/x", variables={"OPT_A": "1"})
    assert (await gitlab_ci.start(target=target, request=ok)).ref == "feature/x"


async def test_a_pipeline_is_followed_to_success(
    fake_gitlab: FakeGitLab, gitlab_ci: GitLabCI, target: PipelineTarget
) -> None:
    fake_gitlab.default_progression = ["pending", "running", "running", "success"]
    run = await gitlab_ci.start(target=target, request=PipelineRequest("retrain", MODEL))
    changes = Changes()

    final = await follow_run(gitlab_ci, run, changes, target=target, **FAST)

    assert final.status is PipelineStatus.SUCCESS
    assert changes.seen == [PipelineStatus.RUNNING, PipelineStatus.SUCCESS]
    assert final.duration is not None


async def test_a_failed_pipeline_names_the_job_that_failed(
    fake_gitlab: FakeGitLab, gitlab_ci: GitLabCI, target: PipelineTarget
) -> None:
    fake_gitlab.default_progression = ["running", "failed"]
    run = await gitlab_ci.start(target=target, request=PipelineRequest("retrain", MODEL))
    fake_gitlab.add_job(run.id, "prepare-data", stage="prepare", status="success")
    fake_gitlab.add_job(run.id, "train-model", stage="train", failure_reason="script_failure")

    final = await follow_run(gitlab_ci, run, Changes(), target=target, **FAST)
    failures = await gitlab_ci.failed_jobs(target=target, run_id=final.id)

    assert final.status is PipelineStatus.FAILED
    assert [(f.name, f.stage, f.reason) for f in failures] == [
        ("train-model", "train", "script_failure")
    ]
    assert failures[0].url.startswith(fake_gitlab.url)
    (jobs,) = fake_gitlab.requests_to("GET", "/jobs")
    assert jobs.query == {"scope[]": "failed"}


async def test_transient_server_errors_while_following_are_waited_out(
    fake_gitlab: FakeGitLab, gitlab_ci: GitLabCI, target: PipelineTarget
) -> None:
    fake_gitlab.default_progression = ["running", "success"]
    run = await gitlab_ci.start(target=target, request=PipelineRequest("retrain", MODEL))
    fake_gitlab.fail(502, times=2, method="GET")

    final = await follow_run(gitlab_ci, run, Changes(), target=target, **FAST)

    assert final.status is PipelineStatus.SUCCESS


@pytest.mark.parametrize(
    ("status", "error", "answer"),
    [
        (401, ProviderAuthError, "401 Unauthorized"),
        (403, ProviderAuthError, "403 Forbidden"),
        (404, ProviderNotFound, "404 Project Not Found"),
        (500, ProviderUnavailable, "500 Internal Server Error"),
        (400, ProviderRejected, "400 Reference not found"),
    ],
)
async def test_provider_errors_name_the_provider_the_model_and_the_answer(
    fake_gitlab: FakeGitLab,
    gitlab_ci: GitLabCI,
    target: PipelineTarget,
    status: int,
    error: type[ProviderError],
    answer: str,
) -> None:
    message = "Reference not found" if status == 400 else None
    fake_gitlab.fail(status, message=message)

    with pytest.raises(error) as caught:
        await gitlab_ci.start(target=target, request=PipelineRequest("retrain", MODEL))

    text = caught.value.message
    assert text.startswith("GitLab ")
    assert f"model {MODEL} (project {PROJECT})" in text
    assert answer in text
    assert caught.value.status == status
    assert fake_gitlab.pipelines == {}


async def test_a_wrong_token_is_an_auth_error_and_the_token_is_not_in_the_message(
    fake_gitlab: FakeGitLab, target: PipelineTarget
) -> None:
    ci = GitLabCI(url=fake_gitlab.url, token=SecretStr("glpat-wrong-token"), timeout=0.5)
    try:
        with pytest.raises(ProviderAuthError) as caught:
            await ci.get_run(target=target, run_id="1")
    finally:
        await ci.close()
    assert "401 Unauthorized" in caught.value.message
    assert "glpat-wrong-token" not in caught.value.message


async def test_an_unknown_project_is_not_found(
    fake_gitlab: FakeGitLab, gitlab_ci: GitLabCI
) -> None:
    missing = PipelineTarget(model=MODEL, provider="gitlab", project="ml/typo")
    with pytest.raises(ProviderNotFound, match="project ml/typo"):
        await gitlab_ci.start(target=missing, request=PipelineRequest("retrain", MODEL))


async def test_a_slow_gitlab_is_a_timeout(
    fake_gitlab: FakeGitLab, gitlab_ci: GitLabCI, target: PipelineTarget
) -> None:
    fake_gitlab.latency = 3.0
    with pytest.raises(ProviderTimeout) as caught:
        await gitlab_ci.start(target=target, request=PipelineRequest("retrain", MODEL))
    assert f"GitLab did not answer in time for model {MODEL}" in caught.value.message


def deployed(fake: FakeGitLab, status: str, day: int, env: str = "production", **kw: Any) -> str:
    """Record a deployment on 2024-05-`day`; returns its short sha."""
    created_at = f"2024-05-{day:02d}T10:00:00.000Z"
    dep = fake.add_deployment(PROJECT, env, status, created_at=created_at, **kw)
    return str(dep["sha"])[:8]


async def test_rollback_goes_to_the_success_before_the_current_one(
    fake_gitlab: FakeGitLab, gitlab_ci: GitLabCI, target: PipelineTarget
) -> None:
    deployed(fake_gitlab, "success", 1, model_version="1.3.0")
    failed_sha = deployed(fake_gitlab, "failed", 2, model_version="1.4.0")
    deployed(fake_gitlab, "success", 3, model_version="1.4.1")
    deployed(fake_gitlab, "success", 4, env="staging", model_version="1.5.0")

    deployments = await gitlab_ci.deployments(target=target, environment="production")
    chosen = choose_rollback_target(deployments, model=MODEL, environment="production")

    # MODEL_VERSION is looked up for successful deployments only (the rollback candidates)
    assert [(d.status.value, d.version) for d in deployments] == [
        ("success", "1.4.1"),
        ("failed", failed_sha),
        ("success", "1.3.0"),
    ]
    assert chosen.version == "1.3.0"
    (listing,) = fake_gitlab.requests_to("GET", "/deployments")
    assert listing.query["environment"] == "production"
    assert listing.query["order_by"] == "id"
    assert listing.query["sort"] == "desc"


async def test_after_a_rollback_the_target_is_the_version_that_was_rolled_back(
    fake_gitlab: FakeGitLab, gitlab_ci: GitLabCI, target: PipelineTarget
) -> None:
    deployed(fake_gitlab, "success", 1, model_version="1.0")
    deployed(fake_gitlab, "success", 2, model_version="2.0")
    deployed(fake_gitlab, "success", 3, variables={"ACTION": "rollback", "ROLLBACK_TO": "1.0"})

    deployments = await gitlab_ci.deployments(target=target, environment="production")
    chosen = choose_rollback_target(deployments, model=MODEL, environment="production")

    assert [d.version for d in deployments] == ["1.0", "2.0", "1.0"]
    assert chosen.version == "2.0"


async def test_a_deleted_pipeline_does_not_abort_the_rollback_lookup(
    fake_gitlab: FakeGitLab, gitlab_ci: GitLabCI, target: PipelineTarget
) -> None:
    """Pipeline retention deleted one deployment's pipeline: its variables answer 404."""
    deployed(fake_gitlab, "success", 1, model_version="1.0")
    gone = fake_gitlab.add_deployment(
        PROJECT,
        "production",
        "success",
        created_at="2024-05-02T10:00:00.000Z",
        ref="v2.0.0",
        tag=True,
        model_version="2.0",
    )
    deployed(fake_gitlab, "success", 3, model_version="3.0")
    fake_gitlab.delete_pipeline(gone["deployable"]["pipeline"]["id"])

    deployments = await gitlab_ci.deployments(target=target, environment="production")
    chosen = choose_rollback_target(deployments, model=MODEL, environment="production")

    # the deleted pipeline's deployment falls back to its tag; the others keep MODEL_VERSION
    assert [d.version for d in deployments] == ["3.0", "v2.0.0", "1.0"]
    assert chosen.version == "v2.0.0"
    assert len(fake_gitlab.requests_to("GET", "/variables")) == 3


async def test_deployment_version_falls_back_to_the_tag_then_the_short_sha(
    fake_gitlab: FakeGitLab, gitlab_ci: GitLabCI, target: PipelineTarget
) -> None:
    deployed(fake_gitlab, "success", 1, sha="ab" * 20)
    deployed(fake_gitlab, "success", 2, ref="v2.0.0", tag=True)

    deployments = await gitlab_ci.deployments(target=target, environment="production")

    assert [d.version for d in deployments] == ["v2.0.0", "abababab"]


async def test_rollback_with_no_earlier_deployment_says_so(
    fake_gitlab: FakeGitLab, gitlab_ci: GitLabCI, target: PipelineTarget
) -> None:
    deployed(fake_gitlab, "success", 1, model_version="1.0")
    deployments = await gitlab_ci.deployments(target=target, environment="production")
    with pytest.raises(NoRollbackTarget, match="no earlier successful deployment in production"):
        choose_rollback_target(deployments, model=MODEL, environment="production")
