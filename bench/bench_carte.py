"""Benchmark: what the map page downloads per view, against reading the same layers from the
OGC API items (full geometries, every field), on a running portal (e.g. `make demo`).

For each view of the page (communes, IRIS, QPV at their scales; résidences and context points
in a street-level box), both ways in the same run: bytes on the wire (plain and gzip, as the
browser asks) and the median time of 5 requests; the ratio. Then the page's first render,
measured in headless Chromium (performance.now() when the first layer is drawn), 5 fresh
browser contexts, at 1280 × 800 and on a phone (390 × 844), against the budget of 2 s
(the tests do not time anything: this is where the budget is checked; exit code 1 if the
median is over it). Also the median time of the page's other endpoints (class limits over
the MEL, place names, search).

Run against your own demo (never the lead's):
    PORTAIL_STATE_DIR=/tmp/state-x PORT=5103 .venv/bin/portail-lls demo   # once
    .venv/bin/python bench/bench_carte.py --url http://127.0.0.1:5103 --user demo --password …
"""
from __future__ import annotations

import argparse
import statistics
import time

import requests

STREET_BOX = "3.04,50.62,3.09,50.645"      # Lille centre, street level (zoom 15)
VIEWS = [
    # label, OGC API items (baseline), map endpoint (ours)
    ("communes (zoom ≤ 11)", "/collections/parc_communes/items?f=json&limit=200&datetime={m}",
     "/carte/api/couches/parc_communes?zoom=11&champs=nb_logements&millesime={m}"),
    ("IRIS (zoom 12–14)", "/collections/parc_iris/items?f=json&limit=1000&datetime={m}",
     "/carte/api/couches/parc_iris?zoom=13&champs=nb_logements&millesime={m}"),
    ("QPV (zoom 12–14)", "/collections/parc_qpv/items?f=json&limit=200&datetime={m}",
     "/carte/api/couches/parc_qpv?zoom=13&champs=nb_logements&millesime={m}"),
    ("résidences, rue (zoom 15)",
     "/collections/parc_residences/items?f=json&limit=3000&datetime={m}&bbox=" + STREET_BOX,
     "/carte/api/couches/parc_residences?zoom=15&champs=nb_logements&millesime={m}&bbox="
     + STREET_BOX),
    ("arrêts, vue IRIS", "/collections/arrets_transport/items?f=json&limit=3000&bbox=2.95,50.55,3.2,50.72",
     "/carte/api/couches/arrets_transport?zoom=12&bbox=2.95,50.55,3.2,50.72"),
]


def measure(session: requests.Session, url: str) -> tuple[int, int, float]:
    plain = session.get(url, headers={"Accept-Encoding": "identity"})
    plain.raise_for_status()
    times, wire = [], 0
    for _ in range(5):
        started = time.perf_counter()
        resp = session.get(url, headers={"Accept-Encoding": "gzip"}, stream=True)
        wire = len(resp.raw.read(decode_content=False))
        times.append(time.perf_counter() - started)
    return len(plain.content), wire, statistics.median(times)


FIRST_RENDER_BUDGET_MS = 2000
OTHER_ENDPOINTS = [
    ("limites de classes (MEL)", "/carte/api/classes?couche=parc_residences&champ=nb_logements&millesime={m}"),
    ("noms des communes", "/carte/api/noms/commune"),
    ("noms des IRIS", "/carte/api/noms/iris"),
    ("recherche « roubaix »", "/carte/api/recherche?q=roubaix&millesime={m}"),
    ("recherche d'une adresse", "/carte/api/recherche?q=rue%20de%20la&millesime={m}"),
]


def first_render(base: str, user: str, password: str, runs: int = 5,
                 viewport: tuple[int, int] = (1280, 800)) -> list[float]:
    from playwright.sync_api import sync_playwright
    out = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                    args=["--no-sandbox", "--disable-gpu"])
        for _ in range(runs):
            context = browser.new_context(http_credentials={"username": user, "password": password},
                                          viewport={"width": viewport[0], "height": viewport[1]})
            page = context.new_page()
            page.goto(f"{base}/carte")
            page.wait_for_function("window.carteRendu !== undefined", timeout=20000)
            out.append(page.evaluate("window.carteRendu.ms"))
            context.close()
        browser.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    args = parser.parse_args()
    base = args.url.rstrip("/")
    session = requests.Session()
    session.auth = (args.user, args.password)
    catalogue = session.get(f"{base}/carte/api/catalogue").json()
    millesime = catalogue["millesimes"]["parc_communes"][0]
    print(f"millésime {millesime}; bytes plain / on the wire (gzip) / median time of 5")
    print(f"{'view':28} {'OGC API items':>34} {'map endpoint':>34} {'ratio (wire)':>12}")
    for label, baseline, ours in VIEWS:
        b = measure(session, base + baseline.format(m=millesime))
        o = measure(session, base + ours.format(m=millesime))
        print(f"{label:28} {b[0]:>10,} / {b[1]:>9,} / {b[2]*1000:>6.0f} ms"
              f" {o[0]:>10,} / {o[1]:>9,} / {o[2]*1000:>6.0f} ms {b[1] / o[1]:>11.1f}×")
    for label, path in OTHER_ENDPOINTS:
        _, wire, median = measure(session, base + path.format(m=millesime))
        print(f"{label:28} {wire:>10,} bytes on the wire, median {median * 1000:.0f} ms")
    over = False
    for label, viewport in (("1280 × 800", (1280, 800)), ("phone 390 × 844", (390, 844))):
        renders = first_render(base, args.user, args.password, viewport=viewport)
        median = statistics.median(renders)
        over |= median > FIRST_RENDER_BUDGET_MS
        print(f"first render {label} (ms after navigation start, 5 fresh browsers): "
              + ", ".join(f"{r:.0f}" for r in renders) + f"; median {median:.0f} ms "
              f"({'within' if median <= FIRST_RENDER_BUDGET_MS else 'OVER'} the 2 s budget)")
    raise SystemExit(1 if over else 0)


if __name__ == "__main__":
    main()
