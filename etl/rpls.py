"""RPLS, dwelling-level file ("fichier détail"): dwellings and the résidences they form.

Every public layout since 2014 is read as published, detected from its header (see
:data:`LAYOUTS` and docs/etl.md): the full file local authorities receive for their
housing policy (landlord and rent included), the older regional files (Latin-1, with or
without coordinates), the DiDo exports of the SDES (quoted UTF-8, ``FINAN_CODE``,
``DEPCOM_CODE`` then ``DEPCOM``, a per-row ``EPSG``). The public files have neither the
landlord nor the rent: those fields stay « non renseigné » (NULL). Coded fields are read
through the code lists of their vintage (``etl/codes/``); an unknown code is a rejection.

Grouping rule (docs/etl.md): a résidence is the dwellings of one landlord sharing a
programme code when the file has one (``CODE_PROGRAMME``/``IDENT_PROG``), otherwise
sharing the same normalised address in the same commune (without a landlord in the file:
the address alone). ``residence_id`` is a hash of that key, so it is stable across
millésimes as long as the landlord and address are.
"""
from __future__ import annotations

import csv
import hashlib
import json
import re
import unicodedata
from decimal import Decimal
from pathlib import Path

from psycopg import sql

from etl import codelists
from etl import source as src
from etl.errors import Rejection, SourceFileError
from etl.files import open_tabular
from etl.layouts import Layout, detect
from etl.loading import (create_stage_frame, current_year, ensure_territory, locate_points, reject,
                         run_load, skip_outside_communes, territory_codes)
from etl.points import detect_srid
from etl.rawcopy import FastPathUnsuitable, copy_and_check, fast_path_ok


def lease_year(value: str) -> int:
    m = re.search(r"(19|20)[0-9]{2}", value)
    if not m:
        raise ValueError(f"date de bail illisible {value!r}")
    return int(m.group(0))


def _lease_sql(v, shown):
    y = sql.SQL("substring({} from '(?:19|20)[0-9]{{2}}')").format(v)
    return (sql.SQL("{} IS NULL").format(y), sql.SQL("{}::smallint").format(y),
            sql.SQL("'date de bail illisible ' || {}").format(shown))


lease_year.sql_twin = _lease_sql


def iris_code(value: str) -> str:
    """The IRIS as the file gives it: its 4-character suffix within the commune (older files,
    ``0101`` re-saved by a spreadsheet as ``101``) or its full 9-character code."""
    v = value.strip()
    if re.fullmatch(r"[0-9]+\.0+", v):
        v = v.split(".")[0]
    if v.isdigit() and len(v) < 4:
        return v.zfill(4)
    if v.isdigit() and 5 <= len(v) < 9:
        return v.zfill(9)
    return v


def _iris_sql(v, shown):
    t = sql.SQL("regexp_replace({}, '^([0-9]+)\\.0+$', '\\1')").format(v)
    return (sql.SQL("false"),
            sql.SQL("CASE WHEN {t} ~ '^[0-9]{{1,3}}$' THEN lpad({t}, 4, '0') "
                    "WHEN {t} ~ '^[0-9]{{5,8}}$' THEN lpad({t}, 9, '0') ELSE {t} END").format(t=t),
            sql.SQL("''"))


iris_code.sql_twin = _iris_sql


