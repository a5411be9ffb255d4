"""Export jobs end to end: real PostgreSQL, real gunicorn, real worker processes, HTTP.

The session's background worker (started by ``server.start``) is stopped for
this module: each test starts the workers it needs, with a short lease, and
kills them (by pid) at the end.
"""
from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import openpyxl
import psycopg
import pytest
import requests

from auth.accounts import set_account
from portail import server
from ports import free_port
from portail.settings import REPO_ROOT
from processes.jobs.worker import start_background, stop_background

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SMALL = {"layers": ["communes"], "territory": {"communes": ["59350", "59512"]}}
ASYNC = {"Prefer": "respond-async"}
FAST = {"JOBS_LEASE_SECONDS": "2", "JOBS_POLL_SECONDS": "0.2"}


# -- processes started by these tests ---------------------------------------------------------
class Processes:
    """Workers and app instances started by one test; all killed at its end."""

    def __init__(self, settings, folder: Path):
        self.settings, self.folder = settings, folder
        self.started: list[subprocess.Popen] = []

    def _env(self, **extra) -> dict:
        return {**os.environ, "PORTAIL_STATE_DIR": str(self.settings.state_dir), **FAST,
                **{k: str(v) for k, v in extra.items()}}

    def worker(self, name: str, **env) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "ab")
        proc = subprocess.Popen([sys.executable, "-m", "portail.cli", "worker"],
                                env=self._env(**env), stdout=log, stderr=subprocess.STDOUT,
                                cwd=REPO_ROOT)
        self.started.append(proc)
        return proc

    def app(self, port: int) -> tuple[subprocess.Popen, str]:
        url = f"http://127.0.0.1:{port}"
        command = server.gunicorn_command(self.settings)
        command[command.index("--bind") + 1] = f"127.0.0.1:{port}"
        command[command.index("--pid") + 1] = str(self.folder / f"app-{port}.pid")
        log = open(self.folder / f"app-{port}.log", "ab")
        proc = subprocess.Popen(command, env=self._env(PORT=port, PORTAIL_URL=url),
                                stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
        self.started.append(proc)
        assert server.wait_healthy(url, process=proc), (self.folder / f"app-{port}.log").read_text()
        return proc, url

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def stop(self, proc: subprocess.Popen, sig=signal.SIGTERM) -> None:
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop_all(self) -> None:
        for proc in self.started:
            self.stop(proc)


@pytest.fixture(scope="module")
def no_session_worker(settings, live_server):
    stop_background(settings)
    yield
    start_background(settings, dict(os.environ))


@pytest.fixture(scope="module")
def users(settings, account):
    """Three accounts: A (the session account), B, and an administrator."""
    other = ("agent.b", "another correct horse battery")
    admin = ("claire.martin", "admin correct horse battery")
    set_account(settings.owner_dsn(), *other)
    set_account(settings.owner_dsn(), *admin)
    with psycopg.connect(settings.owner_dsn(), autocommit=True) as conn:
        conn.execute("UPDATE register.account SET role = 'admin' WHERE login = %s", [admin[0]])
    return {"a": account, "b": other, "admin": admin}


@pytest.fixture
def procs(settings, no_session_worker, owner_conn, tmp_path):
    owner_conn.execute("DELETE FROM jobs.job")
    p = Processes(settings, tmp_path)
    yield p
    p.stop_all()


def session_of(credentials) -> requests.Session:
    s = requests.Session()
    s.auth = credentials
    return s


def submit(session, base, inputs=SMALL) -> str:
    resp = session.post(f"{base}/processes/export/execution", json={"inputs": inputs},
                        headers=ASYNC)
    assert resp.status_code == 201, resp.text
    assert resp.headers["Preference-Applied"] == "respond-async"
    location = resp.headers["Location"]
    assert location == f"{base}/jobs/{resp.json()['jobID']}"
    return location


def status(session, url) -> dict:
    resp = session.get(url, params={"f": "json"})
    assert resp.status_code == 200, resp.text
    return resp.json()


def wait_for(session, url, wanted=("successful",), seconds=30.0) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        job = status(session, url)
        if job["status"] in wanted:
            return job
        assert job["status"] not in ("successful", "failed") or job["status"] in wanted, job
        assert time.monotonic() < deadline, f"job still {job['status']}: {job}"
        time.sleep(0.1)


def db_job(owner_conn, url) -> dict:
    job_id = url.rsplit("/", 1)[1]
    cur = owner_conn.cursor(row_factory=psycopg.rows.dict_row)
    return cur.execute("SELECT status, attempts, message, result IS NOT NULL AS has_result, "
                       "result_bytes, worker FROM jobs.job WHERE job_id = %s",
                       [job_id]).fetchone()


def wait_db(owner_conn, predicate, seconds=30.0, what=""):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def read_workbook(content: bytes) -> list[str]:
    wb = openpyxl.load_workbook(io.BytesIO(content))
    assert wb.sheetnames == ["communes", "Dictionnaire", "Légende secret"]
    return sorted(r[1].value for r in wb["communes"].iter_rows(min_row=5))


@contextmanager
def communes_locked(settings):
    """Hold the published communes view the way a publication does (REFRESH in an open
    transaction, ACCESS EXCLUSIVE): an export of communes waits until the end of the block."""
    with psycopg.connect(settings.owner_dsn()) as conn:
        conn.execute("REFRESH MATERIALIZED VIEW diffusion.commune")
        try:
            yield
        finally:
            conn.rollback()


# -- the lifecycle --------------------------------------------------------------------------------
def test_async_export_runs_as_a_job_and_its_workbook_is_served(procs, users, live_server,
                                                               owner_conn):
    a = session_of(users["a"])
    url = submit(a, live_server)
    first = status(a, url)
    assert first["status"] == "accepted" and first["processID"] == "export"
    procs.worker("w1")
    job = wait_for(a, url)
    assert job["progress"] == 100 and job["finished"]
    result_links = [link["href"] for link in job["links"] if link["rel"].endswith("/results")]
    assert f"{url}/results" in result_links
    resp = a.get(f"{url}/results")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith(XLSX)
    assert resp.headers["Content-Disposition"].startswith('attachment; filename="export-')
    assert read_workbook(resp.content) == ["Lille", "Roubaix"]
    row = db_job(owner_conn, url)
    assert row["attempts"] == 1 and row["result_bytes"] == len(resp.content)
    listed = a.get(f"{live_server}/jobs", params={"f": "json"}).json()["jobs"]
    assert [j["jobID"] for j in listed] == [url.rsplit("/", 1)[1]]


def test_a_synchronous_export_is_not_stored_and_has_no_job_link(procs, users, live_server,
                                                                owner_conn):
    resp = session_of(users["a"]).post(f"{live_server}/processes/export/execution",
                                       json={"inputs": SMALL})
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith(XLSX)
    assert "Location" not in resp.headers
    assert owner_conn.execute("SELECT count(*) FROM jobs.job").fetchone()[0] == 0


def test_bad_input_is_refused_at_once_and_nothing_is_queued(procs, users, live_server,
                                                            owner_conn):
    resp = session_of(users["a"]).post(f"{live_server}/processes/export/execution",
                                       json={"inputs": {"layers": ["no_such_layer"]}},
                                       headers=ASYNC)
    assert resp.status_code == 400
    assert "no_such_layer" in resp.json()["description"]
    assert owner_conn.execute("SELECT count(*) FROM jobs.job").fetchone()[0] == 0


def test_export_reports_its_progress_per_layer(settings, demo_data):
    from processes.export import ExportProcessor
    seen = []
    processor = ExportProcessor({"name": "export"})
    processor.on_progress = lambda percent, message: seen.append((percent, message))
    mimetype, data = processor.execute({"layers": ["communes"], "territory": "MEL"})
    assert mimetype == XLSX and data
    assert seen == [(5, "couche 1/1 : communes")]
    seen.clear()
    layers = ["communes", "parc_communes"]
    processor.execute({"layers": layers})
    assert [m for _, m in seen] == ["couche 1/2 : communes", "couche 2/2 : parc_communes"]
    assert seen[0][0] == 5 and 5 < seen[1][0] < 95



def test_an_export_stopped_half_way_leaves_nothing_on_disk(settings, demo_data, tmp_path,
                                                           monkeypatch):
    """A cancelled job (on_progress raises) stops the workbook mid-sheet: neither the file
    nor xlsxwriter's row spools of published rows may stay in the temporary folder."""
    import tempfile

    from processes.export import ExportProcessor
    from processes.errors import ExportFailure
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))   # a folder only this test uses

    def cancel(percent, message):
        if message.startswith("couche 2/"):
            raise RuntimeError("travail supprimé")

    processor = ExportProcessor({"name": "export"})
    processor.on_progress = cancel
    with pytest.raises(ExportFailure):
        processor.execute({"layers": ["communes", "parc_communes", "iris"]})
    assert list(tmp_path.rglob("*")) == []
    processor.on_progress = None
    assert processor.execute({"layers": ["communes"]})[1]   # and the next export still works
    assert list(tmp_path.rglob("*")) == []

