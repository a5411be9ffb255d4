"""Compare the portal's answers before and after a refactoring, on one demo database.

The issue of the ``request-path`` branch asks: « Behaviour unchanged: the API, exports,
fiches, map and secrecy answer exactly as before (compare responses before and after
on the demo data) ». This script makes that comparison, end to end:

1. two source trees: ``--before`` (default: a git worktree at /tmp/before-tree of
   ``--before-ref``, the last commit before the request-path refactoring, created when missing) and ``--after`` (default: the tree that holds
   this script). Each is checked to be the one Python imports when it is first on
   ``PYTHONPATH`` (the package is installed in editable mode in the virtualenv);
2. one demo database, built once by the *after* tree's ``portail-lls demo`` in a state
   folder of its own (``--state-dir``; its cluster takes a free port from 54329 up, as
   ``portail.cluster`` does; its server is stopped again); then a check that both trees define
   the same objects: the *before* tree's migrations are applied to a scratch database of
   the same cluster and its catalogue (relations of ``core``, ``diffusion``, ``register``,
   ``jobs``, ``staging``: kind, columns, view text, indexes, owner, grants; functions)
   is compared with the demo database's;
3. both apps under gunicorn on that one database, each from its own tree (first on
   ``PYTHONPATH``, gunicorn's command line taken from the tree's own
   ``portail.server.gunicorn_command``) and with its own state folder for what an app
   writes (OpenAPI document, metrics, pid file; the cluster folder and the role
   passwords are shared): before ``auth.gate:create_app()``, after
   ``portail.app:create_app()``; their URL maps are compared too;
4. the same requests to both, authenticated as the demo account (password in
   ``<state-dir>/demo-password``) unless the request is about the gate: every collection
   of the configuration (description, items with many parameters, bbox in four CRS,
   millésimes, CQL2, paging followed through the ``next`` links, queryables, schema,
   bad values), the landing page, conformance, OpenAPI, the processes (export: XLSX,
   CSV, GeoPackage, JSON document, errors, an asynchronous job; fiche), the fiche
   pages, the map page and its data endpoints, the dictionary pages, ``/health``,
   ``/ready``, ``/metrics`` (names only), 401s; then, the database stopped, what each
   app answers without it;
5. the secrecy audit (``portail-lls audit secret``) of both trees on the demo data
   (``--no-audit`` to skip it).

Answers are normalised only where they legitimately differ (server port in URLs,
``timeStamp`` and other instants, job identifiers, dates inside XLSX/GeoPackage/PDF
files, order of JSON keys) and compared: status, the headers that carry meaning, body.
A difference is *expected* only when it is listed in ``EXPECTED`` (with its reason) and
its check accepts it (e.g. for a bbox: only features in the band between the two
selections differ, everything else identical). Exit status 0 when every difference is
expected, 1 otherwise.

Run it from the after tree (its virtualenv serves both trees when their dependencies
match; ``--before-python`` otherwise):

    cd /work/wt-request && .venv/bin/python bench/compare_responses.py

    .venv/bin/python bench/compare_responses.py --before /tmp/before-tree --after . \\
        --state-dir /tmp/state-compare --ports 5811,5812 --report /tmp/compare.json \\
        [--only REGEX] [--no-audit] [--no-outage] [--keep-running] [--verbose]

The servers it started and the cluster (``portail-lls db stop``) are stopped at the end,
unless ``--keep-running``.
"""
from __future__ import annotations

import argparse
import difflib
import hashlib
import io
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

import psycopg
from psycopg import sql
import requests
import yaml

AFTER_DEFAULT = Path(__file__).resolve().parent.parent
BEFORE_DEFAULT = Path("/tmp/before-tree")
MAIN_REPO = AFTER_DEFAULT            # the worktree of --before-ref is made from this repository

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}".format
# Boxes drawn over the demo data: Lille centre, and Roubaix-Tourcoing (lon/lat).
BOXES = {"lille": (3.02, 50.60, 3.10, 50.66), "roubaix": (3.12, 50.66, 3.22, 50.73)}
# Headers compared (the others: date, server, length, request id… say nothing of behaviour).
HEADERS = ("content-type", "content-disposition", "location", "www-authenticate",
           "retry-after", "cache-control", "content-crs", "content-language",
           "preference-applied", "vary", "content-encoding", "allow")
PACKAGES = ("portail", "providers", "auth", "carte", "processes", "data_dictionary", "etl")


# =============================================================================================
# Expected differences
# =============================================================================================
@dataclass
class Expected:
    key: str
    requests: str      # regex on the request name
    reason: str
    accepts: Callable[["Req", "Answer", "Answer"], str | None]  # None: not of this kind


def _bbox_band_only(req, before, after):
    if req.meta.get("hits"):
        return bbox_hits_consistent(req, before, after)
    return bbox_difference(req, before, after)


def _module_paths_only(req, before, after):
    if before.status != after.status or before.headers != after.headers:
        return None
    if rename_modules(before.text) == rename_modules(after.text):
        return "only module paths differ"
    return None


def _repeatable_view_table(req, before, after):
    extra = set(after.data) - set(before.data)
    missing = set(before.data) - set(after.data)
    changed = {k for k in set(before.data) & set(after.data) if before.data[k] != after.data[k]}
    if extra == {"table portail_meta.repeatable_view"} and not missing and not changed:
        return "the only extra object is portail_meta.repeatable_view"
    return None


def _cql2_links_only(req, before, after):
    """The CQL2 filter now repeated in the links (before, they dropped it: following
    ``next`` returned unfiltered rows)."""
    if what_differs(before, after) != "only the links differ":
        return None
    links = [l["href"] for l in after.data.get("links", []) if "filter-lang=cql2" in l["href"]]
    if links and all("filter=" in href for href in links):
        return "only the links differ, and each repeats the filter"
    return None


def _html_next_removed(req, before, after):
    """pygeoapi's spurious next link and button on a full last page, gone from the HTML."""
    if before.status != after.status or 'rel="next"' not in before.text \
            or 'rel="next"' in after.text:
        return None
    if set(after.text.splitlines()) <= set(before.text.splitlines()):
        return "lines removed only, the next link among them"
    return None


def _conformance_html_as_json(req, before, after):
    """The HTML page lists what the JSON answer lists: no Part 4, the CQL2 classes."""
    found = lambda a: set(re.findall(r'href="(http://www\.opengis\.net/spec/[^"]+)"', a.text))  # noqa: E731
    gone, added = found(before) - found(after), found(after) - found(before)
    if gone == {"http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete"} \
            and added and all("/cql2/" in c or "features-3" in c for c in added):
        return f"Part 4 no longer claimed; {len(added)} filter/CQL2 classes listed"
    return None


def _bbox_six_numbers(req, before, after):
    """A 3D box (minx, miny, minz, maxx, maxy, maxz): after, every feature meets the 2D
    box; before mixed the coordinates up (``bbox[:2] + bbox[-2:]``)."""
    a, b = before.data, after.data
    if not isinstance(b, dict) or after.status != 200 or b.get("numberReturned") != b.get("numberMatched"):
        return None
    exact, _ = _boxes_l93((3.02, 50.60, 3.10, 50.66), CRS84)
    if all(_geometry_l93(f["geometry"], CRS84).distance(exact) < 0.5 for f in b["features"]):
        return f"after: {len(b['features'])} features, all in the 2D box (before: " \
               f"{len(a.get('features', [])) if isinstance(a, dict) else '?'})"
    return None


def _map_band_only(req, before, after):
    """The map's data endpoint reads through the same read model: the lon/lat box change."""
    note = map_band_note(req, before, after)
    match = note and re.search(r"the farthest is ([0-9.]+) m", note)
    if match and float(match.group(1)) <= 25.0:
        return note
    # An answer cut at its feature limit: an edge feature leaving lets the next one in at
    # the end of the list (as many leave as come, a handful at most).
    counts = note and re.match(r"(\d+) feature\(s\) only before, (\d+) only after", note)
    if counts and "truncated" in note and counts.group(1) == counts.group(2) \
            and int(counts.group(1)) <= 3:
        return note
    return None


def _paging_after_unfiltered_link(req, before, after):
    """Paging with a CQL2 filter in the query string: before, page 1's next link had lost
    the filter, so its page 2 onwards are unfiltered rows; after's links keep it."""
    links = lambda a: [l["href"] for l in a.data.get("links", [])] if isinstance(a.data, dict) else []  # noqa: E731
    if any("filter=" in h for h in links(before)) or not links(after):
        return None
    if all("filter=" in h for h in links(after) if "filter-lang=cql2" in h):
        return "before followed its own next link, which had dropped the filter"
    return None


EXPECTED = [
    Expected("bbox-lonlat",
             r"bbox=(lille|roubaix) (CRS84|EPSG:4326|EPSG:3857)",
             "a lon/lat box now selects exactly the lon/lat rectangle (reprojected in "
             "PostGIS); before, pygeoapi projected its two corners to Lambert-93, so features "
             "a few metres from the edge could flip side (a box in EPSG:3857 is a lon/lat "
             "rectangle too: same change)",
             _bbox_band_only),
    Expected("module-paths", r".*",
             "modules moved (providers.pool -> portail.pools, providers.web -> "
             "portail.pygeoapi_seam, auth.gate app -> portail.app …): messages that name them",
             _module_paths_only),
    Expected("cql2-links", r".",
             "links now repeat a CQL2 filter given in the query string (before they dropped "
             "it: the next page was unfiltered)", _cql2_links_only),
    Expected("html-next", r"full last page f=html$",
             "no next link or button on a full last page in HTML either (the JSON already "
             "had none)", _html_next_removed),
    Expected("conformance-html", r"^conformance f=html$",
             "the HTML page lists the classes of the JSON answer (before: pygeoapi's raw list, "
             "with Part 4 and without CQL2)", _conformance_html_as_json),
    Expected("bbox-6-numbers", r"items bbox 6 numbers$",
             "a 3D box now selects its 2D rectangle (before: coordinates mixed up)",
             _bbox_six_numbers),
    Expected("cql2-paging", r"paging cql2 page ([2-9]|[1-9][0-9]+)$",
             "before's paging through a CQL2 filter went on unfiltered after page 1",
             _paging_after_unfiltered_link),
    Expected("map-bbox-lonlat", r"^carte .* (bbox(=| millesime)|famille=)",
             "the map's layers read through the read model: a lon/lat box tested on the "
             "lon/lat geometry (before: reprojected box), features within metres of the edge",
             _map_band_only),
    Expected("repeatable-views", r"^schema: catalogue$",
             "the after tree records the view files it applied in portail_meta.repeatable_view",
             _repeatable_view_table),
]

MODULE_RENAMES = [
    ("providers.pool", "portail.pools"), ("providers.web", "portail.pygeoapi_seam"),
    ("providers.cache", "diffusion.cache"), ("processes.jobs.web", "portail.pygeoapi_seam"),
    ("auth.gate._build_app", "portail.app.build_app"), ("auth.gate.create_app",
                                                         "portail.app.create_app"),
    ("auth.gate.prepare_pygeoapi", "portail.app.prepare_pygeoapi"),
]


