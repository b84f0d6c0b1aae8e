"""There is no published image: the README's build/push steps and the chart's image values agree."""

from __future__ import annotations

import re
import tomllib

import yaml

from tests.deploy.helm import CHART, REPO, Helm

README = (REPO / "README.md").read_text()


def test_readme_builds_pushes_and_installs_the_same_image(helm: Helm) -> None:
    build = re.search(r"^docker build -t (\S+):(\S+) \.$", README, re.MULTILINE)
    assert build, "README shows `docker build -t <registry>/chatops:<version> .`"
    repository, tag = build.groups()
    assert f"docker push {repository}:{tag}" in README
    assert f"--set image.repository={repository}" in README
    assert f"--set image.tag={tag}" in README
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert tag == version == chart["appVersion"], "the image tag is the package version"
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert repository.rsplit("/", 1)[-1] == values["image"]["repository"], (
        "the chart's default image name is the one the README builds"
    )
    [container] = next(o for o in helm.template() if o["kind"] == "Deployment")["spec"]["template"][
        "spec"
    ]["containers"]
    assert container["image"] == f"{values['image']['repository']}:{version}"
