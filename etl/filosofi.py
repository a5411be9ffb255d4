"""INSEE Filosofi 200 m grid (GeoPackage as published: ``Idcar_200m``, ``Ind``, ``Men``,
``Men_pauv``, ``Ind_snv``, ``Log_soc``…), cells of the territory only; thematic use only."""
from __future__ import annotations

from pathlib import Path

import shapely

from etl.errors import Rejection
from etl.geofile import pick, read_geofile, require_columns
from etl.loading import create_stage, ensure_territory, run_load

COLUMNS = {c: (c, c.lower(), c.upper()) for c in (
    "Idcar_200m", "Ind", "Men", "Men_pauv", "Ind_snv", "Log_soc", "Men_1ind", "Men_5ind", "Men_fmp",
    "Men_prop")}
REQUIRED = ("Idcar_200m", "Ind", "Men", "Men_pauv", "Ind_snv", "Log_soc")
AGES_0_17 = ("Ind_0_3", "Ind_4_5", "Ind_6_10", "Ind_11_17")
AGES_65 = ("Ind_65_79", "Ind_80p")


def load_filosofi(owner_dsn: str, path: Path, millesime: int, source_crs=None, max_rejects=0.0,
                  fictif=False, force=False, **_):
    gdf = read_geofile(path, source_crs)
    cols = require_columns(path, gdf, COLUMNS, REQUIRED)
    gdf = gdf.to_crs(epsg=2154)
    rows, rejections, seen = [], [], {}
    a017 = [pick(gdf.columns, (c,)) for c in AGES_0_17]
    a65 = [pick(gdf.columns, (c,)) for c in AGES_65]
    for i, rec in enumerate(gdf.itertuples(index=False), start=1):
        where = f"entité {i}"
        idcar = str(getattr(rec, cols["Idcar_200m"]) or "")
        if idcar in seen:
            rejections.append(Rejection(where, cols["Idcar_200m"], f"carreau {idcar} déjà vu à l'entité {seen[idcar]}"))
            continue
        seen[idcar] = i
        vals = {}
        bad = False
        for c, src_col in cols.items():
            if c == "Idcar_200m" or src_col is None:
                continue
            v = getattr(rec, src_col)
            if v is None or v != v or float(v) < 0:
                if c in REQUIRED:
                    rejections.append(Rejection(where, src_col, f"valeur absente ou négative {v!r}"))
                    bad = True
                vals[c] = None
            else:
                vals[c] = float(v)
        g = rec.geometry
        if g is None or g.is_empty or not g.is_valid or g.geom_type != "Polygon":
            rejections.append(Rejection(where, "geometry", "carreau absent ou invalide"))
            bad = True
        if bad:
            continue
        ages = lambda names: (sum(float(getattr(rec, n) or 0) for n in names) if all(names) else None)
        rows.append((i, idcar, vals["Ind"], vals["Men"], vals["Men_pauv"], vals.get("Men_1ind"),
                     vals.get("Men_5ind"), vals.get("Men_fmp"), vals.get("Men_prop"), vals["Ind_snv"],
                     vals["Log_soc"], ages(a017), ages(a65),
                     shapely.to_wkb(shapely.set_srid(g, 2154), hex=True, include_srid=True)))

    def load(conn):
        ensure_territory(conn, path)
        create_stage(conn, "filosofi_stage", [("_line", "int"), ("idcar_200m", "text"), ("ind", "numeric"),
            ("men", "numeric"), ("men_pauv", "numeric"), ("men_1ind", "numeric"), ("men_5ind", "numeric"),
            ("men_fmp", "numeric"), ("men_prop", "numeric"), ("ind_snv", "numeric"), ("log_soc", "numeric"),
            ("ind_0_17", "numeric"), ("ind_65_plus", "numeric"), ("geom", "geometry(Polygon, 2154)")], rows)
        conn.execute("CREATE INDEX ON filosofi_stage USING gist (geom)")
        outside = conn.execute("DELETE FROM filosofi_stage s WHERE NOT EXISTS (SELECT 1 FROM core.commune c "
                               "WHERE ST_Intersects(c.geom, s.geom))").rowcount
        conn.execute("DELETE FROM core.filosofi_carreau WHERE millesime = %s", [millesime])
        n = conn.execute("INSERT INTO core.filosofi_carreau SELECT %s, idcar_200m, ind, men, men_pauv, men_1ind,"
                         " men_5ind, men_fmp, men_prop, ind_snv, log_soc, ind_0_17, ind_65_plus, geom"
                         " FROM filosofi_stage", [millesime]).rowcount
        return n, [], ([f"{outside} carreau(x) hors du territoire ignorés"] if outside else [])

    return run_load(owner_dsn, "filosofi", millesime, path, len(gdf), rejections, load, max_rejects,
                    fictif, force)
