# codeloop's LangGraph API server for the docker-compose stack; the model runs in TGI.
# A TGI-only install: no `local` extra, so no llama.cpp build and no embedded weights.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
# langgraph-cli's in-memory server runs `langgraph dev`: the API, threads and runs in one process.
# The postgres extra: CODELOOP_DB, for the runs of codeloop commands run in the container.
RUN pip install ".[postgres]" "langgraph-cli[inmem]>=0.4,<0.5"

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CODELOOP_MODEL=tgi:http://tgi:80 \
    LANGGRAPH_CLI_NO_ANALYTICS=1
# /app/.langgraph_api holds the server's state: compose mounts a volume there, which Docker
# fills with this empty folder, and its owner, the first time.
RUN useradd --create-home --uid 10001 --user-group codeloop \
    && mkdir -p /app/.langgraph_api && chown -R codeloop:codeloop /app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# langgraph.json names the graph by file path (./src/codeloop/graph.py); the package itself
# is imported from the venv.
COPY --chown=codeloop:codeloop langgraph.json ./
COPY --chown=codeloop:codeloop src ./src
USER codeloop
EXPOSE 2024
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:2024/ok', timeout=5)"]
CMD ["langgraph", "dev", "--host", "0.0.0.0", "--port", "2024", "--no-browser", "--no-reload"]