def rename_modules(text: str) -> str:
    for old, new in MODULE_RENAMES:
        text = text.replace(old, new)
    return text


# =============================================================================================
# Small helpers
# =============================================================================================
def say(*parts) -> None:
    print(*parts, flush=True)


def run(cmd, env=None, cwd=None, check=True, timeout=None, quiet=False) -> subprocess.CompletedProcess:
    if not quiet:
        say("  $", " ".join(str(c) for c in cmd))
    res = subprocess.run([str(c) for c in cmd], env=env, cwd=cwd, capture_output=True,
                         text=True, timeout=timeout)
    if check and res.returncode != 0:
        raise SystemExit(f"command failed ({res.returncode}): {' '.join(map(str, cmd))}\n"
                         f"{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    return res


def tree_env(tree: Path, state_dir: Path, port: int | None = None, **extra) -> dict:
    """The environment of one tree: its code first, its state folder, nothing inherited
    that would point elsewhere (database URLs, pygeoapi config, metrics folder)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "OWNER_DATABASE_URL", "SERVICE_DATABASE_URL",
                        "GATE_DATABASE_URL", "READ_DATABASE_URL", "PYGEOAPI_CONFIG",
                        "PYGEOAPI_OPENAPI", "PORTAIL_URL", "PORTAIL_TEMPLATES",
                        "PROMETHEUS_MULTIPROC_DIR", "METRICS_DIR", "PORT", "HOST",
                        "PYTHONPATH", "WEB_WORKERS", "WEB_THREADS")}
    env["PYTHONPATH"] = str(tree)
    env["PORTAIL_STATE_DIR"] = str(state_dir)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if port is not None:
        env["PORT"] = str(port)
        env["HOST"] = "127.0.0.1"
    env.update({k: str(v) for k, v in extra.items()})
    return env


def py(python: str, tree: Path, state_dir: Path, code: str, **extra) -> str:
    """Run ``code`` with ``tree`` first on the path (cwd /, so that only PYTHONPATH counts)."""
    res = run([python, "-c", code], env=tree_env(tree, state_dir, **extra), cwd="/",
              quiet=True)
    return res.stdout


# =============================================================================================
# 1. Trees
# =============================================================================================
def ensure_before_tree(path: Path, repo: Path, ref: str) -> None:
    if (path / "portail").is_dir():
        return
    say(f"before tree: git worktree of {repo} {ref} at {path}")
    run(["git", "-C", repo, "worktree", "add", "--detach", path, ref])


def check_imports(name: str, python: str, tree: Path, state_dir: Path) -> dict:
    code = ("import json, importlib; print(json.dumps({m: importlib.import_module(m).__file__ "
            f"for m in {PACKAGES!r}}}))")
    files = json.loads(py(python, tree, state_dir, code).strip().splitlines()[-1])
    wrong = {m: f for m, f in files.items() if not Path(f).resolve().is_relative_to(tree.resolve())}
    say(f"  {name}: import portail -> {files['portail']}"
        + (f"  WRONG: {wrong}" if wrong else "  (all packages from this tree)"))
    if wrong:
        raise SystemExit(f"{name}: packages imported from another tree: {wrong}")
    return files


def check_dependencies(before_python: str, after_python: str) -> None:
    if Path(before_python).resolve() == Path(after_python).resolve():
        say(f"  one interpreter for both trees: {after_python}")
        return
    code = ("import json, importlib.metadata as m; print(json.dumps(sorted("
            "f'{d.metadata[\"Name\"].lower()}=={d.version}' for d in m.distributions())))")
    a = set(json.loads(run([before_python, "-c", code], quiet=True).stdout))
    b = set(json.loads(run([after_python, "-c", code], quiet=True).stdout))
    say(f"  dependencies only before: {sorted(a - b)[:10]}, only after: {sorted(b - a)[:10]}")


# =============================================================================================
# 2. Database
# =============================================================================================
def cluster_port(state_dir: Path) -> int:
    return json.loads((state_dir / "pgcluster" / "cluster.json").read_text())["port"]


def admin_dsn(state_dir: Path, dbname: str = "portail") -> str:
    return (f"host={state_dir / 'pgcluster' / 'data'} port={cluster_port(state_dir)} "
            f"user=postgres dbname={dbname}")


def build_demo(args) -> None:
    """The after tree's ``portail-lls demo`` (idempotent: a second run reuses everything),
    then its server stopped: the comparison starts its own two."""
    env = tree_env(args.after, args.state_dir, args.demo_port)
    say(f"demo database (after tree's portail-lls, state {args.state_dir}) …")
    res = run([args.after_python, "-m", "portail.cli", "demo", "--port", args.demo_port],
              env=env, cwd=args.after, timeout=3600)
    for line in res.stdout.splitlines():
        if "Données de démonstration" in line or "Cluster local" in line or "vue" in line:
            say("   ", line)
    run([args.after_python, "-m", "portail.cli", "server", "stop"], env=env, cwd=args.after,
        check=False)


CATALOGUE_SQL = """
SELECT CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'matview'
                      WHEN 'p' THEN 'table' ELSE c.relkind::text END || ' ' || n.nspname || '.' || c.relname,
       json_build_object(
         'owner', pg_get_userbyid(c.relowner), 'acl', c.relacl::text,
         'columns', (SELECT json_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                                     || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
                                     ORDER BY a.attnum)
                     FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0
                       AND NOT a.attisdropped),
         'definition', CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid, true) END,
         'indexes', (SELECT json_agg(pg_get_indexdef(i.indexrelid)
                                     ORDER BY pg_get_indexdef(i.indexrelid))
                     FROM pg_index i WHERE i.indrelid = c.oid),
         'constraints', (SELECT json_agg(conname || ' ' || pg_get_constraintdef(k.oid) ORDER BY conname)
                         FROM pg_constraint k WHERE k.conrelid = c.oid),
         'comment', obj_description(c.oid, 'pg_class'))::text
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname IN ('core', 'diffusion', 'register', 'jobs', 'staging', 'portail_meta')
  AND c.relkind IN ('r', 'v', 'm', 'p')
UNION ALL
SELECT 'function ' || n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
       json_build_object('owner', pg_get_userbyid(p.proowner), 'acl', p.proacl::text,
                         'definition', pg_get_functiondef(p.oid))::text
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname IN ('core', 'diffusion', 'register', 'jobs', 'staging', 'portail_meta')
UNION ALL
SELECT 'default privileges ' || coalesce(n.nspname, '*') || ' ' || d.defaclobjtype::text,
       json_build_object('owner', pg_get_userbyid(d.defaclrole), 'acl', d.defaclacl::text)::text
FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
"""


def catalogue(dsn: str) -> dict[str, dict]:
    with psycopg.connect(dsn) as conn:
        return {name: json.loads(desc) for name, desc in conn.execute(CATALOGUE_SQL)}


def compare_schema(args) -> "Result":
    """The before tree's migrations on a scratch database, catalogue against the demo's."""
    scratch = "portail_compare_before"
    say(f"schema: the before tree's migrations on a scratch database ({scratch}) …")
    with psycopg.connect(admin_dsn(args.state_dir, "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(scratch)))
        conn.execute(sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0").format(
            sql.Identifier(scratch)))
    try:
        env = tree_env(args.before, args.state_dir,
                       DATABASE_URL=admin_dsn(args.state_dir, scratch))
        run([args.before_python, "-m", "portail.cli", "db", "migrate"], env=env, cwd="/")
        before = catalogue(admin_dsn(args.state_dir, scratch))
        after = catalogue(admin_dsn(args.state_dir))
    finally:
        with psycopg.connect(admin_dsn(args.state_dir, "postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(scratch)))
    req = Req("schema: catalogue", "SCHEMA", "")
    a, b = Answer(0, {}, _catalogue_text(before), before), Answer(0, {}, _catalogue_text(after), after)
    views = sum(1 for k in after if k.startswith(("view ", "matview ")))
    say(f"  {len(before)} objects before, {len(after)} after ({views} views in the demo database)")
    return judge(req, a, b)


def _catalogue_text(cat: dict) -> str:
    return "\n".join(f"{k} {json.dumps(v, sort_keys=True, ensure_ascii=False)}"
                     for k, v in sorted(cat.items()))


def db_samples(args, config: dict) -> dict:
    """What the requests need from the data: millésimes, identifiers, a number and a text
    column with a value, codes for the fiches."""
    out = {}
    with psycopg.connect(admin_dsn(args.state_dir)) as conn:
        for cid, col in config.items():
            view, tf = col["view"], col["time_field"]
            cols = conn.execute(
                "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped "
                "ORDER BY a.attnum", [f"diffusion.{view}"]).fetchall()
            names = {n: t for n, t in cols}
            table = sql.Identifier("diffusion", view)
            millesimes = [r[0] for r in conn.execute(sql.SQL(
                "SELECT DISTINCT {tf} FROM {t} WHERE {tf} IS NOT NULL ORDER BY 1").format(
                    tf=sql.Identifier(tf), t=table))] if tf else []
            # rows of the latest millésime (all rows without a time field)
            where = (sql.SQL("WHERE {tf} = {m}").format(tf=sql.Identifier(tf),
                                                        m=sql.Literal(millesimes[-1]))
                     if millesimes else sql.SQL("WHERE true"))
            count = conn.execute(sql.SQL("SELECT count(*) FROM {t} {w}").format(
                t=table, w=where)).fetchone()[0]
            idf = col["id_field"]
            ids = [r[0] for r in conn.execute(sql.SQL(
                "SELECT {i} FROM {t} {w} ORDER BY {i} LIMIT 1 OFFSET %s").format(
                    i=sql.Identifier(idf), t=table, w=where), [count // 2])] if count else []
            number = next((n for n, t in cols if t.split("(")[0] in ("integer", "numeric", "bigint")
                           and n not in (tf, idf, "millesime", "millesime_cog")
                           and not n.startswith("statut")), None)
            threshold = None
            if number:
                threshold = conn.execute(sql.SQL(
                    "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY {n}) FROM {t} {w}").format(
                        n=sql.Identifier(number), t=table, w=where)).fetchone()[0]
                if threshold is not None:   # a Decimal: as the number a client writes
                    threshold = int(threshold) if threshold == int(threshold) else float(threshold)
            text = next((n for n in ("code", "nom", "code_insee", "stop_name", "typequ")
                         if n in names), None)
            text_value = conn.execute(sql.SQL(
                "SELECT {c} FROM {t} {w} AND {c} IS NOT NULL ORDER BY 1 LIMIT 1").format(
                    c=sql.Identifier(text), t=table, w=where)).fetchone()[0] if text else None
            out[cid] = {"columns": list(names), "millesimes": millesimes, "count": count,
                        "ids": ids, "number": number, "threshold": threshold,
                        "text": text, "text_value": text_value,
                        "secret": "statut_secret" in names,
                        "code_insee": "code_insee" in names}
        fiches = {
            "commune": [r[0] for r in conn.execute(
                "SELECT code FROM diffusion.parc_commune GROUP BY code ORDER BY code LIMIT 2")],
            "iris": [r[0] for r in conn.execute(
                "SELECT code FROM diffusion.parc_iris WHERE code LIKE '59350%' GROUP BY code "
                "ORDER BY code LIMIT 2")],
            "qpv": [r[0] for r in conn.execute(
                "SELECT code FROM diffusion.parc_qpv GROUP BY code ORDER BY code LIMIT 2")],
            "residence": [r[0] for r in conn.execute(
                "(SELECT residence_id FROM diffusion.parc_residence WHERE statut_secret = 'P' "
                " ORDER BY residence_id LIMIT 1) UNION ALL "
                "(SELECT residence_id FROM diffusion.parc_residence WHERE statut_secret = 'S' "
                " ORDER BY residence_id LIMIT 1)")],
        }
        out["_fiches"] = fiches
    return out


def clear_bookkeeping(args) -> None:
    """Failed logins of earlier runs (the 401 requests) must not lock the demo account, and
    jobs left by an interrupted run must not be the ones the one-shot workers run."""
    with psycopg.connect(admin_dsn(args.state_dir)) as conn:
        conn.execute("DELETE FROM register.login_throttle")
        conn.execute("DELETE FROM jobs.job")


# =============================================================================================
# 3. Servers
# =============================================================================================
@dataclass
class Server:
    name: str
    tree: Path
    python: str
    port: int
    factory: str
    prepare_module: str
    state: Path
    process: subprocess.Popen | None = None
    routes: list | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.state / "gunicorn.log"


def server_state(args, name: str) -> Path:
    """A state folder for one app: its own OpenAPI document, metrics and pid; the cluster
    folder and the role passwords of the demo's state folder."""
    state = args.state_dir / f"server-{name}"
    state.mkdir(parents=True, exist_ok=True)
    os.chmod(state, 0o755)
    link = state / "pgcluster"
    if not link.exists():
        link.symlink_to(args.state_dir / "pgcluster")
    shutil.copy2(args.state_dir / "secrets.json", state / "secrets.json")
    os.chmod(state / "secrets.json", 0o600)
    return state


