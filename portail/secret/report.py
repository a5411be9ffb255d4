"""The loss report: what each publication hides, and how much is behind it.

Per layer, field group and millésime: the cells with something to count, those
hidden by the threshold, by dominance (allocations that would designate one
résidence) and to protect other figures, and the share of dwellings, households
or allocations behind them. Written with each publication (``core.secret_bilan``),
printed by the publication and by ``portail-lls audit secret``. For the data team
and the administrator: it never leaves the owner's side.
"""
from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

DIAGNOSTIC_COUNTS = ("population", "nb_menages", "menages_parc_social", "menages_parc_prive",
                     "menages_pauvres", "menages_monoparentaux", "actifs", "chomeurs",
                     "pop_15_plus", "sans_diplome", "allocataires_caf",
                     "allocataires_caf_bas_revenus")


@dataclass(frozen=True)
class LossRow:
    couche: str
    groupe: str
    millesime: int
    cellules: int
    seuil: int
    dominance: int
    complementaire: int
    base_totale: float
    base_seuil: float
    base_dominance: float
    base_complementaire: float

    @property
    def hidden(self) -> int:
        return self.seuil + self.dominance + self.complementaire

    @property
    def share_cells(self) -> float:
        return self.hidden / self.cellules if self.cellules else 0.0

    @property
    def share_base(self) -> float:
        hidden = self.base_seuil + self.base_dominance + self.base_complementaire
        return hidden / self.base_totale if self.base_totale else 0.0


_STATUS_REPORT = """
SELECT CASE WHEN theme = 'quittance' THEN 'parc' ELSE theme END
           || '_' || split_part(echelle, '-', 1) AS couche,
       CASE WHEN theme = 'quittance' THEN 'statut_quittance'
            WHEN echelle LIKE '%-qpv' THEN 'statut_qpv' ELSE 'statut_secret' END AS groupe,
       millesime,
       count(*) FILTER (WHERE statut <> 'Z') AS cellules,
       count(*) FILTER (WHERE motif = 'seuil') AS seuil,
       count(*) FILTER (WHERE motif = 'dominance') AS dominance,
       count(*) FILTER (WHERE motif = 'complementaire') AS complementaire,
       coalesce(sum(valeur_base), 0) AS base_totale,
       coalesce(sum(valeur_base) FILTER (WHERE motif = 'seuil'), 0) AS base_seuil,
       coalesce(sum(valeur_base) FILTER (WHERE motif = 'dominance'), 0) AS base_dominance,
       coalesce(sum(valeur_base) FILTER (WHERE motif = 'complementaire'), 0) AS base_compl
FROM core.secret_statut
GROUP BY 1, 2, 3
"""


def _diagnostic_rows(conn) -> list[tuple]:
    """Counts of the neighbourhood diagnosis: each count of each row is a cell."""
    seuil = conn.execute("SELECT seuil FROM core.parametre_secret").fetchone()[0]
    parts = []
    for name in DIAGNOSTIC_COUNTS:
        parts.append(sql.SQL(
            "SELECT d.millesime, d.{c} AS valeur, v.{c} IS NULL AS masque "
            "FROM core.diagnostic_quartier d JOIN diffusion.diagnostic_quartiers v "
            "ON v.niveau = d.niveau AND v.code = d.code AND v.millesime = d.millesime"
        ).format(c=sql.Identifier(name)))
    query = sql.SQL(
        "SELECT 'diagnostic_quartiers', 'comptes', millesime, "
        "count(*) FILTER (WHERE valeur > 0), "
        "count(*) FILTER (WHERE masque AND valeur BETWEEN 1 AND {s}), 0, "
        "count(*) FILTER (WHERE masque AND valeur >= {s1}), "
        "coalesce(sum(valeur), 0), "
        "coalesce(sum(valeur) FILTER (WHERE masque AND valeur BETWEEN 1 AND {s}), 0), 0, "
        "coalesce(sum(valeur) FILTER (WHERE masque AND valeur >= {s1}), 0) "
        "FROM ({u}) x GROUP BY millesime").format(
        s=sql.Literal(seuil - 1), s1=sql.Literal(seuil), u=sql.SQL(" UNION ALL ").join(parts))
    return conn.execute(query).fetchall()


def compute_report(conn) -> list[LossRow]:
    rows = conn.execute(_STATUS_REPORT).fetchall() + _diagnostic_rows(conn)
    return sorted((LossRow(*r[:3], *(int(x) for x in r[3:7]), *(float(x) for x in r[7:]))
                   for r in rows), key=lambda r: (r.couche, r.groupe, r.millesime))


def write_report(conn, data_version: int) -> list[LossRow]:
    rows = compute_report(conn)
    with conn.cursor().copy(
            "COPY core.secret_bilan (data_version, couche, groupe, millesime, cellules, seuil, "
            "dominance, complementaire, base_totale, base_seuil, base_dominance, "
            "base_complementaire) FROM STDIN") as copy:
        for r in rows:
            copy.write_row((data_version, r.couche, r.groupe, r.millesime, r.cellules, r.seuil,
                            r.dominance, r.complementaire, r.base_totale, r.base_seuil,
                            r.base_dominance, r.base_complementaire))
    return rows


def read_report(conn, data_version: int | None = None) -> tuple[int | None, list[LossRow]]:
    """The report of a publication (the latest by default)."""
    if data_version is None:
        row = conn.execute("SELECT max(data_version) FROM core.secret_bilan").fetchone()
        data_version = row[0]
    if data_version is None:
        return None, []
    rows = conn.execute(
        "SELECT couche, groupe, millesime, cellules, seuil, dominance, complementaire, "
        "base_totale, base_seuil, base_dominance, base_complementaire FROM core.secret_bilan "
        "WHERE data_version = %s ORDER BY couche, groupe, millesime", [data_version]).fetchall()
    return data_version, [LossRow(*r[:3], *(int(x) for x in r[3:7]), *(float(x) for x in r[7:]))
                          for r in rows]


def format_report(rows: list[LossRow]) -> list[str]:
    """The report as French text lines, one per layer, group and millésime."""
    def pct(x):
        return f"{100 * x:5.1f} %".replace(".", ",")
    lines = [f"{'couche':<24} {'groupe':<17} {'millésime':>9} {'cellules':>8} "
             f"{'seuil':>6} {'domin.':>6} {'compl.':>6} {'part masquée':>12} {'part de la base':>15}"]
    for r in rows:
        lines.append(f"{r.couche:<24} {r.groupe:<17} {r.millesime:>9} {r.cellules:>8} "
                     f"{r.seuil:>6} {r.dominance:>6} {r.complementaire:>6} "
                     f"{pct(r.share_cells):>12} {pct(r.share_base):>15}")
    return lines
