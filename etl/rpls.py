"""RPLS, dwelling-level file ("fichier détail"): dwellings and the résidences they form.

The file is the semicolon CSV as published (UTF-8 or CP1252/Latin-1, detected
or given with ``--encoding``), one row per dwelling. Grouping rule (docs/etl.md):
a résidence is the dwellings of one landlord sharing a programme code when the
file has one (``CODE_PROGRAMME``/``IDENT_PROG``), otherwise sharing the same
normalised address in the same commune. ``residence_id`` is a hash of that key,
so it is stable across millésimes as long as the landlord and address are.
"""
from __future__ import annotations

import hashlib
from decimal import Decimal
import re
import unicodedata
from pathlib import Path

from psycopg import sql

from etl import source as src
from etl.errors import Rejection, SourceFileError
from etl.rawcopy import copy_and_check, fast_path_ok
from etl.loading import (create_stage_frame, ensure_territory, fill_by_position, locate_points, reject,
                         run_load)
from etl.points import detect_srid

# FINAN codes of the RPLS dictionary, grouped into the four financing families of the
# portal; labels are accepted as well. Codes before 1977 (HLM ordinaires…) count as PLUS.
FINAN_FAMILIES = {
    "10": "PLAI", "11": "PLAI", "12": "PLAI", "13": "PLUS", "14": "PLUS", "15": "PLS",
    "16": "PLI", "17": "AUTRE", "49": "PLUS", "50": "PLUS", "51": "PLUS", "52": "PLUS",
    "53": "PLUS", "54": "PLUS", "55": "PLUS", "99": "AUTRE",
    "PLAI": "PLAI", "PLA-I": "PLAI", "PLATS": "PLAI", "PLUS": "PLUS", "PLA": "PLUS",
    "HLMO": "PLUS", "PLS": "PLS", "PLI": "PLI", "AUTRE": "AUTRE",
}
MODE_STATUT = {"1": "occupe", "2": "vacant", "3": "vide", "4": "autre", "5": "occupe", "6": "autre"}


def finan(value: str) -> str:
    v = value.strip().upper().replace(" ", "")
    if v not in FINAN_FAMILIES:
        raise ValueError(f"code de financement inconnu {value!r}")
    return v


def _finan_sql(v, shown):
    u = sql.SQL("upper(replace({}, ' ', ''))").format(v)
    return (sql.SQL("{} <> ALL({})").format(u, sql.Literal(list(FINAN_FAMILIES))), u,
            sql.SQL("'code de financement inconnu ' || {}").format(shown))


finan.sql_twin = _finan_sql


DPE_NONE = ("-", "NC", "N", "0")   # no diagnosis: stored as null


def dpe_class(value: str) -> str | None:
    v = value.strip().upper()
    if v in DPE_NONE:
        return None
    if len(v) != 1 or not "A" <= v <= "G":
        raise ValueError(f"classe DPE invalide {value!r} (A à G)")
    return v


def _dpe_sql(v, shown):
    u = sql.SQL("upper({})").format(v)
    return (sql.SQL("NOT ({u} = ANY({none}) OR {u} ~ '^[A-G]$')").format(u=u, none=sql.Literal(list(DPE_NONE))),
            sql.SQL("CASE WHEN {u} = ANY({none}) THEN NULL ELSE {u} END").format(u=u, none=sql.Literal(list(DPE_NONE))),
            sql.SQL("'classe DPE invalide ' || {} || ' (A à G)'").format(shown))


dpe_class.sql_twin = _dpe_sql


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


def mode_code(value: str) -> str:
    v = value.strip()
    if v not in MODE_STATUT:
        raise ValueError(f"mode d'occupation inconnu {value!r} (1 à 6)")
    return v


def _mode_sql(v, shown):
    return (sql.SQL("{} <> ALL({})").format(v, sql.Literal(list(MODE_STATUT))), v,
            sql.SQL("'mode d''occupation inconnu ' || {} || ' (1 à 6)'").format(shown))


mode_code.sql_twin = _mode_sql


