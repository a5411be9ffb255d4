"""The command line as a person meets it: clear messages, never a traceback."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from conftest import make_state_dir
from portail.cluster import LocalCluster
from ports import free_port
from portail.errors import UserError

CLI = str(Path(sys.executable).parent / "portail-lls")


def run_cli(*args, env_extra=None, timeout=180):
    # The test process's own server settings must not leak into the command.
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "PORTAIL_URL") and not k.startswith("PYGEOAPI_")}
    env.update(env_extra or {})
    return subprocess.run([CLI, *args], capture_output=True, text=True, env=env,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def assert_clean_failure(result, *phrases):
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr


def test_unreachable_database_url_says_where_without_the_password():
    port = free_port(45000)  # nothing listens there
    result = run_cli("db", "migrate", env_extra={
        "DATABASE_URL": f"postgresql://someone:s3cr3t-pass@127.0.0.1:{port}/portail"})
    assert_clean_failure(result, "Connexion impossible", f"127.0.0.1:{port}")
    assert "s3cr3t-pass" not in result.stderr + result.stdout


def test_http_port_taken_by_another_program(settings, live_server):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = run_cli("server", "start", "--port", str(port))
    assert_clean_failure(result, f"Le port {port} est déjà utilisé", f"PORT={port + 1}")
    # The portal already running on its own port is untouched.
    assert requests.get(f"{live_server}/health").status_code == 200


@pytest.mark.database   # starts its own cluster
def test_folder_left_by_an_interrupted_init_is_explained(tmp_path):
    cluster = LocalCluster(tmp_path / "pgcluster")
    cluster.data.mkdir(parents=True)
    (cluster.data / "PG_VERSION").write_text("15\n")
    with pytest.raises(UserError) as err:
        cluster.init()
    assert "initialisation interrompue" in err.value.message
    assert "db reset" in err.value.hint


@pytest.mark.database   # starts its own cluster
def test_cluster_restarts_after_a_crash_with_its_data(tmp_path):
    root = make_state_dir("portail-crash-")
    cluster = LocalCluster(root / "pgcluster")
    try:
        cluster.init()  # durable settings, as `make demo` uses
        cluster.start()
        import psycopg
        with psycopg.connect(cluster.admin_dsn(), autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)")
        pid = int((cluster.data / "postmaster.pid").read_text().split()[0])
        os.kill(pid, 9)  # a crash: postmaster.pid stays behind
        for _ in range(50):
            try:
                os.kill(pid, 0)
                time.sleep(0.1)
            except ProcessLookupError:
                break
        assert (cluster.data / "postmaster.pid").exists()
        cluster.start()
        with psycopg.connect(cluster.admin_dsn(), autocommit=True) as conn:
            assert conn.execute("SELECT x FROM kept").fetchone() == (42,)
    finally:
        cluster.remove()
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.database   # starts its own cluster
def test_missing_postgis_names_the_package(tmp_path, monkeypatch):
    fake = tmp_path / "bin"
    fake.mkdir()
    for tool in ("pg_ctl", "initdb", "postgres"):
        (fake / tool).write_text("#!/bin/sh\necho 'pg_ctl (PostgreSQL) 99.1'\n")
        (fake / tool).chmod(0o755)
    monkeypatch.setenv("PG_BIN", str(fake))
    cluster = LocalCluster(tmp_path / "pgcluster")
    with pytest.raises(UserError) as err:
        cluster.init()
    assert "PostGIS n'est pas installé pour PostgreSQL 99" in err.value.message
    assert "postgresql-99-postgis-3" in err.value.hint


def test_ensure_postgis_script_prints_the_command_for_non_root():
    folder = make_state_dir("portail-fakepg-")  # readable by an ordinary user
    fake = folder / "bin"
    fake.mkdir()
    (fake / "pg_ctl").write_text("#!/bin/sh\necho 'pg_ctl (PostgreSQL) 99.1'\n")
    (fake / "pg_ctl").chmod(0o755)
    script = folder / "ensure-postgis.sh"
    script.write_text((Path(__file__).parent.parent / "scripts" / "ensure-postgis.sh").read_text())
    cmd = ["bash", str(script)]
    if os.geteuid() == 0:
        cmd = [shutil.which("runuser"), "-u", "nobody", "--", *cmd]  # as an ordinary user
    result = subprocess.run(cmd, capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "PG_BIN": str(fake)})
    shutil.rmtree(folder, ignore_errors=True)
    assert result.returncode == 1
    assert "sudo apt-get install -y postgresql-99-postgis-3" in result.stderr


@pytest.mark.database   # starts its own cluster
def test_demo_from_scratch_then_again(tmp_path):
    """`portail-lls demo` on an empty state folder, then a second run reusing everything."""
    state = make_state_dir("portail-demo-")
    port = free_port(18900)
    env = {"PORTAIL_STATE_DIR": str(state), "PORT": str(port)}
    try:
        first = run_cli("demo", env_extra=env, timeout=600)
        assert first.returncode == 0, first.stdout + first.stderr
        url = f"http://127.0.0.1:{port}"
        assert f"URL          : {url}" in first.stdout
        password = next(line.split(": ", 1)[1] for line in first.stdout.splitlines()
                        if line.strip().startswith("Mot de passe"))
        items = requests.get(f"{url}/collections/communes/items",
                             params={"limit": 100, "f": "json"}, auth=("demo", password))
        assert items.status_code == 200 and items.json()["numberMatched"] == 95
        assert requests.get(f"{url}/collections/communes/items").status_code == 401

        started = time.monotonic()
        second = run_cli("demo", env_extra=env, timeout=120)
        elapsed = time.monotonic() - started
        assert second.returncode == 0, second.stdout + second.stderr
        assert "déjà chargées" in second.stdout
        assert elapsed < 15, f"second `demo` took {elapsed:.1f} s"
        assert f"Mot de passe : {password}" in second.stdout
        assert requests.get(f"{url}/collections/communes/items", params={"f": "json"},
                            auth=("demo", password)).status_code == 200
    finally:
        run_cli("server", "stop", env_extra=env)
        stopped = run_cli("db", "stop", env_extra=env)
        assert stopped.returncode == 0, stopped.stderr
        shutil.rmtree(state, ignore_errors=True)


@pytest.mark.database   # starts its own cluster
def test_db_reset_recreates_an_empty_migrated_cluster():
    state = make_state_dir("portail-reset-")
    env = {"PORTAIL_STATE_DIR": str(state)}
    try:
        assert run_cli("db", "start", env_extra=env).returncode == 0
        cluster = LocalCluster(state / "pgcluster")
        import psycopg
        with psycopg.connect(cluster.admin_dsn("portail"), autocommit=True) as conn:
            conn.execute("INSERT INTO core.publication (what) VALUES ('before reset')")
        refused = run_cli("db", "reset", env_extra=env)  # no --yes, no terminal: aborts
        assert refused.returncode != 0
        with psycopg.connect(cluster.admin_dsn("portail"), autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM core.publication").fetchone()[0] == 1
        reset = run_cli("db", "reset", "--yes", env_extra=env)
        assert reset.returncode == 0, reset.stderr
        with psycopg.connect(cluster.admin_dsn("portail"), autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM core.publication").fetchone()[0] == 0
    finally:
        run_cli("db", "stop", env_extra=env)
        shutil.rmtree(state, ignore_errors=True)
