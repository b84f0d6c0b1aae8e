"""Deployment artefact tests: the Dockerfile, the wheel install it relies on, the Helm chart.

No container engine or cluster is needed: hadolint lints the Dockerfile, the
builder stage's install steps are replayed into a fresh venv, and the chart is
linted, rendered with `helm template` and checked against the Kubernetes schemas
bundled in `kubernetes-validate`. `scripts/install-tools` puts helm in `.tools/bin`.
"""