def fields(millesime: int) -> tuple[src.Field, ...]:
    """Our fields, with the code lists of the millésime's vintage."""
    code = lambda key, give="value": codelists.load(key).parser(millesime, give)  # noqa: E731
    rent = src.sentinel(src.between(src.decimal, 0, 99999),
                        codelists.load("rpls_sentinelles").number_sentinels(millesime))
    return (
        src.Field("logement_id", (), src.padded(10), nullable=True),
        src.Field("bailleur", (), nullable=True),
        src.Field("siren", (), src.padded(9), nullable=True),
        src.Field("code_insee", (), src.code_insee, nullable=True),
        src.Field("numvoie", (), nullable=True),
        src.Field("indrep", (), nullable=True),
        src.Field("typvoie", (), nullable=True),
        src.Field("nomvoie", ()),
        src.Field("programme", (), nullable=True),
        src.Field("iris", (), iris_code, nullable=True),
        src.Field("qpv_flag", (), code("rpls_qpv"), "boolean", nullable=True),
        src.Field("code_qpv", (), code("plg_zonage"), nullable=True),
        src.Field("typeconst", (), code("rpls_typeconst"), nullable=True),
        src.Field("nbpiece", (), src.between(src.integer, 1, 20), "smallint", nullable=True),
        src.Field("surfhab", (), src.between(src.decimal, Decimal("0.1"), 9999), "numeric", nullable=True),
        src.Field("construct", (), src.year, "smallint", nullable=True),
        src.Field("finan", (), code("rpls_finan", "code")),
        src.Field("conv", (), src.boolean, "boolean", nullable=True),
        src.Field("loyer", (), rent, "numeric", nullable=True),
        src.Field("dpe_e", (), code("dpe"), nullable=True),
        src.Field("dpe_g", (), code("dpe"), nullable=True),
        src.Field("mode", (), code("rpls_mode", "code"), nullable=True),
        src.Field("duree_vacance", (), src.between(src.integer, 0, 1200), "integer", nullable=True),
        src.Field("bail", (), lease_year, "smallint", nullable=True),
        src.Field("x", (), src.between(src.floating, -1e7, 1e8), "float8", nullable=True),
        src.Field("y", (), src.between(src.floating, -1e7, 1e8), "float8", nullable=True),
        src.Field("epsg", (), code("epsg"), "integer", nullable=True),
    )


# The producer's columns for each of our fields, shared by the layouts.
ADDRESS = {"code_insee": ("DEPCOM", "CODE_INSEE"), "numvoie": ("NUMVOIE",), "indrep": ("INDREP",),
           "typvoie": ("TYPVOIE",), "nomvoie": ("NOMVOIE", "ADRESSE")}
DWELLING = {"nbpiece": ("NBPIECE",), "surfhab": ("SURFHAB",), "construct": ("CONSTRUCT",),
            "conv": ("CONV",), "dpe_e": ("DPEENERGIE",), "dpe_g": ("DPESERRE",)}
OLD_CODES = {"finan": ("FINAN",), "typeconst": ("TYPECONST",), "qpv_flag": ("QPV",),
             "iris": ("PLG_IRIS", "IRIS", "CODE_IRIS"), "code_qpv": ("PLG_QPV", "CODE_QPV", "CODEQPV", "PLG_QP")}
XY = {"x": ("X", "LAMBERT_X", "LONGITUDE", "LON"), "y": ("Y", "LAMBERT_Y", "LATITUDE", "LAT"), "epsg": ("EPSG",)}
DIDO = {"finan": ("FINAN_CODE",), "typeconst": ("TYPECONST_CODE",), "qpv_flag": ("QPV_CODE",),
        "iris": ("re:PLG_IRIS(19|20)[0-9]{2}_CODE", "PLG_IRIS"), "code_qpv": ("PLG_QP24", "re:PLG_QP[0-9]{2}"),
        "x": ("X",), "y": ("Y",), "epsg": ("EPSG",)}
PUBLIC_NOTE = ("Public : l'identité du bailleur n'est pas publiée, ni le loyer (diffusion limitée à certaines "
               "rubriques de l'art. R. 411-3 CCH) ; pas d'identifiant de logement (numéro de ligne).")

