"""Benchmark: our provider against pygeoapi's stock PostgreSQL provider, then at national scale.

One run, on this machine, nothing shared with a demo:
1. a throwaway PostGIS cluster (like the tests), migrated;
2. a generated published table of dwellings at MEL size (130,000 rows) and at
   national size (5,200,000 rows: the MEL pattern tiled 40 times over France),
   both in the diffusion schema, read by the service role;
3. one gunicorn (2 sync workers) serving pygeoapi with three collections:
   ``ours`` and ``stock`` on the same MEL-size table, ``national`` on the big one;
4. for each query, a fixed number of requests from 4 concurrent clients:
   requests per second of both providers and the ratio; then the same
   queries on the national table, with their latency against MEL size, and
   deep paging (following ``next`` links, and a bare deep ``offset``).

Run: ``.venv/bin/python bench/bench_features.py`` (about 4 minutes; needs the
test extra: sqlalchemy, geoalchemy2, psycopg2-binary for the stock provider).
``--quick`` uses 10× smaller tables. Gate (authentication) is left out on
purpose: it costs the same for both providers and would hide the difference.
"""
from __future__ import annotations

import argparse
import os
import signal
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import requests
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from portail.cluster import LocalCluster, free_port  # noqa: E402
from portail.migrate import migrate  # noqa: E402
from portail.server import wait_healthy  # noqa: E402
from portail.settings import SERVICE_ROLE, get_settings, load_settings, role_password  # noqa: E402

MEL_ROWS = 130_000
TILES = 40
CONCURRENCY = 4

CREATE = """
DROP TABLE IF EXISTS diffusion.{t};
CREATE TABLE diffusion.{t} (
    id bigint PRIMARY KEY,
    code_insee text NOT NULL,
    nb_pieces smallint NOT NULL,
    surface numeric(6,1) NOT NULL,
    financement text NOT NULL,
    loyer numeric(7,2) NOT NULL,
    millesime smallint NOT NULL,
    geom geometry(Point, 2154) NOT NULL,
    geom_4326 geometry(Point, 4326) NOT NULL
);
INSERT INTO diffusion.{t}
SELECT tile * {mel} + i AS id,
       (59000 + (i % 95) * 5)::text,
       1 + (i % 5), 20 + (i % 90), (ARRAY['PLAI','PLUS','PLS','PLI'])[1 + i % 4],
       150 + (i % 600), 2026,
       g, ST_Transform(g, 4326)
FROM generate_series(0, {tiles} - 1) AS tile,
     generate_series(1, {mel}) AS i,
     LATERAL (SELECT ST_SetSRID(ST_MakePoint(
         680000 + (tile % 8) * 60000 + ((i::bigint * 7919) % 50000),
         7040000 - (tile / 8) * 60000 + ((i::bigint * 104729) % 40000)), 2154) AS g) AS p;
CREATE INDEX ON diffusion.{t} USING gist (geom);
CREATE INDEX ON diffusion.{t} USING gist (geom_4326);
CREATE INDEX ON diffusion.{t} (financement, id);
CREATE INDEX ON diffusion.{t} (millesime, id);
ANALYZE diffusion.{t};
"""

# (label, query parameters) — the same on every collection.
QUERIES = [
    ("items limit=100", {"limit": 100}),
    ("items limit=1000", {"limit": 1000}),
    ("bbox (about 1,300 rows), limit=100", {"limit": 100, "bbox": "3.00,50.60,3.03,50.63"}),
    ("CQL filter financement='PLAI' AND nb_pieces>=4, limit=100",
     {"limit": 100, "filter": "financement = 'PLAI' AND nb_pieces >= 4"}),
]


def provider_ours(table: str) -> dict:
    return {"type": "feature", "name": "providers.published.PublishedViewProvider",
            "data": {"view": table}, "id_field": "id", "time_field": "millesime",
            "geom_field": "geom", "storage_crs": "http://www.opengis.net/def/crs/EPSG/0/2154",
            "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84",
                    "http://www.opengis.net/def/crs/EPSG/0/2154"]}


def provider_stock(table: str, port: int, password: str) -> dict:
    # Its best setting: the CRS84 copy as geometry, so no reprojection in Python.
    return {"type": "feature", "name": "PostgreSQL",
            "data": {"host": "127.0.0.1", "port": port, "dbname": "portail",
                     "user": SERVICE_ROLE, "password": password,
                     "search_path": ["diffusion", "public"]},
            "id_field": "id", "table": table, "geom_field": "geom_4326",
            # it cannot serialise a second geometry column: list the attributes
            "properties": ["code_insee", "nb_pieces", "surface", "financement", "loyer",
                           "millesime"]}


