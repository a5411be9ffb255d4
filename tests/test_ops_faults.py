"""Faults, on a throwaway PostgreSQL cluster and a portal of this module only (the
session's cluster is shared by every other test and must not be stopped):

- PostgreSQL stopped while clients query: 503 with Retry-After, never a 500, never
  a request longer than the pool's wait bound; restarted: 200 again within 5 s,
  without restarting the app;
- a read-only database during a load: a clear error, the published data unchanged;
- a full disk under the loaded table during a load: a clear error, data unchanged.
"""
from __future__ import annotations

import dataclasses
import os
import pwd
import shutil
import subprocess
import threading
import time
from pathlib import Path

import psycopg
import pytest
import requests
from psycopg import sql

from conftest import REFERENCE, make_state_dir
from ops_support import VENV_BIN
from portail.cluster import LocalCluster
from ports import free_port
from portail.migrate import migrate
from portail.settings import DATABASE_NAME, REPO_ROOT
from source_address import SourceAddress

POOL_TIMEOUT = 3           # DB_POOL_TIMEOUT of this module's portal (seconds)
RECOVERY_LIMIT = 5.0       # the bound, seconds after PostgreSQL accepts connections
ITEMS = "/collections/communes/items"
LOGIN, PASSWORD = "agent.faults", "a long enough pass phrase for faults"


@dataclasses.dataclass
class Own:
    settings: object
    cluster: LocalCluster
    url: str
    env: dict


@pytest.fixture(scope="module")
def own(settings):
    from auth.accounts import set_account
    from etl.communes import load_communes
    state = make_state_dir("portail-ops-faults-")
    port = free_port(18800)
    conf = dataclasses.replace(settings, state_dir=state, port=port,
                               public_url=f"http://127.0.0.1:{port}", database_url=None)
    cluster = LocalCluster(conf.cluster_dir)
    cluster.init(port=free_port(55600), fast=True)
    cluster.start()
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("DATABASE_URL") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(PORTAIL_STATE_DIR=str(state), PORT=str(port), HOST="127.0.0.1",
               PORTAIL_URL=conf.public_url, DB_POOL_TIMEOUT=str(POOL_TIMEOUT))
    cli = str(VENV_BIN / "portail-lls")
    try:
        migrate(conf, verbose=False)
        load_communes(conf.owner_dsn(), REFERENCE / "mel_communes.geojson", 2026)
        set_account(conf.owner_dsn(), LOGIN, PASSWORD)
        started = subprocess.run([cli, "server", "start"], env=env, cwd=REPO_ROOT,
                                 capture_output=True, text=True, timeout=120)
        assert started.returncode == 0, started.stdout + started.stderr
        yield Own(conf, cluster, conf.public_url, env)
    finally:
        subprocess.run([cli, "server", "stop"], env=env, cwd=REPO_ROOT, capture_output=True,
                       timeout=60)
        cluster.remove()
        shutil.rmtree(state, ignore_errors=True)


def _served(url) -> tuple[int, int]:
    """(data_version, numberMatched) of the communes, as a client sees them."""
    answer = requests.get(f"{url}{ITEMS}", params={"f": "json", "limit": 1},
                          auth=(LOGIN, PASSWORD), timeout=30)
    assert answer.status_code == 200, answer.text[:300]
    health = requests.get(f"{url}/health", timeout=30).json()
    return health["data_version"], answer.json()["numberMatched"]



class Clients:
    """A few threads querying the portal in a loop; every answer is recorded."""

    def __init__(self, url: str, threads: int = 4):
        self.url, self.stop = url, threading.Event()
        self.records: list[tuple[float, float, int | str, str | None]] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True)
                        for n in range(threads)]

    def _run(self, n: int) -> None:
        session = requests.Session()
        session.auth = (LOGIN, PASSWORD)
        offset = 0
        while not self.stop.is_set():
            started = time.monotonic()
            if n == 0:
                # Thread 0: unknown logins, so that every request needs the register; from
                # rotating loopback addresses, under the brute-force thresholds.
                session = requests.Session()
                session.mount("http://", SourceAddress(f"127.0.8.{1 + offset // 5 % 250}"))
                session.auth = (f"ghost.faults.{offset}", "wrong password")
            try:
                answer = session.get(f"{self.url}{ITEMS}", timeout=30,
                                     params={"f": "json", "limit": 5, "offset": offset % 90})
                status, retry = answer.status_code, answer.headers.get("Retry-After")
                if n == 0 and status == 401:
                    status = 200          # the expected answer to a wrong password
            except requests.RequestException as exc:
                status, retry = type(exc).__name__, None
            with self.lock:
                self.records.append((started, time.monotonic(), status, retry))
            offset += 5
            time.sleep(0.02)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(60)


