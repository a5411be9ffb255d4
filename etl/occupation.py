"""Occupation per résidence (landlords' / URH "qualification du parc" file), as counts.

Semicolon CSV, one row per résidence, identified by the portal's ``ID_RESIDENCE``
(the résidence register sent to the landlords each year). Every breakdown must
sum to its base (checked per line, then by the table's constraints).
"""
from __future__ import annotations

from pathlib import Path

from psycopg import sql

from etl import source as src
from etl.layouts import exchange_layout
from etl.errors import Rejection
from etl.tabular import load_table

COUNTS = ("nb_logements", "nb_logements_vacants", "nb_emmenagements", "nb_menages",
          "menages_1_pers", "menages_2_pers", "menages_3_4_pers", "menages_5_pers_plus",
          "menages_monoparentaux", "menages_ress_inf_20", "menages_ress_20_60",
          "menages_ress_60_100", "menages_ress_sup_100", "menages_ress_inconnues",
          "titulaires_moins_30", "titulaires_30_64", "titulaires_65_plus", "titulaires_emploi",
          "titulaires_chomage", "titulaires_inactifs", "menages_apl")
SUMS = {  # base -> parts
    "nb_menages": (("menages_1_pers", "menages_2_pers", "menages_3_4_pers", "menages_5_pers_plus"),
                   ("menages_ress_inf_20", "menages_ress_20_60", "menages_ress_60_100",
                    "menages_ress_sup_100", "menages_ress_inconnues"),
                   ("titulaires_moins_30", "titulaires_30_64", "titulaires_65_plus"),
                   ("titulaires_emploi", "titulaires_chomage", "titulaires_inactifs")),
}
SPEC = src.CsvSpec(source="occupation", key=("residence_id",), fields=(
    src.Field("residence_id", ("ID_RESIDENCE", "RESIDENCE_ID")),
    *(src.Field(c, (c.upper(), c), src.non_negative(src.integer), "integer") for c in COUNTS)))
LAYOUTS = (exchange_layout(SPEC, "occupation-residence", "Occupation par résidence (bailleurs / URH)",
                           "Format d'échange du portail (docs/etl.md) : une ligne par résidence, ID_RESIDENCE et effectifs.", ("ID_RESIDENCE", "NB_MENAGES")),)


def sum_checks(result) -> None:
    """Per line: each breakdown sums to its base (reported with the line and field)."""
    idx = {f.name: i + 1 for i, f in enumerate(SPEC.fields)}
    keep = []
    for row in result.rows:
        bad = None
        for base, groups in SUMS.items():
            for parts in groups:
                if sum(row[idx[p]] for p in parts) != row[idx[base]]:
                    bad = Rejection(f"ligne {row[0]}", result.columns[parts[0]],
                                    f"{'+'.join(result.columns[p] for p in parts)} ≠ {result.columns[base]}")
                    break
            if bad:
                break
        if not bad and row[idx["nb_logements_vacants"]] > row[idx["nb_logements"]]:
            bad = Rejection(f"ligne {row[0]}", result.columns["nb_logements_vacants"],
                            "plus de logements vacants que de logements")
        if bad:
            result.rejections.append(bad)
        else:
            keep.append(row)
    result.rows = keep


def load_occupation(owner_dsn: str, path: Path, millesime: int, encoding=None, **kw):
    result = src.read_layout(path, SPEC, LAYOUTS, encoding)
    sum_checks(result)
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in ("residence_id",) + COUNTS)

    def checks(conn, res):
        return unknown_residence(conn, "occupation_stage", res.columns["residence_id"], millesime)
    insert = sql.SQL("INSERT INTO core.occupation (millesime, {c}) SELECT %s, {c} FROM occupation_stage").format(c=cols)
    return load_table(owner_dsn, SPEC, path, millesime, "core.occupation", insert, result=result,
                      checks=checks, **kw)


def unknown_residence(conn, stage: str, field: str, millesime: int) -> list[Rejection]:
    from etl.loading import reject
    return reject(conn, stage, sql.SQL(
        "NOT EXISTS (SELECT 1 FROM core.residence r WHERE r.millesime = {} "
        "AND r.residence_id = s.residence_id)").format(sql.Literal(millesime)), field,
        sql.SQL("format('résidence %s absente du RPLS de ce millésime', s.residence_id)"))
