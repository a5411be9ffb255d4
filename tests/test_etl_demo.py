"""The demo generator writes the real formats and its files load end to end."""
from __future__ import annotations

import json

import psycopg
import pytest

from etl_fixtures import *  # noqa: F401,F403
from etl_fixtures import SEED, SMALL_SCALE, core_checksum


def q(dsn, query, params=None):
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()


def test_every_generated_file_loads_without_rejection(demo_small):
    sources = {s.source for s in demo_small["summaries"]}
    assert sources >= {"iris", "qpv", "epci", "rpls", "occupation", "loyers", "attributions", "bpe",
                       "ecoles", "finess", "gtfs", "filosofi", "qpv_indicateurs", "diagnostic"}
    for s in demo_small["summaries"]:
        assert s.rows_rejected == 0, (s.source, s.rejections[:3])
        assert s.rows_loaded > 0, s.source


def test_three_millesimes_and_four_years_of_attributions(demo_small):
    dsn = demo_small["dsn"]
    assert len(q(dsn, "SELECT DISTINCT millesime FROM core.logement")) >= 3
    assert len(q(dsn, "SELECT DISTINCT annee FROM core.attribution")) >= 4


def test_iris_follow_the_real_rule(demo_small):
    dsn = demo_small["dsn"]
    rows = q(dsn, """SELECT c.code_insee, c.population_municipale, count(i.*),
                            bool_and(i.code_iris = c.code_insee || '0000')
                     FROM core.commune c JOIN core.iris i ON i.insee_com = c.code_insee GROUP BY 1, 2""")
    assert len(rows) == 95
    for code, pop, n, single in rows:
        if pop < 10_000:
            assert n == 1 and single, code
        else:
            assert abs(n - pop / 2000) <= max(2, 0.2 * pop / 2000), (code, pop, n)


def test_qpv_in_the_communes_that_have_them(demo_small):
    n, = q(demo_small["dsn"], "SELECT count(*) FROM core.qpv")[0]
    assert 20 <= n <= 26


def test_residences_are_stable_and_consistent_with_dwellings(demo_small):
    dsn = demo_small["dsn"]
    # nb_logements is the count of dwellings, per millésime
    bad = q(dsn, """SELECT r.millesime, r.residence_id FROM core.residence r
                    JOIN core.logement l USING (millesime, residence_id)
                    GROUP BY 1, 2, r.nb_logements HAVING count(*) <> r.nb_logements""")
    assert bad == []
    # most résidences of one millésime are found with the same id the next one
    (kept,), = q(dsn, """SELECT count(*)::float / (SELECT count(*) FROM core.residence WHERE millesime = 2024)
                         FROM core.residence a JOIN core.residence b USING (residence_id)
                         WHERE a.millesime = 2024 AND b.millesime = 2025""")
    assert kept > 0.9
    small, = q(dsn, "SELECT avg((nb_logements < 11)::int) FROM core.residence")[0]
    assert 0.3 < small < 0.6


def test_attribution_cells_add_up(demo_small):
    dsn = demo_small["dsn"]
    # commune totals are exact sums of IRIS totals, themselves sums of cells
    rows = q(dsn, """SELECT annee, code_insee, sum(nb_attributions),
                            sum(nb_q1 + nb_q2 + nb_q3 + nb_q4 + nb_q_inconnu) FROM core.attribution GROUP BY 1, 2""")
    assert rows and all(a == b for _, _, a, b in rows)
    per_year = dict(q(dsn, "SELECT annee, sum(nb_attributions) FROM core.attribution GROUP BY 1"))
    assert all(v >= 200 for v in per_year.values())


def test_proximity_computed_for_every_residence(demo_small):
    dsn = demo_small["dsn"]
    (missing,), = q(dsn, """SELECT count(*) FROM core.residence r LEFT JOIN core.proximite p
                            USING (millesime, residence_id) WHERE p.dist_metro_tram_m IS NULL""")
    assert missing == 0
    (fams,), = q(dsn, "SELECT count(DISTINCT famille) FROM core.proximite_equipement")
    assert fams == 9


def test_generated_data_is_labelled_fictitious(demo_small):
    meta = json.loads((demo_small["dir"] / "metadata.json").read_text())
    assert meta["fictif"] is True and "FICTIVES" in meta["avertissement"]
    # every generated source is labelled; the communes are the real reference file (not fictitious)
    rows = q(demo_small["dsn"], "SELECT DISTINCT fictif FROM core.load WHERE source <> 'communes'")
    assert rows == [(True,)]
    assert q(demo_small["dsn"], "SELECT fictif FROM core.load WHERE source = 'communes'") in ([], [(False,)])


def test_rpls_file_is_semicolon_cp1252(demo_small):
    raw = next(demo_small["dir"].glob("RPLS_*_MEL_detail.csv")).read_bytes()
    header = raw.split(b"\n", 1)[0].decode("ascii")
    assert header.startswith("IDENT_REP;RS;")
    raw.decode("cp1252")


def test_generator_is_deterministic(tmp_path):
    from etl.demo import generate
    a = generate(tmp_path / "a", seed=SEED, scale=0.01)
    b = generate(tmp_path / "b", seed=SEED, scale=0.01)
    for (_, pa, _), (_, pb, _) in zip(a["plan"], b["plan"]):
        if pa.suffix in (".csv", ".geojson"):
            assert pa.read_bytes() == pb.read_bytes(), pa.name


def test_second_identical_run_changes_nothing(demo_small):
    from etl.registry import loader
    before = core_checksum(demo_small["dsn"])
    for s in demo_small["summaries"][:12]:
        again = loader(s.source)(demo_small["dsn"], s.path, s.millesime, fictif=True)
        assert again.skipped
    assert core_checksum(demo_small["dsn"]) == before
