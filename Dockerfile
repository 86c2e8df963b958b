# One image for every Kizuna service; docker-compose.yml picks the service with `command:`.
#
#   docker build -t kizuna:0.1.0 .
#   docker run --env-file deploy/kizuna.env -p 8001:8001 kizuna:0.1.0   # ingest (the default)
#
# Stage 1 installs the project and its runtime dependencies (never the `dev` extra) into a
# virtualenv; stage 2 copies only that virtualenv onto a clean base and runs as a non-root user.
# Every dependency ships a manylinux wheel, so no compiler is needed in either stage.

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/kizuna
WORKDIR /src
# .dockerignore keeps tests, benchmarks, local state and the deploy files out of the context.
COPY . .
# The cache mount keeps downloaded wheels between builds without putting them in a layer.
RUN --mount=type=cache,target=/root/.cache/pip \
    /opt/kizuna/bin/pip install . \
 && /opt/kizuna/bin/pip check


FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="kizuna" \
      org.opencontainers.image.description="Kizuna services: ingest, metrics, rules, content" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="Apache-2.0"

# A fixed uid/gid so that bind-mounted directories can be chowned on the host ahead of time.
RUN groupadd --system --gid 10001 kizuna \
 && useradd --system --uid 10001 --gid kizuna --home-dir /var/lib/kizuna --no-create-home \
        --shell /usr/sbin/nologin kizuna \
 && install -d -o kizuna -g kizuna -m 0750 /var/lib/kizuna

COPY --from=build /opt/kizuna /opt/kizuna

ENV PATH=/opt/kizuna/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    KIZUNA_VAR_DIR=/var/lib/kizuna

WORKDIR /var/lib/kizuna
USER kizuna:kizuna

# ingest 8001, metrics 8002, rules 8003, content 8004
EXPOSE 8001 8002 8003 8004

CMD ["uvicorn", "services.ingest.app:create_app", "--factory", "--host", "0.0.0.0", "--port", "8001"]
