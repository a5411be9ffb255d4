"""Load test of the portal: authenticated partners doing what QGIS and the web pages do.

    PORTAIL_LOGIN=demo PORTAIL_PASSWORD=… .venv/bin/locust -f bench/load/locustfile.py \\
        --headless -u 50 -r 10 -t 60s --host http://127.0.0.1:5104 --csv /tmp/load

The mix (weights per simulated user):
- QGIS-like paging of a layer (every layer in turn): the ``limit=1`` count request,
  then pages followed through their ``next`` links, as QGIS does;
- a bounding-box query on a random layer (a map pan or zoom);
- CQL filters (attribute and spatial);
- a synchronous export (CSV of one layer on one commune);
- hooks, tolerated while absent on a branch (404 counted as "absent", not as a failure):
  the descriptive sheet of a commune (``/fiche/commune/<code>``) and an asynchronous
  export job (``Prefer: respond-async``, then the job polled until it ends).

Every other answer than the expected one is a failure (a 503 included).
"""
from __future__ import annotations

import itertools
import os
import random
import time

from locust import HttpUser, between, events, task

LOGIN = os.environ.get("PORTAIL_LOGIN", "demo")
PASSWORD = os.environ.get("PORTAIL_PASSWORD", "")
PAGE_SIZE = int(os.environ.get("LOAD_PAGE_SIZE", "500"))   # QGIS asks for large pages
MAX_PAGES = int(os.environ.get("LOAD_MAX_PAGES", "4"))
ENABLE_FICHE = os.environ.get("LOAD_FICHE", "1") == "1"
ENABLE_ASYNC = os.environ.get("LOAD_ASYNC", "1") == "1"
MEL = (2.79, 50.49, 3.30, 50.80)     # lon/lat extent of the Métropole Européenne de Lille
COMMUNES = ["59350", "59512", "59599", "59009", "59017", "59152", "59368", "59648"]

_layer_cycle = None
ABSENT = {"fiche": 0}


@events.test_stop.add_listener
def _report_absent(environment, **_kwargs):
    if ABSENT["fiche"]:
        print(f"[load] /fiche/commune/<code> absent (404) {ABSENT['fiche']} times: "
              "the sheet pages are not on this branch")


def _layers(client) -> list[str]:
    answer = client.get("/collections", params={"f": "json"}, name="/collections")
    answer.raise_for_status()
    return [c["id"] for c in answer.json()["collections"]]


def _next_href(body: dict) -> str | None:
    for link in body.get("links", []):
        if link.get("rel") == "next" and link.get("type", "application/geo+json") in (
                "application/geo+json", "application/json"):
            return link["href"]
    return None


def _ok(answer, *expected: int) -> bool:
    if answer.status_code in expected:
        answer.success()
        return True
    answer.failure(f"HTTP {answer.status_code}: {answer.text[:120]}")
    return False


