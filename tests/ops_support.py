"""Helpers of the operations tests: an extra portal (gunicorn) with its own settings,
and a throwaway PostgreSQL cluster of its own, so that restarting or breaking them
disturbs no other test of the session."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from ports import free_port
from portail.settings import (GATE_ROLE, OWNER_ROLE, REPO_ROOT, SERVICE_ROLE, Settings,
                              role_password)

VENV_BIN = Path(sys.executable).parent


def portal_env(settings: Settings, state_dir: Path, port: int, **extra: str) -> dict[str, str]:
    """Environment of a second portal on the database of ``settings`` (same roles)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR")}
    env.update({
        "PORTAIL_STATE_DIR": str(state_dir), "PORT": str(port), "HOST": "127.0.0.1",
        "PORTAIL_URL": f"http://127.0.0.1:{port}",
        "OWNER_DATABASE_URL": settings.role_dsn(OWNER_ROLE),
        "SERVICE_DATABASE_URL": settings.role_dsn(SERVICE_ROLE),
        "GATE_DATABASE_URL": settings.role_dsn(GATE_ROLE),
        "OWNER_DB_PASSWORD": role_password(settings, OWNER_ROLE),
        "SERVICE_DB_PASSWORD": role_password(settings, SERVICE_ROLE),
        "GATE_DB_PASSWORD": role_password(settings, GATE_ROLE),
    })
    env.update(extra)
    return env


@contextmanager
def extra_portal(settings: Settings, state_dir: Path, **extra: str):
    """Start a portal (``portail-lls server start``) with extra settings; yield (url, env)."""
    port = free_port(18700)
    env = portal_env(settings, state_dir, port, **extra)
    cli = str(VENV_BIN / "portail-lls")
    started = subprocess.run([cli, "server", "start"], env=env, cwd=REPO_ROOT,
                             capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield f"http://127.0.0.1:{port}", env
    finally:
        subprocess.run([cli, "server", "stop"], env=env, cwd=REPO_ROOT,
                       capture_output=True, timeout=60)
        shutil.rmtree(state_dir, ignore_errors=True)


def server_log(state_dir: Path) -> str:
    return (state_dir / "gunicorn.log").read_text(errors="replace")


# -- a self-contained OpenAPI document for schemathesis ---------------------------------------
# pygeoapi's generated document points at schemas.opengis.net and GitHub for shared
# parameters, responses and schemas; nothing outside is reachable here (nor, often, from
# a production network). The fuzzer gets the same document with those references
# replaced by local, permissive equivalents: the operations and their own parameters
# are untouched.
_REMOTE_PARAMETERS = {
    "featureId": {"name": "featureId", "in": "path", "required": True,
                  "schema": {"type": "string"}},
    "datetime": {"name": "datetime", "in": "query", "required": False,
                 "schema": {"type": "string"}},
    "sortby.yaml": {"name": "sortby", "in": "query", "required": False,
                    "schema": {"type": "string"}},
}


def self_contained_openapi(document):
    def local(node, parent_key):
        if isinstance(node, list):
            return [local(x, parent_key) for x in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            name = ref.rstrip("/").rsplit("/", 1)[-1]
            if parent_key == "parameters":
                return dict(_REMOTE_PARAMETERS[name])
            if "/responses/" in ref:
                return {"description": name.removesuffix(".yaml")}
            return {}
        return {k: local(v, k) for k, v in node.items()}
    return local(document, None)