SPEC = src.CsvSpec(
    source="rpls", key=("logement_id",),
    fields=(
        src.Field("logement_id", ("IDENT_REP", "RPLS_ID", "IDENT_INT", "ID_LOGEMENT")),
        src.Field("bailleur", ("RS", "RAISON_SOCIALE", "NOM_BAILLEUR", "BAILLEUR")),
        src.Field("siren", ("SIREN", "SIRET", "SIREN_BAILLEUR"), required=False, nullable=True),
        src.Field("code_insee", ("DEPCOM", "CODE_INSEE"), src.code_insee, nullable=True),
        src.Field("numvoie", ("NUMVOIE",), required=False, nullable=True),
        src.Field("indrep", ("INDREP",), required=False, nullable=True),
        src.Field("typvoie", ("TYPVOIE",), required=False, nullable=True),
        src.Field("nomvoie", ("NOMVOIE", "ADRESSE")),
        src.Field("programme", ("CODE_PROGRAMME", "IDENT_PROG", "PROGRAMME"), required=False,
                  nullable=True),
        src.Field("iris", ("PLG_IRIS", "IRIS", "CODE_IRIS"), required=False, nullable=True),
        src.Field("qpv_flag", ("QPV",), src.boolean, "boolean", required=False, nullable=True),
        src.Field("code_qpv", ("PLG_QPV", "CODE_QPV", "CODEQPV"), required=False, nullable=True),
        src.Field("typeconst", ("TYPECONST",), src.one_of("C", "I", "E"), required=False, nullable=True),
        src.Field("nbpiece", ("NBPIECE",), src.between(src.integer, 1, 20), "smallint"),
        src.Field("surfhab", ("SURFHAB",), src.between(src.decimal, Decimal("0.1"), 9999), "numeric",
                  nullable=True),
        src.Field("construct", ("CONSTRUCT",), src.year, "smallint", nullable=True),
        src.Field("finan", ("FINAN",), finan),
        src.Field("conv", ("CONV",), src.boolean, "boolean"),
        src.Field("loyer", ("LOYERPRINC",), src.between(src.decimal, 0, 99999), "numeric", nullable=True),
        src.Field("dpe_e", ("DPEENERGIE",), dpe_class, "text", required=False, nullable=True),
        src.Field("dpe_g", ("DPESERRE",), dpe_class, "text", required=False, nullable=True),
        src.Field("mode", ("MODE",), mode_code, required=False, nullable=True),
        src.Field("duree_vacance", ("DUREE_VACANCE", "DUREEVACANCE"), src.between(src.integer, 0, 1200), "integer",
                  required=False, nullable=True),
        src.Field("bail", ("BAIL", "REMLOCDATE"), lease_year, "smallint", required=False,
                  nullable=True),
        src.Field("x", ("X", "LAMBERT_X", "LONGITUDE", "LON"), src.between(src.floating, -1e7, 1e8), "float8"),
        src.Field("y", ("Y", "LAMBERT_Y", "LATITUDE", "LAT"), src.between(src.floating, -1e7, 1e8), "float8"),
    ))
_NAMES = [f.name for f in SPEC.fields]
_I = {n: i + 1 for i, n in enumerate(_NAMES)}  # position in a row (0 is the line)


def _norm(s: str | None) -> str:
    s = unicodedata.normalize("NFKD", s or "").encode("ascii", "ignore").decode().upper()
    return re.sub(r"[^A-Z0-9]+", " ", s).strip()


def residence_key(bailleur: str, siren: str | None, code_insee: str | None, programme: str | None,
                  address: str) -> str:
    """The documented grouping key; its hash is the stable residence_id."""
    who = (siren or "")[:9] or _norm(bailleur)
    key = f"{who}|P|{_norm(programme)}" if programme else f"{who}|A|{code_insee}|{_norm(address)}"
    return "R" + hashlib.sha1(key.encode()).hexdigest()[:12]


STAGE_COLUMNS = [("_line", "int"), ("residence_id", "text"), ("adresse", "text")] + [
    ("_x" if f.name == "x" else "_y" if f.name == "y" else f.name, f.sqltype) for f in SPEC.fields] + [
    ("geom", "geometry(Point, 2154)"), ("code_iris", "text")]


