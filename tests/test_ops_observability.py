"""Operations: access log lines, /metrics, /ready, the read replica and trusted proxies,
on the real app under gunicorn (the session's, or a second one with other settings)."""
from __future__ import annotations

import base64
import json
import time
import uuid

import psycopg
import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from conftest import make_state_dir
from ops_support import extra_portal, server_log
from portail.observability import TrustedProxies
from portail.settings import SERVICE_ROLE
from source_address import SourceAddress

COLLECTION = "communes"


def _log_lines(path, marker: str, seconds: float = 5.0) -> list[dict]:
    deadline = time.monotonic() + seconds
    while True:
        lines = [json.loads(line) for line in path.read_text(errors="replace").splitlines()
                 if marker in line and line.startswith("{")]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


def test_one_json_line_per_request_and_no_secret(live_server, settings, account):
    login, password = account
    request_id = f"test-{uuid.uuid4().hex}"
    secret_value = "Villeneuve-zz9-valeur"
    response = requests.get(f"{live_server}/collections/{COLLECTION}/items",
                            params={"f": "json", "limit": 3,
                                    "filter": f"nom = '{secret_value}'"},
                            auth=account, headers={"X-Request-ID": request_id}, timeout=30)
    assert response.status_code == 200, response.text[:300]
    assert response.headers["X-Request-ID"] == request_id
    [line] = _log_lines(settings.server_logfile, request_id)
    assert line["logger"] == "portail.access"
    assert line["login"] == login
    assert line["method"] == "GET" and line["status"] == 200
    assert line["route"] == "/collections/<path:collection_id>/items"
    assert line["path"] == f"/collections/{COLLECTION}/items"
    assert line["collection_id"] == COLLECTION and line["process_id"] is None
    assert line["query_keys"] == ["f", "filter", "limit"]
    assert line["duration_ms"] > 0 and line["bytes"] == len(response.content)
    whole_log = settings.server_logfile.read_text(errors="replace")
    basic = base64.b64encode(f"{login}:{password}".encode()).decode()
    assert "INFO - request" not in whole_log        # one line, one format (not pygeoapi's)
    for secret in (password, basic, secret_value):
        assert secret not in whole_log


def test_a_hostile_request_id_is_replaced(live_server, account):
    response = requests.get(f"{live_server}/collections", params={"f": "json"}, auth=account,
                            headers={"X-Request-ID": "a b\"}{injected"}, timeout=30)
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] != "a b\"}{injected"
    assert len(response.headers["X-Request-ID"]) == 32


def _samples(text: str, name: str) -> dict[str, float]:
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line.startswith(name)}


def test_metrics_count_requests_latency_auth_failures_and_pools(live_server, account):
    before = requests.get(f"{live_server}/metrics", timeout=30)
    assert before.status_code == 200
    assert before.headers["Content-Type"].startswith("text/plain")
    failures = _samples(before.text, "portail_auth_failures_total")
    bad_key = 'portail_auth_failures_total{reason="bad"}'
    missing_key = 'portail_auth_failures_total{reason="missing"}'
    for _ in range(2):
        assert requests.get(f"{live_server}/collections", auth=("nobody.here", "wrong"),
                            timeout=30).status_code == 401
    assert requests.get(f"{live_server}/collections", timeout=30).status_code == 401
    for _ in range(3):
        assert requests.get(f"{live_server}/collections/{COLLECTION}/items",
                            params={"f": "json", "limit": 2}, auth=account,
                            timeout=30).status_code == 200
    text = requests.get(f"{live_server}/metrics", timeout=30).text
    after = _samples(text, "portail_auth_failures_total")
    assert after[bad_key] - failures.get(bad_key, 0) == 2
    assert after[missing_key] - failures.get(missing_key, 0) == 1
    assert "login" not in "".join(k for k in after)     # no login label
    requests_total = _samples(text, "portail_http_requests_total")
    key = ('portail_http_requests_total{method="GET",'
           'route="/collections/<path:collection_id>/items",status="200"}')
    assert requests_total[key] >= 3
    buckets = _samples(text, "portail_http_request_duration_seconds_count")
    assert buckets['portail_http_request_duration_seconds_count'
                   '{route="/collections/<path:collection_id>/items"}'] >= 3
    pools = _samples(text, "portail_db_pool_max")
    assert pools['portail_db_pool_max{pool="service"}'] >= 1
    assert pools['portail_db_pool_max{pool="gate"}'] >= 1
    # The job queue by status, every status present (0 for an empty queue).
    jobs = _samples(text, "portail_jobs{")
    assert set(jobs) == {f'portail_jobs{{status="{s}"}}' for s in
                         ("accepted", "running", "successful", "failed", "dismissed")}