LAYOUTS: tuple[Layout, ...] = (
    Layout(
        "rpls-complet", "RPLS, fichier complet transmis aux collectivités (PLH)",
        "Fichier détail du RPLS remis aux EPCI pour leur politique de l'habitat : rubriques de l'arrêté "
        "du 5 janvier 2010 dont bailleur (RS, SIREN), identifiant (IDENT_REP) et loyer (LOYERPRINC) ; "
        "../shared/docs/source-formats.md.",
        signature=("DEPCOM", "FINAN", "re:(RS|IDENT_REP|LOYERPRINC|RAISON_SOCIALE|NOM_BAILLEUR)"),
        columns={"logement_id": ("IDENT_REP", "RPLS_ID", "IDENT_INT", "ID_LOGEMENT"),
                 "bailleur": ("RS", "RAISON_SOCIALE", "NOM_BAILLEUR", "BAILLEUR"),
                 "siren": ("SIREN", "SIRET", "SIREN_BAILLEUR"),
                 **ADDRESS, "programme": ("CODE_PROGRAMME", "IDENT_PROG", "PROGRAMME"), **OLD_CODES, **DWELLING,
                 "loyer": ("LOYERPRINC",), "mode": ("MODE",), "duree_vacance": ("DUREE_VACANCE", "DUREEVACANCE"),
                 "bail": ("BAIL", "REMLOCDATE"), **XY},
        required=("code_insee", "nomvoie", "nbpiece", "finan", "x", "y"),
        area="territoire", millesimes="2014 et suivants", encodings=("utf-8", "cp1252"),
        notes="Le bailleur et le loyer peuvent manquer (colonnes facultatives)."),
    Layout(
        "rpls-dido-2025", "RPLS, données détaillées au logement, export DiDo (depuis 2025)",
        "SDES, jeu « Données détaillées au logement du RPLS » sur DiDo / data.gouv.fr, millésime 2025-01 : "
        "73 colonnes, « ; », chaînes entre guillemets, UTF-8, DEPCOM, FINAN_CODE, TYPECONST_CODE, QPV_CODE, "
        "PLG_QP24, PLG_IRIS2024_CODE, EPSG, X, Y (../shared/docs/source-formats.md ; code public lisant "
        "DiDo : « jusqu'au millésime 2024 la colonne s'appelle DEPCOM_CODE »).",
        signature=("DEPCOM", "FINAN_CODE"),
        columns={**ADDRESS, **DWELLING, **DIDO},
        required=("code_insee", "nomvoie", "nbpiece", "finan"),
        area="national", millesimes="2025 et suivants", encodings=("utf-8",), notes=PUBLIC_NOTE),
    Layout(
        "rpls-dido-2022", "RPLS, données détaillées au logement, export DiDo (2022 à 2024)",
        "Même jeu DiDo, millésimes 2022-01 à 2024-01 : commune en DEPCOM_CODE / DEPCOM_LIBELLE, "
        "quartier en PLG_QP15 ou PLG_QP24, IRIS en PLG_IRISaaaa_CODE.",
        signature=("DEPCOM_CODE", "FINAN_CODE"),
        columns={**ADDRESS, "code_insee": ("DEPCOM_CODE",), **DWELLING, **DIDO},
        required=("code_insee", "nomvoie", "nbpiece", "finan"),
        area="national", millesimes="2022 à 2024", encodings=("utf-8",), notes=PUBLIC_NOTE),
    Layout(
        "rpls-regional-xy", "RPLS, fichier régional public géolocalisé (≈ 2019 à 2021)",
        "Fichiers régionaux du RPLS en données ouvertes : « ; », ISO-8859-1, sans guillemets, "
        "DROIT;DEPCOM;CODEPOSTAL;LIBCOM;NUMVOIE;…;QPV;TYPECONST;NBPIECE;SURFHAB;CONSTRUCT;…;FINAN;…;"
        "DPEENERGIE;DPESERRE;… puis X, Y, PLG_IRIS (4 caractères) (../shared/docs/source-formats.md).",
        signature=("DROIT", "DEPCOM", "FINAN", "X", "Y"),
        columns={**ADDRESS, **DWELLING, **OLD_CODES, **XY},
        required=("code_insee", "nomvoie", "nbpiece", "finan", "x", "y"),
        area="region", millesimes="≈ 2019 à 2021", encodings=("cp1252", "latin-1"), notes=PUBLIC_NOTE),
    Layout(
        "rpls-regional", "RPLS, fichier régional public sans coordonnées (≈ 2016 à 2018)",
        "Premiers fichiers régionaux du RPLS en données ouvertes : même disposition, sans X, Y ni PLG_IRIS "
        "(../shared/docs/source-formats.md). Les logements sont placés au centre de leur commune.",
        signature=("DROIT", "DEPCOM", "FINAN"),
        columns={**ADDRESS, **DWELLING, **OLD_CODES},
        required=("code_insee", "nomvoie", "nbpiece", "finan"),
        area="region", millesimes="≈ 2016 à 2018", encodings=("cp1252", "latin-1"), notes=PUBLIC_NOTE),
)
FIELD_NAMES = [f.name for f in fields(2025)]
STAGE_NAMES = {"x": "_x", "y": "_y", "epsg": "_epsg"}
# The spec of the latest vintage (the SQL-twin tests read it); loads build theirs per millésime.
SPEC = src.CsvSpec(source="rpls", key=("logement_id",), fields=tuple(
    src.Field(f.name, sum((lay.columns.get(f.name, ()) for lay in LAYOUTS), ()), f.parse, f.sqltype,
              required=False, nullable=f.nullable) for f in fields(current_year())))