# -- ownership ------------------------------------------------------------------------------------
def test_a_job_is_seen_only_by_its_owner_and_administrators(procs, users, live_server):
    a, b, admin = (session_of(users[k]) for k in ("a", "b", "admin"))
    procs.worker("w1")
    url_a = submit(a, live_server)
    url_b = submit(b, live_server)
    wait_for(a, url_a)
    wait_for(b, url_b)
    id_a, id_b = url_a.rsplit("/", 1)[1], url_b.rsplit("/", 1)[1]

    for path in ("", "/results"):   # another user's job does not exist for B (404, not 403)
        resp = b.get(f"{url_a}{path}", params={"f": "json"})
        assert resp.status_code == 404, (path, resp.status_code)
    assert b.delete(url_a).status_code == 404
    unknown = f"{live_server}/jobs/{uuid.uuid4()}"
    assert b.get(unknown, params={"f": "json"}).status_code == 404
    assert b.get(f"{live_server}/jobs/not-a-uuid", params={"f": "json"}).status_code == 404

    def listed(session):
        return {j["jobID"] for j in session.get(f"{live_server}/jobs",
                                                params={"f": "json"}).json()["jobs"]}
    assert listed(a) == {id_a} and listed(b) == {id_b}
    assert listed(admin) >= {id_a, id_b}
    assert admin.get(f"{url_a}/results").status_code == 200
    assert status(admin, url_b)["status"] == "successful"

    assert a.get(f"{url_a}/results").status_code == 200   # B's attempt deleted nothing
    assert a.delete(url_a).status_code == 200
    assert a.get(url_a, params={"f": "json"}).status_code == 404
    assert admin.delete(url_b).status_code == 200
    assert b.get(url_b, params={"f": "json"}).status_code == 404


