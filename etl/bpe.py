"""INSEE BPE (base permanente des équipements), file with coordinates ("ensemble, géolocalisé").

Semicolon CSV as published: ``TYPEQU``, ``DEPCOM``, ``LAMBERT_X``, ``LAMBERT_Y``,
``QUALITE_XY`` (Bonne, Acceptable, Mauvaise, Non géolocalisé), ``AN``; the
domain is the first letter of ``TYPEQU``. Rows without coordinates are not
localisable and are counted, not loaded. Rows outside the territory's communes are ignored
(the national file covers France).
"""
from __future__ import annotations

import re
from pathlib import Path

from psycopg import sql

from etl import source as src
from etl.tabular import load_table


def typequ(value: str) -> str:
    v = value.strip().upper()
    if not re.fullmatch(r"[A-G][0-9]{3}", v):
        raise ValueError(f"TYPEQU invalide {value!r} (lettre A-G et 3 chiffres)")
    return v


SPEC = src.CsvSpec(source="bpe", fields=(
    src.Field("equipement_id", ("ID_EQUIPEMENT", "IDENT", "ID"), required=False, nullable=True),
    src.Field("typequ", ("TYPEQU",), typequ),
    src.Field("code_insee", ("DEPCOM", "CODGEO"), src.code_insee),
    src.Field("qualite_xy", ("QUALITE_XY", "QUALITE_GEOLOC"), required=False, nullable=True),
    src.Field("x", ("LAMBERT_X", "X", "LONGITUDE"), src.floating, "float8", nullable=True),
    src.Field("y", ("LAMBERT_Y", "Y", "LATITUDE"), src.floating, "float8", nullable=True),
))

INSERT = sql.SQL("""
    INSERT INTO core.bpe_equipement (millesime, equipement_id, typequ, domaine, code_insee, qualite_xy, geom)
    SELECT %s, coalesce(equipement_id, 'L' || _line), typequ, left(typequ, 1), code_insee, qualite_xy, geom
    FROM bpe_stage""")


def load_bpe(owner_dsn: str, path: Path, millesime: int, **kw):
    result = src.read_csv(path, SPEC, kw.pop("encoding", None))
    # The national file: keep the territory's communes; non-geolocated rows are skipped.
    keep = []
    communes = _territory_codes(owner_dsn)
    ix, iy, ic = 5, 6, 3
    for row in result.rows:
        if communes and row[ic] not in communes:
            continue
        if row[ix] is None or row[iy] is None:
            continue
        keep.append(row)
    result.rows = keep
    return load_table(owner_dsn, SPEC, path, millesime, "core.bpe_equipement", INSERT,
                      point=True, fill=(), result=result, **kw)


def _territory_codes(owner_dsn: str) -> set[str]:
    from portail.db import connect
    with connect(owner_dsn) as conn:
        return {r[0] for r in conn.execute("SELECT code_insee FROM core.commune").fetchall()}
