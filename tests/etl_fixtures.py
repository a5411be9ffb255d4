"""Fixtures of the ETL tests: one database per session with a SMALL demo dataset loaded.

Imported by the tests/test_etl_*.py modules (``from etl_fixtures import *``) so that the
shared conftest stays untouched. The database is separate from the API tests' one.
"""
from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from portail.cluster import LocalCluster
from portail.migrate import migrate
from portail.settings import load_settings

SMALL_SCALE = 0.04
SEED = 7


@pytest.fixture(scope="session")
def etl_settings(settings):
    """A migrated database of its own, in the session's cluster."""
    name = f"etl_{os.getpid()}"
    admin = LocalCluster(settings.cluster_dir).admin_dsn("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    saved = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = LocalCluster(settings.cluster_dir).admin_dsn(name)
    try:
        conf = load_settings()
        migrate(conf, verbose=False)
    finally:
        if saved is None:
            del os.environ["DATABASE_URL"]
        else:
            os.environ["DATABASE_URL"] = saved
    yield conf
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def demo_small(etl_settings, tmp_path_factory):
    """The demo dataset at a small scale, generated and loaded once (3 millésimes)."""
    from etl.demo import build_demo
    out = tmp_path_factory.mktemp("demo") / "data"
    summaries = build_demo(etl_settings.owner_dsn(), out, seed=SEED, scale=SMALL_SCALE,
                           echo=lambda *a: None)
    return {"dir": out, "summaries": summaries, "dsn": etl_settings.owner_dsn()}


def core_checksum(dsn: str) -> dict[str, str]:
    """md5 of every core table's rows, plus the data version: equal means untouched."""
    out = {}
    with psycopg.connect(dsn) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'core' ORDER BY 1").fetchall()]
        for t in tables:
            out[t] = conn.execute(sql.SQL(
                "SELECT count(*) || ':' || coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') "
                "FROM {} x").format(sql.Identifier("core", t))).fetchone()[0]
    return out