def read_rpls(path: Path, encoding: str | None):
    """Decode and check the header; choose the COPY fast path or the line-by-line reader."""
    path = Path(path)
    if not path.exists():
        raise SourceFileError(path, "fichier introuvable")
    raw = path.read_bytes()
    if not raw.strip():
        raise SourceFileError(path, [Rejection("ligne 1", None, "fichier vide")])
    data, used = src.decode(path, raw, encoding)
    first_line = data.split("\n", 1)[0].rstrip("\r")
    known = {s for f in SPEC.fields for s in f.sources}
    header, delimiter = src._split_header(path, first_line, SPEC.delimiter, known)
    header = [h.strip() for h in header]
    columns = src.resolve_columns(path, SPEC, header)
    if len(set(header)) == len(header) and fast_path_ok(data, header, delimiter):
        body = data[len(first_line):].strip("\r\n")
        if not body:
            raise SourceFileError(path, [Rejection("ligne 2", None, "aucune ligne de données")])
        sample = src.read_csv(path, SPEC, text_data="\n".join(data.splitlines()[:1001]))
        return {"fast": True, "data": data, "header": header, "delimiter": delimiter, "columns": columns,
                "rows_read": body.count("\n") + 1, "rejections": [], "sample": sample}
    result = src.read_csv(path, SPEC, encoding)
    import pandas as pd
    frame = pd.DataFrame(result.rows, columns=["_line"] + [f.name for f in SPEC.fields])
    return {"fast": False, "frame": frame.rename(columns={"x": "_x", "y": "_y"}), "columns": result.columns,
            "rows_read": result.rows_read, "rejections": result.rejections, "sample": result}


def stage_rpls(conn, path: Path, read: dict) -> list[Rejection]:
    """Fill TEMP ``rpls_stage`` (typed, with résidence ids and full IRIS codes); return rejections."""
    if read["fast"]:
        _, rejections = copy_and_check(conn, path, SPEC, read["data"], read["header"], read["delimiter"],
                                       read["columns"], "rpls_stage", STAGE_COLUMNS)
    else:
        create_stage_frame(conn, "rpls_stage", STAGE_COLUMNS, read["frame"])
        rejections = []
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
                                if c not in ("adresse", "residence_id", "code_iris"))
    conn.execute(sql.SQL(
        "CREATE TEMP TABLE rpls_stage_keyed ON COMMIT DROP AS SELECT {others}, k.adresse, k.residence_id, "
        "CASE WHEN length(s.iris) = 4 AND s.code_insee IS NOT NULL THEN s.code_insee || s.iris "
        "ELSE s.iris END AS code_iris FROM rpls_stage s JOIN rpls_keys k ON {match}").format(
        others=others, match=match))
    conn.execute("DROP TABLE rpls_stage")
    conn.execute("ALTER TABLE rpls_stage_keyed RENAME TO rpls_stage")
    return rejections


