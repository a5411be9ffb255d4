"""A full public RPLS file of the Nord department (DiDo export, ~200,000 dwellings), end to end.

Usage (needs the test/bench extra: sqlalchemy, geoalchemy2, psycopg2-binary):

    PORTAIL_STATE_DIR=/tmp/state-bench .venv/bin/python bench/bench_rpls_nord.py [--dwellings 200000] [--repeat 1]

A state folder of its own is best: the script starts the project's cluster there, loads the
communes and the demo's IRIS and QPV if none are loaded, and uses the oldest millésime kept
by retention for its RPLS loads (deleted at the end).

The file is built in the DiDo 2025 layout (73 columns, ';', strings quoted, UTF-8, a per-row
EPSG): the MEL's dwellings are the demo's (fictitious, ~130,000 at scale 1), the rest of the
department's are dwellings of other communes of the Nord, which the loader must skip and
count. Then, in the same run, on the same file:

  baseline  ``pandas.read_csv`` + keep the MEL's communes + points + ``GeoDataFrame.to_postgis``
            (what a geopandas script does: no check, no résidence, no publication);
  ours      ``portail-lls etl load rpls FILE --millesime M --force`` as a user runs it (a new
            process: layout detection, every field checked, rows outside the MEL skipped,
            résidences, point-in-polygon, swap, proximity, publication).

It prints the times, the rows/s and the ratio, and exits 1 if ours takes 60 s or more.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

LIMIT_S = 60.0


def build_file(path: Path, dwellings: int, seed: int, m: int, t, iris, qpv) -> tuple[int, int]:
    """The Nord file in the DiDo 2025 layout; returns (dwellings in the MEL, outside)."""
    import numpy as np

    from etl.demo import make_dwellings, make_residences, residences_of_year
    from source_files import DIDO_NUMERIC, FINAN_LABELS, RPLS_DIDO_2025

    rng = np.random.default_rng(seed)
    res = make_residences(t, iris, qpv, 1.0)
    dw = make_dwellings(residences_of_year(res, m, m, rng), m, seed)
    inside = min(len(dw), dwellings)
    dw = dw.iloc[:inside]
    outside = dwellings - inside
    quoted = [h not in DIDO_NUMERIC for h in RPLS_DIDO_2025]
    idx = {h: i for i, h in enumerate(RPLS_DIDO_2025)}
    base = [""] * len(RPLS_DIDO_2025)
    for h, v in {"REG_CODE": "32", "REG_LIBELLE": "Hauts-de-France", "LIBREG": "Hauts-de-France", "DEP_CODE": "59",
                 "DEP_LIBELLE": "Nord", "LIBDEP": "Nord", "DROIT_CODE": "1", "DROIT_LIBELLE": "Pleine propriété",
                 "ORIGINE": "1", "PMR_CODE": "2", "PMR_LIBELLE": "Non", "EPSG": "2154", "QUALITE_XY": "11",
                 "UU2020": "59702", "PLG_QP15": "HZ"}.items():
        base[idx[h]] = v

    def line(values: list[str]) -> str:
        return ";".join(f'"{v}"' if q and v != "" else v for v, q in zip(values, quoted))

    labels = {"C": "collectif", "I": "individuel", "E": "étudiant"}
    cols = {h: dw[h].astype(str).to_numpy() for h in ("DEPCOM", "NUMVOIE", "TYPVOIE", "NOMVOIE", "QPV", "PLG_QPV",
                                                       "TYPECONST", "NBPIECE", "SURFHAB", "CONSTRUCT", "FINAN",
                                                       "CONV", "DPEENERGIE", "DPESERRE", "X", "Y", "PLG_IRIS")}
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        out.write(";".join(f'"{h}"' for h in RPLS_DIDO_2025) + "\n")
        for i in range(inside):
            v = list(base)
            com = cols["DEPCOM"][i]
            v[idx["EPCI_CODE"]], v[idx["EPCI_LIBELLE"]], v[idx["LIBEPCI"]] = (
                "200093201", "Métropole Européenne de Lille", "Métropole Européenne de Lille")
            v[idx["DEPCOM"]], v[idx["CODEPOSTAL"]], v[idx["LIBCOM"]] = com, "59000", t.names[com]
            v[idx["NUMVOIE"]], v[idx["TYPVOIE"]], v[idx["NOMVOIE"]] = (
                cols["NUMVOIE"][i], cols["TYPVOIE"][i], cols["NOMVOIE"][i])
            v[idx["QPV_CODE"]] = cols["QPV"][i]
            v[idx["QPV_LIBELLE"]] = "Logement situé en QPV" if cols["QPV"][i] == "1" else "Logement situé hors QPV"
            v[idx["TYPECONST_CODE"]], v[idx["TYPECONST_LIBELLE"]] = cols["TYPECONST"][i], labels[cols["TYPECONST"][i]]
            v[idx["NBPIECE"]], v[idx["SURFHAB"]] = cols["NBPIECE"][i], cols["SURFHAB"][i].replace(",", ".")
            v[idx["CONSTRUCT"]] = cols["CONSTRUCT"][i]
            v[idx["FINAN_CODE"]] = cols["FINAN"][i]
            v[idx["FINAN_LIBELLE"]] = FINAN_LABELS.get(cols["FINAN"][i], "")
            v[idx["CONV"]], v[idx["DPEENERGIE"]], v[idx["DPESERRE"]] = (
                cols["CONV"][i], cols["DPEENERGIE"][i], cols["DPESERRE"][i])
            v[idx["X"]], v[idx["Y"]] = cols["X"][i], cols["Y"][i]
            v[idx["PLG_IRIS2024_CODE"]] = com + cols["PLG_IRIS"][i]
            v[idx["PLG_QP24"]] = cols["PLG_QPV"][i] or "HZ"
            out.write(line(v) + "\n")
        # Other communes of the Nord (Dunkerque, Valenciennes, Maubeuge… codes outside the MEL).
        others = [c for c in (f"59{k:03d}" for k in range(1, 670)) if c not in t.names][:300]
        r = np.random.default_rng(seed + 1)
        for j in range(outside):
            v = list(base)
            com = others[j % len(others)]
            v[idx["EPCI_CODE"]] = "245900428"
            v[idx["DEPCOM"]], v[idx["CODEPOSTAL"]], v[idx["LIBCOM"]] = com, "59140", f"COMMUNE {com}"
            v[idx["NUMVOIE"]], v[idx["TYPVOIE"]], v[idx["NOMVOIE"]] = str(1 + j % 120), "RUE", "DE LA LIBERTÉ"
            v[idx["QPV_CODE"]], v[idx["QPV_LIBELLE"]] = "2", "Logement situé hors QPV"
            v[idx["TYPECONST_CODE"]], v[idx["TYPECONST_LIBELLE"]] = "C", "collectif"
            v[idx["NBPIECE"]], v[idx["SURFHAB"]], v[idx["CONSTRUCT"]] = str(1 + j % 5), "61.5", str(1950 + j % 70)
            v[idx["FINAN_CODE"]], v[idx["FINAN_LIBELLE"]], v[idx["CONV"]] = "13", "PLUS", "1"
            v[idx["DPEENERGIE"]], v[idx["DPESERRE"]] = "D", "E"
            v[idx["X"]] = f"{650000 + r.integers(0, 100000)}.0"
            v[idx["Y"]] = f"{6990000 + r.integers(0, 120000)}.0"
            v[idx["PLG_QP24"]] = "HZ"
            out.write(line(v) + "\n")
    return inside, outside


def ensure_territory(dsn: str, t, iris, qpv, workdir: Path) -> None:
    """Communes, and the demo's IRIS and QPV when none are loaded (the positions need them)."""
    from etl.demo import _ensure_communes
    from etl.territories import load_iris, load_qpv
    from portail.db import connect
    _ensure_communes(dsn, print)
    with connect(dsn) as conn:
        n_iris, n_qpv = conn.execute("SELECT (SELECT count(*) FROM core.iris), (SELECT count(*) FROM core.qpv)").fetchone()
    if not n_iris:
        iris.to_file(workdir / "iris.gpkg", engine="pyogrio")
        load_iris(dsn, workdir / "iris.gpkg", 2025, fictif=True)
    if not n_qpv:
        qpv.to_crs(4326).to_file(workdir / "qpv.geojson", engine="pyogrio")
        load_qpv(dsn, workdir / "qpv.geojson", 2025, fictif=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dwellings", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()

    import geopandas as gpd
    import numpy as np
    import pandas as pd
    from sqlalchemy import create_engine

    from etl.demo import Territory, make_iris, make_qpv
    from etl.retention import oldest_kept
    from portail.cli import ensure_database
    from portail.db import connect
    from portail.settings import get_settings

    settings = get_settings()
    ensure_database(settings, verbose=False)
    dsn = settings.owner_dsn()
    work = Path(tempfile.mkdtemp(prefix="bench-rpls-nord-"))
    t = Territory(np.random.default_rng(args.seed))
    iris, qpv = make_iris(t), make_qpv(t, 1.0)
    ensure_territory(dsn, t, iris, qpv, work)
    m = oldest_kept()      # a millésime of its own, removed at the end
    path = work / "rpls_nord_2025_dido.csv"
    started = time.perf_counter()
    inside, outside = build_file(path, args.dwellings, args.seed, m, t, iris, qpv)
    print(f"Fichier : {path} ({inside + outside} logements dont {inside} dans la MEL, "
          f"{path.stat().st_size / 1e6:.1f} Mo, disposition DiDo 2025 : 73 colonnes, « ; », guillemets, UTF-8) "
          f"construit en {time.perf_counter() - started:.1f} s")

    from psycopg.conninfo import conninfo_to_dict
    from urllib.parse import quote
    info = conninfo_to_dict(dsn)
    engine = create_engine(f"postgresql+psycopg2://{quote(info['user'])}:{quote(info.get('password', ''))}@"
                           f"{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info['dbname']}")
    with connect(dsn) as conn:
        mel = {r[0] for r in conn.execute("SELECT code_insee FROM core.commune").fetchall()}
        others = conn.execute("SELECT count(DISTINCT millesime), count(*) FROM core.residence "
                              "WHERE millesime <> %s", [m]).fetchone()
        context = conn.execute("SELECT (SELECT count(*) FROM core.bpe_equipement) + "
                               "(SELECT count(*) FROM core.arret_tc)").fetchone()[0]
    # The load republishes everything: the secrecy of every millésime already there is recomputed.
    print(f"Base : {len(mel)} communes, {others[0]} autre(s) millésime(s) RPLS ({others[1]} résidences), "
          f"{context} équipements et arrêts de contexte")

    def baseline() -> float:
        t0 = time.perf_counter()
        df = pd.read_csv(path, sep=";", encoding="utf-8", dtype=str, keep_default_na=False)
        df = df[df.DEPCOM.isin(mel)]
        gdf = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df.X.astype(float), df.Y.astype(float)), crs=2154)
        gdf.to_postgis("bench_rpls_nord", engine, schema="staging", if_exists="replace", index=False)
        return time.perf_counter() - t0

    cli = str(Path(sys.executable).parent / "portail-lls")

    def ours() -> float:
        t0 = time.perf_counter()
        done = subprocess.run([cli, "etl", "load", "rpls", str(path), "--millesime", str(m), "--force"],
                              capture_output=True, text=True, env=dict(os.environ), stdin=subprocess.DEVNULL)
        secs = time.perf_counter() - t0
        if done.returncode != 0:
            sys.exit(f"etl load rpls a échoué :\n{done.stdout}{done.stderr}")
        print("    " + done.stdout.strip().replace("\n", "\n    "))
        return secs

    n = inside + outside
    print(f"{'méthode':<78} {'temps (s)':>9} {'lignes/s':>10} {'rapport':>8}")
    results = []
    for name, fn in (("référence : read_csv + filtre MEL + to_postgis (sans contrôle ni publication)", baseline),
                     ("portail-lls etl load rpls (bout en bout, nouveau processus)", ours)):
        secs = min(fn() for _ in range(args.repeat))
        results.append(secs)
        print(f"  {name:<76} {secs:>9.2f} {n / secs:>10,.0f} {results[0] / secs:>7.2f}×")
    with connect(dsn) as conn:
        conn.execute("DROP TABLE IF EXISTS staging.bench_rpls_nord")
        conn.execute("DELETE FROM core.residence WHERE millesime = %s", [m])
        conn.execute("DELETE FROM core.load WHERE source = 'rpls' AND millesime = %s", [m])
        conn.commit()
    verdict = "OK" if results[1] < LIMIT_S else "ÉCHEC"
    print(f"{verdict} : {results[1]:.1f} s pour {n} logements (objectif : moins de {LIMIT_S:.0f} s)")
    sys.exit(0 if results[1] < LIMIT_S else 1)


if __name__ == "__main__":
    main()
