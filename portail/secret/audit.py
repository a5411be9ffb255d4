"""The secrecy auditor: attack the published data the way an analyst would.

Values are read from the diffusion views **as the service role** — exactly what
partners see through the API and the exports. Only the structure (which
résidence lies in which IRIS, QPV and commune; which attribution cells exist)
comes from core, so that the attack is at least as strong as a real one.

Checks, for every theme, millésime and scale:
1. threshold: no published base between 1 and threshold−1;
2. blanks: a row whose status is not P shows no figure at all;
3. differencing: the linear attack of ``attack.py`` (exact disclosure of any
   hidden figure or single attribution year; totals minus published parts,
   nested differences between IRIS/QPV/communes and between 3-year windows).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from portail.secret.attack import Attack, Publication
from portail.secret.territory import Unit, attribution_problem, residence_problem

SCALES = ("iris", "qpv", "commune", "mel")
# Per theme: the view prefix, the base column, the status column.
RESIDENCE_THEMES = {
    "parc": ("parc", "nb_logements", "statut_secret"),
    "quittance": ("parc", "nb_quittances", "statut_quittance"),
    "occupation": ("occupation", "nb_menages", "statut_secret"),
}
NOT_FIGURES = {"id", "residence_id", "millesime", "code", "nom", "code_insee",
               "echelle_territoire", "periode", "geom", "geom_4326"}


@dataclass
class Offence:
    theme: str
    millesime: int
    what: str
    how: str

    def __str__(self) -> str:
        return f"[{self.theme} {self.millesime}] {self.what} — {self.how}"


@dataclass
class AuditReport:
    offences: list[Offence] = field(default_factory=list)
    checked: int = 0    # published aggregates examined

    @property
    def ok(self) -> bool:
        return not self.offences


def _view_rows(service, view: str, key: str, millesime: int) -> list[dict]:
    cur = service.cursor(row_factory=psycopg.rows.dict_row)
    return cur.execute(sql.SQL("SELECT * FROM {} WHERE millesime = %s").format(
        sql.Identifier("diffusion", view)), [millesime]).fetchall()


def _check_rows(report: AuditReport, theme: str, millesime: int, view: str, rows: list[dict],
                base: str, status_col: str, seuil: int, key: str) -> None:
    status_groups = {"statut_secret": None, "statut_quittance": {
        "nb_quittances", "quittance_moyenne", "charges_moyennes", "nb_quittance_inf_400",
        "nb_quittance_400_550", "nb_quittance_550_700", "nb_quittance_sup_700"},
        "statut_qpv": {"nb_hors_qpv", "nb_q1_hors_qpv", "part_q1_hors_qpv", "nb_en_qpv",
                       "nb_q2_q4_en_qpv", "part_q2_q4_en_qpv"}}
    for row in rows:
        value = row.get(base)
        report.checked += 1
        if value is not None and 0 < value < seuil:
            report.offences.append(Offence(theme, millesime, f"{view} {row[key]}",
                                           f"{base} publié sous le seuil de {seuil}"))
        if row.get(status_col) in (None, "P", "Z"):
            continue
        group = status_groups.get(status_col)
        columns = group if group is not None else \
            {c for c in row if c not in NOT_FIGURES and not c.startswith("statut")} \
            - status_groups["statut_quittance"] - status_groups["statut_qpv"]
        shown = sorted(c for c in columns if row.get(c) is not None)
        if shown:
            report.offences.append(Offence(
                theme, millesime, f"{view} {row[key]}",
                f"statut {row.get(status_col)} mais chiffres affichés : {', '.join(shown[:6])}"))


def audit(owner_dsn: str, service_dsn: str) -> AuditReport:
    report = AuditReport()
    with psycopg.connect(owner_dsn) as core, psycopg.connect(service_dsn) as service:
        seuil, fenetre = core.execute(
            "SELECT seuil, fenetre_attributions FROM core.parametre_secret").fetchone()
        millesimes = [m for (m,) in core.execute(
            "SELECT DISTINCT millesime FROM core.residence ORDER BY 1")]
        for theme, (prefix, base, status_col) in RESIDENCE_THEMES.items():
            table = {"parc": None, "quittance": "loyer_charges",
                     "occupation": "occupation"}[theme]
            for m in millesimes:
                join = sql.SQL("") if table is None else sql.SQL(
                    "JOIN {} v USING (millesime, residence_id)").format(sql.Identifier("core", table))
                units = [Unit(rid, iris, insee, qpv, 0.0) for rid, iris, insee, qpv in core.execute(
                    sql.SQL("SELECT r.residence_id, r.code_iris, r.code_insee, r.code_qpv "
                            "FROM core.residence r {} WHERE r.millesime = %s ORDER BY 1"
                            ).format(join), [m])]
                if not units:
                    continue
                structure, _ = residence_problem(units)
                published: dict[tuple, float | None] = {}
                rows = _view_rows(service, f"{prefix}_residence", "residence_id", m)
                _check_rows(report, theme, m, f"{prefix}_residence", rows, base, status_col,
                            seuil, "residence_id")
                for row in rows:
                    published[("residence", row["residence_id"])] = row[base]
                for scale in SCALES:
                    rows = _view_rows(service, f"{prefix}_{scale}", "code", m)
                    _check_rows(report, theme, m, f"{prefix}_{scale}", rows, base, status_col,
                                seuil, "code")
                    for row in rows:
                        published[(scale, row["code"])] = row[base]
                values = [None if published.get(a.key) is None else float(published[a.key])
                          for a in structure.aggregates]
                _attack(report, theme, m, structure, values, seuil)

        cells = [Unit(f"{a}-{i}-{q or ''}", i, c, q, 0.0, annee=a) for a, c, i, q in core.execute(
            "SELECT annee, code_insee, code_iris, code_qpv FROM core.attribution "
            "ORDER BY annee, code_insee, code_iris, code_qpv NULLS FIRST")]
        windows = [m for (m,) in service.execute(
            "SELECT DISTINCT millesime FROM diffusion.attributions_mel ORDER BY 1")]
        if cells and windows:
            structure, _, _ = attribution_problem(cells, windows, fenetre)
            published = {}
            for scale in SCALES:
                for m in windows:
                    rows = _view_rows(service, f"attributions_{scale}", "code", m)
                    _check_rows(report, "attributions", m, f"attributions_{scale}", rows,
                                "nb_attributions", "statut_secret", seuil, "code")
                    if scale in ("commune", "mel"):
                        _check_rows(report, "attributions", m, f"attributions_{scale}", rows,
                                    "nb_hors_qpv", "statut_qpv", seuil, "code")
                        _check_rows(report, "attributions", m, f"attributions_{scale}", rows,
                                    "nb_en_qpv", "statut_qpv", seuil, "code")
                    for row in rows:
                        period = f"{m - fenetre + 1}-{m}"
                        published[(scale, row["code"], period)] = row["nb_attributions"]
                        if scale in ("commune", "mel"):
                            published[(f"{scale}-hors-qpv", row["code"], period)] = row["nb_hors_qpv"]
                            published[(f"{scale}-en-qpv", row["code"], period)] = row["nb_en_qpv"]
            values = [None if published.get(a.key) is None else float(published[a.key])
                      for a in structure.aggregates]
            _attack(report, "attributions", windows[-1], structure, values, seuil)
    return report


def _attack(report: AuditReport, theme: str, millesime: int, structure, values, seuil) -> None:
    # The report names what leaks and how, never the value itself: it may be a
    # figure under the threshold, which must not reach a terminal or a log either.
    for leak in Attack(Publication(structure, values), seuil).leaks():
        report.offences.append(Offence(theme, millesime, leak.target,
                                       f"{'révélé par' if leak.kind == 'exact' else 'reste'} "
                                       f"{leak.relation}"))
