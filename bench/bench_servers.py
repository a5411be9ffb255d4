"""Benchmark: the portal against tipg and stock pygeoapi, on the same published view, same run.

Three servers (plus ours without the gate), 2 workers each, side by side on the
database of a demo (``PORTAIL_STATE_DIR`` of ``make demo``), reading the same
materialised view ``diffusion.parc_residence`` (millésime 2025, what ours serves by
default; the others are asked ``millesime=2025``):

- **ours**: the production app (``portail.app``: gate, access log, metrics), gunicorn;
- **ours, no gate**: the same app built without the gate (this benchmark's factory only);
- **stock**: pygeoapi 0.21's own ``PostgreSQL`` provider (SQLAlchemy/psycopg2) in its
  best setting (the lon/lat copy ``geom_4326`` as geometry: no reprojection), gunicorn;
- **tipg**: developmentseed's tipg (FastAPI + asyncpg) under uvicorn, from a separate
  virtualenv (``--tipg-python``; ``python -m venv /tmp/tipg-venv &&
  /tmp/tipg-venv/bin/pip install tipg uvicorn``; nothing of it is in this repository),
  geometry column ``geom_4326``.

Load: ``wrk`` (Debian package ``wrk``), ``--connections`` (8) for ``--seconds`` per
measure, measures alternated between servers over ``--rounds`` rounds (the median is
printed). Queries: items ``limit=100`` and ``limit=1000`` (the same URL again and
again: ours answers from its per-data-version cache), **random 2 × 1.5 km boxes over
the MEL** (``limit=100``, every request a new box: nothing cached), a CQL filter, and
deep paging (10 pages followed through each server's own ``next`` links, from a page
near the end). Then the same on a national-size table (the view tiled
``--national-tiles`` times over France: 117 tiles, 1.7 million rows, about 575,000 per millésime, the national estimate of docs/operations.md), and the gate's
cost on the random-bbox workload.

    PORTAIL_STATE_DIR=/tmp/state-demo .venv/bin/python bench/bench_servers.py \\
        --tipg-python /tmp/tipg-venv/bin/python

Needs the test extra (sqlalchemy, geoalchemy2, psycopg2-binary for the stock provider).
"""
from __future__ import annotations

import argparse
import base64
import copy
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql
import requests
import yaml

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

LOGIN = "bench.servers"
VIEW = "parc_residence"
NATIONAL = "bench_parc_residence_national"
MILLESIME = 2025
MEL = (2.80, 50.50, 3.30, 50.80)          # lon/lat box the random boxes are drawn in
BOX_M = (2000.0, 1500.0)                  # width, height of a box in metres
CQL = "nb_logements >= 20 AND statut_secret = 'P'"
WRK_THREADS = 2    # each thread walks its own share of the boxes: no box is asked twice
BOXES = 8000       # per measure: more than the requests of one measure


def app():
    """gunicorn factory of this benchmark: the production app, or (BENCH_NO_GATE=1) no gate."""
    from portail.app import build_app, create_app
    from portail.settings import get_settings
    if os.environ.get("BENCH_NO_GATE") == "1":
        return build_app(get_settings(), gate=False)
    return create_app()