def load_rpls(owner_dsn: str, path: Path, millesime: int, encoding: str | None = None,
              source_crs: str | None = None, max_rejects: float = 0.0, fictif: bool = False,
              force: bool = False):
    read = read_rpls(path, encoding)
    srid = detect_srid(path, read["sample"], source_crs)

    def load(conn):
        ensure_territory(conn, path)
        rej = stage_rpls(conn, path, read)
        rej += reject(conn, "rpls_stage", sql.SQL(
            "s.code_insee IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM core.commune c WHERE c.code_insee = s.code_insee)"),
            read["columns"]["code_insee"], sql.SQL("format('commune %s inconnue du territoire', s.code_insee)"))
        located, warnings = locate_points(conn, "rpls_stage", srid, read["columns"]["x"], read["columns"]["y"],
                                          fill=("code_insee",))
        rej += located
        if conn.execute("SELECT EXISTS (SELECT 1 FROM core.iris)").fetchone()[0]:
            bad = conn.execute("UPDATE rpls_stage s SET code_iris = NULL WHERE code_iris IS NOT NULL AND "
                               "NOT EXISTS (SELECT 1 FROM core.iris i WHERE i.code_iris = s.code_iris) "
                               "RETURNING _line, s.code_iris").fetchall()
            for line, code in sorted(bad)[:20]:
                warnings.append(f"ligne {line}, champ {read['columns']['iris']} : IRIS {code} inconnu, "
                                "remplacé par celui de la position")
            fill_by_position(conn, "rpls_stage", "code_iris", "t_iris")
        conn.execute("UPDATE rpls_stage SET code_iris = code_insee || '0000' WHERE code_iris IS NULL")
        # The QPV code: the file's when it names a known QPV, else the position's.
        conn.execute("UPDATE rpls_stage s SET code_qpv = NULL WHERE code_qpv IS NOT NULL AND NOT EXISTS "
                     "(SELECT 1 FROM core.qpv q WHERE q.code_qpv = s.code_qpv)")
        fill_by_position(conn, "rpls_stage", "code_qpv", "t_qpv")
        flag_mismatch = conn.execute("SELECT count(*) FROM rpls_stage WHERE qpv_flag IS NOT NULL "
                                     "AND qpv_flag <> (code_qpv IS NOT NULL)").fetchone()[0]
        if flag_mismatch and conn.execute("SELECT EXISTS (SELECT 1 FROM core.qpv)").fetchone()[0]:
            warnings.append(f"{flag_mismatch} logement(s) dont l'indicateur QPV diffère de la position")

        # Keep the occupation and rent rows of résidences that survive the reload.
        conn.execute("CREATE TEMP TABLE keep_occupation ON COMMIT DROP AS "
                     "SELECT * FROM core.occupation WHERE millesime = %s", [millesime])
        conn.execute("CREATE TEMP TABLE keep_loyer ON COMMIT DROP AS "
                     "SELECT * FROM core.loyer_charges WHERE millesime = %s", [millesime])
        conn.execute("DELETE FROM core.residence WHERE millesime = %s", [millesime])
        conn.execute("""
            INSERT INTO core.residence (millesime, residence_id, bailleur, siren_bailleur, adresse,
                code_insee, code_iris, code_qpv, nb_logements, annee_construction, geom)
            SELECT %s, residence_id, min(bailleur), min(siren), min(adresse),
                   mode() WITHIN GROUP (ORDER BY code_insee),
                   mode() WITHIN GROUP (ORDER BY code_iris),
                   mode() WITHIN GROUP (ORDER BY code_qpv),
                   count(*), min(construct), ST_Centroid(ST_Collect(geom))
            FROM rpls_stage GROUP BY residence_id""", [millesime])
        n = conn.execute("""
            INSERT INTO core.logement (millesime, logement_id, residence_id, code_insee, code_iris,
                code_qpv, en_qpv, type_construction, nb_pieces, surface_hab, annee_construction,
                financement, finan_code, conventionne, loyer_principal, dpe_energie, dpe_ges, statut,
                vacant_plus_3_mois, emmenagement_annee)
            SELECT %(m)s, logement_id, residence_id, code_insee, code_iris, code_qpv,
                   code_qpv IS NOT NULL OR coalesce(qpv_flag, false), typeconst, nbpiece, surfhab,
                   construct, (%(families)s::jsonb ->> finan), finan, conv, loyer, dpe_e, dpe_g,
                   coalesce((%(modes)s::jsonb ->> mode), CASE WHEN duree_vacance > 0 THEN 'vacant'
                                                              ELSE 'occupe' END),
                   coalesce(duree_vacance, 0) >= 3, coalesce(bail = %(m)s - 1, false)
            FROM rpls_stage""",
            {"m": millesime, "families": _json(FINAN_FAMILIES), "modes": _json(MODE_STATUT)}).rowcount
        kept_o = conn.execute("INSERT INTO core.occupation SELECT k.* FROM keep_occupation k JOIN core.residence r "
                              "USING (millesime, residence_id)").rowcount
        kept_l = conn.execute("INSERT INTO core.loyer_charges SELECT k.* FROM keep_loyer k JOIN core.residence r "
                              "USING (millesime, residence_id)").rowcount
        lost = conn.execute("SELECT (SELECT count(*) FROM keep_occupation) - %s + "
                            "(SELECT count(*) FROM keep_loyer) - %s", [kept_o, kept_l]).fetchone()[0]
        if lost:
            warnings.append(f"{lost} ligne(s) d'occupation ou de loyers de résidences disparues supprimées")
        return n, rej, warnings

    return run_load(owner_dsn, "rpls", millesime, path, read["rows_read"], read["rejections"], load,
                    max_rejects, fictif, force)


def _json(d: dict) -> str:
    import json
    return json.dumps(d)
