"""Test fixtures: a real, throwaway PostgreSQL/PostGIS cluster and the real app.

The session starts its own cluster (durability off) in a temporary folder,
applies the migrations, and removes everything at the end. Nothing is mocked:
tests talk to PostgreSQL and to gunicorn over HTTP.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest
import requests
from psycopg import sql

from portail import server
from portail.cluster import LocalCluster
from ports import free_port
from portail.migrate import migrate
from portail.settings import REPO_ROOT, Settings, get_settings, load_settings

REFERENCE = REPO_ROOT / "data" / "reference"
CORPUS = Path(__file__).parent / "corpus"

pytest_plugins = ["browser"]   # chromium, browser_page: headless Chromium fixtures

# What a test needs, from its fixtures (the markers of pyproject.toml). A module that
# drives a real client program or starts its own server says so with ``pytestmark``.
KINDS = ("unit", "database", "http", "clients")
CLIENT_FIXTURES = {"chromium", "browser_page", "anonymous_page"}
CLIENT_MODULES = {"test_clients_qgis", "test_clients_gdal", "test_clients_owslib",
                  "test_auth_qgis", "test_carte_browser", "test_exports_libreoffice",
                  "test_aide_qgis", "test_qgis_projet"}
HTTP_FIXTURES = {"live_server", "http"}
DATABASE_FIXTURES = {"settings", "owner_conn", "fresh_database", "etl_settings"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if any(item.get_closest_marker(kind) for kind in KINDS):
            continue
        needs = set(getattr(item, "fixturenames", ()))
        if needs & CLIENT_FIXTURES or item.module.__name__ in CLIENT_MODULES:
            item.add_marker(pytest.mark.clients)
        elif needs & HTTP_FIXTURES:
            item.add_marker(pytest.mark.http)
        elif needs & DATABASE_FIXTURES:
            item.add_marker(pytest.mark.database)
        else:
            item.add_marker(pytest.mark.unit)


def make_state_dir(prefix: str = "portail-test-") -> Path:
    # Under /tmp and 0755: as root, the postgres user must be able to enter it.
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    os.chmod(path, 0o755)
    return path


@pytest.fixture(scope="session")
def settings() -> Settings:
    """Settings of the test session, pointing at a fresh local cluster."""
    state = make_state_dir()
    saved = dict(os.environ)
    for var in ("DATABASE_URL", "OWNER_DATABASE_URL", "SERVICE_DATABASE_URL",
                "GATE_DATABASE_URL", "PORTAIL_URL"):
        os.environ.pop(var, None)
    os.environ["PORTAIL_STATE_DIR"] = str(state)
    os.environ["PORT"] = str(free_port(18500))
    get_settings.cache_clear()
    conf = load_settings()
    cluster = LocalCluster(conf.cluster_dir)
    cluster.init(port=free_port(55400), fast=True)
    cluster.start()
    migrate(conf, verbose=False)
    yield conf
    server.stop(conf, quiet=True)
    cluster.remove()
    shutil.rmtree(state, ignore_errors=True)
    os.environ.clear()
    os.environ.update(saved)
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def communes_loaded(settings):
    from etl.communes import load_communes
    return load_communes(settings.owner_dsn(), REFERENCE / "mel_communes.geojson", 2026)


@pytest.fixture(scope="session")
def account(settings):
    from auth.accounts import set_account
    login, password = "agent.test", "correct horse battery staple"
    set_account(settings.owner_dsn(), login, password)
    return login, password


@pytest.fixture(scope="session")
def demo_data(settings, communes_loaded):
    """A small demo dataset (every source, 3 millésimes) published in the session database,
    so that every collection of the API has rows for the real clients to read."""
    from etl.demo import build_demo
    out = make_state_dir("portail-demo-data-")
    try:
        return build_demo(settings.owner_dsn(), out, seed=7, scale=0.04, echo=lambda *a: None)
    finally:
        shutil.rmtree(out, ignore_errors=True)


@pytest.fixture(scope="session")
def live_server(settings, communes_loaded, demo_data, account) -> str:
    """The real app under gunicorn, as `make demo` starts it; yields its base URL."""
    server.start(settings)
    yield settings.public_url
    server.stop(settings, quiet=True)


@pytest.fixture
def http(live_server, account) -> requests.Session:
    """An authenticated HTTP session on the live server."""
    session = requests.Session()
    session.auth = account
    return session


@pytest.fixture
def owner_conn(settings):
    with psycopg.connect(settings.owner_dsn(), autocommit=True) as conn:
        yield conn


@pytest.fixture
def fresh_database(settings):
    """Settings for a brand-new, migrated database in the same cluster (dropped after)."""
    name = f"fresh_{os.getpid()}_{next(_counter)}"
    admin = LocalCluster(settings.cluster_dir).admin_dsn("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    os.environ["DATABASE_URL"] = LocalCluster(settings.cluster_dir).admin_dsn(name)
    try:
        fresh = load_settings()
        migrate(fresh, verbose=False)
        yield fresh
    finally:
        del os.environ["DATABASE_URL"]
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                         .format(sql.Identifier(name)))


def _count():
    n = 0
    while True:
        n += 1
        yield n


_counter = _count()
