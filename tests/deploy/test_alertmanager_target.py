"""alertmanager/alertmanager.yml sends to the Service the README's `helm install` creates.

The README's install command (release, namespace, existing Secret) is read from the
README itself and rendered; the Alertmanager receiver's host, port and token file must be
that Service's and the ones the chart's NOTES print, and the README must show the same.
"""

from __future__ import annotations

import re
import shlex
from typing import Any
from urllib.parse import urlsplit

import yaml

from tests.deploy.helm import REPO, Helm, one

ALERTMANAGER = REPO / "alertmanager" / "alertmanager.yml"
README = (REPO / "README.md").read_text()


def readme_install() -> tuple[str, str, dict[str, Any]]:
    """Release, namespace and --set values of the README's `helm install ... helm/chatops`."""
    match = re.search(r"^helm install .*?(?<!\\)$", README, re.MULTILINE | re.DOTALL)
    assert match, "README shows a `helm install` command"
    words = shlex.split(match.group(0).replace("\\\n", " "))
    release, chart = words[2], words[3]
    assert chart == "helm/chatops"
    namespace = words[words.index("--namespace") + 1]
    values: dict[str, Any] = {}
    for i, word in enumerate(words):
        if word == "--set":
            key, value = words[i + 1].split("=", 1)
            if "." not in key:
                values[key] = value
    return release, namespace, values


def chatops_webhook() -> dict[str, Any]:
    config = yaml.safe_load(ALERTMANAGER.read_text())
    [receiver] = [r for r in config["receivers"] if r["name"] == "chatops"]
    [webhook] = receiver["webhook_configs"]
    result: dict[str, Any] = webhook
    return result


def test_receiver_url_is_the_service_the_readme_install_creates(helm: Helm) -> None:
    release, namespace, values = readme_install()
    service = one(helm.template(values, release=release, namespace=namespace), "Service")
    url = urlsplit(chatops_webhook()["url"])
    assert url.scheme == "http"
    host = url.hostname or ""
    assert host.split(".")[:2] == [service["metadata"]["name"], namespace]
    assert host in {
        f"{service['metadata']['name']}.{namespace}.svc",
        f"{service['metadata']['name']}.{namespace}.svc.cluster.local",
    }
    assert url.port == service["spec"]["ports"][0]["port"]
    assert url.path == "/webhooks/alertmanager"


def test_receiver_url_and_token_file_match_notes_and_readme(helm: Helm) -> None:
    release, namespace, values = readme_install()
    notes = helm.notes(values, release=release, namespace=namespace)
    webhook = chatops_webhook()
    token_file = webhook["http_config"]["authorization"]["credentials_file"]
    assert f"url: {webhook['url']}" in notes
    assert f"credentials_file: {token_file}" in notes
    assert f"url: {webhook['url']}" in README
    assert f"credentials_file: {token_file}" in README
    assert token_file.endswith("/CHATOPS_WEBHOOK_TOKEN"), "the Secret key the chart reads"
