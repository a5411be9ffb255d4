"""Attributions (SNE extract), per year at the finest cell: commune × IRIS × QPV (or outside).

Semicolon CSV, one row per cell and year: ``ANNEE``, ``DEPCOM``, ``IRIS``,
``QPV`` (empty outside QPV) and the counts by income quartile, priority public,
household size and typology. Each breakdown must sum to ``NB_ATTRIBUTIONS``, so
commune, IRIS and QPV totals are exact sums of cells.
"""
from __future__ import annotations

from pathlib import Path

from psycopg import sql

from etl import source as src
from etl.layouts import exchange_layout
from etl.errors import Rejection
from etl.tabular import load_table, unknown_code

GROUPS = (("nb_q1", "nb_q2", "nb_q3", "nb_q4", "nb_q_inconnu"),
          ("nb_dalo", "nb_prioritaire_hors_dalo", "nb_non_prioritaire"),
          ("nb_taille_1", "nb_taille_2", "nb_taille_3", "nb_taille_4", "nb_taille_5_plus"),
          ("nb_t1", "nb_t2", "nb_t3", "nb_t4", "nb_t5_plus"))
COUNTS = ("nb_attributions",) + tuple(c for g in GROUPS for c in g)
SPEC = src.CsvSpec(source="attributions", key=("annee", "code_insee", "code_iris", "code_qpv"), fields=(
    src.Field("annee", ("ANNEE",), src.year, "smallint"),
    src.Field("code_insee", ("DEPCOM", "CODE_INSEE"), src.code_insee),
    src.Field("code_iris", ("IRIS", "CODE_IRIS")),
    src.Field("code_qpv", ("QPV", "CODE_QPV"), nullable=True),
    *(src.Field(c, (c.upper(),), src.non_negative(src.integer), "integer") for c in COUNTS)))
LAYOUTS = (exchange_layout(SPEC, "attributions-sne-cellule", "Attributions, extrait SNE par cellule et année",
                           "Format d'échange du portail (docs/etl.md) : ANNEE;DEPCOM;IRIS;QPV;NB_ATTRIBUTIONS;NB_Q1….", ("ANNEE", "NB_ATTRIBUTIONS")),)


def load_attributions(owner_dsn: str, path: Path, millesime: int, encoding=None, **kw):
    result = src.read_layout(path, SPEC, LAYOUTS, encoding)
    idx = {f.name: i + 1 for i, f in enumerate(SPEC.fields)}
    keep = []
    for row in result.rows:
        where = f"ligne {row[0]}"
        if row[idx["annee"]] > millesime:
            result.rejections.append(Rejection(where, result.columns["annee"],
                                               f"année {row[idx['annee']]} postérieure au millésime {millesime}"))
            continue
        if row[idx["nb_attributions"]] == 0:
            result.rejections.append(Rejection(where, result.columns["nb_attributions"], "cellule vide (0)"))
            continue
        iris = row[idx["code_iris"]]
        if len(iris) == 4:
            row = row[:idx["code_iris"]] + (row[idx["code_insee"]] + iris,) + row[idx["code_iris"] + 1:]
        bad = next((g for g in GROUPS if sum(row[idx[c]] for c in g) != row[idx["nb_attributions"]]), None)
        if bad:
            result.rejections.append(Rejection(where, result.columns[bad[0]],
                                               f"{'+'.join(result.columns[c] for c in bad)} ≠ NB_ATTRIBUTIONS"))
            continue
        keep.append(row)
    result.rows = keep

    def checks(conn, res):
        rej = unknown_code(conn, "attributions_stage", "code_insee", res.columns["code_insee"], "core.commune", "code_insee")
        rej += unknown_code(conn, "attributions_stage", "code_iris", res.columns["code_iris"], "core.iris", "code_iris")
        rej += unknown_code(conn, "attributions_stage", "code_qpv", res.columns["code_qpv"], "core.qpv", "code_qpv")
        from etl.loading import reject
        rej += reject(conn, "attributions_stage", sql.SQL("left(s.code_iris, 5) <> s.code_insee"),
                      res.columns["code_iris"], sql.SQL("format('IRIS %s hors de la commune %s', s.code_iris, s.code_insee)"))
        return rej
    cols = sql.SQL(", ").join(sql.Identifier(f.name) for f in SPEC.fields)
    insert = sql.SQL("INSERT INTO core.attribution (millesime, {c}) SELECT %s, {c} FROM attributions_stage").format(c=cols)
    return load_table(owner_dsn, SPEC, path, millesime, "core.attribution", insert, result=result,
                      checks=checks, **kw)