def test_the_job_pages_need_an_account(procs, live_server):
    for path in ("/jobs", f"/jobs/{uuid.uuid4()}", f"/jobs/{uuid.uuid4()}/results"):
        assert requests.get(f"{live_server}{path}").status_code == 401


# -- failures -------------------------------------------------------------------------------------
def test_a_failing_job_says_why_and_serves_no_file(procs, users, live_server, owner_conn):
    a = session_of(users["a"])
    # Well-formed, so accepted at once; the unknown code is found when the job runs.
    url = submit(a, live_server, {"layers": ["communes"], "territory": {"communes": ["59999"]}})
    procs.worker("w1")
    job = wait_for(a, url, wanted=("failed",))
    assert job["message"].startswith("échec : ") and "59999" in job["message"]
    assert "Traceback" not in job["message"] and "SELECT" not in job["message"]
    resp = a.get(f"{url}/results")
    assert resp.status_code == 400 and not resp.headers["Content-Type"].startswith(XLSX)
    row = db_job(owner_conn, url)
    assert row["status"] == "failed" and not row["has_result"] and row["attempts"] == 1


# -- queue and caps -------------------------------------------------------------------------------
def test_jobs_beyond_the_caps_wait_in_the_queue_then_run(procs, users, live_server, settings,
                                                        owner_conn):
    a, b = session_of(users["a"]), session_of(users["b"])
    caps = {"JOBS_MAX_PER_USER": 1, "JOBS_MAX_RUNNING": 2}
    with communes_locked(settings):
        for name in ("w1", "w2", "w3"):
            procs.worker(name, **caps)
        urls = [submit(a, live_server), submit(a, live_server), submit(a, live_server),
                submit(b, live_server), submit(b, live_server)]

        def by_status():
            return dict(owner_conn.execute(
                "SELECT status || ':' || owner, count(*) FROM jobs.job GROUP BY 1").fetchall())
        wait_db(owner_conn, lambda: by_status().get("running:agent.test") == 1
                and by_status().get("running:agent.b") == 1, what="one running job per user")
        time.sleep(1.5)   # several poll periods and heartbeats of three idle workers
        assert by_status() == {"running:agent.test": 1, "accepted:agent.test": 2,
                               "running:agent.b": 1, "accepted:agent.b": 1}
        waiting = [status(a, u) for u in urls[:3]]
        assert sorted(j["status"] for j in waiting) == ["accepted", "accepted", "running"]
    for url, session in zip(urls, (a, a, a, b, b)):
        wait_for(session, url)
    attempts = owner_conn.execute("SELECT array_agg(attempts) FROM jobs.job").fetchone()[0]
    assert attempts == [1] * 5