OPTIONAL_FIELDS = ("logement_id", "bailleur", "siren", "programme", "iris", "qpv_flag", "code_qpv",
                   "typeconst", "surfhab", "construct", "conv", "loyer", "dpe_e", "dpe_g", "mode",
                   "duree_vacance", "bail", "x", "y")
# Fields of the portal shown as « non renseigné » when the file lacks them (ledger, report).
REPORTED_ABSENT = {"bailleur": "bailleur", "loyer": "loyer", "logement_id": "identifiant du logement",
                   "mode": "mode d'occupation", "x": "coordonnées", "typeconst": "type de construction",
                   "dpe_e": "DPE énergie", "conv": "conventionnement", "bail": "date du bail",
                   "duree_vacance": "durée de vacance"}


def _norm(s: str | None) -> str:
    s = unicodedata.normalize("NFKD", s or "").encode("ascii", "ignore").decode().upper()
    return re.sub(r"[^A-Z0-9]+", " ", s).strip()


def residence_key(bailleur: str | None, siren: str | None, code_insee: str | None, programme: str | None,
                  address: str) -> str:
    """The documented grouping key; its hash is the stable residence_id."""
    who = (siren or "")[:9] or _norm(bailleur)
    key = f"{who}|P|{_norm(programme)}" if programme else f"{who}|A|{code_insee}|{_norm(address)}"
    return "R" + hashlib.sha1(key.encode()).hexdigest()[:12]


STAGE_COLUMNS = [("_line", "int"), ("residence_id", "text"), ("adresse", "text")] + [
    (STAGE_NAMES.get(f.name, f.name), f.sqltype) for f in SPEC.fields] + [
    ("geom", "geometry(Point, 2154)"), ("code_iris", "text"), ("localisation", "text")]


def read_rpls(path: Path, encoding: str | None, millesime: int | None = None,
              territory: set[str] | None = None):
    """Open the file as published (CSV, or the CSV of a ZIP), detect its layout, check the
    header; choose the COPY fast path or the line-by-line reader (which skips the lines of
    other communes of a national or regional file, ``territory`` given)."""
    path = Path(path)
    millesime = millesime or current_year()
    is_known = src.known_columns(LAYOUTS)
    table = open_tabular(path, encoding, is_known, prefer=(r"rpls", r"logement"))
    data = table.data
    first_line = data.split("\n", 1)[0].rstrip("\r")
    delimiter = src.choose_delimiter(first_line, is_known)
    header = [h.strip().lstrip("\ufeff") for h in next(csv.reader([first_line], delimiter=delimiter))]
    where = f"ligne {1 + table.line_offset} (en-tête)"
    detected = detect(path, header, LAYOUTS, "rpls", where)
    layout = detected.layout
    src.check_delimiter(path, delimiter, layout, where)
    spec = src.spec_for(src.CsvSpec("rpls", fields(millesime), delimiter, ("logement_id",)), detected)
    columns = {f.name: detected.columns.get(f.name) for f in spec.fields}
    absent = [f for f in FIELD_NAMES if columns.get(f) is None and f in REPORTED_ABSENT]
    base = {"layout": layout, "spec": spec, "columns": columns, "absent": absent, "encoding": table.encoding,
            "delimiter": delimiter, "header": header, "line_offset": table.line_offset, "path": path,
            "notes": [f"lu : {table.origin}"] if table.origin else [],
            "skip": src.outside_filter(header, columns.get("code_insee"), territory)
            if layout.outside_skipped else None, "rows_outside": 0}
    if len(set(header)) == len(header) and fast_path_ok(data, header, delimiter):
        body = data[len(first_line):].strip("\r\n")
        if not body:
            raise SourceFileError(path, [Rejection("ligne 2", None, "aucune ligne de données")])
        sample = src.read_csv(path, spec, text_data="\n".join(data.splitlines()[:1001]))
        return {**base, "fast": True, "data": data, "rows_read": body.count("\n") + 1, "rejections": [],
                "sample": sample}
    return {**base, **_line_by_line(path, spec, data, table.line_offset, base["skip"])}


