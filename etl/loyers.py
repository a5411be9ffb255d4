"""Rent + service charges per résidence (MEL study of financial accessibility), as sums and counts."""
from __future__ import annotations

from pathlib import Path

from psycopg import sql

from etl import source as src
from etl.layouts import exchange_layout
from etl.errors import Rejection
from etl.occupation import unknown_residence
from etl.tabular import load_table

BANDS = ("nb_quittance_inf_400", "nb_quittance_400_550", "nb_quittance_550_700", "nb_quittance_sup_700")
SPEC = src.CsvSpec(source="loyers", key=("residence_id",), fields=(
    src.Field("residence_id", ("ID_RESIDENCE", "RESIDENCE_ID")),
    src.Field("nb_logements_renseignes", ("NB_LOGEMENTS_RENSEIGNES",), src.non_negative(src.integer), "integer"),
    src.Field("surface_totale", ("SURFACE_TOTALE",), src.non_negative(src.decimal), "numeric"),
    src.Field("loyer_total", ("LOYER_TOTAL",), src.non_negative(src.decimal), "numeric"),
    src.Field("charges_total", ("CHARGES_TOTAL",), src.non_negative(src.decimal), "numeric"),
    *(src.Field(b, (b.upper(),), src.non_negative(src.integer), "integer") for b in BANDS)))
LAYOUTS = (exchange_layout(SPEC, "loyers-residence", "Loyers et charges par résidence (étude MEL)",
                           "Format d'échange du portail (docs/etl.md) : sommes et effectifs par résidence.", ("ID_RESIDENCE", "LOYER_TOTAL")),)


def load_loyers(owner_dsn: str, path: Path, millesime: int, encoding=None, **kw):
    result = src.read_layout(path, SPEC, LAYOUTS, encoding)
    keep = []
    for row in result.rows:
        if sum(row[6:10]) != row[2]:
            result.rejections.append(Rejection(f"ligne {row[0]}", result.columns[BANDS[0]],
                                               "la somme des tranches de quittance ≠ NB_LOGEMENTS_RENSEIGNES"))
        else:
            keep.append(row)
    result.rows = keep
    cols = sql.SQL(", ").join(sql.Identifier(f.name) for f in SPEC.fields)
    insert = sql.SQL("INSERT INTO core.loyer_charges (millesime, {c}) SELECT %s, {c} FROM loyers_stage").format(c=cols)
    return load_table(owner_dsn, SPEC, path, millesime, "core.loyer_charges", insert, result=result,
                      checks=lambda conn, res: unknown_residence(conn, "loyers_stage",
                                                                 res.columns["residence_id"], millesime), **kw)
