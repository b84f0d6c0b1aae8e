"""What the rendered chart promises an operator: probes, hardening, secrets, config, scaling."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
import yaml

from tests.deploy.helm import CHART, NAMESPACE, REPO, Helm, Obj, by_kind, one

MULTI = CHART / "ci" / "multi-replica-values.yaml"
SOCKET = CHART / "ci" / "socket-mode-values.yaml"
SECRET_ENV = {
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "GITLAB_TOKEN",
    "GITHUB_TOKEN",
    "CHATOPS_WEBHOOK_TOKEN",
    "CHATOPS_DRIFT_SECRET",
    "GRAFANA_TOKEN",
    "MLFLOW_TRACKING_TOKEN",
    "CHATOPS_MLFLOW_WEBHOOK_SECRET",
    "REDIS_PASSWORD",
}


def container(objects: list[Obj]) -> dict[str, Any]:
    containers = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    result: dict[str, Any] = containers[0]
    return result


def pod_spec(objects: list[Obj]) -> dict[str, Any]:
    result: dict[str, Any] = one(objects, "Deployment")["spec"]["template"]["spec"]
    return result


def volumes_of(objects: list[Obj]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in pod_spec(objects)["volumes"]}


def env_of(objects: list[Obj]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container(objects)["env"]}


def pod_annotations(objects: list[Obj]) -> dict[str, str]:
    result: dict[str, str] = one(objects, "Deployment")["spec"]["template"]["metadata"][
        "annotations"
    ]
    return result


def test_probes_hit_the_health_routes_on_the_served_port(helm: Helm) -> None:
    objects = helm.template()
    c = container(objects)
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert c["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert c["args"] == ["serve", "--host", "0.0.0.0", "--port", "8080"]
    service = one(objects, "Service")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert service["spec"]["selector"].items() <= (
        one(objects, "Deployment")["spec"]["template"]["metadata"]["labels"].items()
    )


def test_pod_is_hardened(helm: Helm) -> None:
    objects = helm.template()
    pod = pod_spec(objects)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert isinstance(pod["securityContext"]["runAsUser"], int)
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    sc = container(objects)["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    resources = container(objects)["resources"]
    assert resources["requests"]["cpu"]
    assert resources["requests"]["memory"]
    assert resources["limits"]["memory"]


def test_writable_paths_are_volumes_on_a_read_only_root(helm: Helm) -> None:
    objects = helm.template()
    mounts = {m["mountPath"]: m["name"] for m in container(objects)["volumeMounts"]}
    volumes = volumes_of(objects)
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert "emptyDir" in volumes[mounts["/data"]]
    assert env_of(objects)["CHATOPS_STORE_URL"]["value"] == "sqlite:////data/chatops.db"


def test_run_as_user_matches_the_image_user(helm: Helm) -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    uid = re.search(r"^ARG APP_UID=(\d+)$", dockerfile, re.MULTILINE)
    assert uid, "Dockerfile declares ARG APP_UID"
    pod = pod_spec(helm.template())
    assert pod["securityContext"]["runAsUser"] == int(uid.group(1))


def test_config_map_is_the_config_value_mounted_where_chatops_config_points(helm: Helm) -> None:
    config = {
        "slack": {"default_channel": "#ml-alerts"},
        "models": {"fraud-detector": {"pipeline": {"provider": "gitlab", "project": "ml/fd"}}},
        "dedup": {"window": "4h"},
    }
    objects = helm.template({"config": config})
    config_map = one(objects, "ConfigMap")
    assert yaml.safe_load(config_map["data"]["config.yaml"]) == config
    mount = next(m for m in container(objects)["volumeMounts"] if m["name"] == "config")
    assert mount["readOnly"] is True
    assert env_of(objects)["CHATOPS_CONFIG"]["value"] == f"{mount['mountPath']}/config.yaml"
    assert volumes_of(objects)["config"]["configMap"]["name"] == config_map["metadata"]["name"]


def test_config_change_rolls_the_pods(helm: Helm) -> None:
    before = pod_annotations(helm.template())
    same = pod_annotations(helm.template())
    after = pod_annotations(helm.template({"config": {"slack": {"default_channel": "#other"}}}))
    assert before["checksum/config"] == same["checksum/config"]
    assert before["checksum/config"] != after["checksum/config"]
    assert before["checksum/secret"] == after["checksum/secret"]


def test_secret_change_rolls_the_pods(helm: Helm) -> None:
    before = pod_annotations(helm.template({"secrets": {"webhookToken": "placeholder-a"}}))
    after = pod_annotations(helm.template({"secrets": {"webhookToken": "placeholder-b"}}))
    assert before["checksum/secret"] != after["checksum/secret"]


def test_secrets_from_values_are_in_a_chart_secret_read_by_secret_key_ref(helm: Helm) -> None:
    objects = helm.template({}, MULTI)
    secret = one(objects, "Secret")
    decoded = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert decoded["SLACK_BOT_TOKEN"] == "placeholder-bot-token"
    assert decoded["CHATOPS_WEBHOOK_TOKEN"] == "placeholder-webhook-token"
    assert "GITHUB_TOKEN" not in decoded, "unset secrets are left out, not stored empty"
    env = env_of(objects)
    for name in SECRET_ENV:
        ref = env[name]["valueFrom"]["secretKeyRef"]
        required = name == "CHATOPS_WEBHOOK_TOKEN"  # the pod does not start without it
        assert ref == {"name": secret["metadata"]["name"], "key": name, "optional": not required}
        assert "value" not in env[name]


def test_existing_secret_replaces_the_chart_secret(helm: Helm) -> None:
    objects = helm.template({}, SOCKET)
    assert not by_kind(objects, "Secret")
    assert "checksum/secret" not in pod_annotations(objects)
    for name in SECRET_ENV:
        assert env_of(objects)[name]["valueFrom"]["secretKeyRef"]["name"] == "chatops-secrets"


def test_no_secret_value_appears_outside_the_secret(helm: Helm) -> None:
    result = helm.template_result({}, MULTI)
    outside = [doc for doc in yaml.safe_load_all(result.stdout) if doc and doc["kind"] != "Secret"]
    text = yaml.safe_dump_all(outside)
    assert "placeholder-" not in text
    assert "placeholder-" not in helm.notes({}, MULTI)


def test_socket_mode_adds_the_flag_and_requires_the_app_token(helm: Helm) -> None:
    objects = helm.template({}, SOCKET)
    assert container(objects)["args"][-1] == "--socket-mode"
    assert env_of(objects)["SLACK_APP_TOKEN"]["valueFrom"]["secretKeyRef"]["optional"] is False
    assert "--socket-mode" not in container(helm.template())["args"]


def test_single_sqlite_replica_is_recreated_not_rolled(helm: Helm) -> None:
    objects = helm.template()
    assert one(objects, "Deployment")["spec"]["strategy"] == {"type": "Recreate"}
    assert not by_kind(objects, "PodDisruptionBudget")


def test_persistence_keeps_the_sqlite_file_in_a_claim(helm: Helm) -> None:
    objects = helm.template({}, SOCKET)
    claim = one(objects, "PersistentVolumeClaim")
    claim_name = claim["metadata"]["name"]
    assert volumes_of(objects)["data"]["persistentVolumeClaim"] == {"claimName": claim_name}
    existing = helm.template({"persistence": {"enabled": True, "existingClaim": "kept"}})
    assert not by_kind(existing, "PersistentVolumeClaim")
    assert volumes_of(existing)["data"]["persistentVolumeClaim"] == {"claimName": "kept"}


def test_multi_replica_on_redis_rolls_and_has_a_disruption_budget(helm: Helm) -> None:
    objects = helm.template({}, MULTI)
    deployment = one(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    pdb = one(objects, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    names = [e["name"] for e in container(objects)["env"]]
    assert names.index("REDIS_PASSWORD") < names.index("CHATOPS_STORE_URL"), (
        "Kubernetes expands $(REDIS_PASSWORD) in store.url only when it is defined earlier"
    )
    assert env_of(objects)["CHATOPS_STORE_URL"]["value"].startswith("redis://")


def test_service_monitor_scrapes_metrics_on_the_service_port(helm: Helm) -> None:
    objects = helm.template({}, MULTI)
    monitor = one(objects, "ServiceMonitor")
    service = one(objects, "Service")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert not by_kind(helm.template(), "ServiceMonitor")


def test_ingress_routes_to_the_service(helm: Helm) -> None:
    objects = helm.template({}, MULTI)
    ingress = one(objects, "Ingress")
    service = one(objects, "Service")
    tls = {"secretName": "chatops-tls", "hosts": ["chatops.example.com"]}
    assert ingress["spec"]["tls"] == [tls]
    paths = ingress["spec"]["rules"][0]["http"]["paths"]
    assert {p["path"] for p in paths} == {"/slack/events", "/webhooks", "/drift-webhook"}
    for path in paths:
        assert path["backend"]["service"] == {
            "name": service["metadata"]["name"],
            "port": {"number": service["spec"]["ports"][0]["port"]},
        }


@pytest.mark.parametrize(
    ("url", "env"),
    [
        ("https://gitlab.example.com", "GITLAB_URL"),
        ("http://prometheus-operated.monitoring:9090", "PROMETHEUS_URL"),
        ("http://alertmanager-operated.monitoring:9093", "ALERTMANAGER_URL"),
        ("http://grafana.monitoring:80", "GRAFANA_URL"),
        ("http://mlflow.mlops:5000", "MLFLOW_TRACKING_URI"),
        ("https://chatops.example.com", "CHATOPS_PUBLIC_URL"),
    ],
)
def test_endpoints_are_plain_env(helm: Helm, url: str, env: str) -> None:
    assert env_of(helm.template({}, MULTI))[env]["value"] == url
    assert env not in env_of(helm.template())


def test_public_url_overrides_the_ingress_host(helm: Helm) -> None:
    objects = helm.template({"publicUrl": "https://chat.example.org/"}, MULTI)
    assert env_of(objects)["CHATOPS_PUBLIC_URL"]["value"] == "https://chat.example.org"
    assert "https://chat.example.org/slack/events" in helm.notes(
        {"publicUrl": "https://chat.example.org"}
    )


def test_notes_say_where_alertmanager_and_slack_send(helm: Helm) -> None:
    notes = helm.notes()
    service_url = f"http://chatops-test.{NAMESPACE}.svc.cluster.local:80"
    assert f"url: {service_url}/webhooks/alertmanager" in notes
    assert "credentials_file: /etc/alertmanager/secrets/chatops-test/CHATOPS_WEBHOOK_TOKEN" in notes
    assert f"{service_url}/webhooks/drift" in notes
    assert "/slack/events" in notes
    assert "console sink" in notes


def test_notes_use_the_public_host_and_the_existing_secret(helm: Helm) -> None:
    public = helm.notes({}, MULTI)
    assert "https://chatops.example.com/slack/events" in public
    assert "WARNING" not in public
    socket = helm.notes({}, SOCKET)
    assert "Socket Mode is on" in socket
    assert "/slack/events" not in socket
    assert "secret chatops-secrets" in socket
