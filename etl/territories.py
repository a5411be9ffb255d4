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
from etl.errors import SourceFileError
from etl.geofile import checked_polygons, entities, ewkb, read_geofile, territory_bbox
from etl.layouts import Layout, detect
from etl.loading import create_stage, ensure_territory, reject, run_load, territory_codes

IRIS_LAYOUTS: tuple[Layout, ...] = (
    Layout("iris-contours-3", "IGN CONTOURS-IRIS 3.0 (GeoPackage)",
           "IGN, CONTOURS-IRIS® 3.0 (éditions 2024, 2025), GeoPackage en Lambert-93, multipolygones : "
           "code_insee, nom_commune, iris, code_iris, nom_iris, type_iris (../shared/docs/source-formats.md).",
           signature=("code_iris", "type_iris"),
           columns={"code_iris": ("code_iris",), "nom_iris": ("nom_iris",), "insee_com": ("code_insee",),
                    "typ_iris": ("type_iris",)},
           required=("code_iris", "nom_iris", "typ_iris"), area="national", millesimes="2024 et suivants"),
    Layout("iris-contours-2", "IGN CONTOURS-IRIS 2.x (Shapefile)",
           "IGN, CONTOURS-IRIS® 2.x (éditions jusqu'en 2023), Shapefile : INSEE_COM, NOM_COM, IRIS, CODE_IRIS, "
           "NOM_IRIS, TYP_IRIS (../shared/docs/source-formats.md).",
           signature=("CODE_IRIS", "TYP_IRIS"),
           columns={"code_iris": ("CODE_IRIS", "DCOMIRIS", "IRIS_CODE"), "nom_iris": ("NOM_IRIS", "LIB_IRIS"),
                    "insee_com": ("INSEE_COM", "DEPCOM", "CODE_INSEE"), "typ_iris": ("TYP_IRIS",)},
           required=("code_iris", "nom_iris", "typ_iris"), area="national", millesimes="2014 à 2023"),
)
IRIS_TABLE_HINT = ("La table d'appartenance géographique des IRIS de l'INSEE (CSV, XLSX) ne donne pas les contours : "
                   "chargez CONTOURS-IRIS de l'IGN (GeoPackage ou Shapefile, éventuellement dans son archive ZIP).")
CODE_IRIS = re.compile(r"^[0-9][0-9AB][0-9]{7}$")


def _territory(owner_dsn: str) -> set[str]:
    from etl.bpe import _territory_codes
    return _territory_codes(owner_dsn)


def _geofile(path, source_crs, hint, **kw):
    try:
        return read_geofile(path, source_crs, **kw)
    except SourceFileError as exc:
        if any("sans géométrie" in str(p) for p in exc.problems):
            raise SourceFileError(path, exc.problems, hint=hint) from None
        raise


def load_iris(owner_dsn: str, path: Path, millesime: int, source_crs: str | None = None,
              max_rejects: float = 0.0, fictif: bool = False, force: bool = False):
    """IGN CONTOURS-IRIS (2.x shapefile, 3.0 GeoPackage, or either in its ZIP): the IRIS of
    the territory's communes; the others (national file) are skipped and counted."""
    gdf = _geofile(path, source_crs, IRIS_TABLE_HINT, layers=("contours_iris", "iris"),
                   prefer=(r"iris",), bbox_2154=territory_bbox(owner_dsn, 5000))
    detected = detect(path, [c for c in gdf.columns if c != "geometry"], IRIS_LAYOUTS, "iris", "en-tête")
    cols = detected.columns
    communes = _territory(owner_dsn)
    outside = int(gdf.attrs.get("features", len(gdf))) - len(gdf)   # not read: outside the territory's box
    keep = []
    for i, rec in enumerate(gdf.itertuples(index=False)):
        code = str(getattr(rec, cols["code_iris"]) or "").strip()
        com = str(getattr(rec, cols["insee_com"]) or "").strip() if cols["insee_com"] else code[:5]
        if communes and CODE_IRIS.match(code) and com == code[:5] and com not in communes:
            outside += 1
        else:
            keep.append(i)
    gdf = gdf.iloc[keep]
    geoms, rejections, warnings = checked_polygons(gdf)
    rows, seen = [], {}
    for i, rec, geom in zip(entities(gdf), gdf.itertuples(index=False), geoms):
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

    return run_load(owner_dsn, "iris", millesime, path, len(keep) + outside, rejections, load,
                    max_rejects, fictif, force, layout=detected.layout, rows_outside=outside)


