"""Compute the secrecy status of every published cell, at publication time.

Runs as the owner role inside the publication's transaction (``etl.publish``),
before the diffusion views are refreshed; the views join ``core.secret_statut``
and show a figure only when its status is P. The whole publication is one
problem: every millésime of every résidence theme and every allocation window,
with the links an analyst would make between them (``model.py``). Nothing here
is reachable from the web service.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from portail.secret.model import DOMINANCE, HIDDEN, NEVER, Problem
from portail.secret.rules import SecretRules
from portail.secret.suppress import Suppression, suppress
from portail.secret.territory import (MEL, AllocationCell, ResidenceYear, allocation_problem,
                                      combine, residence_problem)

# Aggregates the statuses and the published views are computed from, in order.
CORE_AGGREGATES = ("territoire", "parc_par_residence", "parc_par_territoire",
                   "quittance_par_territoire", "occupation_par_territoire",
                   "attributions_par_territoire")


@dataclass
class StatusSummary:
    seconds: float = 0.0
    counts: dict = field(default_factory=dict)   # (theme, internal status) -> n
    phases: dict = field(default_factory=dict)   # phase -> seconds
    rounds: int = 0
    caches: dict = field(default_factory=dict, repr=False)   # for the audit that follows


def refresh_core_aggregates(conn: psycopg.Connection) -> None:
    for name in CORE_AGGREGATES:
        conn.execute(sql.SQL("REFRESH MATERIALIZED VIEW {}").format(sql.Identifier("core", name)))


def residence_rows(conn) -> list[ResidenceYear]:
    """Every résidence of every millésime with the counts of each theme."""
    rows = conn.execute(
        "SELECT r.residence_id, r.millesime, r.code_iris, r.code_insee, r.code_qpv, "
        "coalesce(p.nb_logements, 0), "
        "CASE WHEN p.nb_logements IS NULL THEN 0 ELSE p.nb_logements - p.nb_vacants END, "
        "q.nb_logements_renseignes, o.nb_menages "
        "FROM core.residence r "
        "LEFT JOIN core.parc_par_residence p USING (millesime, residence_id) "
        "LEFT JOIN core.loyer_charges q USING (millesime, residence_id) "
        "LEFT JOIN core.occupation o USING (millesime, residence_id) "
        "ORDER BY r.millesime, r.residence_id").fetchall()
    return [ResidenceYear(rid, m, iris, insee, qpv, float(x), None if occ is None else float(occ),
                          None if q is None else float(q), None if men is None else float(men))
            for rid, m, iris, insee, qpv, x, occ, q, men in rows]


def allocation_rows(conn) -> list[AllocationCell]:
    return [AllocationCell(a, c, i, q, float(n)) for a, c, i, q, n in conn.execute(
        "SELECT annee, code_insee, code_iris, code_qpv, nb_attributions FROM core.attribution "
        "ORDER BY annee, code_insee, code_iris, code_qpv NULLS FIRST")]


def windows_of(rows: list[AllocationCell], window_years: int) -> list[int]:
    """Last years of the windows whose every year is loaded."""
    years = sorted({r.annee for r in rows})
    return [y for y in years if all(y - k in years for k in range(window_years))]


def dominated_windows(residences: list[ResidenceYear], windows: list[int], rules: SecretRules,
                      territories: set[tuple]) -> set[tuple]:
    """(scale, code, window end) of the territories whose allocations could be pinned
    on one résidence: fewer than ``residences_min`` résidences (none at all included),
    or one holding more than ``part_max`` % of the territory's dwellings, in any parc
    millésime of the window (the nearest one when none falls inside)."""
    by_year: dict[int, list[ResidenceYear]] = {}
    for r in residences:
        by_year.setdefault(r.millesime, []).append(r)
    loaded = sorted(by_year)
    found: set[tuple] = set()
    for last in windows:
        inside = [m for m in loaded if last - rules.fenetre < m <= last]
        if not inside and loaded:
            before = [m for m in loaded if m <= last]
            inside = [before[-1] if before else loaded[0]]
        for m in inside or [None]:
            sizes: dict[tuple, list[float]] = {}
            for r in by_year.get(m, []):
                side = "en-qpv" if r.code_qpv else "hors-qpv"
                for scale, code in (("iris", r.code_iris), ("qpv", r.code_qpv),
                                    ("commune", r.code_insee), ("mel", MEL),
                                    (f"commune-{side}", r.code_insee), (f"mel-{side}", MEL)):
                    if code and r.logements > 0:
                        sizes.setdefault((scale, code), []).append(r.logements)
            for territory in territories:
                values = sizes.get(territory, [])
                total = sum(values)
                if len(values) < rules.residences_min or \
                        100.0 * max(values) > rules.part_max * total:
                    found.add(territory + (last,))
    return found


def build_problem(conn, rules: SecretRules):
    residences = residence_rows(conn)
    allocations = allocation_rows(conn)
    windows = windows_of(allocations, rules.fenetre)
    parts = [residence_problem(residences)]
    if windows:
        alloc_cells, alloc_worlds, _, shared = allocation_problem(allocations, windows,
                                                                  rules.fenetre)
        territories = {(cell.scale, cell.code) for cell in alloc_cells}
        dominated = dominated_windows(residences, windows, rules, territories)
        for cell in alloc_cells:
            if cell.published and \
                    (cell.scale, cell.code, int(cell.period.split("-")[1])) in dominated:
                cell.primary = DOMINANCE
        parts.append((alloc_cells, alloc_worlds, {}, shared))
    return combine(*parts)


def status_rows(problem: Problem, result: Suppression):
    """(theme, millésime, échelle, code, public status, motif, base) for core.secret_statut."""
    motifs = {"S": "seuil", "D": "dominance", "C": "complementaire"}
    for c, cell in enumerate(problem.cells):
        status = result.status[c]
        if status == NEVER:
            continue
        millesime = int(str(cell.period).split("-")[-1])
        public = "S" if status in HIDDEN else status
        yield (cell.theme, millesime, cell.scale, cell.code, public, motifs.get(status),
               cell.base)


def compute_statuses(conn: psycopg.Connection, progress=None) -> StatusSummary:
    started = time.monotonic()
    refresh_core_aggregates(conn)
    rules = SecretRules.read(conn)
    summary = StatusSummary()
    t0 = time.monotonic()
    problem, companions = build_problem(conn, rules)
    summary.phases["modèle"] = time.monotonic() - t0
    result = suppress(problem, rules.seuil, companions, progress=progress,
                      caches=summary.caches)
    summary.phases.update(result.seconds)
    summary.rounds = result.rounds
    for c, cell in enumerate(problem.cells):
        key = (cell.theme, result.status[c])
        summary.counts[key] = summary.counts.get(key, 0) + 1
    t0 = time.monotonic()
    conn.execute("DELETE FROM core.secret_statut")
    with conn.cursor().copy("COPY core.secret_statut (theme, millesime, echelle, code, statut, "
                            "motif, valeur_base) FROM STDIN") as copy:
        for row in status_rows(problem, result):
            copy.write_row(row)
    summary.phases["écriture"] = time.monotonic() - t0
    summary.seconds = time.monotonic() - started
    return summary
