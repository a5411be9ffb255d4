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
    assert modes["metro"] + modes["tram"] == 200 and modes["metro"] > 0 and modes["tram"] > 0
    assert modes["bus"] > 0


def test_demo_lines_follow_their_stations(demo_small):
    """The demo's metro and tram lines (real quays, fictitious groupings): two directions
    each, going from a station to a neighbouring one (no leg across the metropolis), the
    way back along the same stations."""
    dsn = demo_small["dsn"]
    rows = q(dsn, """SELECT l.route_id, l.direction_id, l.mode, l.route_color, l.nb_arrets, l.trace,
                            ST_NPoints(l.geom),
                            (SELECT max(ST_Distance(ST_PointN(l.geom, i), ST_PointN(l.geom, i + 1)))
                             FROM generate_series(1, ST_NPoints(l.geom) - 1) i),
                            ST_StartPoint(l.geom)::text, ST_EndPoint(l.geom)::text
                     FROM core.ligne_tc l WHERE l.millesime = 2025 ORDER BY 1, 2""")
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("M1", 0, "metro"), ("M1", 1, "metro"), ("M2", 0, "metro"), ("M2", 1, "metro"),
        ("R", 0, "tram"), ("R", 1, "tram"), ("T", 0, "tram"), ("T", 1, "tram")]
    for route, _, _, colour, stops, trace, points, longest_leg, _, _ in rows:
        assert trace == "arrets" and points == stops >= 10 and len(colour) == 6
        assert longest_leg < 4000, (route, longest_leg)
    for there, back in zip(rows[::2], rows[1::2]):
        (gap_start, gap_end), = q(dsn, "SELECT ST_Distance(%s::geometry, %s::geometry), "
                                       "ST_Distance(%s::geometry, %s::geometry)",
                                  [there[8], back[9], there[9], back[8]])
        assert gap_start < 500 and gap_end < 500, there[0]
    (published,), = q(dsn, "SELECT count(*) FROM diffusion.lignes_transport WHERE millesime = 2025")
    assert published == len(rows)


def test_gtfs_from_a_folder(demo_small, tmp_path):
    from etl.gtfs import load_gtfs
    feed = next(demo_small["dir"].glob("gtfs_*.zip"))
    folder = tmp_path / "gtfs"
    zipfile.ZipFile(feed).extractall(folder)
    s = load_gtfs(demo_small["dsn"], folder, 2016)
    assert s.rows_loaded == q(demo_small["dsn"], "SELECT count(*) FROM core.arret_tc WHERE millesime = 2025")[0][0]
    with psycopg.connect(demo_small["dsn"]) as conn:  # restore the shared database
        conn.execute("DELETE FROM core.arret_tc WHERE millesime = 2016")
        conn.execute("DELETE FROM core.ligne_tc WHERE millesime = 2016")
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