# -- data -----------------------------------------------------------------------------------------
def national_table(owner_dsn: str, tiles: int) -> int:
    """The view tiled over France (translated in Lambert-93), as a table of diffusion."""
    with psycopg.connect(owner_dsn, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        columns = [r[0] for r in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'diffusion.parc_residence'::regclass "
            "AND attnum > 0 AND NOT attisdropped ORDER BY attnum")]
        plain = [c for c in columns if c not in ("id", "geom", "geom_4326")]
        table, view = sql.Identifier("diffusion", NATIONAL), sql.Identifier("diffusion", VIEW)
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
        shifted = sql.SQL("ST_Translate(r.geom, -(t.k %% 8) * 60000, -(t.k / 8) * 60000)")
        conn.execute(sql.SQL("""
            CREATE TABLE {table} AS
            SELECT r.id || '-t' || t.k AS id, {columns},
                   {shifted}::geometry(Point, 2154) AS geom,
                   ST_Transform({shifted}, 4326)::geometry(Point, 4326) AS geom_4326
            FROM {view} r, generate_series(0, %s) AS t(k)""").format(
                table=table, view=view, shifted=shifted,
                columns=sql.SQL(", ").join(sql.Identifier("r", c) for c in plain)),
            [int(tiles) - 1])
        conn.execute(sql.SQL("ALTER TABLE {} ADD PRIMARY KEY (id)").format(table))
        conn.execute(sql.SQL("CREATE INDEX ON {} (millesime, residence_id)").format(table))
        conn.execute(sql.SQL("CREATE INDEX ON {} USING gist (geom)").format(table))
        conn.execute(sql.SQL("CREATE INDEX ON {} USING gist (geom_4326)").format(table))
        conn.execute(sql.SQL("ANALYZE {}").format(table))
        return conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()[0]


def random_boxes(n: int, tiles: int, seed: int) -> list[str]:
    """``n`` boxes of BOX_M metres, lon/lat, drawn in the MEL (in a random tile if tiles > 1)."""
    from pyproj import Transformer
    to_l93 = Transformer.from_crs(4326, 2154, always_xy=True)
    to_ll = Transformer.from_crs(2154, 4326, always_xy=True)
    x0, y0 = to_l93.transform(MEL[0], MEL[1])
    x1, y1 = to_l93.transform(MEL[2], MEL[3])
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        k = rnd.randrange(tiles) if tiles > 1 else 0
        x = rnd.uniform(x0, x1 - BOX_M[0]) - (k % 8) * 60000
        y = rnd.uniform(y0, y1 - BOX_M[1]) - (k // 8) * 60000
        lo = to_ll.transform(x, y)
        hi = to_ll.transform(x + BOX_M[0], y + BOX_M[1])
        out.append(f"{lo[0]:.6f},{lo[1]:.6f},{hi[0]:.6f},{hi[1]:.6f}")
    return out


# -- servers --------------------------------------------------------------------------------------
class Server:
    def __init__(self, name, base, collections, extra, process, headers=None, fmt="json"):
        self.name, self.base, self.collections = name, base, collections
        self.extra, self.process, self.headers, self.fmt = extra, process, headers or {}, fmt

    def url(self, table: str, params: str) -> str:
        extra = "&".join(x for x in (self.extra, params) if x)
        return f"{self.base}/collections/{self.collections[table]}/items?f={self.fmt}&{extra}"


def wait_up(url: str, process, headers=None, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: the server stopped (see its log)")
        try:
            if requests.get(url, headers=headers, timeout=10).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url}: no answer after {seconds:.0f} s")


def start(cmd, env, log: Path, cwd=REPO):
    return subprocess.Popen(cmd, env=env, cwd=str(cwd), stdout=open(log, "ab"),
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)


def stock_provider(table: str, dsn: dict, properties: list[str]) -> dict:
    return {"type": "feature", "name": "PostgreSQL",
            "data": {"host": dsn["host"], "port": int(dsn["port"]), "dbname": dsn["dbname"],
                     "user": dsn["user"], "password": dsn["password"],
                     "search_path": ["diffusion", "public"]},
            "id_field": "id", "table": table, "geom_field": "geom_4326",
            "properties": properties}


def ours_provider(table: str) -> dict:
    return {"type": "feature", "name": "providers.published.PublishedViewProvider",
            "data": {"view": table}, "id_field": "id", "time_field": "millesime",
            "geom_field": "geom", "storage_crs": "http://www.opengis.net/def/crs/EPSG/0/2154",
            "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84",
                    "http://www.opengis.net/def/crs/EPSG/0/2154"]}


def collection(title: str, provider: dict) -> dict:
    return {"type": "collection", "title": title, "description": title, "keywords": ["bench"],
            "extents": {"spatial": {"bbox": [-5, 41, 10, 52]},
                        "temporal": {"begin": "2014-01-01T00:00:00Z", "end": None}},
            "providers": [provider]}


