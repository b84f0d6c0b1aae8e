"""Who can reach the service: the Ingress routes only Slack's path by default, and the
NetworkPolicy admits the HTTP port only from the configured peers."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.helm import CHART, Helm, Obj, by_kind, one

MULTI = CHART / "ci" / "multi-replica-values.yaml"
HTTP_ONLY = [{"port": "http", "protocol": "TCP"}]


def ingress_paths(objects: list[Obj]) -> dict[str, str]:
    [rule] = one(objects, "Ingress")["spec"]["rules"]
    return {p["path"]: p["pathType"] for p in rule["http"]["paths"]}


def policy_rules(objects: list[Obj]) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = one(objects, "NetworkPolicy")["spec"]["ingress"]
    return rules


def test_default_ingress_routes_only_slack_events(helm: Helm) -> None:
    """Not `/`: that would publish /metrics and the webhooks to the internet."""
    paths = ingress_paths(helm.template({"ingress": {"enabled": True}}))
    assert paths == {"/slack/events": "Exact"}


def test_webhooks_through_the_ingress_are_an_explicit_opt_in(helm: Helm) -> None:
    paths = ingress_paths(helm.template({"ingress": {"enabled": True, "exposeWebhooks": True}}))
    assert paths == {"/slack/events": "Exact", "/webhooks": "Prefix", "/drift-webhook": "Exact"}
    assert not [p for p in paths if "/metrics".startswith(p.rstrip("/") or "/")]


def test_ingress_paths_cannot_be_widened_from_values(helm: Helm) -> None:
    """A `paths: [{path: /}]` from an older values file fails instead of exposing everything."""
    host = {"host": "chatops.example.com", "paths": [{"path": "/", "pathType": "Prefix"}]}
    result = helm.template_result({"ingress": {"enabled": True, "hosts": [host]}})
    assert result.returncode != 0
    assert "paths" in result.stderr


def test_network_policy_is_on_by_default_and_selects_the_pods(helm: Helm) -> None:
    objects = helm.template()
    policy = one(objects, "NetworkPolicy")
    pod_labels = one(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    rules = policy_rules(objects)
    assert [r["ports"] for r in rules] == [HTTP_ONLY] * 3
    namespaces = [
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for rule in rules
        for peer in rule["from"]
    ]
    assert namespaces == ["ingress-nginx", "monitoring", "monitoring"]


def test_network_policy_admits_exactly_the_configured_peers(helm: Helm) -> None:
    alertmanager = {"podSelector": {"matchLabels": {"app": "alertmanager"}}}
    grafana = {"ipBlock": {"cidr": "10.1.0.0/16"}}
    values = {
        "networkPolicy": {
            "ingressFrom": [],
            "webhookFrom": [alertmanager, grafana],
            "metricsFrom": [{"podSelector": {"matchLabels": {"app": "prometheus"}}}],
        }
    }
    rules = policy_rules(helm.template(values))
    assert rules == [
        {"from": [alertmanager, grafana], "ports": HTTP_ONLY},
        {"from": values["networkPolicy"]["metricsFrom"], "ports": HTTP_ONLY},
    ]


def test_no_peers_admits_nothing(helm: Helm) -> None:
    empty = {"ingressFrom": [], "webhookFrom": [], "metricsFrom": []}
    policy = one(helm.template({"networkPolicy": empty}), "NetworkPolicy")
    assert policy["spec"]["ingress"] == []
    assert policy["spec"]["policyTypes"] == ["Ingress"]


def test_extra_ingress_rules_are_added_and_the_policy_can_be_turned_off(helm: Helm) -> None:
    extra = {"from": [{"podSelector": {}}], "ports": [{"port": 8080, "protocol": "TCP"}]}
    rules = policy_rules(helm.template({"networkPolicy": {"extraIngress": [extra]}}))
    assert rules[-1] == extra
    assert len(rules) == 4
    assert not by_kind(helm.template({"networkPolicy": {"enabled": False}}), "NetworkPolicy")
    assert len(policy_rules(helm.template({}, MULTI))) == 3


@pytest.mark.parametrize(
    "peer",
    [{"namespace": "monitoring"}, {}, {"ipBlock": {"except": ["10.0.0.0/8"]}}],
    ids=["unknown-key", "empty", "ipblock-without-cidr"],
)
def test_bad_peers_fail_against_the_schema(helm: Helm, peer: dict[str, Any]) -> None:
    result = helm.template_result({"networkPolicy": {"webhookFrom": [peer]}})
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr


def test_notes_say_which_peers_may_send_webhooks(helm: Helm) -> None:
    assert "admits webhooks only from networkPolicy.webhookFrom" in helm.notes()
    off = helm.notes({"networkPolicy": {"enabled": False}})
    assert "networkPolicy.webhookFrom" not in off
