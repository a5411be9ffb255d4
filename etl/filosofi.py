"""INSEE Filosofi 200 m grid, cells of the territory only; thematic use only.

Every public layout (see :data:`LAYOUTS`), detected from the column names: 2015
(``IdINSPIRE``), 2017 (capitalised: ``Idcar_200m``, ``Ind``, ``Men``…), 2019 (the same
names in lower case). Each as a vector file (GeoPackage, shapefile, or either in a ZIP
archive) or as a CSV without geometry: the square is then rebuilt from its identifier
(``CRS3035RES200mN2029800E4252400``: EPSG:3035, 200 m, south-west corner at northing
2,029,800 and easting 4,252,400). INSEE already protects the grid (households under 11
are imputed, its rule kept as is). The national files are read within the territory's
bounding box; cells that do not touch a commune of the MEL are skipped and counted.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import box

from etl import source as src
from etl.errors import Rejection, SourceFileError
from etl.geofile import read_geofile, territory_bbox
from etl.layouts import Layout, detect
from etl.loading import create_stage, ensure_territory, run_load

MEASURES = ("Ind", "Men", "Men_pauv", "Ind_snv", "Log_soc", "Men_1ind", "Men_5ind", "Men_fmp", "Men_prop")
REQUIRED = ("idcar", "Ind", "Men", "Men_pauv", "Ind_snv", "Log_soc")
AGES_0_17 = ("Ind_0_3", "Ind_4_5", "Ind_6_10", "Ind_11_17")
AGES_65 = ("Ind_65_79", "Ind_80p")
_COLUMNS = {m: (m,) for m in MEASURES + AGES_0_17 + AGES_65}
LAYOUTS: tuple[Layout, ...] = (
    Layout("filosofi-2019", "Filosofi 2019, carreaux de 200 m (noms en minuscules)",
           "INSEE, « Données carroyées à 200 m, Filosofi 2019 » (carreaux_200m_met.gpkg / .csv) : "
           "idcar_200m, ind, men, men_pauv, log_soc…, polygones EPSG:2154 (../shared/docs/source-formats.md).",
           signature=("idcar_200m", "ind", "men"), exact_case=True,
           columns={"idcar": ("idcar_200m",), **_COLUMNS}, required=REQUIRED, area="national",
           millesimes="2019 et suivants", delimiters=(",", ";")),
    Layout("filosofi-2017", "Filosofi 2017, carreaux de 200 m (noms capitalisés)",
           "INSEE, « Données carroyées à 200 m, Filosofi 2017 » : Idcar_200m, Ind, Men, Men_pauv…",
           signature=("Idcar_200m", "Ind", "Men"), exact_case=True,
           columns={"idcar": ("Idcar_200m",), **_COLUMNS}, required=REQUIRED, area="national",
           millesimes="2017", delimiters=(",", ";")),
    Layout("filosofi-2015", "Filosofi 2015, carreaux de 200 m (IdINSPIRE)",
           "INSEE, « Données carroyées à 200 m, Filosofi 2015 » : IdINSPIRE au lieu de Idcar_200m "
           "(../shared/docs/source-formats.md).",
           signature=("IdINSPIRE",), columns={"idcar": ("IdINSPIRE",), **_COLUMNS}, required=REQUIRED,
           area="national", millesimes="2015", delimiters=(",", ";")),
)
CELL_ID = re.compile(r"^CRS(\d{4,5})RES(\d+)mN(\d+)E(\d+)$")


def square(idcar: str):
    """The cell's square, rebuilt from its INSPIRE identifier, in its CRS: (polygon, epsg)."""
    m = CELL_ID.match(idcar.strip())
    if not m:
        raise ValueError(f"identifiant de carreau illisible {idcar!r} (attendu CRS3035RES200mN…E…)")
    epsg, size, north, east = (int(g) for g in m.groups())
    return box(east, north, east + size, north + size), epsg


