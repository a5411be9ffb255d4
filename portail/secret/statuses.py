"""Compute the secrecy status of every published aggregate, at publication time.

Runs as the owner role inside the loader's transaction (``etl.publish``),
before the diffusion views are refreshed; the views join ``core.secret_statut``
and show a figure only when its status is P. Nothing here is reachable from
the web service.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from portail.secret.suppress import COMPLEMENTARY, NEVER, PRIMARY, suppress
from portail.secret.territory import Unit, attribution_problem, residence_problem


@dataclass
class SecretRules:
    seuil: int
    fenetre: int

    @classmethod
    def read(cls, conn: psycopg.Connection) -> "SecretRules":
        """The one place the rules live: ``core.parametre_secret``."""
        seuil, fenetre = conn.execute(
            "SELECT seuil, fenetre_attributions FROM core.parametre_secret").fetchone()
        return cls(seuil, fenetre)


@dataclass
class StatusSummary:
    seconds: float = 0.0
    counts: dict = field(default_factory=dict)   # (theme, status) -> n


def _residence_units(conn, millesime: int, table: str | None, column: str):
    """Résidences of a millésime with their base: ``column`` of ``core.<table>``
    (None: the parc's dwellings). Names are this module's constants, composed safely."""
    if table is None:
        source, value = sql.SQL(""), sql.SQL("p.nb_logements")
    else:
        source = sql.SQL("JOIN {} v USING (millesime, residence_id)").format(
            sql.Identifier("core", table))
        value = sql.SQL("v.{}").format(sql.Identifier(column))
    rows = conn.execute(sql.SQL(
        "SELECT r.residence_id, r.code_iris, r.code_insee, r.code_qpv, {value} "
        "FROM core.residence r LEFT JOIN core.parc_par_residence p "
        "USING (millesime, residence_id) {source} "
        "WHERE r.millesime = %s ORDER BY r.residence_id").format(value=value, source=source),
        [millesime]).fetchall()
    return [Unit(rid, iris, insee, qpv, float(v or 0)) for rid, iris, insee, qpv, v in rows]


# Aggregates the statuses and the published views are computed from, in order.
CORE_AGGREGATES = ("territoire", "parc_par_residence", "parc_par_territoire",
                   "quittance_par_territoire", "occupation_par_territoire",
                   "attributions_par_territoire")


def refresh_core_aggregates(conn: psycopg.Connection) -> None:
    for name in CORE_AGGREGATES:
        conn.execute(sql.SQL("REFRESH MATERIALIZED VIEW {}").format(sql.Identifier("core", name)))


def compute_statuses(conn: psycopg.Connection) -> StatusSummary:
    started = time.monotonic()
    refresh_core_aggregates(conn)
    rules = SecretRules.read(conn)
    summary = StatusSummary()
    out: list[tuple] = []

    def keep(theme, millesime, structure, values, result, window_millesime=None):
        for i, agg in enumerate(structure.aggregates):
            status = result.status[i]
            if status == NEVER:
                continue
            scale, code = agg.key[0], agg.key[1]
            m = millesime if window_millesime is None else int(agg.key[2].split("-")[1])
            out.append((theme, m, scale, code, status, values[i]))
            summary.counts[(theme, status)] = summary.counts.get((theme, status), 0) + 1

    millesimes = [m for (m,) in conn.execute(
        "SELECT DISTINCT millesime FROM core.residence ORDER BY 1")]
    for millesime in millesimes:
        units = _residence_units(conn, millesime, None, "nb_logements")
        structure, values = residence_problem(units)
        parc = suppress(structure, values, rules.seuil)
        keep("parc", millesime, structure, values, parc)
        # Under the threshold in the parc: no data at all for the résidence. Hidden in
        # the parc to protect another: hidden in the other themes too, whose bases
        # (households, rent records) are close to its number of dwellings.
        small = {u.key for i, u in enumerate(units)
                 if parc.status[structure.unit_aggregate[i]] == PRIMARY}
        shielding = {u.key for i, u in enumerate(units)
                     if parc.status[structure.unit_aggregate[i]] == COMPLEMENTARY}
        for theme, table, column in (("occupation", "occupation", "nb_menages"),
                                     ("quittance", "loyer_charges", "nb_logements_renseignes")):
            units = _residence_units(conn, millesime, table, column)
            if not units:
                continue
            structure, values = residence_problem(units)
            forced = {structure.unit_aggregate[i] for i, u in enumerate(units) if u.key in small}
            shields = {structure.unit_aggregate[i] for i, u in enumerate(units)
                       if u.key in shielding}
            keep(theme, millesime, structure, values,
                 suppress(structure, values, rules.seuil, forced=forced,
                          forced_complementary=shields))

    cells = [Unit(f"{a}-{i}-{q or ''}", i, c, q, float(n), annee=a) for a, c, i, q, n in conn.execute(
        "SELECT annee, code_insee, code_iris, code_qpv, nb_attributions FROM core.attribution "
        "ORDER BY annee, code_insee, code_iris, code_qpv NULLS FIRST")]
    years = sorted({c.annee for c in cells})
    windows = [y for y in years if all(y - k in years for k in range(rules.fenetre))]
    if windows:
        structure, values, published = attribution_problem(cells, windows, rules.fenetre)
        result = suppress(structure, values, rules.seuil, published=published)
        keep("attributions", None, structure, values, result, window_millesime=True)

    conn.execute("DELETE FROM core.secret_statut")
    with conn.cursor().copy("COPY core.secret_statut (theme, millesime, echelle, code, statut, "
                            "valeur_base) FROM STDIN") as copy:
        for row in out:
            copy.write_row(row)
    summary.seconds = time.monotonic() - started
    return summary
