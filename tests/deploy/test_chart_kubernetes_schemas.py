"""Every object the chart renders is a valid Kubernetes object (strict: unknown fields fail).

Checked with `kubernetes-validate`, which bundles the Kubernetes JSON schemas (no
network), against the oldest version the chart claims (Chart.yaml kubeVersion)
and the newest one bundled. The ServiceMonitor is a CRD with no bundled schema;
tests/deploy/test_chart_objects.py checks its shape.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version

from tests.deploy.helm import CHART, Helm

CRDS = {("monitoring.coreos.com/v1", "ServiceMonitor")}
OLDEST = "1.25.0"
SCENARIOS: dict[str, tuple[dict[str, Any], tuple[Path, ...]]] = {
    "default": ({}, ()),
    **{path.stem: ({}, (path,)) for path in sorted((CHART / "ci").glob("*.yaml"))},
    "existing-claim": (
        {"persistence": {"enabled": True, "existingClaim": "chatops-data"}},
        (),
    ),
}


def test_oldest_version_matches_chart_kube_version() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["kubeVersion"] == f">={OLDEST}-0"


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize("k8s_version", [OLDEST, latest_version()])
def test_rendered_objects_are_valid_kubernetes(helm: Helm, scenario: str, k8s_version: str) -> None:
    values, files = SCENARIOS[scenario]
    objects = helm.template(values, *files)
    assert objects
    problems = []
    for obj in objects:
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        try:
            kubernetes_validate.validate(obj, k8s_version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            if (obj["apiVersion"], obj["kind"]) not in CRDS:
                problems.append(f"{name}: no Kubernetes schema for {obj['apiVersion']}")
        except kubernetes_validate.ValidationError as e:
            path = ".".join(str(part) for part in e.path)
            problems.append(f"{name}: {path}: {e.message}")
    assert not problems, "\n".join(problems)


def test_strict_validation_rejects_unknown_fields() -> None:
    """Guard against a validator that passes everything: a typo'd field must fail."""
    bad = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "x"},
        "spec": {"ports": [{"port": 80, "targetPrt": "http"}]},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, OLDEST, strict=True)
