"""The secrecy auditor: attack the published data the way an analyst would.

Figures are read from the diffusion views — exactly what partners see through
the API, the map, the sheets and the exports. Only the structure (which
résidence lies in which IRIS, QPV and commune in each millésime, which
allocation cells exist, which figures are equal from one year or theme to the
next) comes from core, so that the attack is at least as strong as a real one.

Checks, over the whole publication at once (every millésime, window and theme):

1. threshold: no published base between 1 and threshold − 1;
2. blanks: a field group whose status is not P shows no figure;
3. differencing: small remainders and exact disclosure (``attack.py``), across
   scales, themes and millésimes, single attribution years included;
4. intervals: every hidden figure's feasible interval is at least threshold − 1
   wide (``intervals.py``);
5. dominance: no published allocation figure that could be pinned on one résidence;
6. the neighbourhood diagnosis: no count under the threshold, the social/private
   split hidden together and wherever the occupation is hidden.

An offence names the layer, the territory and the millésime, and how it leaks;
never a value (it may be a figure under the threshold).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from portail.secret.model import ALLOCATIONS, DWELLINGS, EMPTY, NEVER, OCCUPIED, PUBLISHED
from portail.secret.rules import SecretRules
from portail.secret.statuses import build_problem
from portail.secret.suppress import attacks, exact_leaks, interval_leaks, remainder_leaks

SCALES = ("iris", "qpv", "commune", "mel")
NOT_FIGURES = {"id", "residence_id", "millesime", "code", "nom", "code_insee", "code_iris",
               "code_qpv", "bailleur", "adresse", "annee_construction",
               "echelle_territoire", "periode", "geom", "geom_4326", "debut"}
GROUPS = {
    "statut_quittance": {"nb_quittances", "quittance_moyenne", "charges_moyennes",
                         "nb_quittance_inf_400", "nb_quittance_400_550",
                         "nb_quittance_550_700", "nb_quittance_sup_700"},
    "statut_qpv": {"nb_hors_qpv", "nb_q1_hors_qpv", "part_q1_hors_qpv", "nb_en_qpv",
                   "nb_q2_q4_en_qpv", "part_q2_q4_en_qpv"},
}
# Views of the résidence themes: prefix -> (theme, status column, base column, world columns)
RESIDENCE_VIEWS = {
    ("parc", "parc"): ("statut_secret", "nb_logements"),
    ("parc", "quittance"): ("statut_quittance", "nb_quittances"),
    ("occupation", "occupation"): ("statut_secret", "nb_menages"),
}
DIAGNOSTIC_COUNTS = ("population", "nb_menages", "menages_parc_social", "menages_parc_prive",
                     "menages_pauvres", "menages_monoparentaux", "actifs", "chomeurs",
                     "pop_15_plus", "sans_diplome", "allocataires_caf",
                     "allocataires_caf_bas_revenus")
# The counts the fragility index is built from (etl/diagnostic.py).
FRAGILITY_COUNTS = ("nb_menages", "menages_pauvres", "menages_monoparentaux", "actifs",
                    "chomeurs", "pop_15_plus", "sans_diplome", "allocataires_caf",
                    "allocataires_caf_bas_revenus")


@dataclass
class Offence:
    theme: str
    millesime: int | str
    what: str
    how: str

    def __str__(self) -> str:
        return f"[{self.theme} {self.millesime}] {self.what} — {self.how}"


@dataclass
class AuditReport:
    offences: list[Offence] = field(default_factory=list)
    checked: int = 0    # published cells examined

    @property
    def ok(self) -> bool:
        return not self.offences


def _rows(conn, view: str) -> list[dict]:
    cur = conn.cursor(row_factory=psycopg.rows.dict_row)
    return cur.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier("diffusion", view))
                       ).fetchall()


def _check_group(report: AuditReport, theme, millesime, where: str, row: dict, status_col: str,
                 base: str, seuil: int) -> None:
    report.checked += 1
    value = row.get(base)
    if value is not None and 0 < value < seuil:
        report.offences.append(Offence(theme, millesime, where,
                                       f"{base} publié sous le seuil de {seuil}"))
    if row.get(status_col) in (None, "P", "Z"):
        return
    columns = GROUPS.get(status_col) or (
        {c for c in row if c not in NOT_FIGURES and not c.startswith("statut")}
        - GROUPS["statut_quittance"] - GROUPS["statut_qpv"])
    shown = sorted(c for c in columns if row.get(c) is not None)
    if shown:
        report.offences.append(Offence(
            theme, millesime, where,
            f"{status_col} masqué mais chiffres affichés : {', '.join(shown[:6])}"))


def published_statuses(conn, problem, rules: SecretRules, report: AuditReport):
    """Per cell of the problem: (status as partners see it, {world: published value})."""
    index = problem.index()
    status = [NEVER if not cell.published else None for cell in problem.cells]
    values: list[dict] = [{} for _ in problem.cells]

    def record(key, public_status, world_values):
        c = index.get(key)
        if c is None:
            if public_status == "P" and any(v for v in world_values.values()):
                report.offences.append(Offence(key[0], key[1], f"{key[2]} {key[3]}",
                                               "chiffre publié sans cellule connue du secret"))
            return
        status[c] = PUBLISHED if public_status == "P" else EMPTY if public_status == "Z" else "S"
        if status[c] in (PUBLISHED, EMPTY):
            values[c] = world_values

    for view_prefix in ("parc", "occupation"):
        for scale in ("residence",) + SCALES:
            view = f"{view_prefix}_{scale}"
            key_col = "residence_id" if scale == "residence" else "code"
            for row in _rows(conn, view):
                m = row["millesime"]
                where = f"{view} {row[key_col]}"
                for (prefix, theme), (status_col, base) in RESIDENCE_VIEWS.items():
                    if prefix != view_prefix:
                        continue
                    _check_group(report, theme, m, where, row, status_col, base, rules.seuil)
                    if theme == "parc":
                        x = row["nb_logements"]
                        vac = row.get("nb_vacants")
                        wv = {DWELLINGS: x, OCCUPIED: None if x is None or vac is None
                              else x - vac} if x is not None else {}
                    elif theme == "quittance":
                        wv = {DWELLINGS: row["nb_quittances"]}
                    else:
                        wv = {OCCUPIED: row["nb_menages"]}
                    record((theme, str(m), scale, row[key_col]), row[status_col],
                           {w: float(v) for w, v in wv.items() if v is not None})
    for scale in SCALES:
        view = f"attributions_{scale}"
        for row in _rows(conn, view):
            m, period = row["millesime"], row["periode"]
            where = f"{view} {row['code']}"
            _check_group(report, "attributions", m, where, row, "statut_secret",
                         "nb_attributions", rules.seuil)
            v = row["nb_attributions"]
            record(("attributions", period, scale, row["code"]), row["statut_secret"],
                   {} if v is None else {ALLOCATIONS: float(v)})
            if scale in ("commune", "mel"):
                for part, col in (("en-qpv", "nb_en_qpv"), ("hors-qpv", "nb_hors_qpv")):
                    _check_group(report, "attributions", m, where, row, "statut_qpv", col,
                                 rules.seuil)
                    v = row[col]
                    public = row["statut_qpv"] if v is None or v > 0 else "Z"
                    record(("attributions", period, f"{scale}-{part}", row["code"]), public,
                           {} if v is None else {ALLOCATIONS: float(v)})
    return status, values


def audit_connection(core, service, rules: SecretRules | None = None,
                     intervals: bool = True, caches: dict | None = None) -> AuditReport:
    """Audit with ``core`` (owner: the structure) and ``service`` (the views partners read).
    Both may be the same connection (the publication audits its uncommitted candidate).
    ``caches``: the suppression's memoised row spaces and programs (keyed by their whole
    input, so a figure read differently from the views is a different key)."""
    report = AuditReport()
    rules = rules or SecretRules.read(core)
    problem, _ = build_problem(core, rules)
    status, values = published_statuses(service, problem, rules, report)
    for c, cell in enumerate(problem.cells):
        if status[c] is None:
            status[c] = "S"   # a cell the views do not show at all counts as hidden
    # The attack sees the published values only.
    for w in problem.worlds:
        for face in w.faces:
            if status[face.cell] in (PUBLISHED, EMPTY):
                published = values[face.cell].get(w.quantity)
                if published is None:
                    published = 0.0 if status[face.cell] == EMPTY else None
                if published is None:
                    report.offences.append(Offence(
                        problem.cells[face.cell].theme, problem.cells[face.cell].period,
                        problem.cells[face.cell].label(), "statut P sans chiffre"))
                    continue
                if abs(published - face.value) > 1e-6:
                    report.offences.append(Offence(
                        problem.cells[face.cell].theme, problem.cells[face.cell].period,
                        problem.cells[face.cell].label(),
                        "chiffre publié différent de celui calculé à partir des données"))
                face.value = published
    _dominance(report, problem, status)
    atts = attacks(problem, status, rules.seuil, caches)
    leaks = remainder_leaks(atts) + exact_leaks(atts)
    if intervals:
        leaks += interval_leaks(problem, status, atts, caches=caches)
    for leak in leaks:
        cells = problem.cells
        if leak.face is not None:
            cell = cells[problem.worlds_by_name[leak.world].faces[leak.face].cell]
            what, theme, period = cell.label(), cell.theme, cell.period
        else:
            what, theme, period = f"{len(leak.support)} inconnue(s) ({leak.world})", \
                leak.world, "-"
        verb = {"exact": "révélé par", "remainder": "reste", "interval": "borné :"}[leak.kind]
        report.offences.append(Offence(theme, period, what, f"{verb} {leak.relation}"))
    _diagnostic(report, service, rules)
    return report


def _dominance(report: AuditReport, problem, status) -> None:
    for c, cell in enumerate(problem.cells):
        if cell.primary == "D" and status[c] == PUBLISHED:
            report.offences.append(Offence(
                cell.theme, cell.period, cell.label(),
                "attributions publiées sur un territoire où elles désignent une résidence"))


def _diagnostic(report: AuditReport, service, rules: SecretRules) -> None:
    for row in _rows(service, "diagnostic_quartiers"):
        report.checked += 1
        where = f"diagnostic_quartiers {row['niveau']} {row['code']}"
        small = [c for c in DIAGNOSTIC_COUNTS
                 if row[c] is not None and 0 < row[c] < rules.seuil]
        if small:
            report.offences.append(Offence("diagnostic", row["millesime"], where,
                                           f"compte(s) sous le seuil : {', '.join(small)}"))
        if (row["menages_parc_social"] is None) != (row["menages_parc_prive"] is None):
            report.offences.append(Offence("diagnostic", row["millesime"], where,
                                           "parc social / privé : l'un donne l'autre"))
        if row["indice_fragilite"] is not None and any(
                row[c] is None for c in FRAGILITY_COUNTS):
            report.offences.append(Offence("diagnostic", row["millesime"], where,
                                           "indice de fragilité publié avec une part masquée"))
    hidden_occupation = {(m, code) for m, code in service.execute(
        "SELECT millesime, code FROM diffusion.occupation_iris WHERE statut_secret = 'S' "
        "UNION ALL SELECT millesime, code FROM diffusion.occupation_qpv "
        "WHERE statut_secret = 'S'").fetchall()}
    for m, niveau, code in service.execute(
            "SELECT millesime, niveau, code FROM diffusion.diagnostic_quartiers "
            "WHERE menages_parc_social IS NOT NULL").fetchall():
        if (m, code) in hidden_occupation:
            report.offences.append(Offence(
                "diagnostic", m, f"diagnostic_quartiers {niveau} {code}",
                "ménages du parc social publiés là où l'occupation est masquée"))


def audit(owner_dsn: str, service_dsn: str, intervals: bool = True) -> AuditReport:
    """The standalone audit: the structure as owner, the figures as the service role."""
    with psycopg.connect(owner_dsn) as core, psycopg.connect(service_dsn) as service:
        return audit_connection(core, service, intervals=intervals)
