"""MEL diagnosis of social occupation (public and private stock) per IRIS and QPV, and the
fragility index.

Semicolon CSV: ``NIVEAU`` (IRIS/QPV), ``CODE``, then counts from INSEE and RPLS
figures. The fragility index is computed at load, per level, from five shares
(method in docs/etl.md): poor households, lone-parent households, unemployment
among the active, population 15+ without diploma, CAF low-income recipients.
Each share is standardised (z-score over the units of the level, weighted
equally), the mean z is mapped to 0–100 with 50 the average unit and 10 points
per standard deviation, bounded to [0, 100].
"""
from __future__ import annotations

from pathlib import Path

from psycopg import sql

from etl import source as src
from etl.layouts import exchange_layout
from etl.tabular import load_table
from etl.loading import reject

COUNTS = ("population", "nb_menages", "menages_parc_social", "menages_parc_prive", "menages_pauvres",
          "menages_monoparentaux", "actifs", "chomeurs", "pop_15_plus", "sans_diplome",
          "allocataires_caf", "allocataires_caf_bas_revenus")
SPEC = src.CsvSpec(source="diagnostic", key=("niveau", "code"), fields=(
    src.Field("niveau", ("NIVEAU",), src.one_of("IRIS", "QPV")), src.Field("code", ("CODE",)),
    *(src.Field(c, (c.upper(),), src.non_negative(src.integer), "integer") for c in COUNTS)))
LAYOUTS = (exchange_layout(SPEC, "diagnostic-quartiers", "Diagnostic MEL de l'occupation par IRIS et QPV",
                           "Format d'échange du portail (docs/etl.md) : NIVEAU;CODE;POPULATION;NB_MENAGES;….", ("NIVEAU", "CODE")),)
SHARES = ("menages_pauvres::numeric / nullif(nb_menages, 0)",
          "menages_monoparentaux::numeric / nullif(nb_menages, 0)",
          "chomeurs::numeric / nullif(actifs, 0)",
          "sans_diplome::numeric / nullif(pop_15_plus, 0)",
          "allocataires_caf_bas_revenus::numeric / nullif(allocataires_caf, 0)")


def load_diagnostic(owner_dsn: str, path: Path, millesime: int, encoding=None, **kw):
    def checks(conn, res):
        rej = reject(conn, "diagnostic_stage", sql.SQL(
            "(s.niveau = 'IRIS' AND NOT EXISTS (SELECT 1 FROM core.iris i WHERE i.code_iris = s.code)) OR "
            "(s.niveau = 'QPV' AND NOT EXISTS (SELECT 1 FROM core.qpv q WHERE q.code_qpv = s.code))"),
            res.columns["code"], sql.SQL("format('%s %s inconnu', s.niveau, s.code)"))
        rej += reject(conn, "diagnostic_stage", sql.SQL(
            "s.menages_parc_social + s.menages_parc_prive > s.nb_menages OR s.chomeurs > s.actifs OR "
            "s.menages_pauvres > s.nb_menages OR s.sans_diplome > s.pop_15_plus OR "
            "s.allocataires_caf_bas_revenus > s.allocataires_caf"), "NB_MENAGES",
            sql.SQL("'une partie dépasse sa base (ménages, actifs, 15 ans ou plus, allocataires)'"))
        return rej
    cols = sql.SQL(", ").join(sql.Identifier(f.name) for f in SPEC.fields)
    insert = sql.SQL("INSERT INTO core.diagnostic_quartier (millesime, {c}) SELECT %s, {c} FROM diagnostic_stage").format(c=cols)
    return load_table(owner_dsn, SPEC, path, millesime, "core.diagnostic_quartier", insert, checks=checks,
                      result=src.read_layout(path, SPEC, LAYOUTS, encoding), after=lambda conn: conn.execute(FRAGILITY_SQL, {"m": millesime}), **kw)


def _fragility_sql() -> sql.Composable:
    zsum = sql.SQL(" + ").join(sql.SQL(
        "coalesce(({p} - avg({p}) OVER (PARTITION BY niveau)) / "
        "nullif(stddev_pop({p}) OVER (PARTITION BY niveau), 0), 0)").format(p=sql.Identifier(f"p{i}"))
        for i in range(len(SHARES)))
    shares = sql.SQL(", ").join(sql.SQL("{} AS {}").format(sql.SQL(e), sql.Identifier(f"p{i}"))
                                for i, e in enumerate(SHARES))
    return sql.SQL("""
        WITH s AS (SELECT niveau, code, {shares} FROM core.diagnostic_quartier WHERE millesime = %(m)s),
        z AS (SELECT niveau, code, ({zsum}) / 5.0 AS zmean FROM s)
        UPDATE core.diagnostic_quartier d
        SET indice_fragilite = greatest(0, least(100, round(50 + 10 * z.zmean, 1)))
        FROM z WHERE d.millesime = %(m)s AND d.niveau = z.niveau AND d.code = z.code""").format(
        shares=shares, zsum=zsum)


FRAGILITY_SQL = _fragility_sql()
