# syntax=docker/dockerfile:1
#
# Pipeline ChatOps service image.
#
# builder: installs the runtime dependencies from requirements.lock (every file
#          checked against its pinned sha256: `pip install --require-hashes`) into a
#          self-contained venv at /opt/venv, then builds the project wheel from
#          pyproject.toml and adds it without resolving anything (--no-deps).
# runtime: the same slim Python base, the venv copied in, no compilers, no pip
#          cache, a numeric non-root user. Kubernetes probes /healthz and /readyz,
#          so there is no HEALTHCHECK here. Secrets come from the environment at
#          run time (see helm/chatops); none are baked in.
#
# requirements.lock is written by scripts/lock from pyproject.toml's dependencies;
# tests/deploy/test_lock.py checks that it still satisfies them.
# tests/deploy/test_dockerfile.py checks this file's instructions and lints it with
# hadolint; tests/deploy/test_wheel_install.py replays the builder's install steps
# without a container engine.

# The official python:3.11-slim image (Python 3.11.15), pinned by the digest of its
# multi-platform index, so every build starts from the same bytes. To move it, take
# the new digest of the tag from the official image's published digests (or
# `docker buildx imagetools inspect python:3.11-slim`) and update it here.
ARG PYTHON_IMAGE=python:3.11-slim@sha256:90744cff8f32887f075c47d747a173ff333e9e98801667af93c357fa9f5e28ff

FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
# Dependencies first: this layer is rebuilt only when the lock changes.
COPY requirements.lock ./
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --require-hashes --no-deps -r requirements.lock

COPY pyproject.toml README.md ./
COPY chatops/ chatops/
COPY gateway/ gateway/
COPY bot/ bot/
COPY slackio/ slackio/
COPY storage/ storage/
COPY registry/ registry/
COPY urls/ urls/

RUN pip wheel --no-deps --wheel-dir /wheels . \
    && /opt/venv/bin/pip install --no-deps /wheels/*.whl \
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