def test_a_user_cannot_flood_the_queue(procs, users, live_server, settings, owner_conn):
    a = session_of(users["a"])
    cap = settings.jobs_max_queued_per_user
    with psycopg.connect(settings.owner_dsn(), autocommit=True) as conn:   # no worker runs
        for _ in range(cap):
            conn.execute("INSERT INTO jobs.job (job_id, owner, process_id, inputs) "
                         "VALUES (gen_random_uuid(), %s, 'export', '{}')", [users["a"][0]])
    resp = a.post(f"{live_server}/processes/export/execution", json={"inputs": SMALL},
                  headers=ASYNC)
    assert resp.status_code == 429, resp.text
    assert "travaux en attente" in resp.json()["description"]
    submit(session_of(users["b"]), live_server)   # the others are not concerned


# -- faults ---------------------------------------------------------------------------------------
def test_a_job_whose_worker_is_killed_is_retried(procs, users, live_server, settings,
                                                 owner_conn):
    a = session_of(users["a"])
    url = submit(a, live_server)
    with communes_locked(settings):
        w1 = procs.worker("w1")
        wait_db(owner_conn, lambda: db_job(owner_conn, url)["status"] == "running",
                what="the job to start")
        procs.stop(w1, signal.SIGKILL)
        assert db_job(owner_conn, url)["status"] == "running"
        procs.worker("w2")
        # After the 2 s lease, w2 reaps the job and claims it again.
        wait_db(owner_conn, lambda: db_job(owner_conn, url)["attempts"] == 2,
                seconds=15, what="the second attempt")
    job = wait_for(a, url)
    assert job["status"] == "successful"
    row = db_job(owner_conn, url)
    assert row["attempts"] == 2 and row["has_result"]
    assert read_workbook(a.get(f"{url}/results").content) == ["Lille", "Roubaix"]
    assert "lost jobs (expired lease): 1 requeued" in procs.log("w2")


def test_a_job_lost_twice_is_marked_failed_not_left_running(procs, users, live_server,
                                                            settings, owner_conn):
    a = session_of(users["a"])
    url = submit(a, live_server)
    with communes_locked(settings):
        for attempt, name in ((1, "w1"), (2, "w2")):
            worker = procs.worker(name)
            wait_db(owner_conn, lambda: (db_job(owner_conn, url)["status"] == "running"
                                         and db_job(owner_conn, url)["attempts"] == attempt),
                    seconds=15, what=f"attempt {attempt}")
            procs.stop(worker, signal.SIGKILL)
        procs.worker("w3")
        job = wait_for(a, url, wanted=("failed",), seconds=15)
    assert "interrompu 2 fois" in job["message"]
    assert a.get(f"{url}/results").status_code == 400
    assert not db_job(owner_conn, url)["has_result"]


