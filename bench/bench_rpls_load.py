"""RPLS load: our COPY loader against geopandas ``GeoDataFrame.to_postgis``, same file, same run.

Usage (needs the test/bench extra: sqlalchemy, geoalchemy2, psycopg2-binary):

    PORTAIL_STATE_DIR=/tmp/state-x .venv/bin/python bench/bench_rpls_load.py [--scale 1.0] [--repeat 1]

(a state folder of its own is best: the script loads communes if none, and uses the oldest
millésime kept by retention for its RPLS loads, deleted at the end.)

It generates the demo RPLS file (fictitious, ~130,000 dwellings at scale 1), makes sure the
communes are loaded, then times, on the same file:
  A. the write alone, same GeoDataFrame, same columns: ``to_postgis`` against one COPY;
  B. file to a loading table: ``pandas.read_csv`` + points + ``to_postgis`` (what a
    geopandas script does: no checks) against ours:
    the file decoded and COPYed as is, every field checked in SQL (line numbers,
    messages), typed rows and résidence ids in the staging table;
  C. our full load: ``etl load rpls`` end to end (checks, point-in-polygon, résidences,
    swap, proximity, publication), with ``--force``.
It prints rows/s for each and the ratios (to the first line of each group).
Rows/s = dwellings in the file / wall time; best of ``--repeat`` runs.
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

    from psycopg import sql

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
    # A millésime of its own (the oldest kept), removed at the end: the demo's stay untouched.
    from etl.retention import oldest_kept
    m = oldest_kept()
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

    def read_gdf():
        df = pd.read_csv(path, sep=";", encoding="cp1252", dtype=str, keep_default_na=False)
        return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(
            df.X.str.replace(",", ".").astype(float), df.Y.str.replace(",", ".").astype(float)), crs=2154)

    def write_to_postgis(gdf) -> float:
        started = time.perf_counter()
        gdf.to_postgis("bench_rpls_to_postgis", engine, schema="staging", if_exists="replace", index=False)
        return time.perf_counter() - started

    def write_copy(gdf) -> float:
        """The same rows, same columns, written with one COPY (what our loaders do)."""
        import io
        import shapely
        started = time.perf_counter()
        cols = [c for c in gdf.columns if c != "geometry"]
        with connect(dsn) as conn, conn.transaction():
            conn.execute(sql.SQL("DROP TABLE IF EXISTS staging.bench_rpls_copy"))
            conn.execute(sql.SQL("CREATE TABLE staging.bench_rpls_copy ({}, geometry geometry(Point, 2154))")
                         .format(sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in cols)))
            out = pd.DataFrame(gdf[cols])
            out["geometry"] = shapely.to_wkb(gdf.geometry.values, hex=True, include_srid=True)
            buf = io.StringIO()
            out.to_csv(buf, index=False, header=False)
            with conn.cursor().copy(sql.SQL("COPY staging.bench_rpls_copy FROM STDIN (FORMAT csv)")) as cp:
                cp.write(buf.getvalue())
        return time.perf_counter() - started

    def file_to_postgis() -> float:
        started = time.perf_counter()
        write_to_postgis(read_gdf())
        return time.perf_counter() - started

    def file_to_stage() -> float:
        started = time.perf_counter()
        read = rpls.read_rpls(path, None)
        assert read["fast"]
        with connect(dsn) as conn, conn.transaction():
            rpls.stage_rpls(conn, path, read)
        return time.perf_counter() - started

    def full_load() -> float:
        started = time.perf_counter()
        load_rpls(dsn, path, m, force=True)
        return time.perf_counter() - started

    gdf = read_gdf()
    runs = {
        "A. écriture seule, même GeoDataFrame": [("to_postgis", lambda: write_to_postgis(gdf)),
                                                 ("COPY", lambda: write_copy(gdf))],
        "B. fichier -> table de chargement": [("read_csv + to_postgis, sans contrôle", file_to_postgis),
                                              ("etl : COPY du fichier + contrôles SQL", file_to_stage)],
        "C. chargement complet": [("etl load rpls (contrôles, résidences, proximité, publication)",
                                   full_load)],
    }
    print(f"{'méthode':<64} {'temps (s)':>9} {'lignes/s':>10} {'rapport':>8}")
    for title, entries in runs.items():
        print(title)
        base = None
        for name, fn in entries:
            secs = min(fn() for _ in range(args.repeat))
            rate = n / secs
            base = base or rate
            print(f"  {name:<62} {secs:>9.2f} {rate:>10,.0f} {rate / base:>7.1f}×")
    with connect(dsn) as conn:
        conn.execute("DROP TABLE IF EXISTS staging.bench_rpls_to_postgis")
        conn.execute("DROP TABLE IF EXISTS staging.bench_rpls_copy")
        conn.execute("DELETE FROM core.residence WHERE millesime = %s", [m])
        conn.execute("DELETE FROM core.load WHERE source = 'rpls' AND millesime = %s", [m])
        conn.commit()


if __name__ == "__main__":
    main()