QPV_LAYOUTS: tuple[Layout, ...] = (
    Layout("qpv-2024", "QPV 2024, fichier national de l'ANCT",
           "ANCT, QP2024_France_Hexagonale_Outre_Mer_WGS84.geojson et QP2024_France_hexagonale_LB93.shp : "
           "code_qp, lib_qp, insee_com, lib_com, insee_dep, insee_reg (../shared/docs/source-formats.md).",
           signature=("code_qp", "lib_qp"),
           columns={"code_qpv": ("code_qp",), "nom_qpv": ("lib_qp",), "communes": ("insee_com",)},
           required=("code_qpv", "nom_qpv"), area="national", millesimes="2024 et suivants"),
    Layout("qpv-2015", "QPV 2015, fichier national (CGET)",
           "CGET, QP_METROPOLEOUTREMER (2015) : CODE_QP, NOM_QP, COMMUNE_QP.",
           signature=("code_qp", "nom_qp"),
           columns={"code_qpv": ("code_qp",), "nom_qpv": ("nom_qp",), "communes": ("commune_qp", "insee_com")},
           required=("code_qpv", "nom_qpv"), area="national", millesimes="2015 à 2023"),
)
CODE_QPV = re.compile(r"^Q[A-Z0-9]{6,8}$")


def load_qpv(owner_dsn: str, path: Path, millesime: int, source_crs: str | None = None,
             max_rejects: float = 0.0, fictif: bool = False, force: bool = False):
    """National QPV file: only the QPV that touch the territory are kept (others counted)."""
    gdf = read_geofile(path, source_crs, prefer=(r"qp",))
    detected = detect(path, [c for c in gdf.columns if c != "geometry"], QPV_LAYOUTS, "qpv", "en-tête")
    cols = detected.columns
    geoms, rejections, warnings = checked_polygons(gdf)
    rows, seen = [], {}
    for i, rec, geom in zip(entities(gdf), gdf.itertuples(index=False), geoms):
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
        for line, code, declared, located in conn.execute(
                "SELECT _line, code_qpv, declared, communes FROM qpv_stage "
                "WHERE declared IS NOT NULL AND NOT declared @> communes ORDER BY _line").fetchall():
            w.append(f"entité {line}, QPV {code} : communes déclarées {','.join(declared)}, "
                     f"la géométrie touche {','.join(located)}")
        conn.execute("DELETE FROM core.qpv")
        n = conn.execute("INSERT INTO core.qpv (code_qpv, nom_qpv, communes, millesime, source, geom)"
                         " SELECT code_qpv, nom_qpv, communes, %s, %s, geom FROM qpv_stage",
                         [millesime, Path(path).name]).rowcount
        return n, [], w, outside

    return run_load(owner_dsn, "qpv", millesime, path, len(gdf), rejections, load,
                    max_rejects, fictif, force, layout=detected.layout)


EPCI_SPEC = src.CsvSpec(
    source="epci", delimiter=None, key=("code_insee",),
    fields=(src.Field("code_insee", (), src.code_insee),
            src.Field("siren_epci", (), src.padded(9)),
            src.Field("nom_epci", ())))
