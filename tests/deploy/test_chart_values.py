"""The chart lints clean, and bad values stop `helm install` with a message that says why.

Two gates: values.schema.json (types, enums, unknown keys) and the chart's own
rules that a schema cannot express (several replicas need Redis, and so on).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.helm import CHART, Helm

CI_VALUES = sorted((CHART / "ci").glob("*.yaml"))
REDIS = "redis://chatops-redis-master:6379/0"


@pytest.mark.parametrize(
    "values_file", [None, *CI_VALUES], ids=lambda path: path.stem if path else "default"
)
def test_helm_lint_strict_is_clean(helm: Helm, values_file: Path | None) -> None:
    args = ["lint", "--strict", *helm.required_args()]
    args += ["-f", str(values_file)] if values_file else []
    result = helm.run(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout
    assert "[ERROR]" not in result.stdout


def test_default_values_render(helm: Helm) -> None:
    kinds = {obj["kind"] for obj in helm.template()}
    assert kinds == {
        "ServiceAccount",
        "Secret",
        "ConfigMap",
        "Service",
        "Deployment",
        "NetworkPolicy",
    }


def test_multi_replica_with_redis_renders(helm: Helm) -> None:
    objects = helm.template({"replicaCount": 3, "store": {"url": REDIS}})
    kinds = {obj["kind"] for obj in objects}
    assert {"Deployment", "PodDisruptionBudget"} <= kinds


@pytest.mark.parametrize("store_url", ["", "sqlite:////data/chatops.db"])
def test_multi_replica_on_sqlite_fails_with_the_fix(helm: Helm, store_url: str) -> None:
    result = helm.template_result({"replicaCount": 3, "store": {"url": store_url}})
    assert result.returncode != 0
    assert "replicaCount is 3" in result.stderr
    assert "more than one replica needs a shared Redis store" in result.stderr
    assert "redis://" in result.stderr


@pytest.mark.parametrize(
    ("values", "message"),
    [
        pytest.param(
            {"slack": {"socketMode": True}},
            "slack.socketMode=true needs secrets.slackAppToken",
            id="socket-mode-without-app-token",
        ),
        pytest.param(
            {"secrets": {"slackBotToken": "placeholder"}},
            "without secrets.slackSigningSecret",
            id="bot-token-without-signing-secret",
        ),
        pytest.param(
            {"grafana": {"url": "http://grafana.monitoring:80"}},
            "grafana.url is set without secrets.grafanaToken",
            id="grafana-url-without-token",
        ),
        pytest.param(
            {"store": {"url": REDIS}, "persistence": {"enabled": True}},
            "persistence.enabled is for the SQLite store",
            id="persistence-with-redis",
        ),
    ],
)
def test_inconsistent_values_fail_with_the_fix(
    helm: Helm, values: dict[str, Any], message: str
) -> None:
    result = helm.template_result(values)
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.parametrize("token", [None, ""], ids=["unset", "empty"])
def test_a_webhook_token_is_required(helm: Helm, token: str | None) -> None:
    """The pod listens on every address: without a token `serve` would refuse to start."""
    values = {} if token is None else {"secrets": {"webhookToken": token}}
    result = helm.template_result(values, required=False)
    assert result.returncode != 0
    assert "secrets.webhookToken is required" in result.stderr
    assert "existingSecret" in result.stderr
    helm.template({"secrets": {"webhookToken": "placeholder-token"}})


def test_an_existing_secret_must_hold_the_webhook_token(helm: Helm) -> None:
    """The chart cannot see inside it: the key is not optional, so a pod without it stops."""
    result = helm.template_result({"existingSecret": "chatops-secrets"}, required=False)
    assert result.returncode == 0, result.stderr
    deployment = next(d for d in yaml.safe_load_all(result.stdout) if d["kind"] == "Deployment")
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    ref = env["CHATOPS_WEBHOOK_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "chatops-secrets", "key": "CHATOPS_WEBHOOK_TOKEN", "optional": False}


def test_socket_mode_with_existing_secret_renders(helm: Helm) -> None:
    """The chart cannot see inside an existing Secret, so it trusts it (the pod checks)."""
    helm.template({"slack": {"socketMode": True}, "existingSecret": "chatops-secrets"})


@pytest.mark.parametrize(
    ("values", "field"),
    [
        pytest.param({"replicaCount": "three"}, "replicaCount", id="replicas-not-integer"),
        pytest.param({"replicaCount": 0}, "replicaCount", id="zero-replicas"),
        pytest.param({"replicas": 3}, "replicas", id="unknown-top-level-key"),
        pytest.param({"logFormat": "xml"}, "logFormat", id="log-format-enum"),
        pytest.param({"image": {"pullPolicy": "Sometimes"}}, "pullPolicy", id="pull-policy-enum"),
        pytest.param({"service": {"type": "Internal"}}, "service.type", id="service-type-enum"),
        pytest.param({"service": {"port": 70000}}, "service.port", id="service-port-range"),
        pytest.param({"store": {"url": "postgres://db/chatops"}}, "store.url", id="store-scheme"),
        pytest.param({"slack": {"socketMode": "yes"}}, "slack.socketMode", id="socket-mode-bool"),
        pytest.param({"gitlab": {"url": "gitlab.local"}}, "gitlab.url", id="url-without-scheme"),
        pytest.param(
            {"securityContext": {"runAsNonRoot": False}},
            "securityContext.runAsNonRoot",
            id="root-not-allowed",
        ),
        pytest.param(
            {"config": {"models": {"m": {"pipeline": {"provider": "jenkins"}}}}},
            "provider",
            id="pipeline-provider-enum",
        ),
        pytest.param({"secrets": {"slackToken": "x"}}, "slackToken", id="unknown-secret-key"),
        pytest.param({"config": "slack: {}"}, "config", id="config-not-a-mapping"),
        pytest.param(
            {"config": {"slack": {"team_ids": ["acme"]}}}, "team_ids", id="team-id-not-an-id"
        ),
    ],
)
def test_bad_values_fail_against_the_schema(helm: Helm, values: dict[str, Any], field: str) -> None:
    result = helm.template_result(values)
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr
    assert field in result.stderr, result.stderr


def test_a_workspace_allowlist_renders_into_the_config(helm: Helm) -> None:
    objects = helm.template({"config": {"slack": {"team_ids": ["T0123ABCD"]}}})
    config_map = next(o for o in objects if o["kind"] == "ConfigMap")
    assert yaml.safe_load(config_map["data"]["config.yaml"])["slack"]["team_ids"] == ["T0123ABCD"]