class Partner(HttpUser):
    """A partner's GIS client or browser, with a personal account."""

    # Think time between two actions (LOAD_WAIT_MIN/MAX=0: saturation, for throughput).
    wait_time = between(float(os.environ.get("LOAD_WAIT_MIN", "0.5")),
                        float(os.environ.get("LOAD_WAIT_MAX", "2.0")))

    def on_start(self):
        global _layer_cycle
        self.client.auth = (LOGIN, PASSWORD)
        if _layer_cycle is None:
            _layer_cycle = itertools.cycle(_layers(self.client))

    # -- QGIS --------------------------------------------------------------------------
    @task(5)
    def qgis_paging(self):
        layer = next(_layer_cycle)
        with self.client.get(f"/collections/{layer}/items", name="items limit=1 (count)",
                             params={"f": "json", "limit": 1}, catch_response=True) as r:
            if not _ok(r, 200):
                return
        url = f"/collections/{layer}/items?f=json&limit={PAGE_SIZE}"
        for page in range(MAX_PAGES):
            with self.client.get(url, name=f"items page {min(page + 1, 2)}{'+' if page else ''}",
                                 catch_response=True) as r:
                if not _ok(r, 200):
                    return
                href = _next_href(r.json())
            if href is None:
                return
            url = href.replace(self.host, "") if href.startswith(self.host) else href

    @task(3)
    def bbox(self):
        layer = next(_layer_cycle)
        w = random.uniform(0.01, 0.08)
        lon = random.uniform(MEL[0], MEL[2] - w)
        lat = random.uniform(MEL[1], MEL[3] - w)
        with self.client.get(f"/collections/{layer}/items", name="items bbox",
                             params={"f": "json", "limit": 200,
                                     "bbox": f"{lon:.5f},{lat:.5f},{lon + w:.5f},{lat + w:.5f}"},
                             catch_response=True) as r:
            _ok(r, 200)

    @task(2)
    def cql(self):
        filters = [("communes", f"population_municipale > {random.randint(1000, 50000)}"),
                   ("communes", f"nom LIKE '{random.choice('ABCHLMRSTVW')}%'"),
                   ("parc_communes", f"code_insee IN ('{random.choice(COMMUNES)}', "
                                     f"'{random.choice(COMMUNES)}')")]
        layer, expression = random.choice(filters)
        params = {"f": "json", "limit": 100}
        if random.random() < 0.4:
            layer = next(_layer_cycle)
            lon, lat = random.uniform(MEL[0], MEL[2] - 0.05), random.uniform(MEL[1], MEL[3] - 0.05)
            expression = (f"S_INTERSECTS(geometry, POLYGON(({lon} {lat}, {lon + 0.05} {lat}, "
                          f"{lon + 0.05} {lat + 0.05}, {lon} {lat + 0.05}, {lon} {lat})))")
            params["filter-lang"] = "cql2-text"
        params["filter"] = expression
        with self.client.get(f"/collections/{layer}/items", name="items filter (CQL)",
                             params=params, catch_response=True) as r:
            _ok(r, 200)

    @task(1)
    def export_sync(self):
        body = {"inputs": {"layers": ["parc_communes"],
                           "territory": {"communes": [random.choice(COMMUNES)]},
                           "format": "csv"}}
        with self.client.post("/processes/export/execution", json=body,
                              name="export (sync, CSV)", catch_response=True) as r:
            _ok(r, 200)

    # -- hooks for pages and jobs that other branches bring -------------------------------
    @task(1)
    def fiche(self):
        if not ENABLE_FICHE:
            return
        code = random.choice(COMMUNES)
        with self.client.get(f"/fiche/commune/{code}", name="fiche commune",
                             catch_response=True) as r:
            if r.status_code == 404 and "/fiche/" not in r.text:
                r.success()          # no sheet on this branch: counted, not a failure
                ABSENT["fiche"] += 1
                return
            _ok(r, 200)

    @task(1)
    def export_async(self):
        if not ENABLE_ASYNC:
            return
        body = {"inputs": {"layers": ["parc_communes"],
                           "territory": {"communes": [random.choice(COMMUNES)]},
                           "format": "csv"}}
        with self.client.post("/processes/export/execution", json=body,
                              headers={"Prefer": "respond-async"},
                              name="export (async, submit)", catch_response=True) as r:
            if r.status_code == 200:      # no job manager on this branch: answered at once
                r.success()
                return
            if not _ok(r, 201, 202):
                return
            location = r.headers.get("Location", "")
        if not location:
            return
        job = location.replace(self.host, "") if location.startswith(self.host) else location
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with self.client.get(job, params={"f": "json"}, name="export (async, status)",
                                 catch_response=True) as r:
                if not _ok(r, 200):
                    return
                status = r.json().get("status")
            if status in ("successful", "failed", "dismissed"):
                if status != "successful":
                    events.request.fire(request_type="JOB", name=f"export job {status}",
                                        response_time=0, response_length=0,
                                        exception=RuntimeError(status), context={})
                return
            time.sleep(0.5)
        events.request.fire(request_type="JOB", name="export job timeout", response_time=0,
                            response_length=0, exception=RuntimeError("timeout"), context={})