EPCI_LAYOUTS: tuple[Layout, ...] = (
    Layout("epci-insee-composition", "INSEE, composition communale des EPCI (classeur, lignes de titre)",
           "INSEE, « Intercommunalité - Métropole au 1er janvier AAAA » (Intercommunalite_Metropole_au_01-01-AAAA.xlsx), "
           "feuille Composition_communale : quelques lignes de titre au-dessus de l'en-tête CODGEO, LIBGEO, EPCI, "
           "LIBEPCI, DEP, REG (../shared/docs/source-formats.md) ; aussi enregistrée en CSV.",
           signature=("CODGEO", "EPCI", "LIBEPCI"),
           columns={"code_insee": ("CODGEO",), "siren_epci": ("EPCI",), "nom_epci": ("LIBEPCI",)},
           required=("code_insee", "siren_epci", "nom_epci"), area="national", millesimes="2014 et suivants",
           delimiters=(";", ",", "\t")),
    Layout("epci-dgcl-epcicom", "DGCL, liste des EPCI et de leurs communes membres (epcicom)",
           "DGCL, BANATIC / « Liste et composition des EPCI à fiscalité propre » (epcicomAAAA) : « ; », ISO-8859-1, "
           "dept;siren;raison_sociale;nature_juridique;…;insee;siren_membre;nom_membre;ptot_AAAA;pmun_AAAA "
           "(../shared/docs/source-formats.md).",
           signature=("siren", "insee", "siren_membre"),
           columns={"code_insee": ("insee",), "siren_epci": ("siren",), "nom_epci": ("raison_sociale",)},
           required=("code_insee", "siren_epci", "nom_epci"), area="national", millesimes="2014 et suivants",
           encodings=("cp1252", "latin-1"), delimiters=(";", "\t")),
    Layout("epci-reference", "Liste de référence du projet (communes de la MEL et leur EPCI)",
           "data/reference/mel_communes_epci_2026.csv (PROVENANCE.md) : code_insee, nom, siren, …, code_epci, nom_epci.",
           signature=("code_insee", "code_epci"),
           columns={"code_insee": ("code_insee",), "siren_epci": ("code_epci", "siren_epci"),
                    "nom_epci": ("nom_epci",)},
           required=("code_insee", "siren_epci", "nom_epci"), area="territoire", millesimes="—",
           delimiters=(",", ";", "\t")),
)


def load_epci(owner_dsn: str, path: Path, millesime: int, encoding: str | None = None,
              max_rejects: float = 0.0, fictif: bool = False, force: bool = False):
    """Membership of communes in their EPCI (INSEE sheet, DGCL list, or the project's
    reference list); rows of communes outside the territory are skipped and counted."""
    result = src.read_layout(path, EPCI_SPEC, EPCI_LAYOUTS, encoding, prefer=(r"epci", r"compo"),
                             territory=territory_codes(owner_dsn))
    communes = _territory(owner_dsn)
    keep = []
    for row in result.rows:
        if communes and row[1] not in communes:
            result.rows_outside += 1
        else:
            keep.append(row)
    result.rows = keep

    def load(conn):
        ensure_territory(conn, path)
        create_stage(conn, "epci_stage", [("_line", "int"), ("code_insee", "text"),
                                          ("siren_epci", "text"), ("nom_epci", "text")], result.rows)
        rej = reject(conn, "epci_stage", sql.SQL("s.siren_epci !~ '^[0-9]{9}$'"), result.columns["siren_epci"],
                     sql.SQL("format('SIREN d''EPCI invalide %s', s.siren_epci)"))
        outside = conn.execute("DELETE FROM epci_stage s WHERE NOT EXISTS (SELECT 1 FROM core.commune c "
                               "WHERE c.code_insee = s.code_insee)").rowcount
        conn.execute("DELETE FROM core.epci_membership")
        n = conn.execute("INSERT INTO core.epci_membership SELECT code_insee, siren_epci, nom_epci, %s, %s "
                         "FROM epci_stage", [millesime, Path(path).name]).rowcount
        return n, rej, [], outside

    return run_load(owner_dsn, "epci", millesime, path, result.rows_read, result.rejections, load,
                    max_rejects, fictif, force, layout=result.layout, rows_outside=result.rows_outside,
                    notes=result.notes)