def test_jobs_and_results_survive_a_restart_of_the_app(procs, users, settings, owner_conn):
    a = session_of(users["a"])
    port = free_port(18700)
    app, base = procs.app(port)
    procs.worker("w1")
    url = submit(a, base)
    wait_for(a, url)
    procs.stop(app)
    app, base = procs.app(port)   # a new process, nothing in memory
    assert status(a, url)["status"] == "successful"
    assert read_workbook(a.get(f"{url}/results").content) == ["Lille", "Roubaix"]


# -- scale-out ------------------------------------------------------------------------------------
def test_two_apps_and_two_workers_run_every_job_exactly_once(procs, users, owner_conn):
    _, app1 = procs.app(free_port(18720))
    _, app2 = procs.app(free_port(18740))
    procs.worker("w1")
    procs.worker("w2")
    sessions = [session_of(users["a"]), session_of(users["b"])]
    submitted = []   # (session, the app that accepted it, job id)
    for i in range(8):
        base = (app1, app2)[i % 2]
        session = sessions[(i // 2) % 2]
        url = submit(session, base)
        submitted.append((session, base, url.rsplit("/", 1)[1]))
    for session, base, job_id in submitted:
        other = app2 if base == app1 else app1
        job = wait_for(session, f"{other}/jobs/{job_id}")
        assert job["status"] == "successful"
        resp = session.get(f"{other}/jobs/{job_id}/results")
        assert resp.status_code == 200 and read_workbook(resp.content) == ["Lille", "Roubaix"]
    rows = owner_conn.execute("SELECT job_id::text, attempts FROM jobs.job").fetchall()
    assert sorted(rows) == sorted((job_id, 1) for _, _, job_id in submitted)
    logs = procs.log("w1") + procs.log("w2")
    for _, _, job_id in submitted:
        assert logs.count(f"job {job_id}: run ") == 1


def test_no_job_is_lost_when_postgresql_restarts(procs, users, live_server, settings):
    from portail.cluster import LocalCluster
    a = session_of(users["a"])
    running_url = submit(a, live_server)
    lock = psycopg.connect(settings.owner_dsn())
    lock.execute("REFRESH MATERIALIZED VIEW diffusion.commune")   # the first job waits on it
    procs.worker("w1")
    with psycopg.connect(settings.owner_dsn(), autocommit=True) as conn:
        wait_db(conn, lambda: db_job(conn, running_url)["status"] == "running",
                what="the job to start")
    waiting_url = submit(a, live_server)          # queued behind it (one worker)
    cluster = LocalCluster(settings.cluster_dir)
    cluster.stop()                                # kills the lock's session too
    lock.close()
    cluster.start()
    for url in (running_url, waiting_url):
        job = wait_for(a, url, seconds=60)
        assert job["status"] == "successful"
        assert read_workbook(a.get(f"{url}/results").content) == ["Lille", "Roubaix"]
    with psycopg.connect(settings.owner_dsn(), autocommit=True) as conn:
        # The restart happened during the first job's life; it ran to the end once, either
        # on its first run (its query outlived the lock's session) or on a second one.
        restarted_during = conn.execute(
            "SELECT created_at < pg_postmaster_start_time() "
            "AND finished_at > pg_postmaster_start_time() FROM jobs.job WHERE job_id = %s",
            [running_url.rsplit("/", 1)[1]]).fetchone()[0]
        assert restarted_during
        assert db_job(conn, running_url)["attempts"] in (1, 2)
        assert db_job(conn, waiting_url)["attempts"] == 1


def test_the_entrypoint_worker_mode_migrates_then_runs_jobs(procs, users, live_server, settings):
    venv_bin = Path(sys.executable).parent
    # A long poll: the job is picked up on its NOTIFY, and SIGTERM ends the wait at once.
    env = {**os.environ, **FAST, "JOBS_POLL_SECONDS": "60", "DATABASE_URL": settings.admin_dsn(),
           "PORTAIL_STATE_DIR": str(settings.state_dir),
           "PORTAIL_LLS": str(venv_bin / "portail-lls"),
           "PATH": f"{venv_bin}:{os.environ['PATH']}"}
    log = open(procs.folder / "entrypoint.log", "ab")
    proc = subprocess.Popen(["sh", str(REPO_ROOT / "docker" / "entrypoint.sh"), "worker"],
                            env=env, stdout=log, stderr=subprocess.STDOUT, cwd="/")
    procs.started.append(proc)
    a = session_of(users["a"])
    url = submit(a, live_server)
    assert wait_for(a, url, seconds=20)["status"] == "successful"
    # exec: the worker is the entrypoint's own process (docker stop's SIGTERM reaches it).
    cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
    # (the program is the venv's portail-lls, not the shell that ran the entrypoint)
    assert cmdline[-2:] == [b"worker", b""] and Path(cmdline[0].decode()).name != "sh"
    time.sleep(0.5)   # back to waiting for a notification
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    assert time.monotonic() - started < 3


def test_finished_jobs_are_purged_after_their_retention(procs, users, live_server, settings,
                                                        owner_conn):
    a = session_of(users["a"])
    old, recent = uuid.uuid4(), uuid.uuid4()
    for job_id, age in ((old, "73 hours"), (recent, "1 hour")):
        owner_conn.execute(
            """INSERT INTO jobs.job (job_id, owner, process_id, inputs, status, progress,
                      result, result_mimetype, result_filename, result_bytes, finished_at,
                      expires_at)
               VALUES (%s, %s, 'export', '{}', 'successful', 100, 'x', 'text/csv', 'a.csv', 1,
                       now() - %s::interval,
                       now() - %s::interval + make_interval(hours => %s))""",
            [job_id, users["a"][0], age, age, settings.jobs_result_hours])
    assert a.get(f"{live_server}/jobs/{old}/results").status_code == 200
    done = subprocess.run([sys.executable, "-m", "portail.cli", "jobs", "purge"],
                          capture_output=True, text=True, cwd=REPO_ROOT)
    assert done.returncode == 0 and done.stdout.startswith("1 travail"), done.stderr
    assert a.get(f"{live_server}/jobs/{old}", params={"f": "json"}).status_code == 404
    assert a.get(f"{live_server}/jobs/{recent}/results").status_code == 200


def test_the_service_role_cannot_read_jobs(settings, no_session_worker):
    with psycopg.connect(settings.service_dsn(), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT count(*) FROM jobs.job")


# -- the claim rule, for all queues ---------------------------------------------------------------
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st  # noqa: E402

from processes.jobs import store  # noqa: E402


@hsettings(max_examples=40, deadline=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(owners=st.lists(st.sampled_from(["a", "b", "admin"]), min_size=1, max_size=12),
       already_running=st.lists(st.sampled_from(["a", "b", "admin"]), max_size=3),
       max_running=st.integers(1, 5), max_per_user=st.integers(1, 3))
def test_claims_take_the_oldest_jobs_the_caps_allow(users, settings, no_session_worker, owners,
                                                    already_running, max_running, max_per_user):
    """Claiming until nothing is left gives exactly the jobs a first-come, first-served
    reading of the queue allows under both caps, whatever the queue holds."""
    login = {k: users[k][0] for k in ("a", "b", "admin")}
    with psycopg.connect(settings.gate_dsn(), autocommit=True) as conn:
        conn.execute("DELETE FROM jobs.job")
        for who in already_running:
            conn.execute("INSERT INTO jobs.job (job_id, owner, process_id, inputs, status, "
                         "lease_until) VALUES (gen_random_uuid(), %s, 'export', '{}', "
                         "'running', now() + interval '1 hour')", [login[who]])
        queue = []
        for i, who in enumerate(owners):
            job_id = uuid.uuid4()
            conn.execute("INSERT INTO jobs.job (job_id, owner, process_id, inputs, created_at) "
                         "VALUES (%s, %s, 'export', '{}', now() + make_interval(secs => %s))",
                         [job_id, login[who], i / 1000])
            queue.append((job_id, who))
        claimed = []
        while (c := store.claim(conn, "test", 60, max_running, max_per_user)) is not None:
            claimed.append(c.job_id)
            assert c.attempts == 1
        conn.execute("DELETE FROM jobs.job")
    running = list(already_running)
    expected = []
    for job_id, who in queue:   # the model: oldest first, both caps
        if len(running) < max_running and running.count(who) < max_per_user:
            running.append(who)
            expected.append(job_id)
    assert claimed == expected
