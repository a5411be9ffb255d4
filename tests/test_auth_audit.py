"""The audit log records who did what, holds no secret; the register is the gate's alone."""
from __future__ import annotations

import io
import time
from datetime import datetime, timezone

import psycopg
from psycopg import sql
import pytest
import requests
from click.testing import CliRunner

from auth.audit import export_csv, purge


def _audit_rows(owner_conn, login, expected, since, seconds=5.0):
    """Rows of this login, once the workers' batched writes (every second) have landed."""
    deadline = time.monotonic() + seconds
    while True:
        rows = owner_conn.execute(
            "SELECT login, route, collection, process, status, bytes, method, address "
            "FROM register.audit_log WHERE login = %s AND at >= %s ORDER BY at",
            [login, since]).fetchall()
        if len(rows) >= expected or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def test_audit_log_records_what_happened_and_no_secret(live_server, account, owner_conn):
    login, password = account
    since = datetime.now(timezone.utc)
    ok = requests.get(f"{live_server}/collections/communes/items",
                      params={"f": "json", "limit": 2}, auth=account)
    assert ok.status_code == 200
    refused = requests.get(f"{live_server}/collections/communes", auth=(login, "bad " + password))
    assert refused.status_code == 401
    missing = requests.get(f"{live_server}/processes/nothing-here", auth=account)
    rows = _audit_rows(owner_conn, login, 3, since)
    assert len(rows) == 3, rows
    items, bad, process = rows
    assert items[:5] == (login, "/collections/communes/items", "communes", None, 200)
    assert items[5] == len(ok.content) and items[6] == "GET" and str(items[7]) == "127.0.0.1"
    # A wrong password for an existing login is recorded under that login.
    assert bad[:5] == (login, "/collections/communes", "communes", None, 401)
    assert process[1:5] == ("/processes/nothing-here", None, "nothing-here", missing.status_code)
    # Never a password, never a query string, anywhere in the table.
    dump = owner_conn.execute("SELECT string_agg(t::text, E'\\n') FROM register.audit_log t"
                              ).fetchone()[0]
    assert password not in dump and "limit=" not in dump


def test_unknown_login_is_not_recorded_as_typed(live_server, owner_conn):
    typed = "MyS3cretPassword-typed-as-login"
    assert requests.get(f"{live_server}/collections", auth=(typed, "x")).status_code == 401
    time.sleep(1.5)
    dump = owner_conn.execute("SELECT string_agg(t::text, E'\\n') FROM register.audit_log t"
                              ).fetchone()[0]
    assert typed not in dump


def test_export_and_purge(owner_conn, live_server, account):
    since = datetime.now(timezone.utc)
    requests.get(f"{live_server}/collections", auth=account)
    assert _audit_rows(owner_conn, account[0], 1, since)
    owner_conn.execute("""INSERT INTO register.audit_log (at, login, method, route, status)
                          VALUES (now() - interval '13 months', 'old.user', 'GET', '/x', 200)""")
    out = io.StringIO()
    with owner_conn.transaction():
        n = export_csv(owner_conn, out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("horodatage;identifiant;adresse;methode;route")
    assert len(lines) == n + 1 and any(account[0] in line for line in lines)
    assert account[1] not in out.getvalue()
    assert purge(owner_conn) >= 1
    assert owner_conn.execute("SELECT count(*) FROM register.audit_log WHERE login = 'old.user'"
                              ).fetchone()[0] == 0


def test_audit_export_cli_writes_csv(settings, account, tmp_path, live_server):
    from portail.cli import main
    requests.get(f"{live_server}/collections", auth=account)
    time.sleep(1.5)
    out = tmp_path / "journal.csv"
    r = CliRunner().invoke(main, ["audit", "export", "-o", str(out), "--identifiant", account[0]])
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert text.count("\n") >= 2 and all(";" + account[0] + ";" in line
                                         for line in text.splitlines()[1:])


# -- least privilege on the register -----------------------------------------------------------
def _register_objects(owner_conn):
    relations = [f"register.{name}" for (name,) in owner_conn.execute(
        """SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'register' AND c.relkind IN ('r', 'v', 'm', 'S')""")]
    functions = [(name, oid) for (name, oid) in owner_conn.execute(
        """SELECT p.oid::regprocedure::text, p.oid FROM pg_proc p
           JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'register'""")]
    return relations, functions


def test_service_role_cannot_read_or_call_anything_in_the_register(settings, owner_conn):
    relations, functions = _register_objects(owner_conn)
    assert {"register.account", "register.organisation", "register.audit_log",
            "register.account_status", "register.login_throttle"} <= set(relations)
    assert any("gate_failure" in name for name, _ in functions)
    with psycopg.connect(settings.service_dsn(), autocommit=True) as conn:
        for relation in relations:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql.SQL("SELECT * FROM {} LIMIT 1").format(
                    sql.Identifier(*relation.split("."))))
        assert conn.execute("SELECT has_schema_privilege('register', 'USAGE')").fetchone() == (False,)
        for name, oid in functions:
            assert conn.execute("SELECT has_function_privilege(%s::oid, 'EXECUTE')",
                                [oid]).fetchone() == (False,), name
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT register.gate_failure('agent.test', '127.0.0.1')")


def test_gate_role_writes_the_audit_log_but_cannot_read_it(settings):
    with psycopg.connect(settings.gate_dsn(), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM register.audit_log LIMIT 1")
        for statement in ("DELETE FROM register.audit_log",
                          "UPDATE register.account SET disabled_at = NULL",
                          "UPDATE register.account SET password_changed_at = now()",
                          "DELETE FROM register.login_throttle",
                          "INSERT INTO register.organisation (name, kind, convention_signed_on,"
                          " deliberation_ref) VALUES ('x', 'mel', '2024-01-01', 'x')"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
        # Its writes go through functions that check the rule themselves.
        assert conn.execute("SELECT register.gate_deactivate_unused('agent.test')"
                            ).fetchone() == (None,)