def test_postgres_stopped_then_restarted_under_queries(own):
    with Clients(own.url) as clients:
        time.sleep(1.5)
        stopped_at = time.monotonic()
        own.cluster.stop()
        time.sleep(1.0)
        export = requests.post(f"{own.url}/processes/export/execution", timeout=30,
                               auth=(LOGIN, PASSWORD), json={"inputs": {
                                   "layers": ["parc_communes"], "format": "csv"}})
        time.sleep(3.0)                       # down for a while, clients keep asking
        own.cluster.start()                   # returns once PostgreSQL accepts connections
        back_at = time.monotonic()
        recovered_at = None
        while time.monotonic() - back_at < 30:
            try:
                ok = requests.get(f"{own.url}{ITEMS}", params={"f": "json", "limit": 1},
                                  auth=(LOGIN, PASSWORD), timeout=10).status_code == 200
            except requests.RequestException:
                ok = False
            if ok:
                recovered_at = time.monotonic()
                break
            time.sleep(0.05)
        time.sleep(RECOVERY_LIMIT + 1.0)      # then every client must be served again
    records = clients.records
    statuses = [r[2] for r in records]
    down = [r for r in records if stopped_at <= r[0] < back_at]
    late = [r for r in records if r[0] > back_at + RECOVERY_LIMIT]
    recovery = None if recovered_at is None else recovered_at - back_at
    print(f"\n[faults] {len(records)} requests: {statuses.count(200)} × 200, "
          f"{statuses.count(503)} × 503, others: {sorted({s for s in statuses} - {200, 503})}; "
          f"longest request {max(r[1] - r[0] for r in records):.2f} s; "
          f"recovery after PostgreSQL restart: {recovery if recovery is None else round(recovery, 2)} s")
    for r in records:
        if r[1] - r[0] > 1:
            print(f"  slow: start {r[0] - stopped_at:+.2f} s, {r[1] - r[0]:.2f} s, {r[2]}")
    print(f"[faults] export during the outage: {export.status_code} {export.text[:160]}")
    # pygeoapi 0.21's synchronous execution turns any failure into a 400; never a 500.
    assert export.status_code in (400, 503) and "indisponible" in export.text
    assert set(statuses) <= {200, 503}, "only 200 or 503, never a 500 or a broken connection"
    assert 503 in [r[2] for r in down], "the outage was seen by clients"
    assert all(r[3] for r in records if r[2] == 503), "every 503 says when to retry"
    # Bound: a request queued (sync workers) behind one that waits the pool timeout waits
    # that too, plus its own fast failure; the margin absorbs a busy 2-core machine.
    assert max(r[1] - r[0] for r in records) < 2 * POOL_TIMEOUT + 2, "no request hangs"
    assert recovery is not None and recovery < RECOVERY_LIMIT
    assert late and {r[2] for r in late} == {200}


def _etl_load(own, *extra_env) -> subprocess.CompletedProcess:
    return subprocess.run([str(VENV_BIN / "portail-lls"), "etl", "load", "communes",
                           str(REFERENCE / "mel_communes.geojson"), "--millesime", "2027"],
                          env={**own.env, **dict(extra_env)}, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)


def _admin(own, dbname: str = DATABASE_NAME):
    return psycopg.connect(own.cluster.admin_dsn(dbname), autocommit=True)


def test_a_load_into_a_read_only_database_fails_clearly_and_data_stay_served(own):
    before = _served(own.url)
    with _admin(own) as conn:
        conn.execute("ALTER DATABASE portail SET default_transaction_read_only = on")
        # Every session of the portal reconnects and finds the database read-only.
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE datname = 'portail' AND pid <> pg_backend_pid()")
    try:
        load = _etl_load(own)
        print(f"\n[read-only] exit {load.returncode}: {load.stderr.strip()}")
        assert load.returncode == 1
        assert "lecture seule" in load.stderr and "Traceback" not in load.stderr
        time.sleep(0.5)
        assert _served(own.url) == before
        # A login that is not in the credential cache still works (its bookkeeping is
        # skipped while the database refuses writes).
        fresh = requests.get(f"{own.url}/collections", params={"f": "json"},
                             auth=(LOGIN, PASSWORD), timeout=30,
                             headers={"Connection": "close"})
        assert fresh.status_code == 200
        wrong = requests.get(f"{own.url}/collections", auth=(LOGIN, "nope"), timeout=30)
        assert wrong.status_code == 401
    finally:
        with _admin(own, "postgres") as conn:   # a session outside the read-only database
            conn.execute("ALTER DATABASE portail RESET default_transaction_read_only")
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = 'portail' AND pid <> pg_backend_pid()")
    assert _etl_load(own).returncode == 0      # the same load passes once writable