def start_server(args, srv: Server) -> None:
    env = tree_env(srv.tree, srv.state, srv.port, WEB_WORKERS=args.workers,
                   REQUEST_TIMEOUT=300, PROMETHEUS_MULTIPROC_DIR=srv.state / "metrics")
    (srv.state / "metrics").mkdir(exist_ok=True)
    for leftover in (srv.state / "metrics").glob("*.db"):
        leftover.unlink()
    # The tree's own gunicorn command line (its factory, hooks and limits).
    command = json.loads(py(srv.python, srv.tree, srv.state,
                            "import json; from portail.settings import get_settings; "
                            "from portail.server import gunicorn_command; "
                            "print(json.dumps(gunicorn_command(get_settings())))",
                            PORT=srv.port, WEB_WORKERS=args.workers,
                            REQUEST_TIMEOUT=300).strip().splitlines()[-1])
    if command[-1] != srv.factory:
        raise SystemExit(f"{srv.name}: gunicorn factory {command[-1]!r}, {srv.factory!r} expected")
    # As `portail-lls server start`: the OpenAPI document regenerated first.
    py(srv.python, srv.tree, srv.state,
       f"from portail.settings import get_settings; from {srv.prepare_module} import "
       "prepare_pygeoapi; prepare_pygeoapi(get_settings(), regenerate=True)", PORT=srv.port)
    factory = srv.factory.removesuffix("()")
    module, func = factory.split(":")
    out = py(srv.python, srv.tree, srv.state,
             f"import json; from {module} import {func}; app = {func}(); "
             "print('ROUTES ' + json.dumps(sorted([r.rule, sorted(r.methods - {'HEAD', 'OPTIONS'}),"
             " r.endpoint] for r in app.url_map.iter_rules())))", PORT=srv.port)
    srv.routes = json.loads(next(line for line in out.splitlines()
                                 if line.startswith("ROUTES "))[7:])
    say(f"  {srv.name}: {' '.join(command[2:4])} … {command[-1]} on {srv.base} "
        f"({len(srv.routes)} routes)")
    log = open(srv.log, "ab")
    srv.process = subprocess.Popen(command, env=env, cwd=str(srv.tree), stdout=log,
                                   stderr=log, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if srv.process.poll() is not None:
            raise SystemExit(f"{srv.name}: gunicorn stopped, see {srv.log}")
        try:
            if requests.get(srv.base + "/health", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{srv.name}: no /health after 300 s, see {srv.log}")


def stop_server(srv: Server) -> None:
    if srv.process is None or srv.process.poll() is not None:
        return
    os.killpg(srv.process.pid, signal.SIGTERM)   # the session this script started
    try:
        srv.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(srv.process.pid, signal.SIGKILL)
        srv.process.wait()


# =============================================================================================
# 4. Requests, answers, normalisation
# =============================================================================================
@dataclass
class Req:
    name: str
    method: str
    path: str
    params: list = field(default_factory=list)
    json_body: object = None
    data: bytes | None = None
    headers: dict = field(default_factory=dict)
    auth: str | tuple | None = "demo"   # "demo", None (no credentials) or (login, password)
    meta: dict = field(default_factory=dict)


@dataclass
class Answer:
    status: int
    headers: dict
    text: str              # normalised body
    data: object = None    # parsed JSON (normalised) when there is one
    raw: bytes = b""
    seconds: float = 0.0
    raw_headers: dict = field(default_factory=dict)


@dataclass
class Result:
    req: Req
    verdict: str           # same | expected | different
    detail: str = ""
    expected_key: str = ""
    statuses: tuple = ()


class Client:
    def __init__(self, srv: Server, password: str, ports: list[int]):
        self.srv = srv
        self.session = requests.Session()
        self.password = password
        self.bases = re.compile("|".join(re.escape(f"http://127.0.0.1:{p}") for p in ports)
                                + "|" + "|".join(re.escape(f"http://localhost:{p}") for p in ports))

    def send(self, req: Req, url: str | None = None) -> Answer:
        auth = ("demo", self.password) if req.auth == "demo" else req.auth
        if url is None:
            url = self.srv.base + req.path
            params = req.params or None
        else:   # a link from a previous answer: the server's own URL
            params = None
        started = time.perf_counter()
        try:
            resp = self.session.request(req.method, url, params=params, json=req.json_body,
                                        data=req.data, headers=req.headers, auth=auth,
                                        timeout=600, allow_redirects=False)
        except requests.RequestException as exc:
            return Answer(-1, {}, f"request failed: {type(exc).__name__}: {exc}")
        seconds = time.perf_counter() - started
        return normalise(resp, self.bases, seconds)


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?")
TIME_KEYS = {"timeStamp", "created", "started", "finished", "updated", "job_start_datetime",
             "job_end_datetime"}


DURATION = re.compile(r"(?<![\d:])\d+:\d{2}:\d{2}(?:\.\d+)?(?![\d:])")   # a job's run time
JOB_FILE = re.compile(r"-\d{8}-[0-9a-f]{8}\.(xlsx|csv|gpkg|html|pdf|bin)\b")


def norm_str(s: str, bases) -> str:
    s = bases.sub("{BASE}", s)
    s = JOB_FILE.sub(r"-{DATE}-{JOB}.\1", s)
    s = UUID.sub("{UUID}", s)
    s = INSTANT.sub("{INSTANT}", s)
    return DURATION.sub("{DURATION}", s)


def norm_json(value, bases):
    if isinstance(value, dict):
        return {k: ("{INSTANT}" if k in TIME_KEYS and isinstance(v, str) else norm_json(v, bases))
                for k, v in value.items()}
    if isinstance(value, list):
        return [norm_json(v, bases) for v in value]
    if isinstance(value, str):
        return norm_str(value, bases)
    return value


def json_text(data) -> str:
    """Pretty JSON with sorted keys; a FeatureCollection's features one per line."""
    if isinstance(data, dict) and isinstance(data.get("features"), list):
        head = {k: v for k, v in data.items() if k != "features"}
        lines = [json.dumps(head, sort_keys=True, ensure_ascii=False, indent=1), "features:"]
        lines += [json.dumps(f, sort_keys=True, ensure_ascii=False) for f in data["features"]]
        return "\n".join(lines)
    return json.dumps(data, sort_keys=True, ensure_ascii=False, indent=1)


def normalise(resp: requests.Response, bases, seconds: float) -> Answer:
    headers = {}
    for name in HEADERS:
        if name in resp.headers:
            headers[name] = norm_str(resp.headers[name], bases)
    ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
    body = resp.content
    data = None
    if ctype.endswith("json") or ctype == "application/schema+json":
        try:
            data = norm_json(json.loads(body), bases)
            text = json_text(data)
        except ValueError:
            text = norm_str(body.decode("utf-8", "replace"), bases)
    elif ctype.endswith("spreadsheetml.sheet"):
        text = zip_text(body, bases)
    elif ctype == "application/pdf":
        text = pdf_text(body)
    elif "geopackage" in ctype or body[:16] == b"SQLite format 3\x00":
        text = gpkg_text(body)
    elif ctype == "text/plain" and "portail_" in body.decode("utf-8", "replace") \
            and "# HELP" in body.decode("utf-8", "replace"):
        text = metrics_text(body.decode("utf-8", "replace"))
    else:
        try:
            text = norm_str(body.decode("utf-8"), bases)
        except UnicodeDecodeError:
            text = f"<{len(body)} binary bytes, sha256 {hashlib.sha256(body).hexdigest()}>"
    return Answer(resp.status_code, headers, text, data, body, seconds, dict(resp.headers))


def zip_text(body: bytes, bases) -> str:
    """An XLSX file: every part, as text; instants (docProps/core.xml dates) normalised."""
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        parts = []
        for info in sorted(z.infolist(), key=lambda i: i.filename):
            content = z.read(info).decode("utf-8", "replace")
            parts.append(f"== {info.filename}\n{norm_str(content, bases)}")
    return "\n".join(parts)


def pdf_text(body: bytes) -> str:
    """A PDF: its text (pdftotext) and page count; raw bytes without their dates and ID."""
    stripped = re.sub(rb"/(CreationDate|ModDate)\s*\([^)]*\)|/ID\s*\[[^\]]*\]", b"", body)
    digest = hashlib.sha256(stripped).hexdigest()[:16]
    if shutil.which("pdftotext"):
        with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
            f.write(body)
            f.flush()
            text = subprocess.run(["pdftotext", "-layout", f.name, "-"], capture_output=True,
                                  text=True).stdout
        return f"PDF, {body.count(b'/Type /Page') - body.count(b'/Type /Pages')} pages\n{text}" \
               f"\n(bytes without dates: {digest})"
    return f"PDF bytes without dates: {digest}"


def gpkg_text(body: bytes) -> str:
    """A GeoPackage: every table's schema and rows; instants normalised."""
    with tempfile.NamedTemporaryFile(suffix=".gpkg") as f:
        f.write(body)
        f.flush()
        conn = sqlite3.connect(f.name)
        try:
            lines = []
            for name, sql_text in conn.execute(
                    "SELECT name, sql FROM sqlite_master WHERE type IN ('table', 'view') "
                    "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'rtree_%' ORDER BY name"):
                lines.append(f"== {name}: {sql_text}")
                quoted = '"' + name.replace('"', '""') + '"'   # SQLite (GeoPackage) identifier
                for row in conn.execute("SELECT * FROM " + quoted + " ORDER BY 1"):
                    lines.append(repr(tuple(bytes(v).hex() if isinstance(v, (bytes, memoryview))
                                            else v for v in row)))
        finally:
            conn.close()
    return INSTANT.sub("{INSTANT}", "\n".join(lines))


def metrics_text(body: str) -> str:
    """Prometheus text: the metric families and label names, not the values."""
    names = set()
    for line in body.splitlines():
        if line.startswith("# HELP") or line.startswith("# TYPE"):
            names.add(line)
        elif line and not line.startswith("#"):
            m = re.match(r"([a-zA-Z_:][\w:]*)(\{([^}]*)\})?", line)
            keys = sorted(re.findall(r'(\w+)="', m.group(3) or ""))
            names.add(f"{m.group(1)}{{{','.join(keys)}}}")
    return "\n".join(sorted(names))


def short_diff(a: Answer, b: Answer, lines: int = 24) -> str:
    out = []
    if a.status != b.status:
        out.append(f"    status: before {a.status}, after {b.status}")
    for k in sorted(set(a.headers) | set(b.headers)):
        if a.headers.get(k) != b.headers.get(k):
            out.append(f"    header {k}: before {a.headers.get(k)!r}, after {b.headers.get(k)!r}")
    if a.text != b.text:
        la, lb = a.text.splitlines(), b.text.splitlines()
        # Only the differing middle (difflib is quadratic on long texts that differ).
        head = 0
        while head < min(len(la), len(lb)) and la[head] == lb[head]:
            head += 1
        tail = 0
        while tail < min(len(la), len(lb)) - head and la[-1 - tail] == lb[-1 - tail]:
            tail += 1
        ma, mb = la[max(0, head - 1):len(la) - tail][:400], lb[max(0, head - 1):len(lb) - tail][:400]
        diff = list(difflib.unified_diff(ma, mb, "before", "after", n=1, lineterm=""))
        out.append(f"    body differs from line {head + 1} (before {len(la)} lines, after {len(lb)})")
        for line in diff[2:2 + lines]:
            out.append("    " + (line if len(line) < 300 else line[:300] + " …"))
        if len(diff) > 2 + lines:
            out.append(f"    … ({len(diff) - 2 - lines} more diff lines)")
    return "\n".join(out)


def judge(req: Req, before: Answer, after: Answer) -> Result:
    if before.status == after.status and before.headers == after.headers \
            and before.text == after.text:
        return Result(req, "same")
    for exp in EXPECTED:
        if re.search(exp.requests, req.name):
            why = exp.accepts(req, before, after)
            if why:
                return Result(req, "expected", f"{why} — {exp.reason}", exp.key)
    detail = short_diff(before, after)
    note = req.meta.get("diagnose") and req.meta["diagnose"](req, before, after)
    if not note:
        note = what_differs(before, after)
    if note:
        detail = f"    ({note})\n" + detail
    return Result(req, "different", detail)


def what_differs(before: Answer, after: Answer) -> str | None:
    """A JSON document that differs only in its links, or only in its features."""
    a, b = before.data, after.data
    if not isinstance(a, dict) or not isinstance(b, dict) or before.status != after.status:
        return None
    if {k: v for k, v in a.items() if k != "links"} == {k: v for k, v in b.items() if k != "links"}:
        return "only the links differ"
    if "features" in a and "features" in b and \
            {k: v for k, v in a.items() if k not in ("features", "numberMatched", "numberReturned")} \
            == {k: v for k, v in b.items() if k not in ("features", "numberMatched", "numberReturned")}:
        return "only the features differ"
    return None


# =============================================================================================
# bbox: the band between the two selections
# =============================================================================================
def _boxes_l93(bbox: tuple, crs: str):
    """(exact region, region pygeoapi 0.21 selected before) in EPSG:2154 for a box given in
    ``crs`` (its axis order: latitude first for EPSG:4326)."""
    from pyproj import CRS, Transformer
    from shapely.geometry import box
    if crs == EPSG(2154):
        b = box(*bbox)
        return b, b
    source = CRS.from_user_input("OGC:CRS84" if crs == CRS84
                                 else "EPSG:" + crs.rsplit("/", 1)[-1])
    if crs == EPSG(4326):   # latitude first in the request: the same box in lon/lat
        xy_box, xy_crs = (bbox[1], bbox[0], bbox[3], bbox[2]), CRS.from_user_input("OGC:CRS84")
    else:
        xy_box, xy_crs = bbox, source
    rect = box(*xy_box).segmentize(max(xy_box[2] - xy_box[0], 1e-9) / 200)
    exact = _reproject(rect, Transformer.from_crs(xy_crs, 2154, always_xy=True))
    # pygeoapi 0.21's transform_bbox: the two corners, in the CRS's own axis order.
    to_l93 = Transformer.from_crs(source, CRS.from_epsg(2154))
    x0, y0 = to_l93.transform(bbox[0], bbox[1])
    x1, y1 = to_l93.transform(bbox[2], bbox[3])
    return exact, box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def _reproject(geom, transformer):
    import numpy
    import shapely
    return shapely.transform(geom, lambda xy: numpy.column_stack(
        transformer.transform(xy[:, 0], xy[:, 1])))


def _geometry_l93(geometry: dict, crs: str):
    from pyproj import Transformer
    from shapely.geometry import shape
    geom = shape(geometry)
    if crs == EPSG(2154):
        return geom
    return _reproject(geom, Transformer.from_crs("OGC:CRS84", 2154, always_xy=True))


BBOX_CHECKED: dict = {}   # (path, box, crs) -> (numberMatched before, after), band checked


def bbox_difference(req: Req, before: Answer, after: Answer) -> str | None:
    """Accept when the two answers differ only by features in the band between the exact
    box and the box pygeoapi used before, everything else identical."""
    bbox, crs = req.meta.get("bbox"), req.meta.get("bbox_crs")
    a, b = before.data, after.data
    if bbox is None or not isinstance(a, dict) or not isinstance(b, dict) \
            or before.status != 200 or after.status != 200 or before.headers != after.headers:
        return None
    if a.get("numberReturned") != a.get("numberMatched") \
            or b.get("numberReturned") != b.get("numberMatched"):
        return None     # not the whole selection: cannot tell
    fa = {f["id"]: f for f in a["features"]}
    fb = {f["id"]: f for f in b["features"]}
    if any(fa[i] != fb[i] for i in set(fa) & set(fb)):
        return None
    only_before, only_after = set(fa) - set(fb), set(fb) - set(fa)
    if not only_before and not only_after:
        return None
    exact, corners = _boxes_l93(bbox, crs)
    band = corners.hausdorff_distance(exact)
    near = max(2.0, band + 1.0)
    out_crs = req.meta.get("out_crs", CRS84)
    for ident in only_before:   # before: it meets the corner box, near the exact box's edge
        g = _geometry_l93(fa[ident]["geometry"], out_crs)
        if not (g.distance(corners) < 0.5 and g.distance(exact.boundary) <= near):
            return None
    for ident in only_after:    # after: it meets the exact box, near the corner box's edge
        g = _geometry_l93(fb[ident]["geometry"], out_crs)
        if not (g.distance(exact) < 0.5 and g.distance(corners.boundary) <= near):
            return None
    rest_a = {k: v for k, v in a.items() if k not in ("features", "numberMatched",
                                                       "numberReturned", "links")}
    rest_b = {k: v for k, v in b.items() if k not in ("features", "numberMatched",
                                                       "numberReturned", "links")}
    if rest_a != rest_b:
        return None
    BBOX_CHECKED[(req.path, tuple(bbox), crs)] = (a["numberMatched"], b["numberMatched"])
    return (f"{len(only_before)} feature(s) only before, {len(only_after)} only after, all in "
            f"the band between the two boxes (up to {band:.1f} m wide); "
            f"{len(set(fa) & set(fb))} common features identical")


def bbox_hits_consistent(req: Req, before: Answer, after: Answer) -> str | None:
    """``resulttype=hits`` with a box: the counts of the whole selections checked above."""
    a, b = before.data, after.data
    counts = BBOX_CHECKED.get((req.path, tuple(req.meta["bbox"]), req.meta["bbox_crs"]))
    if counts is None or not isinstance(a, dict) or not isinstance(b, dict) \
            or before.headers != after.headers or before.status != after.status:
        return None
    if (a.get("numberMatched"), b.get("numberMatched")) != counts:
        return None
    if {k: v for k, v in a.items() if k not in ("numberMatched", "links")} != \
            {k: v for k, v in b.items() if k not in ("numberMatched", "links")}:
        return None
    if [link for link in a.get("links", []) if link.get("rel") != "next"] != \
            [link for link in b.get("links", []) if link.get("rel") != "next"]:
        return None
    return (f"numberMatched {counts[0]} -> {counts[1]}, as the whole selection checked above "
            "(a next link follows the count)")


def map_band_note(req: Req, before: Answer, after: Answer) -> str | None:
    """Diagnosis for the map's data endpoint with a bbox: are the differing features near
    the box's edge? (EXPECTED accepts it within 25 m: the lon/lat box change.)"""
    a, b = before.data, after.data
    bbox = req.meta.get("bbox")
    if not isinstance(a, dict) or not isinstance(b, dict) or "features" not in a \
            or "features" not in b or bbox is None:
        return None
    key = lambda f: json.dumps(f.get("properties"), sort_keys=True)  # noqa: E731
    fa = {key(f): f for f in a["features"]}
    fb = {key(f): f for f in b["features"]}
    diff = [fa[k] for k in set(fa) - set(fb)] + [fb[k] for k in set(fb) - set(fa)]
    if not diff:
        return None
    exact, _ = _boxes_l93(bbox, CRS84)
    far = max(_geometry_l93(f["geometry"], CRS84).distance(exact.boundary) for f in diff)
    truncated = " (answers truncated at their feature limit: the last ones shift)" \
        if a.get("truncated") or b.get("truncated") else ""
    return (f"{len(set(fa) - set(fb))} feature(s) only before, {len(set(fb) - set(fa))} only "
            f"after; the farthest is {far:.1f} m from the lon/lat box's edge{truncated}")


# =============================================================================================
# The list of requests
# =============================================================================================
def load_config(tree: Path) -> dict:
    cfg = yaml.safe_load((tree / "pygeoapi-config.yml").read_text(encoding="utf-8"))
    out = {}
    for cid, res in cfg["resources"].items():
        if res.get("type") != "collection":
            continue
        prov = next(p for p in res["providers"] if p["type"] == "feature")
        data = prov["data"]
        out[cid] = {"view": data["view"] if isinstance(data, dict) else str(data),
                    "id_field": prov.get("id_field", "id"), "time_field": prov.get("time_field"),
                    "crs": prov.get("crs", [])}
    return out


def box_in(bbox, crs: str) -> tuple:
    from pyproj import Transformer
    if crs == CRS84:
        return bbox
    if crs == EPSG(4326):
        return (bbox[1], bbox[0], bbox[3], bbox[2])
    srid = int(crs.rsplit("/", 1)[-1])
    t = Transformer.from_crs("OGC:CRS84", srid, always_xy=True)
    x0, y0 = t.transform(bbox[0], bbox[1])
    x1, y1 = t.transform(bbox[2], bbox[3])
    return (round(x0, 2), round(y0, 2), round(x1, 2), round(y1, 2))


def fmt_box(b) -> str:
    return ",".join(f"{v:g}" if isinstance(v, float) and abs(v) < 1000 else f"{v}" for v in b)


def collection_requests(cid: str, col: dict, s: dict) -> list[Req]:
    base = f"/collections/{cid}"
    items = f"{base}/items"
    R = []

    def get(label, path, params=(), **kw):
        R.append(Req(f"{cid} {label}", "GET", path, list(params), **kw))

    get("description f=json", base, [("f", "json")])
    get("description f=html", base, [("f", "html")])
    get("description lang=en", base, [("f", "json"), ("lang", "en")])
    get("queryables", f"{base}/queryables", [("f", "json")])
    get("queryables f=html", f"{base}/queryables", [("f", "html")])
    if s["number"]:
        get("queryables properties", f"{base}/queryables",
            [("f", "json"), ("properties", f"{s['number']},millesime")])
    get("queryables unknown property", f"{base}/queryables", [("f", "json"), ("properties", "nope")])
    get("schema", f"{base}/schema", [("f", "json")])
    get("items (default limit)", items, [("f", "json")])
    get("items limit=10", items, [("f", "json"), ("limit", "10")])
    get("items limit=1000", items, [("f", "json"), ("limit", "1000")])
    get("items limit=10 again (cache)", items, [("f", "json"), ("limit", "10")])
    get("items limit=0", items, [("f", "json"), ("limit", "0")])
    get("items offset=5 limit=7", items, [("f", "json"), ("limit", "7"), ("offset", "5")])
    if s["count"]:
        get("items full last page", items, [("f", "json"), ("limit", str(s["count"]))])
        get("items full last page f=html", items, [("f", "html"), ("limit", str(s["count"]))])
        get("items last page via offset", items,
            [("f", "json"), ("limit", "10"), ("offset", str(max(0, s["count"] - 4)))])
        get("items offset beyond the end", items,
            [("f", "json"), ("limit", "10"), ("offset", str(s["count"] + 5))])
    get("items f=html", items, [("f", "html"), ("limit", "10")])
    get("items f=csv", items, [("f", "csv"), ("limit", "10")])
    get("items f=jsonld", items, [("f", "jsonld"), ("limit", "5")])
    get("items Accept geo+json", items, [("limit", "3")],
        headers={"Accept": "application/geo+json"})
    get("items resulttype=hits", items, [("f", "json"), ("resulttype", "hits")])
    get("items resulttype=hits limit=5", items,
        [("f", "json"), ("resulttype", "hits"), ("limit", "5")])
    get("items skipGeometry=true", items, [("f", "json"), ("limit", "10"), ("skipGeometry", "true")])
    get("items skipGeometry=false", items, [("f", "json"), ("limit", "3"), ("skipGeometry", "false")])
    props = [c for c in s["columns"] if not c.startswith("geom")][:3]
    get("items properties", items, [("f", "json"), ("limit", "10"), ("properties", ",".join(props))])
    get("items properties unknown", items, [("f", "json"), ("properties", "nope")])
    for crs in (EPSG(2154), EPSG(3857), EPSG(4326), CRS84):
        get(f"items crs={crs.rsplit('/', 1)[-1]}", items, [("f", "json"), ("limit", "10"),
                                                          ("crs", crs)])
    get("items crs unsupported", items, [("f", "json"), ("crs", EPSG(27572))])
    get("items lang=en", items, [("f", "json"), ("limit", "2"), ("lang", "en")])
    # bbox: in four CRS, whole selection (limit 10000 = max_items)
    for box_name, box in BOXES.items():
        for crs, label in ((None, "CRS84"), (EPSG(2154), "EPSG:2154"),
                           (EPSG(3857), "EPSG:3857"), (EPSG(4326), "EPSG:4326")):
            b = box_in(box, crs or CRS84)
            params = [("f", "json"), ("limit", "10000"), ("bbox", fmt_box(b))]
            if crs:
                params.append(("bbox-crs", crs))
            get(f"items bbox={box_name} {label}", items, params,
                meta={"bbox": b, "bbox_crs": crs or CRS84})
        b = box_in(box, EPSG(2154))
        get(f"items bbox={box_name} EPSG:2154 crs=EPSG:2154", items,
            [("f", "json"), ("limit", "10000"), ("bbox", fmt_box(b)), ("bbox-crs", EPSG(2154)),
             ("crs", EPSG(2154))], meta={"bbox": b, "bbox_crs": EPSG(2154), "out_crs": EPSG(2154)})
    for box_name in BOXES:
        get(f"items bbox={box_name} CRS84 hits", items,
            [("f", "json"), ("resulttype", "hits"), ("limit", "10000"),
             ("bbox", fmt_box(BOXES[box_name]))],
            meta={"bbox": BOXES[box_name], "bbox_crs": CRS84, "hits": True})
    get("items bbox 6 numbers", items, [("f", "json"), ("limit", "10000"),
                                        ("bbox", "3.02,50.60,0,3.10,50.66,100")])
    get("items bbox bad (3 numbers)", items, [("f", "json"), ("bbox", "3.02,50.60,3.10")])
    get("items bbox bad (text)", items, [("f", "json"), ("bbox", "a,b,c,d")])
    get("items bbox inverted", items, [("f", "json"), ("bbox", "3.10,50.66,3.02,50.60")])
    get("items bbox-crs without bbox", items, [("f", "json"), ("bbox-crs", EPSG(2154))])
    get("items bbox-crs unsupported", items, [("f", "json"), ("bbox", "1,2,3,4"),
                                             ("bbox-crs", EPSG(27572))])
    # millésimes
    for m in s["millesimes"]:
        get(f"items datetime={m}", items, [("f", "json"), ("limit", "10"), ("datetime", str(m))])
        get(f"items datetime={m}-06-30", items, [("f", "json"), ("limit", "3"),
                                                 ("datetime", f"{m}-06-30")])
    if s["millesimes"]:
        ms = s["millesimes"]
        get("items datetime interval", items,
            [("f", "json"), ("limit", "10"), ("datetime", f"{ms[0]}/{ms[-1]}")])
        get("items datetime ../first", items, [("f", "json"), ("limit", "10"),
                                               ("datetime", f"../{ms[0]}")])
        get("items datetime last/..", items, [("f", "json"), ("limit", "10"),
                                              ("datetime", f"{ms[-1]}/..")])
        get("items datetime hits all", items, [("f", "json"), ("resulttype", "hits"),
                                               ("datetime", "1900/2100")])
        get("items datetime not loaded", items, [("f", "json"), ("datetime", "1990")])
    get("items datetime bad", items, [("f", "json"), ("datetime", "hier")])
    get("items datetime many digits", items, [("f", "json"), ("datetime", "99999999999")])
    get("items datetime reversed", items, [("f", "json"), ("datetime", "2025/2020")])
    get("items datetime three parts", items, [("f", "json"), ("datetime", "2020/2021/2022")])
    # filters
    if s["number"]:
        n, t = s["number"], s["threshold"]
        cql = f"{n} >= {t}"
        get("items cql2-text", items, [("f", "json"), ("limit", "50"), ("filter", cql),
                                       ("filter-lang", "cql2-text")])
        get("items cql2-text again (cache)", items, [("f", "json"), ("limit", "50"),
                                                     ("filter", cql), ("filter-lang", "cql2-text")])
        get("items cql-text (ECQL)", items, [("f", "json"), ("limit", "50"), ("filter", cql)])
        get("items cql-text explicit", items, [("f", "json"), ("limit", "50"), ("filter", cql),
                                               ("filter-lang", "cql-text")])
        j = json.dumps({"op": ">=", "args": [{"property": n}, t]})
        get("items cql2-json query string", items, [("f", "json"), ("limit", "50"),
                                                    ("filter", j), ("filter-lang", "cql2-json")])
        get("items cql2-text hits", items, [("f", "json"), ("resulttype", "hits"),
                                            ("filter", cql), ("filter-lang", "cql2-text")])
        get("items cql2-text paging", items, [("f", "json"), ("limit", "5"), ("offset", "5"),
                                              ("filter", cql), ("filter-lang", "cql2-text")])
        get("items cql2-text between", items,
            [("f", "json"), ("limit", "20"), ("filter", f"{n} BETWEEN 0 AND {t}"),
             ("filter-lang", "cql2-text")])
        get("items cql2-text is null", items,
            [("f", "json"), ("limit", "20"), ("filter", f"{n} IS NULL"),
             ("filter-lang", "cql2-text")])
        R.append(Req(f"{cid} items POST cql2-json", "POST", items, [("f", "json"), ("limit", "20")],
                     data=j.encode(), headers={"Content-Type": "application/query-cql-json"}))
        R.append(Req(f"{cid} items POST cql2-json again", "POST", items,
                     [("f", "json"), ("limit", "20")], data=j.encode(),
                     headers={"Content-Type": "application/query-cql-json"}))
        R.append(Req(f"{cid} items POST no content-type", "POST", items, [("f", "json")],
                     data=j.encode()))
        R.append(Req(f"{cid} items POST geo+json", "POST", items, [("f", "json")],
                     data=b'{"type": "Feature"}', headers={"Content-Type": "application/geo+json"}))
        R.append(Req(f"{cid} items POST bad json", "POST", items, [("f", "json")],
                     data=b'{"op": ', headers={"Content-Type": "application/query-cql-json"}))
        get("items sortby -number", items, [("f", "json"), ("limit", "20"), ("sortby", f"-{n}")])
        get("items sortby +number,-id", items,
            [("f", "json"), ("limit", "20"), ("sortby", f"+{n},-{s['columns'][0]}")])
        get("items sortby paging offset", items,
            [("f", "json"), ("limit", "20"), ("offset", "20"), ("sortby", f"-{n}")])
    if s["text"]:
        tv = str(s["text_value"]).replace("'", "''")
        get("items cql2-text text equal", items,
            [("f", "json"), ("limit", "20"), ("filter", f"{s['text']} = '{tv}'"),
             ("filter-lang", "cql2-text")])
        get("items cql2-text like", items,
            [("f", "json"), ("limit", "20"), ("filter", f"{s['text']} LIKE '{tv[:2]}%'"),
             ("filter-lang", "cql2-text")])
        get("items cql2-text in", items,
            [("f", "json"), ("limit", "20"), ("filter", f"{s['text']} IN ('{tv}', 'zz')"),
             ("filter-lang", "cql2-text")])
        get("items property equality", items,
            [("f", "json"), ("limit", "20"), (s["text"], str(s["text_value"]))])
        get("items sortby text", items, [("f", "json"), ("limit", "20"), ("sortby", s["text"])])
    if s["secret"]:
        get("items secret S", items, [("f", "json"), ("limit", "50"),
                                      ("filter", "statut_secret = 'S'"),
                                      ("filter-lang", "cql2-text")])
        get("items secret hits by status", items,
            [("f", "json"), ("resulttype", "hits"), ("statut_secret", "S")])
    poly = "POLYGON((3.02 50.60, 3.10 50.60, 3.10 50.66, 3.02 50.66, 3.02 50.60))"
    get("items cql2 S_INTERSECTS", items,
        [("f", "json"), ("limit", "10000"), ("filter", f"S_INTERSECTS(geom, {poly})"),
         ("filter-lang", "cql2-text")])
    get("items ECQL INTERSECTS", items,
        [("f", "json"), ("limit", "10000"), ("filter", f"INTERSECTS(geometry, {poly})")])
    b93 = box_in(BOXES["lille"], EPSG(2154))
    poly93 = (f"POLYGON(({b93[0]} {b93[1]}, {b93[2]} {b93[1]}, {b93[2]} {b93[3]}, "
              f"{b93[0]} {b93[3]}, {b93[0]} {b93[1]}))")
    get("items S_INTERSECTS filter-crs=2154", items,
        [("f", "json"), ("limit", "10000"), ("filter", f"S_INTERSECTS(geom, {poly93})"),
         ("filter-lang", "cql2-text"), ("filter-crs", EPSG(2154))])
    get("items cql2-json envelope", items,
        [("f", "json"), ("limit", "10000"), ("filter-lang", "cql2-json"),
         ("filter", json.dumps({"op": "s_intersects", "args": [
             {"property": "geom"}, {"bbox": list(BOXES["lille"])}]}))])
    get("items filter bad syntax", items, [("f", "json"), ("filter", "nb >>> 3"),
                                           ("filter-lang", "cql2-text")])
    get("items filter bad ECQL", items, [("f", "json"), ("filter", "((")])
    get("items filter unknown property", items, [("f", "json"), ("filter", "nope = 3"),
                                                 ("filter-lang", "cql2-text")])
    get("items filter type mismatch", items,
        [("f", "json"), ("filter", f"{s['number'] or 'id'} = 'abc'"), ("filter-lang", "cql2-text")])
    get("items filter-lang unknown", items, [("f", "json"), ("filter", "a = 1"),
                                             ("filter-lang", "sql")])
    get("items filter-crs unsupported", items,
        [("f", "json"), ("filter", f"S_INTERSECTS(geom, {poly})"), ("filter-lang", "cql2-text"),
         ("filter-crs", EPSG(27572))])
    # bad values and unknowns
    get("items sortby unknown", items, [("f", "json"), ("sortby", "nope")])
    get("items sortby empty member", items, [("f", "json"), ("sortby", "a,,b")])
    get("items sortby empty", items, [("f", "json"), ("sortby", "")])
    get("items unknown parameter", items, [("f", "json"), ("limit", "3"), ("foo", "bar")])
    get("items limit=-1", items, [("f", "json"), ("limit", "-1")])
    get("items limit=abc", items, [("f", "json"), ("limit", "abc")])
    get("items limit=20000 (over max)", items, [("f", "json"), ("limit", "20000")])
    get("items offset=-3", items, [("f", "json"), ("offset", "-3")])
    get("items offset=x", items, [("f", "json"), ("offset", "x")])
    get("items offset huge", items, [("f", "json"), ("offset", "200000000")])
    get("items f=xyz", items, [("f", "xyz")])
    get("items q=", items, [("f", "json"), ("q", "lille")])
    get("items resulttype bad", items, [("f", "json"), ("limit", "2"), ("resulttype", "nope")])
    get("items skipGeometry bad", items, [("f", "json"), ("limit", "2"), ("skipGeometry", "peut-être")])
    get("items cursor without offset", items, [("f", "json"), ("limit", "3"), ("cursor", "zzz")])
    # single items
    for ident in s["ids"]:
        get("item f=json", f"{items}/{ident}", [("f", "json")])
        get("item crs=2154", f"{items}/{ident}", [("f", "json"), ("crs", EPSG(2154))])
        get("item f=html", f"{items}/{ident}", [("f", "html")])
        get("item f=jsonld", f"{items}/{ident}", [("f", "jsonld")])
    get("item unknown", f"{items}/n-existe-pas", [("f", "json")])
    get("unknown collection items", "/collections/nope/items", [("f", "json")])
    R.append(Req(f"{cid} items OPTIONS", "OPTIONS", items))
    R.append(Req(f"{cid} items without credentials", "GET", items, [("f", "json")], auth=None))
    return R


def global_requests(samples: dict, processes: list[str]) -> list[Req]:
    R = []

    def get(name, path, params=(), **kw):
        R.append(Req(name, "GET", path, list(params), **kw))

    get("landing f=json", "/", [("f", "json")], auth=None)
    get("landing f=html", "/", [("f", "html")], auth=None)
    get("landing authenticated", "/", [("f", "json")])
    get("conformance f=json", "/conformance", [("f", "json")])
    get("conformance f=html", "/conformance", [("f", "html")])
    get("openapi f=json", "/openapi", [("f", "json")])
    get("openapi f=html", "/openapi", [("f", "html")])
    get("openapi without credentials", "/openapi", [("f", "json")], auth=None)
    get("collections f=json", "/collections", [("f", "json")])
    get("collections f=html", "/collections", [("f", "html")])
    get("collections lang=en", "/collections", [("f", "json"), ("lang", "en")])
    get("collections Accept-Language en", "/collections", [("f", "json")],
        headers={"Accept-Language": "en-US"})
    get("TileMatrixSets", "/TileMatrixSets", [("f", "json")])
    get("stac", "/stac", [("f", "json")])
    get("unknown route", "/nope")
    get("health", "/health", auth=None)
    get("ready", "/ready", auth=None)
    get("metrics (names)", "/metrics", auth=None)
    get("static pygeoapi css", "/static/css/default.css", auth=None)
    get("static carte js", "/static/carte/carte.js", auth=None)
    get("schemas", "/schemas/ogcapi/features/part1/1.0/openapi/schemas/exception.yaml")
    R.append(Req("HEAD landing", "HEAD", "/", auth=None))
    R.append(Req("HEAD items", "HEAD", "/collections/communes/items", [("f", "json"), ("limit", "2")]))
    R.append(Req("413 body too large", "POST", "/processes/export/execution",
                 data=b" " * (1024 * 1024 + 16), headers={"Content-Type": "application/json"}))
    # the gate
    get("401 no credentials", "/collections", [("f", "json")], auth=None)
    get("401 unknown login", "/collections", [("f", "json")], auth=("inconnu.compare", "x"))
    get("401 wrong password", "/collections", [("f", "json")], auth=("demo", "mauvais-mot-de-passe"))
    get("401 map without credentials", "/carte", auth=None)
    get("401 fiche without credentials", "/fiche/commune/59350", auth=None)
    get("401 dictionary without credentials", "/dictionnaire", auth=None)
    R.append(Req("401 export without credentials", "POST", "/processes/export/execution",
                 json_body={"inputs": {"layers": ["communes"]}}, auth=None))
    R.append(Req("401 OPTIONS without credentials", "OPTIONS", "/collections/communes/items",
                 auth=None))
    # dictionary
    get("dictionnaire html", "/dictionnaire")
    get("dictionnaire.md", "/dictionnaire.md")
    get("dictionnaire.xlsx", "/dictionnaire.xlsx")
    # processes
    get("processes f=json", "/processes", [("f", "json")])
    get("processes f=html", "/processes", [("f", "html")])
    for pid in processes:
        get(f"process {pid} f=json", f"/processes/{pid}", [("f", "json")])
        get(f"process {pid} f=html", f"/processes/{pid}", [("f", "html")])
    get("process unknown", "/processes/nope", [("f", "json")])
    get("jobs f=json", "/jobs", [("f", "json")])
    get("jobs f=html", "/jobs", [("f", "html")])
    get("job unknown", "/jobs/00000000-0000-0000-0000-000000000000", [("f", "json")])
    get("job results unknown", "/jobs/00000000-0000-0000-0000-000000000000/results")
    communes = samples["_fiches"]["commune"]
    iris = samples["_fiches"]["iris"]
    qpv = samples["_fiches"]["qpv"]
    ms = samples["parc_communes"]["millesimes"] if "parc_communes" in samples else []

    def export(name, inputs, extra=None, headers=None, data=None, **body_extra):
        body = None if data is not None else {"inputs": inputs, **body_extra}
        R.append(Req(f"export {name}", "POST", "/processes/export/execution",
                     json_body=body, data=data, headers=headers or {}, params=extra or []))

    export("communes xlsx MEL", {"layers": ["communes"]})
    export("parc_communes csv two communes", {"layers": ["parc_communes"],
                                              "territory": {"communes": communes},
                                              "format": "csv"})
    export("parc_residences csv one commune", {"layers": ["parc_residences"],
                                               "territory": {"communes": communes[:1]},
                                               "format": "csv"})
    export("parc_iris + occupation_iris xlsx, iris codes, millésimes",
           {"layers": ["parc_iris", "occupation_iris"], "territory": {"iris": iris},
            "millesime": ms[-2:] or None})
    export("attributions_qpv xlsx qpv", {"layers": ["attributions_qpv"],
                                         "territory": {"qpv": qpv}})
    export("parc_residences xlsx bbox", {"layers": ["parc_residences"],
                                         "territory": {"bbox": list(BOXES["lille"])}})
    export("parc_residences csv bbox", {"layers": ["parc_residences"], "format": "csv",
                                        "territory": {"bbox": list(BOXES["roubaix"])}})
    export("equipements csv bbox", {"layers": ["equipements"], "format": "csv",
                                    "territory": {"bbox": list(BOXES["lille"])}})
    export("iris gpkg one commune", {"layers": ["iris", "parc_iris"], "format": "gpkg",
                                     "territory": {"communes": communes[:1]}})
    export("parc_communes csv millésime", {"layers": ["parc_communes"], "format": "csv",
                                           "millesime": ms[0] if ms else 2024})
    export("communes json document", {"layers": ["communes"], "format": "csv",
                                       "territory": {"communes": communes[:1]}},
           response="document")
    export("communes csv outputs transmission", {"layers": ["communes"], "format": "csv",
                                                 "territory": {"communes": communes[:1]}},
           outputs={"export": {"transmissionMode": "value"}})
    export("error unknown layer", {"layers": ["nope"]})
    export("error csv two layers", {"layers": ["communes", "iris"], "format": "csv"})
    export("error bad code", {"layers": ["communes"], "territory": {"communes": ["ABCDE"]}})
    export("error unknown code", {"layers": ["communes"], "territory": {"communes": ["59999"]}})
    export("error millésime not loaded", {"layers": ["parc_communes"], "millesime": 1990})
    export("error bbox outside MEL", {"layers": ["parc_residences"],
                                      "territory": {"bbox": [5, 45, 5.1, 45.1]}})
    export("error format", {"layers": ["communes"], "format": "doc"})
    export("error unknown input", {"layers": ["communes"], "couleur": "rouge"})
    export("error no layers", {})
    export("error empty body", None, data=b"", headers={"Content-Type": "application/json"})
    export("error null body", None, data=b"null", headers={"Content-Type": "application/json"})
    export("error list body", None, data=b"[1, 2]", headers={"Content-Type": "application/json"})
    export("error not json", None, data=b"layers=communes",
           headers={"Content-Type": "text/plain"})
    R.append(Req("process unknown execution", "POST", "/processes/nope/execution",
                 json_body={"inputs": {}}))
    R.append(Req("fiche process html", "POST", "/processes/fiche/execution",
                 json_body={"inputs": {"scale": "commune", "code": communes[0], "format": "html"}}))
    R.append(Req("fiche process xlsx", "POST", "/processes/fiche/execution",
                 json_body={"inputs": {"scale": "iris", "code": iris[0], "format": "xlsx"}}))
    R.append(Req("fiche process error", "POST", "/processes/fiche/execution",
                 json_body={"inputs": {"scale": "pays", "code": "FR"}}))
    R.append(Req("fiche process unknown input", "POST", "/processes/fiche/execution",
                 json_body={"inputs": {"scale": "commune", "code": communes[0], "x": 1}}))
    # fiche pages
    for scale, codes in samples["_fiches"].items():
        for code in codes:
            get(f"fiche {scale}/{code} html", f"/fiche/{scale}/{code}")
            get(f"fiche {scale}/{code} xlsx", f"/fiche/{scale}/{code}", [("f", "xlsx")])
            for m in ms:
                get(f"fiche {scale}/{code} millesime={m}", f"/fiche/{scale}/{code}",
                    [("millesime", str(m))])
        if codes:
            get(f"fiche {scale}/{codes[0]} pdf", f"/fiche/{scale}/{codes[0]}", [("f", "pdf")])
    get("fiche unknown scale", "/fiche/pays/FR")
    get("fiche unknown code", "/fiche/commune/59999")
    get("fiche bad code", "/fiche/commune/abc")
    get("fiche millesime not loaded", f"/fiche/commune/{communes[0]}", [("millesime", "1990")])
    get("fiche millesime bad", f"/fiche/commune/{communes[0]}", [("millesime", "deux")])
    get("fiche format bad", f"/fiche/commune/{communes[0]}", [("f", "doc")])
    return R


def map_requests(catalogue: dict) -> list[Req]:
    R = []

    def get(name, path, params=(), **kw):
        R.append(Req(name, "GET", path, list(params), **kw))

    get("carte page", "/carte")
    get("carte catalogue", "/carte/api/catalogue")
    millesimes = catalogue.get("millesimes", {})
    layers = {}
    for theme in catalogue.get("themes", []):
        indicators = theme.get("indicators", [])
        for scale, layer in theme.get("layers", {}).items():
            fields = [i["name"] for i in indicators if scale in i.get("scales", {})]
            layers[layer["name"]] = (scale, fields)
    for name, spec in catalogue.get("context", {}).items():
        layers.setdefault(name, (spec.get("scale"), []))
    for name, (scale, fields) in sorted(layers.items()):
        path = f"/carte/api/couches/{name}"
        point = scale not in ("commune", "iris", "qpv") or name in (
            "etablissements_scolaires", "arrets_transport", "equipements")
        champs = ",".join(fields[:3])
        for box_name, box in BOXES.items():
            for zoom in (12, 16):
                params = [("zoom", str(zoom)), ("bbox", fmt_box(box))]
                if champs:
                    params.append(("champs", champs))
                get(f"carte {name} bbox={box_name} zoom={zoom}", path, params,
                    meta={"bbox": box, "diagnose": map_band_note})
        if not point:
            for zoom in (9, 11, 14):
                params = [("zoom", str(zoom))] + ([("champs", champs)] if champs else [])
                get(f"carte {name} zoom={zoom}", path, params)
            get(f"carte {name} all indicators", path,
                [("zoom", "11"), ("champs", ",".join(fields))] if fields else [("zoom", "11")])
            get(f"carte {name} gzip", path, [("zoom", "12")],
                headers={"Accept-Encoding": "gzip"})
            for m in millesimes.get(name, []):
                get(f"carte {name} millesime={m}", path, [("zoom", "11"), ("millesime", str(m))]
                    + ([("champs", champs)] if champs else []))
        else:
            for m in millesimes.get(name, []):
                get(f"carte {name} bbox millesime={m}", path,
                    [("zoom", "15"), ("millesime", str(m)), ("bbox", fmt_box(BOXES["lille"]))]
                    + ([("champs", champs)] if champs else []),
                    meta={"bbox": BOXES["lille"], "diagnose": map_band_note})
            get(f"carte {name} without bbox", path, [("zoom", "12")])
        get(f"carte {name} bbox outside the MEL", path, [("zoom", "12"), ("bbox", "5,45,5.1,45.1")])
        get(f"carte {name} unknown indicator", path, [("zoom", "12"), ("champs", "nope"),
                                                      ("bbox", fmt_box(BOXES["lille"]))])
    for family in ("A", "B", "D"):
        get(f"carte equipements famille={family}", "/carte/api/couches/equipements",
            [("zoom", "14"), ("bbox", fmt_box(BOXES["lille"])), ("famille", family)],
            meta={"bbox": BOXES["lille"], "diagnose": map_band_note})
    get("carte famille on another layer", "/carte/api/couches/communes", [("famille", "A")])
    get("carte unknown layer", "/carte/api/couches/nope")
    get("carte bad zoom", "/carte/api/couches/communes", [("zoom", "douze")])
    get("carte zoom out of range", "/carte/api/couches/communes", [("zoom", "30")])
    get("carte bad bbox", "/carte/api/couches/communes", [("bbox", "1,2,3")])
    get("carte bad millesime", "/carte/api/couches/communes", [("millesime", "1800")])
    return R


# =============================================================================================
# Running the comparison
# =============================================================================================
class Comparison:
    def __init__(self, args, before: Client, after: Client):
        self.args, self.before, self.after = args, before, after
        self.results: list[Result] = []

    def add(self, result: Result, seconds=None, statuses=None) -> None:
        self.results.append(result)
        mark = {"same": "same     ", "expected": "EXPECTED ", "different": "DIFFERENT"}[result.verdict]
        timing = f"  [{seconds[0]:.2f}s/{seconds[1]:.2f}s]" if seconds and self.args.verbose else ""
        status = ""
        if statuses:
            result.statuses = statuses
            status = f"[{statuses[0]}] " if statuses[0] == statuses[1] else \
                f"[{statuses[0]}→{statuses[1]}] "
        say(f"{mark} {status}{result.req.name}{timing}")
        if result.verdict == "expected":
            say(f"    ({result.detail})")
        elif result.verdict == "different":
            say(result.detail)

    def one(self, req: Req) -> tuple[Answer, Answer]:
        a = self.before.send(req)
        b = self.after.send(req)
        self.add(judge(req, a, b), (a.seconds, b.seconds), (a.status, b.status))
        return a, b

    def paging(self, cid: str, params: list, label: str, max_pages: int,
               follow_after: bool = False) -> None:
        """Follow the ``next`` links page by page, comparing each page; stop at the first
        page that differs. ``follow_after``: both servers follow the *after* server's link
        (for when the before server's own links are known to differ) and the links
        themselves are left out of the comparison: the pages' contents are compared."""
        req = Req(f"{cid} paging {label} page 1", "GET", f"/collections/{cid}/items", params)
        a, b = self.before.send(req), self.after.send(req)
        for page in range(1, max_pages + 1):
            if page > 1:
                na, nb = next_link(a), next_link(b)
                if follow_after:
                    na = nb and nb.replace(self.after.srv.base, self.before.srv.base, 1)
                if not na or not nb:
                    if bool(na) != bool(nb):
                        say(f"    (paging {label}: a next link on one side only)")
                    break
                req = Req(f"{cid} paging {label} page {page}", "GET", urlsplit(nb).path)
                a, b = self.before.send(req, na), self.after.send(req, nb)
            ja, jb = (without_links(a), without_links(b)) if follow_after else (a, b)
            result = judge(req, ja, jb)
            self.add(result, (a.seconds, b.seconds), (a.status, b.status))
            if result.verdict == "different":
                say(f"    (paging {label} stopped here: the two servers' pages diverge)")
                break

    def job_chain(self) -> None:
        """An asynchronous export per server: accepted, then run by a one-shot worker of
        the same tree, its status, its result (file name), the list, deletion."""
        body = {"inputs": {"layers": ["parc_communes"], "format": "csv",
                           "territory": {"communes": ["59350"]}}}
        req = Req("job: execution Prefer respond-async", "POST", "/processes/export/execution",
                  json_body=body, headers={"Prefer": "respond-async"})
        a, b = self.one(req)
        la, lb = _location(self.before, a), _location(self.after, b)
        if not la or not lb:
            return
        self.pair(Req("job: status accepted", "GET", "/jobs/{id}"), la + "?f=json", lb + "?f=json")
        self.pair(Req("job: results before the run", "GET", "/jobs/{id}/results"),
                  la + "/results", lb + "/results")
        for srv in (self.before.srv, self.after.srv):   # the oldest job first: its own
            out = py(srv.python, srv.tree, self.args.state_dir,
                     "from portail.settings import get_settings; "
                     "from processes.jobs.worker import Worker; "
                     "print('RAN', Worker(get_settings()).run_one())")
            say(f"    one-shot worker of the {srv.name} tree: {out.strip().splitlines()[-1]}")
        for label, suffix in (("status", "?f=json"), ("status html", "?f=html"),
                              ("results", "/results"), ("results f=json", "/results?f=json")):
            self.pair(Req(f"job: {label}", "GET", "/jobs/{id}" + suffix), la + suffix, lb + suffix)
        self.one(Req("job: list f=json", "GET", "/jobs", [("f", "json")]))
        self.one(Req("job: list f=html", "GET", "/jobs", [("f", "html")]))
        self.pair(Req("job: delete", "DELETE", "/jobs/{id}"), la, lb)
        self.pair(Req("job: status after delete", "GET", "/jobs/{id}"), la + "?f=json",
                  lb + "?f=json")

    def pair(self, req: Req, url_before: str, url_after: str) -> None:
        a, b = self.before.send(req, url_before), self.after.send(req, url_after)
        self.add(judge(req, a, b), (a.seconds, b.seconds), (a.status, b.status))


def _location(client: Client, answer: Answer) -> str | None:
    """The job's URL on this server (the ``Location`` header carries the configured URL)."""
    loc = answer.raw_headers.get("Location") or answer.raw_headers.get("location")
    if not loc:
        return None
    return f"{client.srv.base}/jobs/{loc.rstrip('/').rsplit('/', 1)[-1]}"


def without_links(answer: Answer) -> Answer:
    """The answer without its ``links`` (the pages' contents only)."""
    if not isinstance(answer.data, dict):
        return answer
    data = {k: v for k, v in answer.data.items() if k != "links"}
    return Answer(answer.status, answer.headers, json_text(data), data, answer.raw,
                  answer.seconds, answer.raw_headers)


def next_link(answer: Answer) -> str | None:
    try:
        raw = json.loads(answer.raw)
    except ValueError:
        return None
    for link in raw.get("links", []) if isinstance(raw, dict) else []:
        if link.get("rel") == "next":
            return link["href"]
    return None


def routes_result(before: Server, after: Server) -> Result:
    """The URL maps: same rules and methods (endpoint names may differ)."""
    a = sorted((r[0], tuple(r[1])) for r in before.routes)
    b = sorted((r[0], tuple(r[1])) for r in after.routes)
    text = lambda rs: "\n".join(f"{rule} {','.join(m)}" for rule, m in rs)  # noqa: E731
    return judge(Req("app: URL map (rules and methods)", "ROUTES", ""),
                 Answer(0, {}, text(a)), Answer(0, {}, text(b)))


def audit_results(args) -> list[Result]:
    """``portail-lls audit secret`` of each tree on the demo data."""
    out = []
    answers = []
    for name, tree, python in (("before", args.before, args.before_python),
                               ("after", args.after, args.after_python)):
        say(f"  audit secret ({name} tree) …")
        started = time.perf_counter()
        res = run([python, "-m", "portail.cli", "audit", "secret"],
                  env=tree_env(tree, args.state_dir), cwd="/", check=False, timeout=3600)
        last = (res.stdout.strip().splitlines() or [""])[-1]
        say(f"    exit {res.returncode} in {time.perf_counter() - started:.0f} s: {last[:200]}")
        text = re.sub(r"\d+(\.\d+)? ?s\b", "{SECONDS}", res.stdout + res.stderr)
        answers.append(Answer(res.returncode, {}, text))
    out.append(judge(Req("secrecy: portail-lls audit secret", "CLI", ""), *answers))
    return out


def outage_requests(samples) -> list[Req]:
    communes = samples["_fiches"]["commune"]
    return [
        Req("outage: health", "GET", "/health", auth=None),
        Req("outage: ready", "GET", "/ready", auth=None),
        Req("outage: items", "GET", "/collections/communes/items", [("f", "json"), ("limit", "3")]),
        Req("outage: item", "GET", "/collections/communes/items/59350", [("f", "json")]),
        Req("outage: carte couche", "GET", "/carte/api/couches/communes", [("zoom", "11")]),
        Req("outage: carte catalogue", "GET", "/carte/api/catalogue"),
        Req("outage: fiche", "GET", f"/fiche/commune/{communes[0]}"),
        Req("outage: export", "POST", "/processes/export/execution",
            json_body={"inputs": {"layers": ["communes"], "format": "csv"}}),
        Req("outage: jobs", "GET", "/jobs", [("f", "json")]),
        Req("outage: 401 unknown login", "GET", "/collections", [("f", "json")],
            auth=("inconnu.compare2", "x")),
    ]


def run_comparison(args, ports: list[int], only, servers: list, results: list) -> None:
    """Database, schema check, servers, requests, audit, outage: results appended to
    ``results``, servers started appended to ``servers`` (the caller stops them)."""
    say("== database")
    build_demo(args)
    password = (args.state_dir / "demo-password").read_text().strip()
    say(f"  demo account: login demo, password from {args.state_dir / 'demo-password'}")
    if args.schema and not only:
        try:
            r = compare_schema(args)
        except (SystemExit, Exception) as exc:  # noqa: BLE001 - reported, the rest goes on
            r = Result(Req("schema: catalogue", "SCHEMA", ""), "different",
                       f"    could not compare: {str(exc)[:2000]}")
        results.append(r)
        say(f"{r.verdict.upper():9} schema: catalogue" + (f"\n{r.detail}" if r.detail else ""))
    clear_bookkeeping(args)

    say("== servers")
    servers += [Server("before", args.before, args.before_python, ports[0],
                       "auth.gate:create_app()", "auth.gate", server_state(args, "before")),
                Server("after", args.after, args.after_python, ports[1],
                       "portail.app:create_app()", "portail.app", server_state(args, "after"))]
    for srv in servers:
        start_server(args, srv)
    before, after = (Client(s, password, ports) for s in servers)
    comparison = Comparison(args, before, after)
    comparison.results = results
    if not only:
        comparison.add(routes_result(*servers))

    say("== requests")
    config = load_config(args.after)
    if load_config(args.before) != config:
        say("  NOTE: the two trees' pygeoapi-config.yml declare different collections")
    samples = db_samples(args, config)
    catalogue_json = json.loads(before.send(Req("catalogue", "GET", "/carte/api/catalogue")).raw)
    processes = [p["id"] for p in json.loads(before.send(
        Req("processes", "GET", "/processes", [("f", "json")])).raw)["processes"]]
    todo = global_requests(samples, processes)
    for cid, col in config.items():
        todo += collection_requests(cid, col, samples[cid])
    todo += map_requests(catalogue_json)
    for req in todo:
        if only and not only.search(req.name):
            continue
        comparison.one(req)
    if not only or only.search("paging"):
        for cid in config:
            comparison.paging(cid, [("f", "json"), ("limit", "500")], "limit=500", args.pages)
        for cid in ("parc_residences", "occupation_residences", "equipements"):
            if cid in config:
                comparison.paging(cid, [("f", "json"), ("limit", "100")], "limit=100",
                                  args.pages)
                comparison.paging(cid, [("f", "json"), ("limit", "250"), ("datetime",
                                  "1900/2100")], "all millésimes", args.pages)
                num = samples[cid]["number"]
                if num:
                    comparison.paging(cid, [("f", "json"), ("limit", "300"),
                                            ("sortby", f"-{num}")], "sortby", args.pages)
                    comparison.paging(cid, [("f", "json"), ("limit", "200"),
                                            ("filter", f"{num} >= 1"),
                                            ("filter-lang", "cql2-text")], "cql2", args.pages)
                    comparison.paging(cid, [("f", "json"), ("limit", "200"),
                                            ("filter", f"{num} >= 1"),
                                            ("filter-lang", "cql2-text")],
                                      "cql2 (the after server's links on both, contents only)",
                                      args.pages, follow_after=True)
                comparison.paging(cid, [("f", "json"), ("limit", "100"), ("crs", EPSG(2154)),
                                        ("bbox", fmt_box(box_in(BOXES["roubaix"], EPSG(2154)))),
                                        ("bbox-crs", EPSG(2154))], "bbox EPSG:2154", args.pages)
    if not only or only.search("job"):
        comparison.job_chain()
    if args.audit and not only:
        say("== secrecy audit")
        for r in audit_results(args):
            comparison.add(r)
    if args.outage and not only:
        say("== database stopped (portail-lls db stop): what each app answers")
        run([args.after_python, "-m", "portail.cli", "db", "stop"],
            env=tree_env(args.after, args.state_dir), cwd="/")
        for req in outage_requests(samples):
            comparison.one(req)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, default=BEFORE_DEFAULT,
                        help="source tree before (default: worktree of --before-ref at /tmp/before-tree)")
    parser.add_argument("--before-repo", type=Path, default=MAIN_REPO)
    parser.add_argument("--before-ref", default="33b3524",
                        help="commit of the before tree (default: main before issue 15)")
    parser.add_argument("--after", type=Path, default=AFTER_DEFAULT,
                        help="source tree after (default: the tree holding this script)")
    parser.add_argument("--before-python", default=sys.executable)
    parser.add_argument("--after-python", default=sys.executable)
    parser.add_argument("--state-dir", type=Path, default=Path("/tmp/state-compare"))
    parser.add_argument("--ports", default="5811,5812", help="before,after server ports")
    parser.add_argument("--demo-port", type=int, default=5813,
                        help="port of the demo's own server while it is built (stopped after)")
    parser.add_argument("--workers", type=int, default=1,
                        help="gunicorn workers per app (1: a repeated request hits the "
                             "worker's caches)")
    parser.add_argument("--pages", type=int, default=60, help="most pages followed per paging")
    parser.add_argument("--only", default=None,
                        help="regex: only the requests whose name it matches (and no schema "
                             "check, audit or outage)")
    parser.add_argument("--no-audit", dest="audit", action="store_false")
    parser.add_argument("--no-outage", dest="outage", action="store_false")
    parser.add_argument("--no-schema", dest="schema", action="store_false")
    parser.add_argument("--keep-running", action="store_true")
    parser.add_argument("--report", type=Path, default=None, help="write the results as JSON")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    args.before, args.after = args.before.resolve(), args.after.resolve()
    args.state_dir = args.state_dir.resolve()
    ports = [int(p) for p in args.ports.split(",")]
    only = re.compile(args.only) if args.only else None

    say("== trees")
    ensure_before_tree(args.before, args.before_repo, args.before_ref)
    for name, tree in (("before", args.before), ("after", args.after)):
        rev = run(["git", "-C", tree, "rev-parse", "--short", "HEAD"], quiet=True).stdout.strip()
        dirty = run(["git", "-C", tree, "status", "--porcelain", "--untracked-files=no"],
                    quiet=True).stdout.strip()
        say(f"  {name}: {tree} at {rev}" + (f" + uncommitted changes in "
                                            f"{len(dirty.splitlines())} file(s)" if dirty else ""))
    check_dependencies(args.before_python, args.after_python)
    args.state_dir.mkdir(parents=True, exist_ok=True)

    check_imports("before", args.before_python, args.before, args.state_dir)
    check_imports("after", args.after_python, args.after, args.state_dir)

    servers: list[Server] = []
    results: list[Result] = []
    try:
        run_comparison(args, ports, only, servers, results)
    finally:
        if args.keep_running:
            say(f"servers left running: {[s.base for s in servers]}")
        else:
            for srv in servers:
                stop_server(srv)
            run([args.after_python, "-m", "portail.cli", "db", "stop"],
                env=tree_env(args.after, args.state_dir), cwd="/", check=False)

    res = results
    counts = {v: sum(1 for r in res if r.verdict == v) for v in ("same", "expected", "different")}
    say("== summary")
    say(f"  {len(res)} comparisons: {counts['same']} same, {counts['expected']} expected "
        f"difference(s), {counts['different']} unexpected difference(s)")
    by_key: dict[str, int] = {}
    for r in res:
        if r.verdict == "expected":
            by_key[r.expected_key] = by_key.get(r.expected_key, 0) + 1
    for exp in EXPECTED:
        say(f"  EXPECTED {exp.key}: {by_key.get(exp.key, 0)} — {exp.reason}")
    for r in res:
        if r.verdict == "different":
            say(f"  DIFFERENT: {r.req.name}")
    if args.report:
        args.report.write_text(json.dumps(
            [{"name": r.req.name, "method": r.req.method, "path": r.req.path,
              "params": r.req.params, "verdict": r.verdict, "detail": r.detail,
              "statuses": list(r.statuses),
              "expected": r.expected_key} for r in res], ensure_ascii=False, indent=1))
        say(f"  report: {args.report}")
    return 0 if counts["different"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
