"""Territories: IRIS (IGN CONTOURS-IRIS), QPV (national file), EPCI membership.

Territories describe the current geography: a load replaces the whole table
(the millésime of the geography is kept in each row).
"""
from __future__ import annotations

import re
from pathlib import Path

from psycopg import sql

from etl import source as src
from etl.errors import Rejection
from etl.geofile import checked_polygons, ewkb, read_geofile, require_columns
from etl.loading import create_stage, ensure_territory, reject, run_load

IRIS_COLUMNS = {
    "code_iris": ("CODE_IRIS", "code_iris", "DCOMIRIS", "IRIS_CODE"),
    "nom_iris": ("NOM_IRIS", "nom_iris", "LIB_IRIS"),
    "insee_com": ("INSEE_COM", "insee_com", "DEPCOM", "CODE_INSEE"),
    "typ_iris": ("TYP_IRIS", "typ_iris"),
}
CODE_IRIS = re.compile(r"^[0-9][0-9AB][0-9]{7}$")


def load_iris(owner_dsn: str, path: Path, millesime: int, source_crs: str | None = None,
              max_rejects: float = 0.0, fictif: bool = False, force: bool = False):
    gdf = read_geofile(path, source_crs)
    cols = require_columns(path, gdf, IRIS_COLUMNS, ("code_iris", "nom_iris", "typ_iris"))
    geoms, rejections, warnings = checked_polygons(gdf)
    rows, seen = [], {}
    for i, (rec, geom) in enumerate(zip(gdf.itertuples(index=False), geoms), start=1):
        where = f"entité {i}"
        code = str(getattr(rec, cols["code_iris"]) or "").strip()
        if not CODE_IRIS.match(code):
            rejections.append(Rejection(where, cols["code_iris"], f"code IRIS invalide {code!r}"))
            continue
        if code in seen:
            rejections.append(Rejection(where, cols["code_iris"], f"code {code} déjà vu à l'entité {seen[code]}"))
            continue
        seen[code] = i
        com = str(getattr(rec, cols["insee_com"]) or "").strip() if cols["insee_com"] else code[:5]
        typ = str(getattr(rec, cols["typ_iris"]) or "").strip().upper()
        if typ not in ("H", "A", "D", "Z"):
            rejections.append(Rejection(where, cols["typ_iris"], f"TYP_IRIS inconnu {typ!r} (H, A, D, Z)"))
            continue
        if com != code[:5]:
            rejections.append(Rejection(where, cols["insee_com"],
                                        f"commune {com} différente du début du code IRIS {code}"))
            continue
        if geom is None:
            continue
        rows.append((i, code, str(getattr(rec, cols["nom_iris"])).strip(), com, typ, ewkb(geom)))

    def load(conn):
        ensure_territory(conn, path)
        create_stage(conn, "iris_stage", [("_line", "int"), ("code_iris", "text"), ("nom_iris", "text"),
                                          ("insee_com", "text"), ("typ_iris", "text"),
                                          ("geom", "geometry(MultiPolygon, 2154)")], rows)
        rej = reject(conn, "iris_stage", sql.SQL(
            "NOT EXISTS (SELECT 1 FROM core.commune c WHERE c.code_insee = s.insee_com)"),
            cols["insee_com"] or "INSEE_COM", sql.SQL("format('commune %s inconnue du territoire', s.insee_com)"))
        rej = [Rejection(r.location.replace("ligne", "entité"), r.field, r.reason) for r in rej]
        conn.execute("DELETE FROM core.iris")
        n = conn.execute("INSERT INTO core.iris (code_iris, nom_iris, insee_com, typ_iris, millesime, source, geom)"
                         " SELECT code_iris, nom_iris, insee_com, typ_iris, %s, %s, geom FROM iris_stage",
                         [millesime, Path(path).name]).rowcount
        missing = conn.execute("SELECT count(*) FROM core.commune c WHERE NOT EXISTS "
                               "(SELECT 1 FROM core.iris i WHERE i.insee_com = c.code_insee)").fetchone()[0]
        w = list(warnings)
        if missing:
            w.append(f"{missing} commune(s) sans IRIS")
        return n, rej, w

    return run_load(owner_dsn, "iris", millesime, path, len(gdf), rejections, load,
                    max_rejects, fictif, force)


QPV_COLUMNS = {
    "code_qpv": ("code_qp", "CODE_QP", "code_qpv", "CODE_QPV"),
    "nom_qpv": ("nom_qp", "NOM_QP", "lib_qp", "LIB_QP", "nom_qpv"),
    "communes": ("insee_com", "commune_qp", "COMMUNE_QP", "communes", "code_insee"),
}
CODE_QPV = re.compile(r"^Q[A-Z0-9]{6,8}$")


