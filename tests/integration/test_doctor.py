"""`chatops doctor` against the fake Slack, GitLab, GitHub and Prometheus servers on loopback.

The all-green setup is built once per test (`Env`); each failure test breaks one thing the way
a real setup breaks (a wrong token, a missing scope, a project that is not there, a workflow
that does not declare an input, Prometheus down) and reads the line the doctor prints for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from bot.ci.gitlab import GitLabCI
from bot.ci.provider import PipelineRequest, PipelineTarget
from bot.errors import ProviderRejected
from bot.slack.manifest import BOT_SCOPES
from chatops.cli import main
from chatops.config import AppConfig, parse_config
from chatops.doctor import Check, report, run_doctor
from chatops.settings import Settings
from tests.fakes.app import BOT_TOKEN, make_settings
from tests.fakes.github import TOKEN as GITHUB_TOKEN
from tests.fakes.github import FakeGitHub
from tests.fakes.gitlab import TOKEN as GITLAB_TOKEN
from tests.fakes.gitlab import FakeGitLab
from tests.fakes.prometheus import FakePrometheus
from tests.fakes.slack import FakeSlack

APP_TOKEN = "xapp-1-doctor-test"
PROJECT = "ml/fraud-detector"
REPO = "acme/churn-predictor"
MODELS = ("churn-predictor", "fraud-detector")
QUERIES = {
    "score": 'model_drift_score{model="{model}"}',
    "p_value": 'model_drift_p_value{model="{model}"}',
    "events_24h": 'sum(increase(model_drift_events_total{model="{model}"}[24h]))',
}
CONFIG: dict[str, Any] = {
    "slack": {"default_channel": "#ml-alerts"},
    "models": {
        "fraud-detector": {
            "channel": "#fraud-ml",
            "pipeline": {
                "provider": "gitlab",
                "project": PROJECT,
                "variables": {"MODEL_NAME": "fraud-detector"},
            },
        },
        "churn-predictor": {
            "pipeline": {
                "provider": "github",
                "repo": REPO,
                "variables": {"DATASET": "latest"},
                "workflows": {"retrain": "retrain.yml", "deploy": "deploy.yml"},
                "dispatch": {"rollback": "rollback-requested"},
            },
        },
    },
}
DEPLOY_INPUTS = {"ACTION", "MODEL_NAME", "ENVIRONMENT", "MODEL_VERSION", "DATASET"}


@dataclass
class Env:
    """Fakes arranged so that every check passes; tests break one thing each."""

    slack: FakeSlack
    gitlab: FakeGitLab
    github: FakeGitHub
    prometheus: FakePrometheus
    store: Path

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "slack_app_token": APP_TOKEN,
            "gitlab_url": self.gitlab.url,
            "gitlab_token": GITLAB_TOKEN,
            "github_api_url": self.github.url,
            "github_token": GITHUB_TOKEN,
            "prometheus_url": self.prometheus.url,
            "alertmanager_url": self.prometheus.url,
        }
        return make_settings(self.slack, self.store, **(values | overrides))

    async def run(self, config: dict[str, Any] | None = None, **overrides: Any) -> list[Check]:
        parsed: AppConfig = parse_config(config if config is not None else CONFIG)
        return await run_doctor(self.settings(**overrides), parsed)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    slack = FakeSlack(valid_tokens={BOT_TOKEN}, app_tokens={APP_TOKEN})
    gitlab, github, prometheus = FakeGitLab(), FakeGitHub(), FakePrometheus()
    async with slack:
        for fake in (gitlab, github, prometheus):
            await fake.start()
        try:
            slack.add_channel("#ml-alerts")
            slack.add_channel("#fraud-ml")
            gitlab.add_project(PROJECT)
            github.add_workflow(REPO, "retrain.yml", inputs={"ACTION", "MODEL_NAME", "DATASET"})
            github.add_workflow(REPO, "deploy.yml", inputs=DEPLOY_INPUTS)
            github.add_workflow(
                REPO, "rollback.yml", inputs=(), manual=False, dispatch_types=["rollback-requested"]
            )
            for query in QUERIES.values():
                for model in MODELS:
                    prometheus.add_series(query.replace("{model}", model), 0.1, model=model)
            yield Env(slack, gitlab, github, prometheus, tmp_path / "chatops.db")
        finally:
            for fake in (gitlab, github, prometheus):
                await fake.stop()


def lines(checks: list[Check]) -> list[str]:
    return [c.line for c in checks]


def only(checks: list[Check], name: str) -> Check:
    found = [c for c in checks if c.name == name]
    assert len(found) == 1, lines(checks)
    return found[0]


def failures(checks: list[Check]) -> list[Check]:
    return [c for c in checks if not c.ok]


# ------------------------------------------------------------------ all green, and the CLI


async def test_all_green_every_service_checked(env: Env) -> None:
    checks = await env.run()

    assert failures(checks) == [], "\n".join(lines(checks))
    names = [c.name for c in checks]
    assert names == [
        "slack token",
        "slack scopes",
        "slack channel #fraud-ml",
        "slack channel #ml-alerts",
        "slack socket mode",
        "gitlab token",
        f"gitlab project {PROJECT}",
        f"gitlab variables {PROJECT}",
        "github token",
        f"github repository {REPO}",
        f"github workflow {REPO}/deploy.yml",
        f"github workflow {REPO}/retrain.yml",
        f"github dispatch {REPO}",
        "prometheus drift.queries.score",
        "prometheus drift.queries.p_value",
        "prometheus drift.queries.events_24h",
        "alertmanager",
    ]
    assert all(c.line.startswith("✓ ") for c in checks)
    assert "DATASET" in only(checks, f"github workflow {REPO}/deploy.yml").detail
    # the doctor looked at the things themselves, through the real SDKs
    assert env.slack.calls("apps.connections.open")
    assert env.gitlab.requests_to("GET", "/personal_access_tokens/self")
    assert env.github.requests_to("GET", "/contents/.github/workflows/deploy.yml")
    assert 'model_drift_score{model="fraud-detector"}' in env.prometheus.queries


async def test_cli_exit_codes_and_no_secret_in_output(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config_file = tmp_path / "chatops.yaml"
    config_file.write_text(yaml.safe_dump(CONFIG))
    settings = env.settings()
    for key, value in settings.model_dump().items():
        if value is not None:
            plain = value.get_secret_value() if hasattr(value, "get_secret_value") else value
            monkeypatch.setenv(key.upper(), str(plain))

    argv = ["doctor", "--config", str(config_file)]
    # the command runs its own event loop, so it goes in a thread beside the fakes' loop
    assert await asyncio.to_thread(main, argv) == 0
    green = capsys.readouterr().out
    assert green.strip().endswith("all checks passed")

    env.gitlab.token = "glpat-another-token"  # the configured one no longer works
    assert await asyncio.to_thread(main, argv) == 1
    out = capsys.readouterr().out
    assert "✗ gitlab token: GITLAB_TOKEN is not valid (401 Unauthorized)" in out
    assert out.strip().endswith("1 problem(s) found")
    for secret in settings.secret_values():
        assert secret not in out
        assert secret not in green


def test_report_blanks_a_secret_that_reached_a_message() -> None:
    check = Check("slack token", False, "answer echoed xoxb-leaked-value", "fix it")
    text = report([check], ["xoxb-leaked-value"])
    assert "xoxb-leaked-value" not in text
    assert text.splitlines() == [
        "✗ slack token: answer echoed [redacted] → fix it",
        "1 problem(s) found",
    ]


async def test_nothing_configured_is_all_skipped(tmp_path: Path) -> None:
    settings = make_settings(None, tmp_path / "db")
    checks = await run_doctor(settings, AppConfig())
    assert failures(checks) == []
    assert all(c.skipped for c in checks)
    assert "\u2013  gitlab: skipped: no GITLAB_TOKEN and no model uses GitLab" in lines(checks)


# ------------------------------------------------------------------ Slack


async def test_slack_invalid_auth(env: Env) -> None:
    checks = await env.run(slack_bot_token="xoxb-revoked")
    token = only(checks, "slack token")
    assert not token.ok
    assert token.detail == "SLACK_BOT_TOKEN is not valid (invalid_auth)"
    assert "Bot User OAuth Token" in token.fix
    assert only(checks, "slack channels").skipped


async def test_slack_missing_scopes_named_with_reinstall(env: Env) -> None:
    env.slack.scopes = set(BOT_SCOPES) - {"channels:join", "commands"}
    env.slack.add_channel("#fraud-ml", member=False)

    checks = await env.run()

    scopes = only(checks, "slack scopes")
    assert not scopes.ok
    assert scopes.detail == "the bot token lacks channels:join, commands"
    assert "reinstall the app after adding them" in scopes.fix
    channel = only(checks, "slack channel #fraud-ml")  # not a member and cannot join
    assert not channel.ok
    assert "/invite @chatops in #fraud-ml" in channel.fix


async def test_slack_channel_lookup_missing_scope(env: Env) -> None:
    env.slack.scopes = set(BOT_SCOPES) - {"channels:read"}
    checks = await env.run()
    channel = only(checks, "slack channel #ml-alerts")
    assert not channel.ok
    assert channel.detail == "cannot be looked up: the token lacks channels:read"


async def test_slack_channels_public_joinable_private_and_unknown(env: Env) -> None:
    env.slack.add_channel("#ml-alerts", member=False)  # public: joined on first post
    secret_id = env.slack.add_channel("#fraud-ml", member=False, private=True)
    config = CONFIG | {"slack": {"default_channel": "#ml-alerts"}}
    config = {**config, "models": {**CONFIG["models"]}}
    config["models"]["lost-model"] = {"channel": "#no-such-channel"}
    config["models"]["secret-model"] = {"channel": secret_id}

    checks = await env.run(config)

    assert only(checks, "slack channel #ml-alerts").ok
    assert "joins it on its first post" in only(checks, "slack channel #ml-alerts").detail
    assert not only(checks, "slack channel #no-such-channel").ok
    assert "not found" in only(checks, "slack channel #no-such-channel").detail
    hidden = only(checks, f"slack channel {secret_id}")  # private, bot not invited
    assert not hidden.ok
    assert "not found" in hidden.detail


async def test_slack_socket_mode_tokens(env: Env) -> None:
    wrong_kind = only(await env.run(slack_app_token=BOT_TOKEN), "slack socket mode")
    assert wrong_kind.detail == "SLACK_APP_TOKEN is not an app-level token"
    revoked = only(await env.run(slack_app_token="xapp-1-revoked"), "slack socket mode")
    assert revoked.detail == "SLACK_APP_TOKEN is not valid (invalid_auth)"
    assert only(await env.run(slack_app_token=None), "slack socket mode").skipped


async def test_slack_unreachable(env: Env) -> None:
    await env.slack.refuse_connections()
    token = only(await env.run(), "slack token")
    assert not token.ok
    assert token.detail.startswith(f"cannot reach Slack at SLACK_API_URL={env.slack.api_url}")


# ------------------------------------------------------------------ GitLab


async def test_gitlab_wrong_token(env: Env) -> None:
    checks = await env.run(gitlab_token="glpat-wrong")
    assert only(checks, "gitlab token").detail == "GITLAB_TOKEN is not valid (401 Unauthorized)"
    assert only(checks, "gitlab projects").skipped


async def test_gitlab_token_without_api_scope(env: Env) -> None:
    env.gitlab.token_scopes = ["read_api", "read_repository"]
    check = only(await env.run(), "gitlab token")
    assert not check.ok
    assert check.detail == "GITLAB_TOKEN lacks the api scope (it has read_api, read_repository)"


async def test_gitlab_without_token_self_falls_back_to_user(env: Env) -> None:
    env.gitlab.token_self = False  # older GitLab
    check = only(await env.run(), "gitlab token")
    assert check.ok
    assert check.detail == "valid (user chatops-bot); GitLab did not report its scopes"
    assert env.gitlab.requests_to("GET", "/api/v4/user")


async def test_gitlab_unknown_project(env: Env) -> None:
    config = {**CONFIG, "models": {**CONFIG["models"]}}
    config["models"]["fraud-detector"] = {"pipeline": {"provider": "gitlab", "project": "ml/typo"}}
    check = only(await env.run(config), "gitlab project ml/typo")
    assert not check.ok
    assert check.detail == "not found, or the token cannot see it (model fraud-detector)"
    assert "models.fraud-detector.pipeline.project" in check.fix


async def test_gitlab_variables_blocked_for_developer(env: Env) -> None:
    env.gitlab.add_project(PROJECT, restrict_variables=True, minimum_override_role="maintainer")
    check = only(await env.run(), f"gitlab variables {PROJECT}")
    assert not check.ok
    assert "need the maintainer role, the token has Developer" in check.detail
    assert "GitLab.com's default" in check.detail
    # the fake enforces the same rule: a real request meets what the doctor said
    gl = GitLabCI(url=env.gitlab.url, token=SecretStr(GITLAB_TOKEN), timeout=5)
    target = PipelineTarget(model="fraud-detector", provider="gitlab", project=PROJECT)
    request = PipelineRequest(action="retrain", model="fraud-detector")
    try:
        with pytest.raises(ProviderRejected, match="Insufficient permissions"):
            await gl.start(target=target, request=request)
    finally:
        await gl.close()


async def test_gitlab_variables_no_one_allowed_and_maintainer_ok(env: Env) -> None:
    env.gitlab.add_project(PROJECT, restrict_variables=True, minimum_override_role="no_one_allowed")
    blocked = only(await env.run(), f"gitlab variables {PROJECT}")
    assert not blocked.ok
    assert "disabled for every role (no_one_allowed" in blocked.detail

    env.gitlab.add_project(
        PROJECT, access_level=40, restrict_variables=True, minimum_override_role="maintainer"
    )
    assert only(await env.run(), f"gitlab variables {PROJECT}").ok


async def test_gitlab_token_missing_for_gitlab_models(env: Env) -> None:
    check = only(await env.run(gitlab_token=None), "gitlab token")
    assert not check.ok
    assert check.detail == "GITLAB_TOKEN is not set; model(s) fraud-detector use GitLab"


# ------------------------------------------------------------------ GitHub


async def test_github_wrong_token(env: Env) -> None:
    checks = await env.run(github_token="ghp_wrong")
    assert only(checks, "github token").detail == "GITHUB_TOKEN is not valid (401 Bad credentials)"
    assert only(checks, "github repositories").skipped


async def test_github_unknown_repo(env: Env) -> None:
    config = {**CONFIG, "models": {**CONFIG["models"]}}
    config["models"]["churn-predictor"] = {
        "pipeline": {"provider": "github", "repo": "acme/typo", "workflows": {"retrain": "r.yml"}}
    }
    check = only(await env.run(config), "github repository acme/typo")
    assert not check.ok
    assert check.detail == "not found, or the token cannot see it (model churn-predictor)"


async def test_github_missing_workflow_file(env: Env) -> None:
    del env.github.workflows[REPO]["deploy.yml"]
    check = only(await env.run(), f"github workflow {REPO}/deploy.yml")
    assert not check.ok
    assert (
        check.detail
        == ".github/workflows/deploy.yml not found on main (model churn-predictor, deploy)"
    )


async def test_github_workflow_missing_inputs(env: Env) -> None:
    env.github.add_workflow(REPO, "deploy.yml", inputs={"ACTION", "MODEL_NAME"})
    check = only(await env.run(), f"github workflow {REPO}/deploy.yml")
    assert not check.ok
    assert check.detail.startswith(
        "does not declare input(s) DATASET, ENVIRONMENT, MODEL_VERSION that deploy sends"
    )


async def test_github_workflow_without_dispatch_trigger_or_unreadable(env: Env) -> None:
    env.github.add_workflow(REPO, "retrain.yml", manual=False)
    env.github.add_workflow(REPO, "deploy.yml", text="on: [push\njobs: {")
    checks = await env.run()
    assert only(checks, f"github workflow {REPO}/retrain.yml").detail == (
        "has no workflow_dispatch trigger (retrain)"
    )
    unreadable = only(checks, f"github workflow {REPO}/deploy.yml")
    assert unreadable.detail == ".github/workflows/deploy.yml cannot be read: not valid YAML"


async def test_github_dispatch_needs_push(env: Env) -> None:
    env.github.push[REPO] = False
    check = only(await env.run(), f"github dispatch {REPO}")
    assert not check.ok
    assert "repository_dispatch (rollback-requested) needs Contents: write" in check.detail


# ------------------------------------------------------------------ Prometheus, Alertmanager


async def test_prometheus_down_named_without_userinfo(env: Env) -> None:
    port = env.prometheus.url.rsplit(":", 1)[1]
    await env.prometheus.stop()
    url = f"http://scraper:hunter2@127.0.0.1:{port}"

    checks = await env.run(prometheus_url=url, alertmanager_url=None)

    down = only(checks, "prometheus")
    assert not down.ok
    assert down.detail.startswith(f"PROMETHEUS_URL: Prometheus at http://127.0.0.1:{port} is")
    assert "hunter2" not in report(checks, [])
    assert "scraper" not in report(checks, [])


async def test_prometheus_query_refused_or_without_series(env: Env) -> None:
    config = {**CONFIG, "drift": {"queries": {"score": 'model_drift_score{model="{model}"'}}}
    env.prometheus.series.pop('model_drift_p_value{model="churn-predictor"}')

    checks = await env.run(config)

    refused = only(checks, "prometheus drift.queries.score")
    assert not refused.ok
    assert "parse error" in refused.detail
    empty = only(checks, "prometheus drift.queries.p_value")
    assert empty.detail.startswith("no series for model(s) churn-predictor")
    assert only(checks, "prometheus drift.queries.events_24h").ok


async def test_alertmanager_down(env: Env) -> None:
    checks = await env.run(alertmanager_url="http://127.0.0.1:9")
    check = only(checks, "alertmanager")
    assert not check.ok
    assert check.detail.startswith("cannot use Alertmanager at ALERTMANAGER_URL=http://127.0.0.1:9")