def _line_by_line(path: Path, spec: src.CsvSpec, data: str, line_offset: int, skip=None) -> dict:
    import pandas as pd
    result = src.read_csv(path, spec, text_data=data, line_offset=line_offset, skip=skip)
    frame = pd.DataFrame(result.rows, columns=["_line"] + [f.name for f in spec.fields])
    return {"fast": False, "frame": frame.rename(columns=STAGE_NAMES), "rows_read": result.rows_read,
            "rejections": result.rejections, "sample": result, "rows_outside": result.rows_outside}


def _outside_sql(column: str) -> sql.Composable:
    """Raw rows whose commune is a valid code outside the territory (national/regional files)."""
    v = sql.SQL("nullif(btrim(r.{}), '')").format(sql.Identifier(column))
    c = sql.SQL("CASE WHEN {v} ~ '^[0-9]{{4}}$' THEN '0' || {v} ELSE {v} END").format(v=v)
    return sql.SQL("{c} ~ '^[0-9][0-9AB][0-9]{{3}}$' AND NOT EXISTS "
                   "(SELECT 1 FROM core.commune k WHERE k.code_insee = {c})").format(c=c)


def stage_rpls(conn, path: Path, read: dict) -> tuple[list[Rejection], int]:
    """Fill TEMP ``rpls_stage`` (typed, with résidence ids and full IRIS codes); return the
    rejections and the rows skipped outside the territory."""
    layout: Layout = read["layout"]
    outside = 0
    rejections: list[Rejection] = []
    if read["fast"]:
        prefilter = _outside_sql(read["columns"]["code_insee"]) if layout.outside_skipped else None
        try:
            _, rejections, outside = copy_and_check(
                conn, path, read["spec"], read["data"], read["header"], read["delimiter"], read["columns"],
                "rpls_stage", STAGE_COLUMNS, prefilter=prefilter, line_offset=read["line_offset"])
        except FastPathUnsuitable:
            # A quoted field over several lines, a ragged line: the line reader pinpoints them
            # (its rejections were not known when the load started: they are returned here).
            read.update(_line_by_line(path, read["spec"], read["data"], read["line_offset"], read["skip"]))
            rejections, outside = list(read["rejections"]), read["rows_outside"]
    if not read["fast"]:
        create_stage_frame(conn, "rpls_stage", STAGE_COLUMNS, read["frame"])
        if layout.outside_skipped:
            outside += skip_outside_communes(conn, "rpls_stage")
    # No identifier in the public files: the line stands for it (not stable across millésimes).
    conn.execute("UPDATE rpls_stage SET logement_id = 'L' || _line WHERE logement_id IS NULL")
    by = ["bailleur", "siren", "code_insee", "programme", "numvoie", "indrep", "typvoie", "nomvoie"]
    combos = conn.execute(sql.SQL("SELECT DISTINCT {} FROM rpls_stage").format(
        sql.SQL(", ").join(sql.Identifier(c) for c in by))).fetchall()
    keys = []
    for combo in combos:
        address = " ".join(" ".join(str(p).strip() for p in combo[4:] if p and str(p).strip()).split())
        keys.append(tuple("" if c is None else c for c in combo)
                    + (address, residence_key(combo[0], combo[1], combo[2], combo[3], address)))
    conn.execute("CREATE TEMP TABLE rpls_keys (bailleur text, siren text, code_insee text, programme text, "
                 "numvoie text, indrep text, typvoie text, nomvoie text, adresse text, residence_id text) "
                 "ON COMMIT DROP")
    with conn.cursor().copy("COPY rpls_keys FROM STDIN") as copy:
        for k in keys:
            copy.write_row(k)
    match = sql.SQL(" AND ").join(sql.SQL("coalesce(s.{c}, '') = k.{c}").format(c=sql.Identifier(c)) for c in by)
    # A new table rather than an UPDATE of every row (twice faster on 130,000 dwellings).
    others = sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(c)) for c, _ in STAGE_COLUMNS
                                if c not in ("adresse", "residence_id", "code_iris", "localisation"))
    conn.execute(sql.SQL(
        "CREATE TEMP TABLE rpls_stage_keyed ON COMMIT DROP AS SELECT {others}, k.adresse, k.residence_id, "
        "CASE WHEN length(s.iris) = 4 AND s.code_insee IS NOT NULL THEN s.code_insee || s.iris "
        "ELSE s.iris END AS code_iris, 'xy'::text AS localisation "
        "FROM rpls_stage s JOIN rpls_keys k ON {match}").format(others=others, match=match))
    conn.execute("DROP TABLE rpls_stage")
    conn.execute("ALTER TABLE rpls_stage_keyed RENAME TO rpls_stage")
    return rejections, outside


