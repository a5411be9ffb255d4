"""Benchmark: one full publication (secrecy over every millésime, candidate views, audit).

Runs on the database the settings point at (the project's local cluster after
``make demo``, or ``DATABASE_URL``), which must hold the full demo data
(``portail-lls etl demo --seed 2026``: 3 millésimes, 2 allocation windows). Each
run is a real publication inside a transaction that is rolled back at the end,
so the published data and the data version stay as they were.

Baseline, measured in the same run: the refresh of every diffusion view alone —
what a publication would cost without computing any secrecy. The target of
issue 13 is the full publication under 90 s on this machine.

    .venv/bin/python bench/bench_publication.py --repeat 3
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from etl import publish as publication  # noqa: E402
from portail.db import connect  # noqa: E402
from portail.settings import get_settings  # noqa: E402


def once(dsn: str) -> tuple[float, float, dict]:
    with connect(dsn) as conn:
        with conn.transaction(force_rollback=True):
            started = time.monotonic()
            publication.refresh_diffusion(conn)
            baseline = time.monotonic() - started
        with conn.transaction(force_rollback=True):
            started = time.monotonic()
            publication.publish(conn, "banc d'essai (annulé)")
            total = time.monotonic() - started
    return baseline, total, dict(publication.last_times.phases)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    dsn = get_settings().owner_dsn()
    with connect(dsn) as conn:
        counts = conn.execute(
            "SELECT (SELECT count(DISTINCT millesime) FROM core.residence), "
            "(SELECT count(*) FROM core.residence), "
            "(SELECT count(*) FROM core.logement), "
            "(SELECT count(DISTINCT annee) FROM core.attribution)").fetchone()
    print(f"Données : {counts[0]} millésime(s), {counts[1]} résidences-années, "
          f"{counts[2]} logements, {counts[3]} années d'attributions.")
    runs = []
    for n in range(args.repeat):
        baseline, total, phases = once(dsn)
        runs.append((baseline, total, phases))
        print(f"  essai {n + 1} : vues seules {baseline:5.1f} s ; publication complète "
              f"{total:5.1f} s")
        for name, seconds in phases.items():
            print(f"      {name:<28} {seconds:6.1f} s")
    totals = [t for _, t, _ in runs]
    bases = [b for b, _, _ in runs]
    print(f"Médiane : publication {statistics.median(totals):.1f} s (objectif < 90 s), "
          f"vues seules {statistics.median(bases):.1f} s, "
          f"soit {statistics.median(totals) / statistics.median(bases):.1f} fois la base.")
    return 0 if statistics.median(totals) < 90 else 1


if __name__ == "__main__":
    raise SystemExit(main())
