# syntax=docker/dockerfile:1
#
# One image for both workloads of the log pipeline:
#   indexer            -> `indexer run` (the default command): Kafka -> Elasticsearch
#   indexer agent      -> the node agent beside filebeat in the DaemonSet
#   indexer setup      -> the Job that installs templates and policies
#
# Build:  make core-wheel && docker build -t log-indexer:0.1.0 .
#         (the native core's wheel must be in dist/core/: docs/operations.md, "Images")
# The final stage has no compiler, no pip cache and runs as uid/gid 10001 (numeric, so
# Kubernetes' runAsNonRoot can verify it).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: install the locked dependencies and the package into a venv ---------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
# Wheels exist for x86_64/aarch64 for every dependency; the compiler is here only so that a
# platform without a wheel still builds. It never reaches the final stage.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
# Reproducible: every dependency (and the build backend) comes from the hashed lock files in
# requirements/ (`make lock` refreshes them), never from whatever the index serves today. pip runs
# in hash-checking mode, so a changed or unlisted file fails the build.
WORKDIR /src
COPY requirements/runtime.txt requirements/build.txt ./requirements/
RUN python -m venv /opt/build \
 && /opt/build/bin/pip install --require-hashes -r requirements/build.txt
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --require-hashes --no-compile -r requirements/runtime.txt
ENV PATH=/opt/venv/bin:$PATH
# The native core (rust/indexer-core), built from this tree outside the image by the machine's
# Rust toolchain (`make core-wheel`, or a Rust toolchain container: docs/operations.md, "The
# native core in the image") and installed from the wheel: no Rust compiler ever enters an image.
COPY dist/core/ /tmp/core/
RUN set -e; wheels=$(ls /tmp/core/indexer_core-*.whl 2>/dev/null || true); \
    if [ -z "$wheels" ]; then \
      echo "no native core wheel in dist/core/: run \`make core-wheel\` first (docs/operations.md)" >&2; \
      exit 1; \
    fi; \
    pip install --no-deps --no-compile $wheels \
 && python -c "import indexer_core._core as c; print('native core', c.__version__, 'contract', c.CONTRACT)"
COPY pyproject.toml README.md ./
COPY indexer ./indexer
# The package itself: a wheel built with the locked setuptools (no build isolation, so nothing is
# fetched), installed without dependencies (they are all above, from the lock).
RUN /opt/build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /tmp/wheels . \
 && pip install --no-deps --no-compile /tmp/wheels/*.whl \
 && pip check \
 && python -m compileall -q /opt/venv/lib

# ---- runtime: slim base, the venv, a non-root user -----------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
# The version is the package's (pyproject.toml); tests/unit/test_version.py keeps them equal.
LABEL org.opencontainers.image.title="log-indexer" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.description="Kafka (filebeat) to Elasticsearch log indexer and node agent"
RUN groupadd --system --gid 10001 indexer \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin indexer
COPY --from=build /opt/venv /opt/venv
# INDEXER_CORE=native: an image that lost its native core refuses to start (and fails its smoke
# test) instead of running on the slower reference path.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    INDEXER_CORE=native
USER 10001:10001
EXPOSE 9180
ENTRYPOINT ["indexer"]
CMD ["run"]