def locate_without_coordinates(conn) -> list[str]:
    """Dwellings without coordinates (older regional files, rows not geocoded): at the centre
    of their declared IRIS, else of their commune; said in the report, kept in ``localisation``."""
    n_iris = conn.execute(
        "UPDATE rpls_stage s SET geom = ST_PointOnSurface(i.geom), localisation = 'iris' FROM core.iris i "
        "WHERE (s._x IS NULL OR s._y IS NULL) AND i.code_iris = s.code_iris").rowcount
    n_commune = conn.execute(
        "UPDATE rpls_stage s SET geom = ST_PointOnSurface(c.geom), localisation = 'commune' FROM core.commune c "
        "WHERE (s._x IS NULL OR s._y IS NULL) AND s.geom IS NULL AND c.code_insee = s.code_insee").rowcount
    if not (n_iris or n_commune):
        return []
    return [f"{n_iris + n_commune} logement(s) sans coordonnées placé(s) au centre de leur IRIS ({n_iris}) "
            f"ou de leur commune ({n_commune}) : position approchée (colonne localisation)"]


def load_rpls(owner_dsn: str, path: Path, millesime: int, encoding: str | None = None,
              source_crs: str | None = None, max_rejects: float = 0.0, fictif: bool = False,
              force: bool = False):
    read = read_rpls(path, encoding, millesime, territory_codes(owner_dsn))
    layout: Layout = read["layout"]
    started_outside = read["rows_outside"]   # skipped by the line reader (the COPY path counts its own)
    srid = detect_srid(path, read["sample"], source_crs) if read["columns"].get("x") else 2154
    codes = {"finan": codelists.load("rpls_finan").vintage(millesime).mapping("code"),
             "families": codelists.load("rpls_finan").vintage(millesime).values(),
             "modes": codelists.load("rpls_mode").vintage(millesime).values()}

    def load(conn):
        ensure_territory(conn, path)
        rej, outside = stage_rpls(conn, path, read)
        rej += reject(conn, "rpls_stage", sql.SQL(
            "s.code_insee IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM core.commune c WHERE c.code_insee = s.code_insee)"),
            read["columns"]["code_insee"], sql.SQL("format('commune %s inconnue du territoire', s.code_insee)"))
        warnings = locate_without_coordinates(conn)
        xy = read["columns"].get("x") or "X", read["columns"].get("y") or "Y"
        located, w2, skipped = locate_points(conn, "rpls_stage", srid, xy[0], xy[1], fill=("code_insee",),
                                             skip_outside=layout.outside_skipped)
        rej += located
        warnings += w2
        outside += skipped
        warnings += place_in_iris_and_qpv(conn, read["columns"].get("iris") or "PLG_IRIS")

        # Keep the occupation and rent rows of résidences that survive the reload.
        conn.execute("CREATE TEMP TABLE keep_occupation ON COMMIT DROP AS "
                     "SELECT * FROM core.occupation WHERE millesime = %s", [millesime])
        conn.execute("CREATE TEMP TABLE keep_loyer ON COMMIT DROP AS "
                     "SELECT * FROM core.loyer_charges WHERE millesime = %s", [millesime])
        conn.execute("DELETE FROM core.residence WHERE millesime = %s", [millesime])
        conn.execute("""
            INSERT INTO core.residence (millesime, residence_id, bailleur, siren_bailleur, adresse,
                code_insee, code_iris, code_qpv, nb_logements, annee_construction, geom, localisation)
            SELECT %s, residence_id, min(bailleur), min(siren), min(adresse),
                   mode() WITHIN GROUP (ORDER BY code_insee),
                   mode() WITHIN GROUP (ORDER BY code_iris),
                   mode() WITHIN GROUP (ORDER BY code_qpv),
                   count(*), min(construct), ST_Centroid(ST_Collect(geom)),
                   CASE WHEN bool_or(localisation = 'commune') THEN 'commune'
                        WHEN bool_or(localisation = 'iris') THEN 'iris' ELSE 'xy' END
            FROM rpls_stage GROUP BY residence_id""", [millesime])
        n = conn.execute("""
            INSERT INTO core.logement (millesime, logement_id, residence_id, code_insee, code_iris,
                code_qpv, en_qpv, type_construction, nb_pieces, surface_hab, annee_construction,
                financement, finan_code, conventionne, loyer_principal, dpe_energie, dpe_ges, statut,
                vacant_plus_3_mois, emmenagement_annee, localisation)
            SELECT %(m)s, logement_id, residence_id, code_insee, code_iris, code_qpv,
                   code_qpv IS NOT NULL OR coalesce(qpv_flag, false), typeconst, nbpiece, surfhab,
                   construct, (%(families)s::jsonb ->> finan), finan, conv, loyer, dpe_e, dpe_g,
                   {statut}, {vacant_3}, {emmenagement}, localisation
            FROM rpls_stage""".format(**occupation_sql(read["columns"])),
            {"m": millesime, "families": json.dumps(codes["families"]),
             "modes": json.dumps(codes["modes"])}).rowcount
        kept_o = conn.execute("INSERT INTO core.occupation SELECT k.* FROM keep_occupation k JOIN core.residence r "
                              "USING (millesime, residence_id)").rowcount
        kept_l = conn.execute("INSERT INTO core.loyer_charges SELECT k.* FROM keep_loyer k JOIN core.residence r "
                              "USING (millesime, residence_id)").rowcount
        lost = conn.execute("SELECT (SELECT count(*) FROM keep_occupation) - %s + "
                            "(SELECT count(*) FROM keep_loyer) - %s", [kept_o, kept_l]).fetchone()[0]
        if lost:
            warnings.append(f"{lost} ligne(s) d'occupation ou de loyers de résidences disparues supprimées")
        return n, rej, warnings, outside

    absent = [REPORTED_ABSENT[f] for f in read["absent"]]
    return run_load(owner_dsn, "rpls", millesime, path, read["rows_read"], read["rejections"], load,
                    max_rejects, fictif, force, layout=layout, absent=absent, notes=read["notes"],
                    rows_outside=started_outside)


