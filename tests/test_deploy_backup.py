"""Backup and restore as docs/operations.md prescribes: `pg_dump -Fc` of the live
database (data and register), `pg_restore` into a new database, same rows everywhere,
the secrecy grants intact and the schema recognised by `db migrate`."""
from __future__ import annotations

import os
import subprocess
import time

import psycopg
import pytest
from psycopg import sql

from portail.cluster import LocalCluster
from portail.migrate import migrate
from portail.settings import load_settings

SCHEMAS_SQL = """
    SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg_toast%%' AND n.nspname <> 'tiger' AND n.nspname <> 'topology'
    ORDER BY 1, 2"""


def row_counts(conn: psycopg.Connection) -> dict[str, int]:
    counts = {}
    for schema, table in conn.execute(SCHEMAS_SQL).fetchall():
        counts[f"{schema}.{table}"] = conn.execute(
            sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema),
                                                         sql.Identifier(table))).fetchone()[0]
    return counts


@pytest.fixture
def restored_name(settings):
    name = f"restored_{os.getpid()}_{time.monotonic_ns()}"
    yield name
    admin = LocalCluster(settings.cluster_dir).admin_dsn("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def test_dump_and_restore_keep_every_row_and_the_grants(settings, communes_loaded, account,
                                                       restored_name, tmp_path):
    cluster = LocalCluster(settings.cluster_dir)
    source = settings.admin_dsn()
    dump = tmp_path / "portail.dump"
    # Counts and dump from the same snapshot: the live server may write the audit log meanwhile.
    with psycopg.connect(source) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        before = row_counts(conn)
        subprocess.run(["pg_dump", "--format=custom", f"--snapshot={snapshot}",
                        f"--file={dump}", f"--dbname={source}"], check=True)
    assert before["core.commune"] > 0 and before["register.account"] > 0
    assert any(name.startswith("diffusion.") for name in before)

    with psycopg.connect(cluster.admin_dsn("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0")
                     .format(sql.Identifier(restored_name)))
    target = cluster.admin_dsn(restored_name)
    subprocess.run(["pg_restore", "--exit-on-error", "--single-transaction",
                    f"--dbname={target}", str(dump)], check=True)

    with psycopg.connect(target) as conn:
        assert row_counts(conn) == before
        # Grants came back: the service role reads the diffusion schema, not the register.
        conn.execute("SET ROLE lls_service")
        conn.execute("SELECT count(*) FROM diffusion.data_version").fetchone()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT count(*) FROM register.account")
        conn.rollback()

    # The restored database is at the latest schema: `db migrate` has nothing to apply.
    saved = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = target
    try:
        assert migrate(load_settings(), verbose=False) == []
    finally:
        if saved is None:
            del os.environ["DATABASE_URL"]
        else:
            os.environ["DATABASE_URL"] = saved
