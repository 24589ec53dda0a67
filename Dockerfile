# syntax=docker/dockerfile:1
# Manifold's container image: the proxy (`mcp-proxy`) and the chat service (`python -m chat_api`,
# with its web UI) in one image, with the example servers that the proxy runs as stdio children.
#
#   docker build -t manifold:local .
#   docker run --rm -p 127.0.0.1:8000:8000 -e MCP_PROXY_AUTH_TOKENS=... manifold:local
#
# See docs/DEPLOYMENT.md. tests/deploy/ checks this file against the Makefile and the CLI.

ARG PYTHON_IMAGE=python:3.11-slim
ARG NODE_IMAGE=node:22-slim

# ---- web: build the chat service's UI (React + Vite); only its static output is kept -----------
FROM ${NODE_IMAGE} AS web

WORKDIR /web
COPY chat_api/web/package.json chat_api/web/package-lock.json ./
RUN npm ci
COPY chat_api/web/ ./
RUN npm run build

# ---- build: install the project into a venv; add the UI; build the example database -----------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/manifold
ENV PATH=/opt/manifold/bin:$PATH

# The Makefile's install target, minus what only development needs: no `-e` (the image keeps
# no source checkout to edit) and no `[dev]` extra (test and lint tools); `[otel]` stays, for trace export.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY mcp_proxy/ mcp_proxy/
COPY manifold_common/ manifold_common/
COPY chat_api/ chat_api/
RUN python -m pip install --quiet --upgrade pip \
 && python -m pip install --quiet ".[otel]"

# The UI's build goes where the installed chat service serves it from (chat_api.web_static.DIST).
COPY --from=web /web/dist /tmp/web-dist
RUN dist="$(python -c 'import chat_api.web_static as web; print(web.DIST)')" \
 && mkdir -p "$(dirname "$dist")" \
 && cp -r /tmp/web-dist "$dist" \
 && rm -rf /tmp/web-dist

# The example servers are not part of the installed package: they run as `python -m
# examples.servers.NAME` from /app. Their SQLite sample is built now, because the running
# container cannot write there.
WORKDIR /app
COPY examples/ examples/
RUN python -c "from examples.servers.database import DEFAULT_DB_PATH; from examples.servers._shop_data import ensure_sample_database; ensure_sample_database(DEFAULT_DB_PATH)" \
 && python -m compileall -q examples

# ---- runtime: the venv and /app, run by an unprivileged user -----------------------------------
FROM ${PYTHON_IMAGE} AS runtime

# tini as PID 1: it forwards SIGTERM to the proxy (which stops its stdio children itself) and
# reaps orphans that a stdio server's own children (npx → node, say) leave behind.
RUN apt-get update \
 && apt-get install --yes --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 manifold \
 && useradd --system --uid 10001 --gid manifold --create-home --home-dir /home/manifold \
        --shell /usr/sbin/nologin manifold

ENV PATH=/opt/manifold/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MCP_PROXY_LOG_FORMAT=json \
    CHAT_API_LOG_FORMAT=json

COPY --from=build /opt/manifold /opt/manifold
COPY --from=build /app /app
COPY deploy/servers.container.toml deploy/healthcheck.py /app/deploy/

WORKDIR /app
USER 10001:10001

# 8000: the proxy (/mcp, /sse, /healthz, /readyz, /metrics); 8001: the chat service.
EXPOSE 8000 8001

# Liveness only: /healthz never consults the upstream servers, so a broken upstream does not
# get the container restarted. The chat service overrides this in compose.yaml.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "/app/deploy/healthcheck.py", "http://127.0.0.1:8000/healthz"]

ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["mcp-proxy", "serve", "--transport", "http", "--host", "0.0.0.0", "--port", "8000", "--config", "/app/deploy/servers.container.toml"]