# -- load -----------------------------------------------------------------------------------------
LUA = """
local boxes = {}
for line in io.lines("%(boxes)s") do boxes[#boxes + 1] = line end
local counter = 0
local thread_id = 0
setup = function(thread) thread:set("id", thread_id); thread_id = thread_id + 1 end
init = function(args) counter = id * math.floor(#boxes / %(threads)d) end
request = function()
  counter = counter + 1
  local path = "%(path)s"
  if #boxes > 0 then path = path .. "&bbox=" .. boxes[(counter %% #boxes) + 1] end
  return wrk.format("GET", path, %(headers)s)
end
local bad = 0
response = function(status, headers, body) if status ~= 200 then bad = bad + 1 end end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%f %%d %%d\\n", summary.requests / (summary.duration / 1e6),
                         summary.errors.status + summary.errors.connect + summary.errors.read
                         + summary.errors.timeout, summary.requests))
end
"""


def wrk(url: str, seconds: float, connections: int, headers: dict, boxes: list[str],
        work: Path) -> float:
    """Requests per second of ``url`` (each request with the next box of ``boxes``, if any)."""
    path = url.split("://", 1)[1]
    host, _, path = path.partition("/")
    box_file = work / f"boxes-{time.monotonic_ns()}.txt"
    box_file.write_text("\n".join(boxes) + ("\n" if boxes else ""))
    lua_headers = "{" + ", ".join(f'["{k}"] = "{v}"' for k, v in headers.items()) + "}"
    script = work / "wrk.lua"
    script.write_text(LUA % {"boxes": box_file, "path": "/" + path, "headers": lua_headers,
                             "threads": WRK_THREADS})
    out = subprocess.run(["wrk", "-t", str(WRK_THREADS), "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
                          "--timeout", "30s", "-s", str(script), f"http://{host}"],
                         capture_output=True, text=True, timeout=seconds + 120)
    match = re.search(r"RESULT ([0-9.]+) (\d+) (\d+)", out.stdout)
    if not match:
        raise SystemExit(f"wrk failed on {url}:\n{out.stdout}\n{out.stderr}")
    rate, errors, total = float(match.group(1)), int(match.group(2)), int(match.group(3))
    if errors:
        raise SystemExit(f"{url}: {errors} errors out of {total} requests")
    return rate


def follow_next(server: Server, table: str, params: str, matched: int, pages: int = 10) -> float:
    """Median ms of ``pages`` pages followed through the server's own next links, from a
    page near the end (reached with a bare offset, not timed)."""
    deep = max(0, matched - (pages + 2) * 100)
    body = requests.get(server.url(table, f"{params}&offset={deep}"), headers=server.headers,
                        timeout=600).json()
    times = []
    for _ in range(pages):
        href = next((l["href"] for l in body.get("links", []) if l.get("rel") == "next"), None)
        if href is None:
            break
        t0 = time.perf_counter()
        r = requests.get(href, headers=server.headers, timeout=600)
        times.append((time.perf_counter() - t0) * 1000)
        body = r.json()
    return statistics.median(times) if times else float("nan")


def matched_of(server: Server, table: str, params: str) -> int:
    body = requests.get(server.url(table, params), headers=server.headers, timeout=600).json()
    return int(body.get("numberMatched", -1))