def _from(address: str) -> requests.Session:
    session = requests.Session()
    session.mount("http://", SourceAddress(address))
    return session


def test_ready_says_ready_and_health_stays_public(live_server):
    ready = requests.get(f"{live_server}/ready", timeout=30)
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ready" and body["data_version"] > 0
    assert body["checks"] == {"primary": "ok", "migrations": "ok", "read": "ok", "data": "ok"}


def test_not_ready_without_data_or_with_a_pending_migration(fresh_database, settings):
    state = make_state_dir("portail-ops-ready-")
    with extra_portal(fresh_database, state) as (url, _env):
        ready = requests.get(f"{url}/ready", timeout=30)
        assert ready.status_code == 503 and ready.headers["Retry-After"]
        assert "aucune donnée publiée" in ready.json()["reason"]
        # /health only says the process and the database answer.
        assert requests.get(f"{url}/health", timeout=30).status_code == 200
        with psycopg.connect(fresh_database.admin_dsn(), autocommit=True) as conn:
            last = conn.execute("SELECT max(version) FROM portail_meta.schema_migration"
                                ).fetchone()[0]
            conn.execute("DELETE FROM portail_meta.schema_migration WHERE version = %s", [last])
        ready = requests.get(f"{url}/ready", timeout=30)
        assert ready.status_code == 503
        assert f"dont {last}" in ready.json()["reason"]


def test_metrics_are_refused_outside_the_allowed_networks(settings, live_server):
    state = make_state_dir("portail-ops-metrics-")
    with extra_portal(settings, state, METRICS_ALLOWED_NETWORKS="127.0.5.0/24",
                      TRUSTED_PROXIES="127.0.6.1") as (url, _env):
        assert _from("127.0.5.9").get(f"{url}/metrics", timeout=30).status_code == 200
        assert _from("127.0.0.1").get(f"{url}/metrics", timeout=30).status_code == 403
        # Through the proxy, the client's address counts, not the proxy's.
        refused = _from("127.0.6.1").get(f"{url}/metrics", timeout=30,
                                         headers={"X-Forwarded-For": "198.51.100.20"})
        assert refused.status_code == 403
        # A spoofed header from elsewhere changes nothing.
        assert _from("127.0.5.9").get(f"{url}/metrics", timeout=30, headers={
            "X-Forwarded-For": "198.51.100.20"}).status_code == 200


# -- read replica ------------------------------------------------------------------------------
def test_published_views_are_read_from_the_read_dsn(settings, live_server, fresh_database,
                                                   account):
    """The replica here is another database (migrated, nothing published): what the
    collections serve comes from it, while logins are checked on the primary."""
    params = conninfo_to_dict(fresh_database.role_dsn(SERVICE_ROLE))
    replica = make_conninfo(host=params["host"], port=params["port"],
                            dbname=params["dbname"])   # no user: the service role's
    state = make_state_dir("portail-ops-replica-")
    with extra_portal(settings, state, READ_DATABASE_URL=replica) as (url, _env):
        primary_rows = requests.get(f"{live_server}/collections/{COLLECTION}/items",
                                    params={"f": "json", "limit": 1}, auth=account,
                                    timeout=30).json()["numberMatched"]
        assert primary_rows > 0
        # The account exists only on the primary: the gate reads it there.
        answer = requests.get(f"{url}/collections/{COLLECTION}/items",
                              params={"f": "json", "limit": 1}, auth=account, timeout=30)
        assert answer.status_code == 200, answer.text[:300]
        assert answer.json()["numberMatched"] == 0
        assert requests.get(f"{url}/health", timeout=30).json()["data_version"] == 0
        with psycopg.connect(settings.admin_dsn(), autocommit=True) as conn:
            seen = conn.execute(
                "SELECT DISTINCT datname FROM pg_stat_activity WHERE application_name = %s",
                ["portail-lls:lls_service:replica"]).fetchall()
        assert seen == [(params["dbname"],)]


