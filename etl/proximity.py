"""Proximity of each résidence to transport and equipment, computed in PostGIS.

For the résidences of millésime M, each context source is taken at its latest
millésime not after M (or its oldest one if all are later). Distances in
metres (Lambert-93); equipment counted within 500 m by family: the BPE domains
A (services aux particuliers) … G (tourisme), ``ecole`` (collèges, lycées) and
``finess`` (health and social establishments).
"""
from __future__ import annotations

import psycopg

RADIUS_M = 500
BPE_DOMAINS = ("A", "B", "C", "D", "E", "F", "G")
FAMILIES = BPE_DOMAINS + ("ecole", "finess")


def _context_millesime(conn: psycopg.Connection, table: str, m: int) -> int | None:
    # table is one of our constant names below, never user input
    q = {"arret_tc": "SELECT max(millesime) FILTER (WHERE millesime <= %s), min(millesime) FROM core.arret_tc",
         "bpe_equipement": "SELECT max(millesime) FILTER (WHERE millesime <= %s), min(millesime) FROM core.bpe_equipement",
         "etablissement_scolaire": "SELECT max(millesime) FILTER (WHERE millesime <= %s), min(millesime) FROM core.etablissement_scolaire",
         "finess_etablissement": "SELECT max(millesime) FILTER (WHERE millesime <= %s), min(millesime) FROM core.finess_etablissement"}[table]
    before, oldest = conn.execute(q, [m]).fetchone()
    return before if before is not None else oldest


def compute_proximity(conn: psycopg.Connection, only: int | None = None) -> None:
    """Recompute the proximity of the résidences of millésime ``only``, or of all of them."""
    conn.execute("DELETE FROM core.proximite_equipement WHERE %(m)s::smallint IS NULL OR millesime = %(m)s",
                 {"m": only})
    conn.execute("DELETE FROM core.proximite WHERE %(m)s::smallint IS NULL OR millesime = %(m)s", {"m": only})
    for (m,) in conn.execute("SELECT DISTINCT millesime FROM core.residence "
                             "WHERE %(m)s::smallint IS NULL OR millesime = %(m)s ORDER BY 1",
                             {"m": only}).fetchall():
        stops = _context_millesime(conn, "arret_tc", m)
        conn.execute("""
            INSERT INTO core.proximite (millesime, residence_id, dist_metro_tram_m, arret_metro_tram, dist_bus_m)
            SELECT r.millesime, r.residence_id, round(ST_Distance(r.geom, mt.geom))::int, mt.stop_id,
                   round(ST_Distance(r.geom, b.geom))::int
            FROM core.residence r
            LEFT JOIN LATERAL (SELECT a.stop_id, a.geom FROM core.arret_tc a
                               WHERE a.millesime = %(s)s AND a.mode IN ('metro', 'tram')
                               ORDER BY a.geom <-> r.geom LIMIT 1) mt ON true
            LEFT JOIN LATERAL (SELECT a.geom FROM core.arret_tc a
                               WHERE a.millesime = %(s)s AND a.mode = 'bus'
                               ORDER BY a.geom <-> r.geom LIMIT 1) b ON true
            WHERE r.millesime = %(m)s""", {"m": m, "s": stops})
        bpe = _context_millesime(conn, "bpe_equipement", m)
        ecoles = _context_millesime(conn, "etablissement_scolaire", m)
        finess = _context_millesime(conn, "finess_etablissement", m)
        conn.execute("""
            WITH counts AS (
                SELECT r.residence_id, e.domaine::text AS famille, count(*) AS n
                FROM core.residence r JOIN core.bpe_equipement e
                  ON e.millesime = %(bpe)s AND ST_DWithin(e.geom, r.geom, %(radius)s)
                WHERE r.millesime = %(m)s GROUP BY 1, 2
                UNION ALL
                SELECT r.residence_id, 'ecole', count(*)
                FROM core.residence r JOIN core.etablissement_scolaire e
                  ON e.millesime = %(ecoles)s AND ST_DWithin(e.geom, r.geom, %(radius)s)
                WHERE r.millesime = %(m)s GROUP BY 1
                UNION ALL
                SELECT r.residence_id, 'finess', count(*)
                FROM core.residence r JOIN core.finess_etablissement e
                  ON e.millesime = %(finess)s AND ST_DWithin(e.geom, r.geom, %(radius)s)
                WHERE r.millesime = %(m)s GROUP BY 1)
            INSERT INTO core.proximite_equipement (millesime, residence_id, famille, nb_500m)
            SELECT r.millesime, r.residence_id, f.famille, coalesce(c.n, 0)
            FROM core.residence r
            CROSS JOIN unnest(%(families)s::text[]) AS f (famille)
            LEFT JOIN counts c ON c.residence_id = r.residence_id AND c.famille = f.famille
            WHERE r.millesime = %(m)s""",
            {"m": m, "bpe": bpe, "ecoles": ecoles, "finess": finess, "radius": RADIUS_M,
             "families": list(FAMILIES)})