def test_jobs_wait_out_a_read_only_database(own):
    """Writes to the job queue refused by a read-only primary: a submission is a 503 with
    Retry-After (never a 500), the worker waits instead of dying, and jobs run again
    once the database is writable."""
    export = {"inputs": {"layers": ["communes"], "territory": "MEL"}}
    prefer = {"Prefer": "respond-async"}
    worker_pid = int(own.settings.worker_pidfile.read_text())
    with _admin(own) as conn:
        conn.execute("ALTER DATABASE portail SET default_transaction_read_only = on")
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE datname = 'portail' AND pid <> pg_backend_pid()")
    try:
        refused = requests.post(f"{own.url}/processes/export/execution", json=export,
                                headers=prefer, auth=(LOGIN, PASSWORD), timeout=30)
        assert refused.status_code == 503, refused.text[:300]
        assert refused.headers["Retry-After"]
        time.sleep(6)   # a few rounds of the worker's loop (claim, reap: writes)
        os.kill(worker_pid, 0)   # still alive: ProcessLookupError otherwise
    finally:
        with _admin(own, "postgres") as conn:
            conn.execute("ALTER DATABASE portail RESET default_transaction_read_only")
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = 'portail' AND pid <> pg_backend_pid()")
    deadline = time.monotonic() + 20
    while True:   # the app's pools reconnect after the terminated sessions
        accepted = requests.post(f"{own.url}/processes/export/execution", json=export,
                                 headers=prefer, auth=(LOGIN, PASSWORD), timeout=30)
        if accepted.status_code != 503 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert accepted.status_code == 201, accepted.text[:300]
    job = accepted.headers["Location"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = requests.get(job, params={"f": "json"}, auth=(LOGIN, PASSWORD),
                              timeout=30).json()["status"]
        if status in ("successful", "failed"):
            break
        time.sleep(0.5)
    assert status == "successful"
    assert int(own.settings.worker_pidfile.read_text()) == worker_pid   # the same worker

@pytest.fixture
def tiny_filesystem(own):
    """A small tmpfs holding a tablespace, nearly filled by the communes table."""
    folder = Path(make_state_dir("portail-ops-tiny-"))
    with _admin(own) as conn:
        conn.execute("VACUUM FULL core.commune")    # no free space left inside the table
        size = conn.execute("SELECT pg_table_size('core.commune')").fetchone()[0]
    pg = pwd.getpwnam("postgres") if os.geteuid() == 0 else pwd.getpwuid(os.getuid())
    limit_kb = size // 1024 + 48   # heap and TOAST plus a little: a second copy cannot fit
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o",
                            f"size={limit_kb}k,uid={pg.pw_uid},gid={pg.pw_gid},mode=0700",
                            "tmpfs", str(folder)], capture_output=True, text=True)
    if mount.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(f"cannot mount a tmpfs here ({mount.stderr.strip()}): see docs/operations.md")
    try:
        with _admin(own) as conn:
            conn.execute(sql.SQL("CREATE TABLESPACE tiny LOCATION {}").format(
                sql.Literal(str(folder))))
            conn.execute("ALTER TABLE core.commune SET TABLESPACE tiny")
        yield folder, limit_kb
    finally:
        with _admin(own) as conn:
            conn.execute("ALTER TABLE core.commune SET TABLESPACE pg_default")
            conn.execute("DROP TABLESPACE tiny")
        subprocess.run(["umount", str(folder)], check=False)
        shutil.rmtree(folder, ignore_errors=True)


def test_a_load_on_a_full_disk_fails_clearly_and_data_stay_served(own, tiny_filesystem):
    folder, limit_kb = tiny_filesystem
    before = _served(own.url)
    load = _etl_load(own)
    print(f"\n[disk full] tmpfs {limit_kb} kB; exit {load.returncode}: {load.stderr.strip()}")
    assert load.returncode == 1
    assert "plus de place" in load.stderr and "Traceback" not in load.stderr
    assert "No space left on device" in own.cluster.log.read_text(errors="replace")
    assert _served(own.url) == before
    ready = requests.get(f"{own.url}/ready", timeout=30)
    assert ready.status_code == 200