def _read(path: Path, source_crs, encoding, bbox):
    """The file's table (GeoDataFrame, or DataFrame for a CSV without geometry)."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt") or (suffix == ".zip" and _zip_holds_only_tables(path)):
        import csv
        import io

        import pandas as pd
        is_known = src.known_columns(LAYOUTS)
        from etl.files import open_tabular
        table = open_tabular(path, encoding, is_known, prefer=(r"200m", r"carr"))
        first = table.data.split("\n", 1)[0]
        delimiter = src.choose_delimiter(first, is_known)
        frame = pd.read_csv(io.StringIO(table.data), sep=delimiter, dtype=str, keep_default_na=False,
                            quoting=csv.QUOTE_MINIMAL)
        frame.attrs["delimiter"] = delimiter
        return frame
    return read_geofile(path, source_crs, allow_table=True, bbox_2154=bbox, prefer=(r"200m", r"carr"))


def _zip_holds_only_tables(path: Path) -> bool:
    import zipfile
    from etl.files import GEO_SUFFIXES
    with zipfile.ZipFile(path) as z:
        return not any(n.lower().endswith(GEO_SUFFIXES) for n in z.namelist())


def _within(frame, idcar: str, bbox: tuple[float, float, float, float]):
    """The rows of a national CSV whose square (read from its identifier) may touch the
    territory's box; rows with an unreadable identifier are kept (rejected later, with
    their line). Returns (rows kept, rows outside)."""
    import pandas as pd
    parts = frame[idcar].astype(str).str.strip().str.extract(CELL_ID.pattern)
    keep = parts[0].isna()
    for epsg in parts[0].dropna().unique():
        t = Transformer.from_crs(2154, int(epsg), always_xy=True)
        xs, ys = t.transform([bbox[0], bbox[2], bbox[0], bbox[2]], [bbox[1], bbox[1], bbox[3], bbox[3]])
        sel = parts[0] == epsg
        size = pd.to_numeric(parts[1][sel])
        north, east = pd.to_numeric(parts[2][sel]), pd.to_numeric(parts[3][sel])
        near = (east + size >= min(xs)) & (east <= max(xs)) & (north + size >= min(ys)) & (north <= max(ys))
        keep[sel] = near
    return frame[keep], int((~keep).sum())


def _number(v) -> float | None:
    if v is None:
        return None
    if isinstance(v, str):
        v = v.strip().replace(",", ".")
        if not v:
            return None
    f = float(v)
    return None if f != f else f


def load_filosofi(owner_dsn: str, path: Path, millesime: int, source_crs=None, max_rejects=0.0,
                  fictif=False, force=False, encoding=None, **_):
    path = Path(path)
    bbox = territory_bbox(owner_dsn)
    frame = _read(path, source_crs, encoding, bbox)
    header = [str(c) for c in frame.columns if c != "geometry"]
    detected = detect(path, header, LAYOUTS, "filosofi", "en-tête")
    layout, cols = detected.layout, detected.columns
    if "delimiter" in frame.attrs:
        src.check_delimiter(path, frame.attrs["delimiter"], layout)
    has_geom = hasattr(frame, "geometry") and "geometry" in frame.columns
    rows_read = int(frame.attrs.get("features", len(frame)))
    outside_box = rows_read - len(frame)       # not read: outside the territory's box
    if has_geom:
        frame = frame.to_crs(epsg=2154)
    elif bbox:
        frame, outside_box = _within(frame, cols["idcar"], bbox)
    to_l93: dict[int, Transformer] = {}
    rows, rejections, seen = [], [], {}
    for i, rec in zip(frame.index, frame.to_dict("records")):
        i = int(i)   # the file's entity number (vector), or the row's position (CSV: line i + 2)
        where = f"entité {i}" if has_geom else f"ligne {i + 2}"
        idcar = str(rec[cols["idcar"]] or "").strip()
        if has_geom:
            g = rec["geometry"]
        else:
            try:
                g, epsg = square(idcar)
            except ValueError as exc:
                rejections.append(Rejection(where, cols["idcar"], str(exc)))
                continue
            t = to_l93.setdefault(epsg, Transformer.from_crs(epsg, 2154, always_xy=True))
            g = shapely.transform(g, lambda c, t=t: np.column_stack(t.transform(c[:, 0], c[:, 1])))
        if idcar in seen:
            rejections.append(Rejection(where, cols["idcar"], f"carreau {idcar} déjà vu ({seen[idcar]})"))
            continue
        seen[idcar] = where
        vals, bad = {}, False
        for c in MEASURES:
            col = cols.get(c)
            try:
                v = _number(rec[col]) if col else None
            except (TypeError, ValueError):
                v = -1
            if v is None or v < 0:
                if c in REQUIRED:
                    rejections.append(Rejection(where, col or c, f"valeur absente ou négative {rec[col] if col else None!r}"))
                    bad = True
                vals[c] = None
            else:
                vals[c] = v
        if g is None or g.is_empty or not g.is_valid or g.geom_type not in ("Polygon", "MultiPolygon"):
            rejections.append(Rejection(where, "geometry", "carreau absent ou invalide"))
            bad = True
        if bad:
            continue
        if g.geom_type == "MultiPolygon" and len(g.geoms) == 1:
            g = g.geoms[0]

        def ages(names):
            present = [cols.get(n) for n in names]
            return sum(_number(rec[c]) or 0 for c in present) if all(present) else None
        rows.append((i, idcar, vals["Ind"], vals["Men"], vals["Men_pauv"], vals.get("Men_1ind"),
                     vals.get("Men_5ind"), vals.get("Men_fmp"), vals.get("Men_prop"), vals["Ind_snv"],
                     vals["Log_soc"], ages(AGES_0_17), ages(AGES_65),
                     shapely.to_wkb(shapely.set_srid(g, 2154), hex=True, include_srid=True)))
    if not rows and not rejections and not outside_box and len(frame) == 0:
        raise SourceFileError(path, [Rejection("entité 1", None, "aucun carreau")])

    def load(conn):
        ensure_territory(conn, path)
        create_stage(conn, "filosofi_stage", [("_line", "int"), ("idcar_200m", "text"), ("ind", "numeric"),
            ("men", "numeric"), ("men_pauv", "numeric"), ("men_1ind", "numeric"), ("men_5ind", "numeric"),
            ("men_fmp", "numeric"), ("men_prop", "numeric"), ("ind_snv", "numeric"), ("log_soc", "numeric"),
            ("ind_0_17", "numeric"), ("ind_65_plus", "numeric"), ("geom", "geometry(Polygon, 2154)")], rows,
            label="filosofi")
        conn.execute("CREATE INDEX ON filosofi_stage USING gist (geom)")
        outside = conn.execute("DELETE FROM filosofi_stage s WHERE NOT EXISTS (SELECT 1 FROM core.commune c "
                               "WHERE ST_Intersects(c.geom, s.geom))").rowcount
        conn.execute("DELETE FROM core.filosofi_carreau WHERE millesime = %s", [millesime])
        n = conn.execute("INSERT INTO core.filosofi_carreau SELECT %s, idcar_200m, ind, men, men_pauv, men_1ind,"
                         " men_5ind, men_fmp, men_prop, ind_snv, log_soc, ind_0_17, ind_65_plus, geom"
                         " FROM filosofi_stage", [millesime]).rowcount
        return n, [], [], outside

    notes = [] if has_geom else ["carrés reconstruits depuis leur identifiant (fichier sans géométrie)"]
    return run_load(owner_dsn, "filosofi", millesime, path, rows_read, rejections, load, max_rejects,
                    fictif, force, layout=layout, rows_outside=outside_box, notes=notes)
