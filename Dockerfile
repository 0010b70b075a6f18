# syntax=docker/dockerfile:1
# Every textserve image, from the repository root. `make images` builds them all from the table in
# pyproject.toml ([tool.textserve.images]); one by hand:
#   docker build --build-arg SOURCE=model-server --build-arg MODULE=model_server \
#     --build-arg EXTRAS=model-server --build-arg TORCH=cpu -t ghcr.io/textserve/model-server:0.1.0 .
# The build copies common/ and the service's own directory only, so an image holds that service and the
# shared code; setup.py installs the packages the context holds, with only the service's extras.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# SOURCE: the service's directory; MODULE: what `python -m` runs; EXTRAS: its pyproject extras;
# TORCH: cpu (the CPU wheel), cuda (PyPI's wheel, which bundles the CUDA runtime) or none;
# CONSTRAINTS: the pins the test suite passed with (the drift detector's environment has its own).
ARG SOURCE
ARG MODULE
ARG EXTRAS
ARG TORCH=none
ARG CONSTRAINTS=constraints.txt
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
RUN case "${TORCH}" in \
      cpu) pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 ;; \
      cuda) pip install --no-cache-dir torch==2.13.0 ;; \
      none) ;; \
      *) echo "TORCH must be cpu, cuda or none" >&2; exit 1 ;; \
    esac
COPY pyproject.toml setup.py README.md ${CONSTRAINTS} ./
COPY common ./common
COPY ${SOURCE} ./${SOURCE}
# hadolint ignore=DL3013
RUN pip install --no-cache-dir --constraint "${CONSTRAINTS}" ".[${EXTRAS}]" \
    && printf '#!/bin/sh\nexec python -m %s "$@"\n' "${MODULE}" > /opt/venv/bin/textserve-service \
    && chmod 0755 /opt/venv/bin/textserve-service

FROM ${PYTHON_IMAGE}
RUN groupadd --gid 10001 app \
    && useradd --uid 10001 --gid app --no-create-home --home-dir /tmp --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["/opt/venv/bin/textserve-service"]
