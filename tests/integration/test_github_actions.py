"""The GitHub adapter through real PyGithub against the fake GitHub API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

from bot.ci.follow import follow_run
from bot.ci.github import GitHubActions
from bot.ci.provider import PipelineRequest, PipelineRun, PipelineStatus, PipelineTarget
from bot.deployments.rollback import choose_rollback_target
from bot.errors import (
    InvalidPipelineRequest,
    NoRollbackTarget,
    PipelineIncomplete,
    ProviderAuthError,
    ProviderError,
    ProviderNotFound,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    RunNotFound,
)
from tests.fakes.github import FakeGitHub

MODEL = "churn-predictor"
REPO = "acme/churn-predictor"
STANDARD_INPUTS = {"ACTION", "MODEL_NAME", "ENVIRONMENT", "MODEL_VERSION", "ROLLBACK_TO"}
FAST = {"poll_initial": 0.01, "poll_max": 0.05, "deadline": 10.0}


@pytest.fixture
def target(fake_github: FakeGitHub) -> PipelineTarget:
    for name in ("retrain.yml", "deploy.yml", "rollback.yml"):
        fake_github.add_workflow(REPO, name, inputs=STANDARD_INPUTS | {"EPOCHS", "FEATURE_SET"})
    return PipelineTarget(
        model=MODEL,
        provider="github",
        repo=REPO,
        ref="main",
        variables={"FEATURE_SET": "v7"},
        workflows={"retrain": "retrain.yml", "deploy": "deploy.yml", "rollback": "rollback.yml"},
        allowed_variables=("EPOCHS", "EXTRA_*", "UNDECLARED"),
        allowed_refs=("release",),
    )


@pytest.fixture
async def github_actions(fake_github: FakeGitHub) -> AsyncIterator[GitHubActions]:
    ci = GitHubActions(
        url=fake_github.url,
        token=SecretStr(fake_github.token),
        timeout=1,
        discovery_timeout=5.0,
        discovery_interval=0.02,
    )
    yield ci
    await ci.close()


class Changes:
    def __init__(self) -> None:
        self.seen: list[PipelineStatus] = []

    async def __call__(self, run: PipelineRun) -> None:
        self.seen.append(run.status)


def dispatched(fake: FakeGitHub, workflow: str) -> Any:
    (post,) = fake.requests_to("POST", f"/actions/workflows/{workflow}/dispatches")
    return post.json


async def test_retrain_dispatches_the_workflow_with_exactly_the_expected_inputs(
    fake_github: FakeGitHub, github_actions: GitHubActions, target: PipelineTarget
) -> None:
    request = PipelineRequest(action="retrain", model=MODEL, variables={"EPOCHS": "20"})

    run = await github_actions.start(target=target, request=request)

    assert dispatched(fake_github, "retrain.yml") == {
        "ref": "main",
        "inputs": {"ACTION": "retrain", "MODEL_NAME": MODEL, "FEATURE_SET": "v7", "EPOCHS": "20"},
        "return_run_details": True,
    }
    (created,) = fake_github.runs.values()
    assert run.id == str(created["id"])
    assert run.url == created["html_url"]
    assert run.status is PipelineStatus.PENDING


async def test_deploy_inputs_carry_environment_and_version(
    fake_github: FakeGitHub, github_actions: GitHubActions, target: PipelineTarget
) -> None:
    request = PipelineRequest(
        action="deploy", model=MODEL, environment="production", version="2.1.0", ref="release"
    )
    run = await github_actions.start(target=target, request=request)

    body = dispatched(fake_github, "deploy.yml")
    assert body["ref"] == "release"
    assert body["inputs"] == {
        "ACTION": "deploy",
        "MODEL_NAME": MODEL,
        "FEATURE_SET": "v7",
        "ENVIRONMENT": "production",
        "MODEL_VERSION": "2.1.0",
    }
    assert run.ref == "release"


async def test_the_run_is_found_by_listing_when_it_appears_only_after_a_delay(
    fake_github: FakeGitHub, github_actions: GitHubActions, target: PipelineTarget
) -> None:
    fake_github.return_run_details = False  # GitHub before run details: 204, no run id
    fake_github.run_delay = 0.3
    earlier = fake_github.add_run(REPO, "retrain.yml", event="workflow_dispatch")

    run = await github_actions.start(target=target, request=PipelineRequest("retrain", MODEL))

    new_ids = set(fake_github.runs) - {earlier["id"]}
    assert run.id == str(new_ids.pop())
    listings = fake_github.requests_to("GET", "/actions/workflows/retrain.yml/runs")
    assert len(listings) >= 3  # one before the dispatch, at least two while waiting
    assert listings[-1].query == {"event": "workflow_dispatch", "branch": "main"}


async def test_a_run_that_never_appears_is_a_clear_error(
    fake_github: FakeGitHub, target: PipelineTarget
) -> None:
    fake_github.return_run_details = False
    fake_github.run_delay = 60.0
    ci = GitHubActions(
        url=fake_github.url,
        token=SecretStr(fake_github.token),
        discovery_timeout=0.2,
        discovery_interval=0.02,
    )
    try:
        with pytest.raises(RunNotFound) as caught:
            await ci.start(target=target, request=PipelineRequest("retrain", MODEL))
    finally:
        await ci.close()
    message = caught.value.message
    assert "accepted the workflow retrain.yml for model churn-predictor" in message
    assert "could not be found within 0.2 s (no run appeared)" in message
    assert "before starting it again" in message


async def test_errors_while_looking_for_the_run_are_retried_not_reported_as_failures(
    fake_github: FakeGitHub, github_actions: GitHubActions, target: PipelineTarget
) -> None:
    fake_github.return_run_details = False
    fake_github.fail(502, method="GET", skip=1, times=2)  # after the listing before dispatch

    run = await github_actions.start(target=target, request=PipelineRequest("retrain", MODEL))

    (created,) = fake_github.runs.values()
    assert run.id == str(created["id"])


async def test_repository_dispatch_sends_the_event_with_the_values_in_client_payload(
    fake_github: FakeGitHub, github_actions: GitHubActions
) -> None:
    fake_github.add_workflow(REPO, "drift.yml", dispatch_types=["drift-detected"], manual=False)
    target = PipelineTarget(
        model=MODEL, provider="github", repo=REPO, dispatch={"retrain": "drift-detected"}
    )

    run = await github_actions.start(target=target, request=PipelineRequest("retrain", MODEL))

    (post,) = fake_github.requests_to("POST", f"/repos/{REPO}/dispatches")
    assert post.json == {
        "event_type": "drift-detected",
        "client_payload": {"ACTION": "retrain", "MODEL_NAME": MODEL},
    }
    (created,) = fake_github.runs.values()
    assert created["event"] == "repository_dispatch"
    assert run.id == str(created["id"])


async def test_limits_are_enforced_before_anything_is_sent(
    fake_github: FakeGitHub, github_actions: GitHubActions, target: PipelineTarget
) -> None:
    many = {f"EXTRA_{i}": str(i) for i in range(30)}
    with pytest.raises(InvalidPipelineRequest, match="GitHub accepts at most 25"):
        await github_actions.start(
            target=target, request=PipelineRequest("retrain", MODEL, variables=many)
        )
    dispatching = PipelineTarget(
        model=MODEL,
        provider="github",
        repo=REPO,
        dispatch={"retrain": "drift-detected"},
        allowed_variables=("EXTRA_*",),
    )
    ten = {f"EXTRA_{i}": str(i) for i in range(9)}
    with pytest.raises(InvalidPipelineRequest, match="at most 10 in client_payload"):
        await github_actions.start(
            target=dispatching, request=PipelineRequest("retrain", MODEL, variables=ten)
        )
    assert fake_github.requests == []


async def test_an_action_without_a_workflow_is_not_configured(
    fake_github: FakeGitHub, github_actions: GitHubActions
) -> None:
    target = PipelineTarget(model=MODEL, provider="github", repo=REPO, workflows={})
    with pytest.raises(PipelineIncomplete, match="no rollback workflow configured"):
        await github_actions.start(
            target=target,
            request=PipelineRequest("rollback", MODEL, environment="production"),
        )
    assert fake_github.requests == []


async def test_a_run_is_followed_to_success(
    fake_github: FakeGitHub, github_actions: GitHubActions, target: PipelineTarget
) -> None:
    fake_github.default_progression = [
        ("queued", None),
        ("in_progress", None),
        ("in_progress", None),
        ("completed", "success"),
    ]
    run = await github_actions.start(target=target, request=PipelineRequest("retrain", MODEL))
    changes = Changes()

    final = await follow_run(github_actions, run, changes, target=target, **FAST)

    assert final.status is PipelineStatus.SUCCESS
    assert changes.seen == [PipelineStatus.RUNNING, PipelineStatus.SUCCESS]
    assert final.finished_at is not None


async def test_a_failed_run_names_the_job_and_step_that_failed(
    fake_github: FakeGitHub, github_actions: GitHubActions, target: PipelineTarget
) -> None:
    fake_github.default_progression = [("in_progress", None), ("completed", "failure")]
    run = await github_actions.start(target=target, request=PipelineRequest("retrain", MODEL))
    fake_github.add_job(run.id, "lint", conclusion="success")
    fake_github.add_job(run.id, "train", failed_step="Train model")

    final = await follow_run(github_actions, run, Changes(), target=target, **FAST)
    failures = await github_actions.failed_jobs(target=target, run_id=final.id)

    assert final.status is PipelineStatus.FAILED
    assert final.provider_status == "failure"
    assert [(f.name, f.step) for f in failures] == [("train", "Train model")]
    assert failures[0].url.startswith(fake_github.url)


@pytest.mark.parametrize(
    ("status", "error", "answer"),
    [
        (401, ProviderAuthError, "401 Bad credentials"),
        (403, ProviderAuthError, "403 Resource not accessible by personal access token"),
        (404, ProviderNotFound, "404 Not Found"),
        (500, ProviderUnavailable, "500 Server Error"),
    ],
)
@pytest.mark.parametrize("failing", ["GET", "POST"])
async def test_provider_errors_name_the_provider_the_model_and_the_answer(
    fake_github: FakeGitHub,
    github_actions: GitHubActions,
    target: PipelineTarget,
    status: int,
    error: type[ProviderError],
    answer: str,
    failing: str,
) -> None:
    fake_github.fail(status, method=failing)

    with pytest.raises(error) as caught:
        await github_actions.start(target=target, request=PipelineRequest("retrain", MODEL))

    text = caught.value.message
    assert text.startswith("GitHub ")
    assert f"model {MODEL} (repository {REPO})" in text
    assert f"{answer} (workflow retrain.yml)" in text
    assert fake_github.runs == {}


async def test_a_rate_limit_is_unavailable_not_an_auth_error(
    fake_github: FakeGitHub, github_actions: GitHubActions, target: PipelineTarget
) -> None:
    fake_github.fail(403, message="API rate limit exceeded for user ID 1.")
    with pytest.raises(ProviderUnavailable, match="rate limit"):
        await github_actions.get_run(target=target, run_id="1")


async def test_github_validation_errors_are_shown_as_rejected(
    fake_github: FakeGitHub, github_actions: GitHubActions, target: PipelineTarget
) -> None:
    request = PipelineRequest("retrain", MODEL, variables={"UNDECLARED": "1"})
    with pytest.raises(ProviderRejected, match=r"422 Unexpected inputs provided: \['UNDECLARED'\]"):
        await github_actions.start(target=target, request=request)


async def test_a_wrong_token_is_an_auth_error_and_the_token_is_not_in_the_message(
    fake_github: FakeGitHub, target: PipelineTarget
) -> None:
    ci = GitHubActions(url=fake_github.url, token=SecretStr("ghp_wrongTokenValue"), timeout=1)
    try:
        with pytest.raises(ProviderAuthError) as caught:
            await ci.get_run(target=target, run_id="1")
    finally:
        await ci.close()
    assert "401 Bad credentials" in caught.value.message
    assert "ghp_wrongTokenValue" not in caught.value.message


async def test_an_unknown_workflow_file_is_not_found(
    fake_github: FakeGitHub, github_actions: GitHubActions, target: PipelineTarget
) -> None:
    typo = PipelineTarget(model=MODEL, provider="github", repo=REPO, workflows={"retrain": "x.yml"})
    with pytest.raises(ProviderNotFound, match=r"404 Not Found \(workflow x.yml\)"):
        await github_actions.start(target=typo, request=PipelineRequest("retrain", MODEL))


async def test_a_slow_github_is_a_timeout(
    fake_github: FakeGitHub, github_actions: GitHubActions, target: PipelineTarget
) -> None:
    fake_github.latency = 3.0
    with pytest.raises(ProviderTimeout) as caught:
        await github_actions.get_run(target=target, run_id="1")
    assert f"GitHub did not answer in time for model {MODEL}" in caught.value.message


def deployed(fake: FakeGitHub, states: list[str], day: int, version: str | None = None) -> None:
    payload = {"MODEL_VERSION": version} if version else None
    created_at = f"2024-05-{day:02d}T10:00:00Z"
    fake.add_deployment(REPO, "production", states, created_at=created_at, payload=payload)


async def test_rollback_goes_to_the_success_before_the_current_one(
    fake_github: FakeGitHub, github_actions: GitHubActions, target: PipelineTarget
) -> None:
    # GitHub marks a successful deployment "inactive" once a newer one succeeds
    deployed(fake_github, ["in_progress", "success", "inactive"], 1, "2.0.0")
    deployed(fake_github, ["in_progress", "failure"], 2, "2.1.0")
    deployed(fake_github, ["in_progress", "success"], 3, "2.1.1")

    deployments = await github_actions.deployments(target=target, environment="production")
    chosen = choose_rollback_target(deployments, model=MODEL, environment="production")

    assert [(d.status.value, d.version) for d in deployments] == [
        ("success", "2.1.1"),
        ("failed", "2.1.0"),
        ("success", "2.0.0"),
    ]
    assert chosen.version == "2.0.0"
    (listing,) = [r for r in fake_github.requests if r.path == f"/repos/{REPO}/deployments"]
    assert listing.query == {"environment": "production"}


async def test_without_a_version_in_the_payload_the_version_is_the_short_sha(
    fake_github: FakeGitHub, github_actions: GitHubActions, target: PipelineTarget
) -> None:
    fake_github.add_deployment(
        REPO, "production", ["success"], created_at="2024-05-01T10:00:00Z", sha="c0ffee" * 6 + "00"
    )
    (deployment,) = await github_actions.deployments(target=target, environment="production")
    assert deployment.version == "c0ffeec"


async def test_rollback_with_no_deployment_says_so(
    fake_github: FakeGitHub, github_actions: GitHubActions, target: PipelineTarget
) -> None:
    deployments = await github_actions.deployments(target=target, environment="production")
    assert deployments == []
    with pytest.raises(NoRollbackTarget, match="no successful deployment in production"):
        choose_rollback_target(deployments, model=MODEL, environment="production")


async def test_a_failed_job_carries_its_conclusion_as_the_reason(
    fake_github: FakeGitHub, github_actions: GitHubActions, target: PipelineTarget
) -> None:
    run = await github_actions.start(target=target, request=PipelineRequest("retrain", MODEL))
    fake_github.add_job(run.id, "train", conclusion="timed_out", failed_step="Train model")
    fake_github.add_job(run.id, "eval", conclusion="failure")

    failures = await github_actions.failed_jobs(target=target, run_id=run.id)

    assert [(f.name, f.step, f.reason) for f in failures] == [
        ("train", "Train model", "timed_out"),
        ("eval", None, "failure"),
    ]
