"""Benchmark: serving the layers' styles and the QGIS project, on a running portal (`make demo`).

The styles and the projects are generated once per data version (``styles.service``) and
kept in each worker's memory: the goal is that serving them takes under 50 ms. Measured
here, in the same run and on the same connection, against two baselines of the same
server: ``/health`` (a request that reads the data version and nothing else) and a
collection's description (pygeoapi). For each endpoint: the first request (in a fresh
server, the one that builds the files; later ones find them built) and the median and
95th percentile of ``--repeat`` requests over every collection, with the test account's
Basic credentials through the gate. Exit code 1 if a median is over the budget.

Run against your own demo:
    PORTAIL_STATE_DIR=/tmp/state-x PORT=5103 .venv/bin/portail-lls demo   # once
    .venv/bin/python bench/bench_styles.py --url http://127.0.0.1:5103 --user demo --password …
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import requests

BUDGET_MS = 50.0


def timed(session: requests.Session, url: str) -> tuple[float, int]:
    started = time.perf_counter()
    answer = session.get(url)
    elapsed = (time.perf_counter() - started) * 1000
    answer.raise_for_status()
    return elapsed, len(answer.content)


def series(session, urls: list[str], repeat: int) -> dict:
    times, size = [], 0
    for _ in range(repeat):
        for url in urls:
            ms, size = timed(session, url)
            times.append(ms)
    times.sort()
    return {"median": statistics.median(times), "p95": times[int(len(times) * 0.95) - 1],
            "n": len(times), "bytes": size}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    base = args.url.rstrip("/")
    session = requests.Session()
    session.auth = (args.user, args.password)
    collections = [c["id"] for c in session.get(f"{base}/collections",
                                                params={"f": "json"}).json()["collections"]]
    first = {
        "projet .qgz (1re requête)": timed(session, f"{base}/qgis/projet.qgz")[0],
        "style QML (1re requête)": timed(session, f"{base}/collections/{collections[0]}"
                                                  "/styles/defaut?f=qml")[0],
    }
    rows = {
        "référence : /health": series(session, [f"{base}/health"], args.repeat),
        "référence : description de collection": series(
            session, [f"{base}/collections/{c}?f=json" for c in collections], 1 + args.repeat // 10),
        "liste des styles": series(session, [f"{base}/collections/{c}/styles"
                                             for c in collections], 1 + args.repeat // 10),
        "style QML": series(session, [f"{base}/collections/{c}/styles/defaut?f=qml"
                                      for c in collections], 1 + args.repeat // 10),
        "style SLD 1.1": series(session, [f"{base}/collections/{c}/styles/defaut?f=sld11"
                                          for c in collections], 1 + args.repeat // 10),
        "projet .qgz (tous les thèmes)": series(session, [f"{base}/qgis/projet.qgz"], args.repeat),
        "projet .qgz (thème parc)": series(session, [f"{base}/qgis/projet-parc.qgz"], args.repeat),
    }
    for label, ms in first.items():
        print(f"{label:45s} {ms:8.1f} ms")
    print(f"{'':45s} {'médiane':>8s} {'p95':>8s} {'n':>5s} {'octets':>8s}")
    for label, row in rows.items():
        print(f"{label:45s} {row['median']:8.1f} {row['p95']:8.1f} {row['n']:5d} {row['bytes']:8d}")
    served = [row for label, row in rows.items() if not label.startswith("référence")]
    worst = max(row["median"] for row in served)
    print(f"\nbudget {BUDGET_MS:.0f} ms : médiane la plus lente {worst:.1f} ms "
          f"({'tenu' if worst < BUDGET_MS else 'DÉPASSÉ'})")
    return 0 if worst < BUDGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
