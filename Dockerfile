# syntax=docker/dockerfile:1
# Chorus production image: `chorus serve` (default), `chorus worker`, `chorus migrate`.
#
#   docker build -t chorus:dev .
#   docker run --rm -p 8000:8000 chorus:dev            # embedded mode, data in /var/lib/chorus
#
# Two stages: the builder compiles wheels for Chorus and every dependency; the runtime stage installs them from a
# bind mount (no wheel layer, no compiler, no apt lists). Pin PYTHON_IMAGE by digest in CI for reproducible builds:
#   --build-arg PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:...
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
# Compilers only for dependencies without a wheel for this platform; this stage is never shipped.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only what `pip install .` needs (see .dockerignore): the project metadata and the five packages.
COPY pyproject.toml README.md ./
COPY workspace ./workspace
COPY sso ./sso
COPY channels ./channels
COPY personas ./personas
COPY insights ./insights
RUN --mount=type=cache,target=/root/.cache/pip \
    pip wheel --wheel-dir /wheels .

FROM ${PYTHON_IMAGE} AS runtime
ARG CHORUS_UID=10001
LABEL org.opencontainers.image.title="chorus" \
      org.opencontainers.image.description="Self-hosted workspace for role-scoped AI agents" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    CHORUS_HOST=0.0.0.0 \
    CHORUS_PORT=8000 \
    CHORUS_DATA_DIR=/var/lib/chorus
# A numeric, non-root user (Kubernetes runAsNonRoot can only verify a numeric USER); no login shell.
RUN groupadd --system --gid ${CHORUS_UID} chorus \
    && useradd --system --uid ${CHORUS_UID} --gid ${CHORUS_UID} --home-dir /var/lib/chorus --no-create-home \
       --shell /usr/sbin/nologin chorus \
    && install -d -o ${CHORUS_UID} -g ${CHORUS_UID} -m 0750 /var/lib/chorus
# Offline install from the builder's wheels; pip byte-compiles them here, so a read-only root filesystem is fine.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels chorus \
    && chorus --help > /dev/null
WORKDIR /var/lib/chorus
USER 10001:10001
EXPOSE 8000
# No HEALTHCHECK: the same image runs `worker` and `migrate`, which serve no HTTP. Kubernetes probes GET /healthz
# and /readyz on the web pods (see helm/); with plain Docker use `--health-cmd` on the serve container.
ENTRYPOINT ["chorus"]
CMD ["serve"]
