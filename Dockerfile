# syntax=docker/dockerfile:1
#
# Pipeline ChatOps service image.
#
# builder: builds the project wheel from pyproject.toml and installs it, with its
#          dependencies, into a self-contained venv at /opt/venv.
# runtime: the same slim Python base, the venv copied in, no compilers, no pip
#          cache, a numeric non-root user. Kubernetes probes /healthz and /readyz,
#          so there is no HEALTHCHECK here. Secrets come from the environment at
#          run time (see the Helm chart); none are baked in.
#
# tests/deploy/test_image.py replays the builder's COPY and RUN steps without a
# container engine, and lints this file with hadolint.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY chatops/ chatops/
COPY gateway/ gateway/
COPY bot/ bot/
COPY slackio/ slackio/
COPY storage/ storage/

RUN pip wheel --no-deps --wheel-dir /wheels . \
    && python -m venv /opt/venv \
    && /opt/venv/bin/pip install /wheels/*.whl \
    && /opt/venv/bin/pip check


FROM ${PYTHON_IMAGE} AS runtime

ARG APP_UID=10001
ARG APP_GID=10001

LABEL org.opencontainers.image.title="mlops-chatops" \
      org.opencontainers.image.description="Pipeline ChatOps for ML teams: Alertmanager and drift webhooks to Slack, Slack commands to CI" \
      org.opencontainers.image.licenses="Apache-2.0"

RUN groupadd --system --gid "${APP_GID}" chatops \
    && useradd --system --uid "${APP_UID}" --gid "${APP_GID}" \
        --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin chatops \
    && mkdir -p /data \
    && chown "${APP_UID}:${APP_GID}" /data

COPY --from=builder /opt/venv /opt/venv

# MALLOC_MMAP_THRESHOLD_: glibc serves buffers of 64 KiB and more (request bodies) from mmap,
# so their memory goes back to the system once the requests end instead of staying in the heap.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MALLOC_MMAP_THRESHOLD_=65536 \
    CHATOPS_STORE_URL=sqlite:////data/chatops.db

VOLUME ["/data"]
WORKDIR /data
USER ${APP_UID}:${APP_GID}
EXPOSE 8080

# Every address, so the published port reaches it: `serve` refuses to start like that
# without CHATOPS_WEBHOOK_TOKEN (pass --allow-unauthenticated-webhooks to override).
ENTRYPOINT ["chatops"]
CMD ["serve", "--host", "0.0.0.0"]
