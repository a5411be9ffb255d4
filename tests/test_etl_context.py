"""Context sources (BPE, schools, FINESS, GTFS, Filosofi) and the proximity of résidences."""
from __future__ import annotations

import zipfile

import psycopg

from etl_fixtures import *  # noqa: F401,F403


def q(dsn, query, params=None):
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()


def test_real_schools_loaded_with_their_rep_class(demo_small):
    rows = dict(q(demo_small["dsn"], "SELECT classement_rep, count(*) FROM core.etablissement_scolaire GROUP BY 1"))
    assert rows == {"NON": 122, "REP": 11, "REP+": 16}


def test_gtfs_modes_from_routes(demo_small):
    modes = dict(q(demo_small["dsn"], "SELECT mode, count(*) FROM core.arret_tc GROUP BY 1"))
    assert modes["metro"] == 200 and modes["bus"] > 0


def test_gtfs_from_a_folder(demo_small, tmp_path):
    from etl.gtfs import load_gtfs
    feed = next(demo_small["dir"].glob("gtfs_*.zip"))
    folder = tmp_path / "gtfs"
    zipfile.ZipFile(feed).extractall(folder)
    s = load_gtfs(demo_small["dsn"], folder, 2016)
    assert s.rows_loaded == q(demo_small["dsn"], "SELECT count(*) FROM core.arret_tc WHERE millesime = 2025")[0][0]
    with psycopg.connect(demo_small["dsn"]) as conn:  # restore the shared database
        conn.execute("DELETE FROM core.arret_tc WHERE millesime = 2016")
        conn.execute("DELETE FROM core.load WHERE millesime = 2016")


def test_bpe_domains_and_finess_in_lambert93(demo_small):
    dsn = demo_small["dsn"]
    doms = {d for (d,) in q(dsn, "SELECT DISTINCT domaine FROM core.bpe_equipement")}
    assert doms <= set("ABCDEFG") and len(doms) >= 5
    (outside,), = q(dsn, """SELECT count(*) FROM core.finess_etablissement f WHERE NOT EXISTS
                            (SELECT 1 FROM core.commune c WHERE ST_DWithin(c.geom, f.geom, 100))""")
    assert outside == 0


def test_proximity_matches_a_direct_computation(demo_small):
    dsn = demo_small["dsn"]
    rows = q(dsn, """SELECT p.dist_metro_tram_m,
                            (SELECT round(min(ST_Distance(r.geom, a.geom))) FROM core.arret_tc a
                             WHERE a.millesime = 2025 AND a.mode IN ('metro', 'tram')),
                            e.nb_500m,
                            (SELECT count(*) FROM core.bpe_equipement b WHERE b.millesime = 2025
                             AND b.domaine = 'D' AND ST_Distance(b.geom, r.geom) <= 500)
                     FROM core.residence r JOIN core.proximite p USING (millesime, residence_id)
                     JOIN core.proximite_equipement e USING (millesime, residence_id)
                     WHERE r.millesime = 2025 AND e.famille = 'D' ORDER BY r.residence_id LIMIT 40""")
    assert rows
    for dist, direct, n, direct_n in rows:
        assert dist == direct and n == direct_n


def test_filosofi_cells_keep_the_published_columns(demo_small):
    dsn = demo_small["dsn"]
    (n, bad), = q(dsn, "SELECT count(*), count(*) FILTER (WHERE men_pauv > men OR ind_snv <= 0) "
                       "FROM core.filosofi_carreau")
    assert n > 100 and bad == 0
    (idcar,), = q(dsn, "SELECT idcar_200m FROM core.filosofi_carreau LIMIT 1")[0:1]
    assert idcar.startswith("CRS3035RES200mN")