def print_ratios(results, ours="ours"):
    print(f"\n  {'query':34} {'ours req/s':>10} {'tipg':>8} {'stock':>8} {'÷ tipg':>7} {'÷ stock':>8}")
    for label, r in results.items():
        print(f"  {label:34} {r[ours]:10.1f} {r['tipg']:8.1f} {r['stock']:8.1f} "
              f"{r[ours] / r['tipg']:6.2f}× {r[ours] / r['stock']:7.2f}×")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--national-tiles", type=int, default=117)
    parser.add_argument("--skip-national", action="store_true")
    parser.add_argument("--tipg-python", default=os.environ.get("TIPG_PYTHON",
                                                               "/tmp/tipg-venv/bin/python"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", "5710")))
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))   # stop the servers on kill too
    if shutil.which("wrk") is None:
        raise SystemExit("wrk est requis : apt-get install wrk")
    if not Path(args.tipg_python).exists():
        raise SystemExit(f"tipg introuvable ({args.tipg_python}) : python3 -m venv /tmp/tipg-venv "
                         "&& /tmp/tipg-venv/bin/pip install tipg uvicorn")

    from auth.accounts import set_account
    from auth.passwords import generate_password
    from portail.settings import GATE_ROLE, OWNER_ROLE, SERVICE_ROLE, load_settings
    demo = load_settings()
    with psycopg.connect(demo.owner_dsn()) as conn:
        rows = conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE millesime = %s").format(sql.Identifier("diffusion", VIEW)),
                            [MILLESIME]).fetchone()[0]
    if not rows:
        raise SystemExit(f"diffusion.{VIEW} n'a pas de millésime {MILLESIME} : lancez sur la base "
                         "d'une démo (PORTAIL_STATE_DIR de make demo)")
    work = Path(tempfile.mkdtemp(prefix="portail-bench-servers-", dir="/tmp"))
    os.chmod(work, 0o755)
    processes = []
    try:
        tiles = 0
        if not args.skip_national:
            t0 = time.perf_counter()
            n = national_table(demo.owner_dsn(), args.national_tiles)
            tiles = args.national_tiles
            print(f"national table: {n:,} rows ({args.national_tiles} tiles of "
                  f"diffusion.{VIEW}) in {time.perf_counter() - t0:.0f} s", flush=True)
        password = generate_password()
        set_account(demo.owner_dsn(), LOGIN, password)
        auth = {"Authorization": "Basic " + base64.b64encode(f"{LOGIN}:{password}".encode()).decode()}

        ports = {name: args.port + i for i, name in enumerate(("ours", "open", "stock", "tipg"))}
        production = yaml.safe_load((REPO / "pygeoapi-config.yml").read_text())
        with psycopg.connect(demo.owner_dsn()) as conn:
            properties = [r[0] for r in conn.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = 'diffusion.parc_residence'::regclass "
                "AND attnum > 0 AND NOT attisdropped AND attname NOT IN ('geom', 'geom_4326') "
                "ORDER BY attnum")]
        # ours (gated and not): the production config plus the national table
        ours_conf = copy.deepcopy(production)
        if tiles:
            ours_conf["resources"]["national"] = collection("national", ours_provider(NATIONAL))
        (work / "ours.yml").write_text(yaml.safe_dump(ours_conf, allow_unicode=True))
        env_base = {**os.environ, "PYTHONPATH": str(REPO), "PYGEOAPI_CONFIG": str(work / "ours.yml"),
                    "DATABASE_URL": demo.admin_dsn(), "OWNER_DATABASE_URL": demo.role_dsn(OWNER_ROLE),
                    "SERVICE_DATABASE_URL": demo.role_dsn(SERVICE_ROLE),
                    "GATE_DATABASE_URL": demo.role_dsn(GATE_ROLE)}
        for name, gate in (("ours", True), ("open", False)):
            state = work / name
            state.mkdir()
            shutil.copy(demo.state_dir / "secrets.json", state / "secrets.json")
            env = {**env_base, "PORTAIL_STATE_DIR": str(state),
                   "PORTAIL_URL": f"http://127.0.0.1:{ports[name]}",
                   "BENCH_NO_GATE": "0" if gate else "1"}
            processes.append(start([sys.executable, "-m", "gunicorn", "--bind",
                                    f"127.0.0.1:{ports[name]}", "--workers", str(args.workers),
                                    "--no-control-socket", "--timeout", "600",
                                    "bench.bench_servers:app()"], env, work / f"{name}.log"))
        # stock pygeoapi
        dsn = psycopg.conninfo.conninfo_to_dict(demo.role_dsn(SERVICE_ROLE))
        stock_conf = copy.deepcopy(production)
        stock_conf["server"]["url"] = f"http://127.0.0.1:{ports['stock']}"
        stock_conf["server"]["manager"] = {"name": "Dummy", "connection": "", "output_dir": "/tmp"}
        stock_conf["resources"] = {"parc": collection("parc", stock_provider(VIEW, dsn, properties))}
        if tiles:
            stock_conf["resources"]["national"] = collection(
                "national", stock_provider(NATIONAL, dsn, properties))
        (work / "stock.yml").write_text(yaml.safe_dump(stock_conf, allow_unicode=True))
        from pygeoapi.openapi import generate_openapi_document
        os.environ["PORTAIL_URL"] = stock_conf["server"]["url"]
        (work / "stock-openapi.yml").write_text(generate_openapi_document(work / "stock.yml", "yaml"))
        env = {**os.environ, "PYGEOAPI_CONFIG": str(work / "stock.yml"),
               "PYGEOAPI_OPENAPI": str(work / "stock-openapi.yml"),
               "PORTAIL_URL": stock_conf["server"]["url"],
               "PORTAIL_TEMPLATES": str(REPO / "carte" / "pygeoapi_templates")}
        processes.append(start([sys.executable, "-m", "gunicorn", "--bind",
                                f"127.0.0.1:{ports['stock']}", "--workers", str(args.workers),
                                "--no-control-socket", "--timeout", "600", "pygeoapi.flask_app:APP"],
                               env, work / "stock.log"))
        # tipg (its own virtualenv); the owner role: tipg creates its catalogue functions
        # in pg_temp, which the read-only service role cannot.
        owner = psycopg.conninfo.conninfo_to_dict(demo.role_dsn(OWNER_ROLE))
        tables = [f"diffusion.{VIEW}"] + ([f"diffusion.{NATIONAL}"] if tiles else [])
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TIPG_", "DATABASE_URL"))}
        env.update({"DATABASE_URL": f"postgresql://{owner['user']}:{owner['password']}@"
                                    f"{owner['host']}:{owner['port']}/{owner['dbname']}",
                    "TIPG_DB_SCHEMAS": '["diffusion"]', "TIPG_DB_TABLES": json.dumps(tables),
                    "TIPG_MAX_FEATURES_PER_QUERY": "10000", "TIPG_DEBUG": "false"})
        for t in tables:
            env[f"TIPG_TABLE_CONFIG__{t}__GEOMCOL"] = "geom_4326"
            env[f"TIPG_TABLE_CONFIG__{t}__PK"] = "id"
        processes.append(start([args.tipg_python, "-m", "uvicorn", "tipg.main:app", "--host",
                                "127.0.0.1", "--port", str(ports["tipg"]), "--workers",
                                str(args.workers), "--no-access-log", "--log-level", "warning"],
                               env, work / "tipg.log", cwd=work))

        ours = Server("ours", f"http://127.0.0.1:{ports['ours']}",
                      {"mel": "parc_residences", "nat": "national"}, "", processes[0], auth)
        open_ = Server("open", f"http://127.0.0.1:{ports['open']}",
                       {"mel": "parc_residences", "nat": "national"}, "", processes[1], auth)
        stock = Server("stock", f"http://127.0.0.1:{ports['stock']}",
                       {"mel": "parc", "nat": "national"}, f"millesime={MILLESIME}", processes[2])
        tipg = Server("tipg", f"http://127.0.0.1:{ports['tipg']}",
                      {"mel": f"diffusion.{VIEW}", "nat": f"diffusion.{NATIONAL}"},
                      f"millesime={MILLESIME}", processes[3], fmt="geojson")
        for s in (ours, open_, stock, tipg):
            wait_up(s.url("mel", "limit=1"), s.process, s.headers)

        cql_ours = "filter=" + requests.utils.quote(CQL)
        queries = [("items limit=100", "limit=100", False),
                   ("items limit=1000", "limit=1000", False),
                   ("random 2×1.5 km bbox, limit=100", "limit=100", True),
                   ("CQL " + CQL, f"limit=100&{cql_ours}", False)]
        tipg_params = {"CQL " + CQL: f"limit=100&filter-lang=cql2-text&{cql_ours}"}

        def run(table, label_prefix):
            box = "3.04,50.62,3.09,50.65"   # Lille centre (tile 0 of the national table)
            counts = {s.name: matched_of(s, table, f"limit=1&bbox={box}") for s in (ours, stock, tipg)}
            print(f"\n{label_prefix}: same rows on the three servers? numberMatched of one box: "
                  f"{counts}", flush=True)
            print(f"  req/s, {args.connections} connections, {args.workers} workers each, "
                  f"median of {args.rounds} rounds of {args.seconds:.0f} s:")
            results = {}
            for label, params, with_boxes in queries:
                servers = (ours, tipg, stock)
                per_server = []
                for s in servers:
                    p = tipg_params.get(label, params) if s is tipg else params
                    per_server.append((s, p))
                res = {}
                for s, p in per_server:
                    res[s.name] = None
                samples = {s.name: [] for s, _ in per_server}
                for r in range(args.rounds):
                    order = per_server if r % 2 == 0 else per_server[::-1]
                    for s, p in order:
                        if r == 0:
                            wrk(s.url(table, p), 2, args.connections, s.headers,
                                random_boxes(300, tiles if table == "nat" else 1, seed=99 + r)
                                if with_boxes else [], work)
                        boxes = random_boxes(BOXES, tiles if table == "nat" else 1,
                                             seed=1000 * r + len(samples[s.name]) + hash(s.name) % 97) \
                            if with_boxes else []
                        samples[s.name].append(wrk(s.url(table, p), args.seconds,
                                                   args.connections, s.headers, boxes, work))
                results[label] = {n: statistics.median(v) for n, v in samples.items()}
                print(f"  {label:38} " + "  ".join(f"{n} {statistics.median(v):7.1f} {[round(x) for x in v]}"
                                                      for n, v in samples.items()), flush=True)
            print_ratios(results)
            matched = {s.name: matched_of(s, table, "limit=1") for s in (ours, stock, tipg)}
            print(f"\n  deep paging ({label_prefix}, numberMatched {matched}): median ms of 10 pages "
                  "followed through each server's next links, from near the end:")
            for s in (ours, tipg, stock):
                print(f"    {s.name:6} {follow_next(s, table, 'limit=100', matched[s.name]):9.1f} ms",
                      flush=True)
            return results

        run("mel", f"MEL (diffusion.{VIEW}, millésime {MILLESIME}: {rows:,} rows)")
        if tiles:
            run("nat", f"national size ({n:,} rows, millésime {MILLESIME}: about {rows * tiles:,})")

        print("\nThe gate's cost, random-bbox workload (ours authenticated vs the same app "
              "without the gate), alternated rounds:")
        gated, open_rates = [], []
        url_params = "limit=100"
        for r in range(max(4, args.rounds * 2)):
            pair = (ours, open_) if r % 2 == 0 else (open_, ours)
            for s in pair:
                rate = wrk(s.url("mel", url_params), args.seconds, args.connections, s.headers,
                           random_boxes(BOXES, 1, seed=5000 + 10 * r + (s is ours)), work)
                (gated if s is ours else open_rates).append(rate)
        ratio = statistics.median(g / o for g, o in zip(gated, open_rates))
        print(f"  with the gate    {statistics.median(gated):7.1f} req/s  {[round(x) for x in gated]}")
        print(f"  without the gate {statistics.median(open_rates):7.1f} req/s  {[round(x) for x in open_rates]}")
        print(f"  ratio (median of paired rounds) {ratio:.2f}× (target ≥ 0.9)")
    finally:
        for p in processes:
            try:
                os.killpg(p.pid, 15)
            except ProcessLookupError:
                pass
        for p in processes:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, 9)
        if not args.skip_national:
            with psycopg.connect(demo.owner_dsn(), autocommit=True) as conn:
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier("diffusion", NATIONAL)))
        try:
            with psycopg.connect(demo.owner_dsn(), autocommit=True) as conn:
                conn.execute("UPDATE register.account SET disabled_at = now() "
                             "WHERE login = %s AND disabled_at IS NULL", [LOGIN])
        except psycopg.Error:
            pass
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