def occupation_sql(columns: dict[str, str | None]) -> dict[str, str]:
    """Status, vacancy over 3 months and new lease: from the file's columns, NULL (« non
    renseigné », never « occupied » nor zero) when the file has none of them (public files)."""
    has = {f: columns.get(f) is not None for f in ("mode", "duree_vacance", "bail")}
    derived = "CASE WHEN duree_vacance > 0 THEN 'vacant' ELSE 'occupe' END"
    if has["mode"]:
        statut = f"coalesce((%(modes)s::jsonb ->> mode), {derived})"
    else:
        statut = derived if has["duree_vacance"] else "NULL"
    return {"statut": statut,
            "vacant_3": "coalesce(duree_vacance, 0) >= 3" if has["duree_vacance"] else "NULL",
            "emmenagement": "coalesce(bail = %(m)s - 1, false)" if has["bail"] else "NULL"}


def place_in_iris_and_qpv(conn, iris_field: str) -> list[str]:
    """IRIS and QPV of each dwelling: the file's when it names a known one, else the position's
    (for dwellings located by their coordinates); the commune's single IRIS otherwise."""
    warnings: list[str] = []
    if conn.execute("SELECT EXISTS (SELECT 1 FROM core.iris)").fetchone()[0]:
        bad = conn.execute("""
            WITH bad AS (SELECT _line, code_iris, localisation FROM rpls_stage s WHERE code_iris IS NOT NULL
                         AND NOT EXISTS (SELECT 1 FROM core.iris i WHERE i.code_iris = s.code_iris)),
                 cleared AS (UPDATE rpls_stage s SET code_iris = NULL FROM bad WHERE s._line = bad._line)
            SELECT _line, code_iris, localisation FROM bad ORDER BY _line""").fetchall()
        for line, code, how in bad[:20]:
            then = "remplacé par celui de la position" if how == "xy" else "ignoré"
            warnings.append(f"ligne {line}, champ {iris_field} : IRIS {code} inconnu, {then}")
        if len(bad) > 20:
            warnings.append(f"… et {len(bad) - 20} autres IRIS inconnus")
        parts = _parts(conn, "t_iris")
        conn.execute(sql.SQL("UPDATE rpls_stage s SET code_iris = p.code FROM {} p WHERE s.code_iris IS NULL "
                             "AND s.localisation = 'xy' AND ST_Intersects(p.geom, s.geom)").format(parts))
        conn.execute("UPDATE rpls_stage s SET code_iris = s.code_insee || '0000' WHERE s.code_iris IS NULL "
                     "AND EXISTS (SELECT 1 FROM core.iris i WHERE i.code_iris = s.code_insee || '0000')")
        unplaced = conn.execute("UPDATE rpls_stage SET code_iris = code_insee || 'XXXX' "
                                "WHERE code_iris IS NULL").rowcount
        if unplaced:
            warnings.append(f"{unplaced} logement(s) sans IRIS connu (ni déclaré, ni par la position) : "
                            "IRIS « non localisé » (code commune suivi de XXXX)")
    conn.execute("UPDATE rpls_stage SET code_iris = code_insee || '0000' WHERE code_iris IS NULL")
    # The QPV code: the file's when it names a known QPV, else the position's.
    conn.execute("UPDATE rpls_stage s SET code_qpv = NULL WHERE code_qpv IS NOT NULL AND NOT EXISTS "
                 "(SELECT 1 FROM core.qpv q WHERE q.code_qpv = s.code_qpv)")
    parts = _parts(conn, "t_qpv")
    conn.execute(sql.SQL("UPDATE rpls_stage s SET code_qpv = p.code FROM {} p WHERE s.code_qpv IS NULL "
                         "AND s.localisation = 'xy' AND ST_Intersects(p.geom, s.geom)").format(parts))
    if conn.execute("SELECT EXISTS (SELECT 1 FROM core.qpv)").fetchone()[0]:
        mismatch = conn.execute("SELECT count(*) FROM rpls_stage WHERE qpv_flag IS NOT NULL AND localisation = 'xy' "
                                "AND qpv_flag <> (code_qpv IS NOT NULL)").fetchone()[0]
        if mismatch:
            warnings.append(f"{mismatch} logement(s) dont l'indicateur QPV diffère de la position")
    return warnings


def _parts(conn, which: str):
    from etl.loading import territory_parts
    return territory_parts(conn, which)