def collection(title: str, provider: dict) -> dict:
    return {"type": "collection", "title": title, "description": title, "keywords": ["bench"],
            "extents": {"spatial": {"bbox": [-5, 41, 10, 52]}}, "providers": [provider]}


def run_load(url: str, params: dict, requests_total: int) -> tuple[float, float]:
    """(requests per second, median latency in ms) with CONCURRENCY clients."""
    latencies: list[float] = []
    errors: list[str] = []
    per_thread = max(1, requests_total // CONCURRENCY)

    def worker():
        session = requests.Session()
        for _ in range(per_thread):
            t0 = time.perf_counter()
            r = session.get(url, params={**params, "f": "json"}, timeout=120)
            latencies.append(time.perf_counter() - t0)
            if r.status_code != 200:
                errors.append(f"{r.status_code} {r.text[:200]}")

    # Warm-up of EVERY worker process (each has its own count/page cache): concurrent
    # requests land on different gunicorn workers; one request would warm only one.
    for _ in range(2):
        warm = [threading.Thread(target=requests.get, args=(url,),
                                 kwargs={"params": {**params, "f": "json"}, "timeout": 300})
                for _ in range(CONCURRENCY)]
        for t in warm:
            t.start()
        for t in warm:
            t.join()
    threads = [threading.Thread(target=worker) for _ in range(CONCURRENCY)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise SystemExit(f"{url}: {errors[0]}")
    return len(latencies) / elapsed, statistics.median(latencies) * 1000


def timed(url: str, params: dict) -> float:
    t0 = time.perf_counter()
    r = requests.get(url, params={**params, "f": "json"}, timeout=600)
    r.raise_for_status()
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10× smaller tables")
    parser.add_argument("--requests", type=int, default=200, help="requests per measure")
    args = parser.parse_args()
    mel_rows = MEL_ROWS // 10 if args.quick else MEL_ROWS

    state = Path(tempfile.mkdtemp(prefix="portail-bench-", dir="/tmp"))
    os.chmod(state, 0o755)
    os.environ["PORTAIL_STATE_DIR"] = str(state)
    for var in ("DATABASE_URL", "OWNER_DATABASE_URL", "SERVICE_DATABASE_URL"):
        os.environ.pop(var, None)
    get_settings.cache_clear()
    settings = load_settings()
    cluster = LocalCluster(settings.cluster_dir)
    server = None
    try:
        cluster.init(port=free_port(56400), fast=True)
        cluster.start()
        migrate(settings, verbose=False)
        print(f"Generating {mel_rows:,} (MEL) and {mel_rows * TILES:,} (national) rows …", flush=True)
        t0 = time.perf_counter()
        with psycopg.connect(settings.owner_dsn(), autocommit=True) as conn:
            conn.execute("SET maintenance_work_mem = '512MB'")
            for table, tiles in (("bench_logement", 1), ("bench_logement_national", TILES)):
                for statement in CREATE.format(t=table, mel=mel_rows, tiles=tiles).split(";"):
                    if statement.strip():
                        conn.execute(statement)
        print(f"  done in {time.perf_counter() - t0:.0f} s", flush=True)

        port = free_port(18900)
        base = f"http://127.0.0.1:{port}"
        config = yaml.safe_load((REPO / "pygeoapi-config.yml").read_text())
        config["server"]["url"] = base
        config["server"]["limits"] = {"default_items": 100, "max_items": 10000}
        pg_port = int(psycopg.conninfo.conninfo_to_dict(settings.admin_dsn()).get("port", 5432))
        password = role_password(settings, SERVICE_ROLE)
        config["resources"] = {
            "ours": collection("ours", provider_ours("bench_logement")),
            "stock": collection("stock", provider_stock("bench_logement", pg_port, password)),
            "national": collection("national", provider_ours("bench_logement_national")),
        }
        config_path = state / "bench-config.yml"
        config_path.write_text(yaml.safe_dump(config, allow_unicode=True))
        os.chmod(config_path, 0o600)
        openapi = state / "bench-openapi.yml"
        from pygeoapi.openapi import generate_openapi_document
        openapi.write_text(generate_openapi_document(config_path, "yaml"))
        env = {**os.environ, "PYGEOAPI_CONFIG": str(config_path), "PYGEOAPI_OPENAPI": str(openapi),
               "PYTHONPATH": str(REPO)}
        log = open(state / "gunicorn.log", "ab")
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2",
             "--no-control-socket", "--timeout", "600", "pygeoapi.flask_app:APP"],
            env=env, stdout=log, stderr=log, cwd=str(REPO), start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{base}/collections", timeout=30).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.3)

        print(f"\nMEL size ({mel_rows:,} rows), gunicorn 2 workers, {CONCURRENCY} concurrent "
              f"clients, {args.requests} requests per measure")
        print(f"{'query':58} {'stock req/s':>11} {'ours req/s':>11} {'ratio':>6}")
        mel_latency = {}
        for label, params in QUERIES:
            stock_rps, _ = run_load(f"{base}/collections/stock/items", params, args.requests)
            ours_rps, ours_ms = run_load(f"{base}/collections/ours/items", params, args.requests)
            mel_latency[label] = ours_ms
            print(f"{label:58} {stock_rps:11.1f} {ours_rps:11.1f} {ours_rps / stock_rps:5.1f}×",
                  flush=True)

        print(f"\nNational size ({mel_rows * TILES:,} rows): median latency, ours")
        print(f"{'query':58} {'cold ms':>8} {'MEL ms':>8} {'nat. ms':>8} {'ratio':>6}")
        for label, params in QUERIES:
            url = f"{base}/collections/national/items"
            cold = timed(url, params)
            _, nat_ms = run_load(url, params, max(40, args.requests // 5))
            print(f"{label:58} {cold:8.0f} {mel_latency[label]:8.1f} {nat_ms:8.1f} "
                  f"{nat_ms / mel_latency[label]:5.2f}×", flush=True)

        print("\nDeep paging on the national table (limit=100)")
        url = f"{base}/collections/national/items"
        first = requests.get(url, params={"limit": 100, "f": "json"}, timeout=60).json()
        href = next(link["href"] for link in first["links"] if link["rel"] == "next")
        t_first = timed(url, {"limit": 100, "offset": 100})
        deep_offset = mel_rows * TILES - 1000
        cursor_page = requests.get(url, params={"limit": 100, "offset": deep_offset,
                                                "f": "json"}, timeout=600).json()
        last_id = cursor_page["features"][-1]["id"]
        t_next_chain = []
        for _ in range(20):
            t0 = time.perf_counter()
            page = requests.get(href, timeout=60).json()
            t_next_chain.append((time.perf_counter() - t0) * 1000)
            href = next(link["href"] for link in page["links"] if link["rel"] == "next")
        keyset_deep = timed(url, {"limit": 100, "offset": deep_offset + 100, "cursor": last_id})
        plain_deep = timed(url, {"limit": 100, "offset": deep_offset + 200})
        print(f"  offset=100 (plain)                         {t_first:8.1f} ms")
        print(f"  following next links, pages 2-21 (median)  {statistics.median(t_next_chain):8.1f} ms")
        print(f"  offset={deep_offset + 100:,} through its next link (keyset) {keyset_deep:8.1f} ms")
        print(f"  offset={deep_offset + 200:,} bare (no cursor: OFFSET scan)  {plain_deep:8.1f} ms")
        print_plans(cluster, server, base)
    except BaseException:
        log_file = state / "gunicorn.log"
        if log_file.exists():
            print("--- gunicorn.log (tail) ---\n" + "\n".join(
                log_file.read_text(errors="replace").splitlines()[-25:]))
        raise
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        cluster.remove()
        shutil.rmtree(state, ignore_errors=True)


def print_plans(cluster: LocalCluster, server: subprocess.Popen, base: str) -> None:
    """The plans PostgreSQL really ran for the national queries (auto_explain).

    auto_explain is preloaded for new sessions, the gunicorn workers are reloaded
    (new pools, new sessions, empty caches: the count is planned too), each query
    is sent once, and the scan nodes of the plans on the national table are printed.
    """
    with psycopg.connect(cluster.admin_dsn("portail"), autocommit=True) as conn:
        conn.execute("LOAD 'auto_explain'")   # so that its settings are known here
        conn.execute("ALTER SYSTEM SET session_preload_libraries = 'auto_explain'")
        conn.execute("ALTER SYSTEM SET auto_explain.log_min_duration = 0")
        conn.execute("SELECT pg_reload_conf()")
    start = cluster.log.stat().st_size
    os.kill(server.pid, signal.SIGHUP)   # gunicorn: new workers, hence new sessions
    time.sleep(3)
    for _, params in QUERIES:
        timed(f"{base}/collections/national/items", params)
    text = cluster.log.read_text(errors="replace")[start:]
    print("\nPlans on the national table (auto_explain), scan nodes per statement:")
    for block in text.split("plan:")[1:]:
        if "bench_logement_national" not in block:
            continue
        query = next((line.split("Query Text:", 1)[1].strip() for line in block.splitlines()
                      if "Query Text:" in line), "?")
        scans = sorted({line.strip().split("  (")[0].lstrip("-> ") for line in block.splitlines()
                        if "Scan" in line and "(" in line})
        print(f"  {query[:90]}…\n      " + "; ".join(scans))


if __name__ == "__main__":
    main()
