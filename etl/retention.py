"""Retention (12 years: two local housing programmes) and the status of what is loaded."""
from __future__ import annotations

import psycopg
from psycopg import sql

from etl.loading import RETENTION_YEARS, current_year

# Fact tables by millésime, children before parents (résidence cascades to its children,
# deleted first here so that the counts are reported per table).
FACT_TABLES = (
    "proximite_equipement", "proximite", "occupation", "loyer_charges", "logement", "residence",
    "attribution", "filosofi_carreau", "qpv_indicateur", "diagnostic_quartier",
    "bpe_equipement", "etablissement_scolaire", "finess_etablissement", "arret_tc",
)
# Ledger source -> the core table whose rows it loads (for counts in `etl status`).
SOURCE_TABLES = {
    "rpls": "logement", "occupation": "occupation", "loyers": "loyer_charges",
    "attributions": "attribution", "filosofi": "filosofi_carreau",
    "qpv_indicateurs": "qpv_indicateur", "diagnostic": "diagnostic_quartier",
    "bpe": "bpe_equipement", "ecoles": "etablissement_scolaire",
    "finess": "finess_etablissement", "gtfs": "arret_tc",
    "iris": "iris", "qpv": "qpv", "epci": "epci_membership",
}


def oldest_kept(today_year: int | None = None) -> int:
    return (today_year or current_year()) - RETENTION_YEARS + 1


def purge(conn: psycopg.Connection, dry_run: bool = True,
          today_year: int | None = None) -> list[tuple[str, int, int]]:
    """Delete (or, dry run, count) every fact row older than the retention window.

    Returns (table, millésime, rows) for each millésime purged.
    """
    limit = oldest_kept(today_year)
    out: list[tuple[str, int, int]] = []
    for table in FACT_TABLES:
        ident = sql.Identifier("core", table)
        rows = conn.execute(sql.SQL(
            "SELECT millesime, count(*) FROM {} WHERE millesime < %s GROUP BY 1 ORDER BY 1"
        ).format(ident), [limit]).fetchall()
        out.extend((table, m, n) for m, n in rows)
        if rows and not dry_run:
            conn.execute(sql.SQL("DELETE FROM {} WHERE millesime < %s").format(ident), [limit])
    if not dry_run:
        conn.execute("DELETE FROM core.load WHERE millesime < %s AND source <> ALL(%s)",
                     [limit, ["iris", "qpv", "epci", "communes"]])
    return out


def status(conn: psycopg.Connection) -> list[dict]:
    """One row per source and millésime: file, rows in the ledger and in the table now."""
    rows = conn.execute(
        "SELECT source, millesime, fichier, rows_read, rows_loaded, rows_rejected, fictif,"
        " loaded_at, disposition, rows_outside, champs_absents FROM core.load"
        " ORDER BY source, millesime").fetchall()
    out = []
    for source, m, fichier, read, loaded, rejected, fictif, at, disposition, outside, absent in rows:
        table = SOURCE_TABLES.get(source)
        present = None
        if table:
            q = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("core", table))
            if table in FACT_TABLES:
                q = sql.SQL("{} WHERE millesime = %s").format(q)
                present = conn.execute(q, [m]).fetchone()[0]
            else:
                present = conn.execute(q).fetchone()[0]
        out.append(dict(source=source, millesime=m, fichier=fichier, rows_read=read,
                        rows_loaded=loaded, rows_rejected=rejected, fictif=fictif,
                        loaded_at=at, rows_present=present, disposition=disposition,
                        rows_outside=outside, absent=list(absent or ())))
    return out