# -- trusted proxies ---------------------------------------------------------------------------
@given(st.lists(st.one_of(st.ip_addresses().map(str), st.text(max_size=20)), max_size=6))
def test_a_forwarded_header_from_an_untrusted_peer_is_ignored(hops):
    middleware = TrustedProxies(None, ["10.0.0.0/8"])
    assert middleware.client_address("192.0.2.1", ", ".join(hops)) == "192.0.2.1"


def test_the_client_is_the_first_untrusted_hop_from_the_right():
    middleware = TrustedProxies(None, ["10.0.0.0/8"])
    assert middleware.client_address("10.0.0.2", "203.0.113.9") == "203.0.113.9"
    # A client cannot choose its address by prepending hops: the proxy appends the peer.
    assert middleware.client_address("10.0.0.2", "1.2.3.4, 203.0.113.9") == "203.0.113.9"
    assert middleware.client_address("10.0.0.2", "203.0.113.9, 10.0.0.7") == "203.0.113.9"
    assert middleware.client_address("10.0.0.2", "junk, 10.0.0.7") == "10.0.0.7"
    assert middleware.client_address("10.0.0.2", "") == "10.0.0.2"


def _audit_addresses(owner_conn, login: str, expected: int, seconds: float = 8.0) -> list[str]:
    """Addresses of the login's audit rows, once ``expected`` rows are written (each
    gunicorn worker flushes its own buffer, about every second)."""
    deadline = time.monotonic() + seconds
    while True:
        rows = [str(a) for (a,) in owner_conn.execute(
            "SELECT host(address) FROM register.audit_log WHERE login = %s ORDER BY at",
            [login])]
        if len(rows) >= expected or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


@pytest.fixture
def proxied_portal(settings, live_server, owner_conn):
    state = make_state_dir("portail-ops-proxy-")
    with extra_portal(settings, state, TRUSTED_PROXIES="127.0.7.1/32") as (url, _env):
        yield url, state
    owner_conn.execute("DELETE FROM register.login_throttle WHERE key LIKE '127.0.7.%%' "
                       "OR key LIKE '198.51.100.%%' OR key LIKE 'ghost.proxy.%%'")


def test_audit_and_lockout_use_the_forwarded_address_only_from_the_proxy(
        proxied_portal, owner_conn, settings):
    from auth.accounts import set_account
    url, state = proxied_portal
    login, password = f"proxy.user{uuid.uuid4().hex[:6]}", "a long enough pass phrase 42"
    set_account(settings.owner_dsn(), login, password)
    try:
        through_proxy = _from("127.0.7.1").get(
            f"{url}/collections", params={"f": "json"}, auth=(login, password),
            headers={"X-Forwarded-For": "198.51.100.7"}, timeout=30)
        spoofed = _from("127.0.7.2").get(
            f"{url}/collections", params={"f": "json"}, auth=(login, password),
            headers={"X-Forwarded-For": "198.51.100.8"}, timeout=30)
        assert through_proxy.status_code == spoofed.status_code == 200
        assert sorted(_audit_addresses(owner_conn, login, 2)) == ["127.0.7.2", "198.51.100.7"]
        lines = [json.loads(x) for x in server_log(state).splitlines()
                 if x.startswith("{") and login in x]
        assert {x["client"] for x in lines} == {"198.51.100.7", "127.0.7.2"}
    finally:
        owner_conn.execute("DELETE FROM register.account WHERE login = %s", [login])

    # Lockout (20 failures per address): a client behind the proxy is locked by its own
    # address, which neither locks the proxy for everyone nor is evaded by spoofing.
    def attempt(source, forwarded, n):
        return _from(source).get(f"{url}/collections", auth=(f"ghost.proxy.{n}", "wrong"),
                                 headers={"X-Forwarded-For": forwarded}, timeout=30).status_code
    codes = [attempt("127.0.7.1", "198.51.100.9", n) for n in range(21)]
    assert codes[:20] == [401] * 20 and codes[20] == 429
    assert attempt("127.0.7.1", "198.51.100.10", 99) == 401      # the proxy is not locked
    codes = [attempt("127.0.7.3", f"198.51.100.{100 + n}", n) for n in range(21)]
    assert codes[20] == 429          # rotating a spoofed header does not evade the lock