def load_qpv(owner_dsn: str, path: Path, millesime: int, source_crs: str | None = None,
             max_rejects: float = 0.0, fictif: bool = False, force: bool = False):
    """National QPV file: only the QPV that touch the territory are kept (others counted)."""
    gdf = read_geofile(path, source_crs)
    cols = require_columns(path, gdf, QPV_COLUMNS, ("code_qpv", "nom_qpv"))
    geoms, rejections, warnings = checked_polygons(gdf)
    rows, seen = [], {}
    for i, (rec, geom) in enumerate(zip(gdf.itertuples(index=False), geoms), start=1):
        where = f"entité {i}"
        code = str(getattr(rec, cols["code_qpv"]) or "").strip().upper()
        if not CODE_QPV.match(code):
            rejections.append(Rejection(where, cols["code_qpv"], f"code QPV invalide {code!r}"))
            continue
        if code in seen:
            rejections.append(Rejection(where, cols["code_qpv"], f"code {code} déjà vu à l'entité {seen[code]}"))
            continue
        seen[code] = i
        if geom is None:
            continue
        declared = None
        if cols["communes"]:
            raw = str(getattr(rec, cols["communes"]) or "")
            declared = [c for c in re.split(r"[,;| ]+", raw) if src.CODE_INSEE.match(c)] or None
        rows.append((i, code, str(getattr(rec, cols["nom_qpv"])).strip(), declared, ewkb(geom)))

    def load(conn):
        ensure_territory(conn, path)
        create_stage(conn, "qpv_stage", [("_line", "int"), ("code_qpv", "text"), ("nom_qpv", "text"),
                                         ("declared", "text[]"), ("geom", "geometry(MultiPolygon, 2154)")], rows)
        conn.execute("""ALTER TABLE qpv_stage ADD communes text[];
            UPDATE qpv_stage s SET communes = (SELECT array_agg(c.code_insee ORDER BY c.code_insee)
                FROM core.commune c WHERE ST_Intersects(c.geom, s.geom)
                AND ST_Area(ST_Intersection(c.geom, s.geom)) > 0.01 * ST_Area(s.geom))""")
        outside = conn.execute("DELETE FROM qpv_stage WHERE communes IS NULL").rowcount
        w = list(warnings)
        if outside:
            w.append(f"{outside} QPV hors du territoire ignorés (fichier national)")
        for line, code, declared, located in conn.execute(
                "SELECT _line, code_qpv, declared, communes FROM qpv_stage "
                "WHERE declared IS NOT NULL AND NOT declared @> communes ORDER BY _line").fetchall():
            w.append(f"entité {line}, QPV {code} : communes déclarées {','.join(declared)}, "
                     f"la géométrie touche {','.join(located)}")
        conn.execute("DELETE FROM core.qpv")
        n = conn.execute("INSERT INTO core.qpv (code_qpv, nom_qpv, communes, millesime, source, geom)"
                         " SELECT code_qpv, nom_qpv, communes, %s, %s, geom FROM qpv_stage",
                         [millesime, Path(path).name]).rowcount
        return n, [], w

    return run_load(owner_dsn, "qpv", millesime, path, len(gdf), rejections, load,
                    max_rejects, fictif, force)


EPCI_SPEC = src.CsvSpec(
    source="epci", delimiter=None, key=("code_insee",),
    fields=(src.Field("code_insee", ("code_insee", "CODGEO", "INSEE_COM", "DEPCOM"), src.code_insee),
            src.Field("siren_epci", ("code_epci", "EPCI", "SIREN_EPCI", "siren_epci")),
            src.Field("nom_epci", ("nom_epci", "LIBEPCI", "NOM_EPCI"))))


def load_epci(owner_dsn: str, path: Path, millesime: int, encoding: str | None = None,
              max_rejects: float = 0.0, fictif: bool = False, force: bool = False):
    """Membership of communes in their EPCI (DGCL / INSEE list), communes of the territory only."""
    result = src.read_csv(path, EPCI_SPEC, encoding)

    def load(conn):
        ensure_territory(conn, path)
        create_stage(conn, "epci_stage", [("_line", "int"), ("code_insee", "text"),
                                          ("siren_epci", "text"), ("nom_epci", "text")], result.rows)
        rej = reject(conn, "epci_stage", sql.SQL("s.siren_epci !~ '^[0-9]{9}$'"), result.columns["siren_epci"],
                     sql.SQL("format('SIREN d''EPCI invalide %s', s.siren_epci)"))
        ignored = conn.execute("DELETE FROM epci_stage s WHERE NOT EXISTS (SELECT 1 FROM core.commune c "
                               "WHERE c.code_insee = s.code_insee)").rowcount
        conn.execute("DELETE FROM core.epci_membership")
        n = conn.execute("INSERT INTO core.epci_membership SELECT code_insee, siren_epci, nom_epci, %s, %s "
                         "FROM epci_stage", [millesime, Path(path).name]).rowcount
        w = [f"{ignored} commune(s) hors du territoire ignorées"] if ignored else []
        return n, rej, w

    return run_load(owner_dsn, "epci", millesime, path, result.rows_read, result.rejections, load,
                    max_rejects, fictif, force)
