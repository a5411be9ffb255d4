"""RPLS load: our COPY loader against geopandas ``GeoDataFrame.to_postgis``, same file, same run.

Usage (needs the test/bench extra: sqlalchemy, geoalchemy2, psycopg2-binary):

    PORTAIL_STATE_DIR=/tmp/state-x .venv/bin/python bench/bench_rpls_load.py [--scale 1.0] [--repeat 1]

It generates the demo RPLS file (fictitious, ~130,000 dwellings at scale 1), makes sure the
communes are loaded, then times, on the same file:
  * baseline: ``pandas.read_csv`` + points + ``to_postgis`` into a plain table (what a
    geopandas script does: no checks, no résidences);
  * ours, COPY step: the file decoded and COPYed as is, every field checked in SQL (line
    numbers, messages), typed rows and résidence ids in the staging table;
  * ours, full load: ``etl load rpls`` end to end (checks, point-in-polygon, résidences,
    swap, proximity, publication), with ``--force``.
It prints rows/s for each and the ratios. Rows/s = dwellings in the file / wall time.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()

    import geopandas as gpd
    import pandas as pd
    from sqlalchemy import create_engine

    import numpy as np

    from etl import rpls
    from etl.demo import (RPLS_COLUMNS, Territory, _ensure_communes, make_dwellings, make_iris,
                          make_qpv, make_residences, residences_of_year, write_semicolon)
    from etl.rpls import load_rpls
    from portail.cli import ensure_database
    from portail.db import connect
    from portail.settings import get_settings

    settings = get_settings()
    ensure_database(settings, verbose=False)
    dsn = settings.owner_dsn()
    _ensure_communes(dsn, print)

    tmp = Path(tempfile.mkdtemp(prefix="bench-rpls-"))
    rng = np.random.default_rng(args.seed)
    t = Territory(rng)
    iris = make_iris(t)
    qpv = make_qpv(t, args.scale)
    res = make_residences(t, iris, qpv, args.scale)
    m = 2024
    dw = make_dwellings(residences_of_year(res, m, m, rng), m, args.seed)
    path = tmp / "RPLS_bench.csv"
    write_semicolon(path, dw, RPLS_COLUMNS, encoding="cp1252")
    n = len(dw)
    print(f"Fichier : {path} ({n} logements, {path.stat().st_size / 1e6:.1f} Mo, CP1252, point-virgule)")

    # SQLAlchemy wants postgresql+psycopg2://; same owner role and database.
    from psycopg.conninfo import conninfo_to_dict
    info = conninfo_to_dict(dsn)
    from urllib.parse import quote
    url = (f"postgresql+psycopg2://{quote(info['user'])}:{quote(info.get('password', ''))}@"
           f"{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info['dbname']}")
    engine = create_engine(url)

    def baseline() -> float:
        started = time.perf_counter()
        df = pd.read_csv(path, sep=";", encoding="cp1252", dtype=str, keep_default_na=False)
        gdf = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(
            df.X.str.replace(",", ".").astype(float), df.Y.str.replace(",", ".").astype(float)), crs=2154)
        gdf.to_postgis("bench_rpls_to_postgis", engine, schema="staging", if_exists="replace", index=False)
        return time.perf_counter() - started

    def ours_copy() -> float:
        started = time.perf_counter()
        read = rpls.read_rpls(path, None)
        assert read["fast"]
        with connect(dsn) as conn, conn.transaction():
            rpls.stage_rpls(conn, path, read)
        return time.perf_counter() - started

    def ours_full() -> float:
        started = time.perf_counter()
        load_rpls(dsn, path, m, force=True)
        return time.perf_counter() - started

    best = {}
    for name, fn in (("to_postgis (référence)", baseline), ("COPY (notre lecture + COPY)", ours_copy),
                     ("etl load rpls complet", ours_full)):
        best[name] = min(fn() for _ in range(args.repeat))
    with connect(dsn) as conn:
        conn.execute("DROP TABLE IF EXISTS staging.bench_rpls_to_postgis")
        conn.commit()
    base = n / best["to_postgis (référence)"]
    print(f"{'méthode':<32} {'temps (s)':>10} {'lignes/s':>12} {'rapport':>9}")
    for name, secs in best.items():
        rate = n / secs
        print(f"{name:<32} {secs:>10.2f} {rate:>12,.0f} {rate / base:>8.1f}×")


if __name__ == "__main__":
    main()
