"""Schema management and least privilege, against the real cluster."""
from __future__ import annotations

import psycopg
from psycopg import sql
import pytest

from portail.errors import UserError
from portail.migrate import Migration, available_migrations, migrate
from portail.settings import GATE_ROLE, SERVICE_ROLE


def test_migrations_are_recorded_and_a_rerun_applies_nothing(fresh_database):
    with psycopg.connect(fresh_database.admin_dsn()) as conn:
        recorded = [r[0] for r in conn.execute(
            "SELECT version FROM portail_meta.schema_migration ORDER BY version")]
    assert recorded == [m.version for m in available_migrations()]
    assert migrate(fresh_database, verbose=False) == []


def test_an_applied_migration_must_not_change(fresh_database, monkeypatch):
    real = available_migrations()
    edited = [Migration(real[0].version, real[0].sql_text + "\n-- edited\n"), *real[1:]]
    monkeypatch.setattr("portail.migrate.available_migrations", lambda: edited)
    with pytest.raises(UserError, match="modifiée"):
        migrate(fresh_database, verbose=False)


def test_objects_belong_to_the_owner_role(owner_conn):
    owners = owner_conn.execute(
        """SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname IN ('core', 'diffusion', 'register', 'staging', 'portail_meta')""").fetchall()
    assert owners == [("lls_owner",)]


def _core_tables(owner_conn) -> list[str]:
    return [f"{s}.{t}" for s, t in owner_conn.execute(
        """SELECT table_schema, table_name FROM information_schema.tables
           WHERE table_schema IN ('core', 'staging', 'register', 'portail_meta')""")]


def test_service_role_reads_published_views_only(settings, communes_loaded, owner_conn):
    tables = _core_tables(owner_conn)
    assert "core.commune" in tables and "register.account" in tables
    with psycopg.connect(settings.service_dsn(), autocommit=True) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == SERVICE_ROLE
        assert conn.execute("SELECT count(*) FROM diffusion.commune").fetchone()[0] == 95
        for table in tables:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql.SQL("SELECT * FROM {} LIMIT 1").format(sql.Identifier(*table.split("."))))
        for statement in ("CREATE TABLE public.x (a int)",
                          "DELETE FROM diffusion.commune",
                          "REFRESH MATERIALIZED VIEW diffusion.commune",
                          "SELECT pg_read_file('PG_VERSION')",
                          "COPY diffusion.commune TO '/tmp/leak.csv'"):
            with pytest.raises((psycopg.errors.InsufficientPrivilege,
                                psycopg.errors.ReadOnlySqlTransaction)):
                conn.execute(statement)


def test_gate_role_reads_the_register_only(settings, owner_conn):
    with psycopg.connect(settings.gate_dsn(), autocommit=True) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == GATE_ROLE
        conn.execute("SELECT login FROM register.account LIMIT 1")
        for table in ("core.commune", "diffusion.commune"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql.SQL("SELECT * FROM {} LIMIT 1").format(sql.Identifier(*table.split("."))))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE register.account SET password_hash = 'x'")


def test_a_failing_migration_is_reported_and_rolled_back(fresh_database, monkeypatch):
    broken = Migration("9999_broken", "CREATE TABLE core.half_done (a int);\nSELECT no_such_column FROM core.commune;")
    monkeypatch.setattr("portail.migrate.available_migrations",
                        lambda: [*available_migrations(), broken])
    with pytest.raises(UserError, match="9999_broken a échoué"):
        migrate(fresh_database, verbose=False)
    with psycopg.connect(fresh_database.admin_dsn()) as conn:
        assert conn.execute("SELECT to_regclass('core.half_done')").fetchone()[0] is None
        assert conn.execute("SELECT count(*) FROM portail_meta.schema_migration "
                            "WHERE version = '9999_broken'").fetchone()[0] == 0
