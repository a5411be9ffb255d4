"""The container start-up sequence, run here outside containers: `docker/entrypoint.sh`
against the test cluster, with the secrets given as files like Docker secrets."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import requests
from psycopg import sql

from portail import server
from portail.cluster import LocalCluster
from ports import free_port
from portail.migrate import available_migrations
from portail.settings import GATE_ROLE, OWNER_ROLE, REPO_ROOT, SERVICE_ROLE, role_password
from conftest import make_state_dir

ENTRYPOINT = REPO_ROOT / "docker" / "entrypoint.sh"
VENV_BIN = Path(sys.executable).parent


@pytest.fixture
def empty_database(settings):
    """A brand-new, empty database in the test cluster (no migration): its admin DSN."""
    name = f"deploy_{os.getpid()}_{time.monotonic_ns()}"
    admin = LocalCluster(settings.cluster_dir).admin_dsn("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield LocalCluster(settings.cluster_dir).admin_dsn(name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def container_env(settings, empty_database):
    """The environment compose gives the app container, pointed at the test cluster.

    Role passwords are those the test session already uses (roles are cluster-wide):
    written to 0600 files and passed as *_FILE, like Docker secrets.
    """
    state = make_state_dir("portail-deploy-")
    secrets_dir = state / "secrets"
    secrets_dir.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PORTAIL_STATE_DIR", "PORT", "DATABASE_URL", "PORTAIL_URL")}
    for role, var in ((OWNER_ROLE, "OWNER_DB_PASSWORD"), (SERVICE_ROLE, "SERVICE_DB_PASSWORD"),
                      (GATE_ROLE, "GATE_DB_PASSWORD")):
        path = secrets_dir / role
        path.write_text(role_password(settings, role) + "\n")   # a trailing newline, as editors leave
        path.chmod(0o600)
        env[f"{var}_FILE"] = str(path)
        env.pop(var, None)
    env.update(PORTAIL_STATE_DIR=str(state / "state"), HOST="127.0.0.1",
               PORT=str(free_port(18700)), DATABASE_URL_FILE=str(secrets_dir / "database_url"),
               PORTAIL_LLS=str(VENV_BIN / "portail-lls"), WEB_WORKERS="2", WEB_THREADS="2",
               DB_WAIT_SECONDS="20", PATH=f"{VENV_BIN}:{os.environ['PATH']}")
    (secrets_dir / "database_url").write_text(empty_database)
    (state / "state").mkdir()
    os.chmod(state / "state", 0o755)
    yield env
    shutil.rmtree(state, ignore_errors=True)


def _applied(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        return [r[0] for r in conn.execute(
            "SELECT version FROM portail_meta.schema_migration ORDER BY version")]


def test_entrypoint_migrates_then_serves_and_stops_on_sigterm(container_env, empty_database):
    port = container_env["PORT"]
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(["sh", str(ENTRYPOINT)], env=container_env, cwd="/",
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        assert server.wait_healthy(url, seconds=90, process=proc), \
            proc.stdout.read().decode(errors="replace") if proc.poll() is not None else "no /health"
        health = requests.get(f"{url}/health", timeout=5)
        assert health.status_code == 200
        assert health.json()["database"] == "ok"
        # Every migration applied to the empty database, once.
        assert _applied(empty_database) == [m.version for m in available_migrations()]
        # The gate is on: data needs an account (none exists in this database).
        refused = requests.get(f"{url}/collections", timeout=5)
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith("Basic")
        # The OpenAPI document was generated at start, in the state folder.
        assert (Path(container_env["PORTAIL_STATE_DIR"]) / "openapi.yml").stat().st_size > 1000
        # exec: gunicorn is the entrypoint's own process (it receives docker stop's SIGTERM),
        # with the workers and threads of the settings.
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
        assert b"gunicorn" in b" ".join(cmdline)
        assert cmdline[cmdline.index(b"--workers") + 1] == b"2"
        assert cmdline[cmdline.index(b"--threads") + 1] == b"2"
        # The superuser's password never reaches the web processes.
        environ = Path(f"/proc/{proc.pid}/environ").read_bytes().split(b"\0")
        assert not any(e.startswith(b"PGPASSWORD=") for e in environ)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{url}/health", timeout=2)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stdout.close()


def test_replicas_migrating_together_apply_each_migration_once(container_env, empty_database):
    """Three replicas start at once on an empty database: the advisory lock serialises them."""
    procs = [subprocess.Popen(["sh", str(ENTRYPOINT), "migrate"], env=container_env, cwd="/",
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for _ in range(3)]
    outputs = [p.communicate(timeout=120)[0].decode(errors="replace") for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    total = sum(out.count("migration appliquée :") for out in outputs)
    assert total == len(available_migrations()), outputs
    assert _applied(empty_database) == [m.version for m in available_migrations()]


def test_entrypoint_gives_up_when_the_database_never_answers(container_env):
    dead = free_port(18800)
    (Path(container_env["DATABASE_URL_FILE"])).write_text(
        f"host=127.0.0.1 port={dead} user=postgres dbname=portail")
    env = {**container_env, "DB_WAIT_SECONDS": "3"}
    started = time.monotonic()
    done = subprocess.run(["sh", str(ENTRYPOINT)], env=env, cwd="/", capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1
    assert "abandon" in done.stderr
    assert time.monotonic() - started < 30


def test_entrypoint_refuses_a_secret_given_twice(container_env):
    env = {**container_env, "DATABASE_URL": "host=/nowhere"}
    done = subprocess.run(["sh", str(ENTRYPOINT), "migrate"], env=env, cwd="/",
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert "DATABASE_URL et DATABASE_URL_FILE" in done.stderr


def test_entrypoint_runs_any_command_with_the_secrets_loaded(container_env, empty_database):
    done = subprocess.run(["sh", str(ENTRYPOINT), "sh", "-c", 'test "$DATABASE_URL" = "$1"', "_",
                           empty_database],
                          env=container_env, cwd="/", capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
