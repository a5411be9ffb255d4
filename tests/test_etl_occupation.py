"""Occupation, rent + charges, QPV indicators, diagnosis and fragility index: counts that add up."""
from __future__ import annotations

import psycopg
import pytest

from etl.errors import SourceFileError
from etl_fixtures import *  # noqa: F401,F403
from etl_fixtures import core_checksum


def q(dsn, query, params=None):
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()


def test_occupation_counts_match_the_parc(demo_small):
    rows = q(demo_small["dsn"], """SELECT count(*) FROM core.occupation o JOIN core.residence r
                                   USING (millesime, residence_id) WHERE o.nb_logements <> r.nb_logements""")
    assert rows == [(0,)]


def test_occupation_breakdown_not_summing_is_rejected_with_line(demo_small, tmp_path):
    dsn = demo_small["dsn"]
    src = next(demo_small["dir"].glob("occupation_2025.csv")).read_text().splitlines()
    header = src[0].split(";")
    cells = src[3].split(";")
    i = header.index("MENAGES_1_PERS")
    cells[i] = str(int(cells[i]) + 1)
    src[3] = ";".join(cells)
    f = tmp_path / "occupation.csv"
    f.write_text("\n".join(src) + "\n")
    before = core_checksum(dsn)
    with pytest.raises(SourceFileError) as err:
        from etl.occupation import load_occupation
        load_occupation(dsn, f, 2025)
    assert "ligne 4, champ MENAGES_1_PERS" in str(err.value)
    assert core_checksum(dsn) == before


def test_occupation_for_unknown_residence_rejected(demo_small, tmp_path):
    dsn = demo_small["dsn"]
    src = next(demo_small["dir"].glob("occupation_2025.csv")).read_text().splitlines()
    src[2] = "R000000000000" + src[2][src[2].index(";"):]
    f = tmp_path / "occupation.csv"
    f.write_text("\n".join(src) + "\n")
    from etl.occupation import load_occupation
    with pytest.raises(SourceFileError) as err:
        load_occupation(dsn, f, 2025)
    assert "ligne 3, champ ID_RESIDENCE" in str(err.value) and "absente du RPLS" in str(err.value)


def test_rent_bands_sum_to_the_base(demo_small):
    rows = q(demo_small["dsn"], "SELECT count(*), sum(nb_logements_renseignes) FROM core.loyer_charges")
    assert rows[0][0] > 0 and rows[0][1] > 0


def test_fragility_index_is_centred_per_level(demo_small):
    rows = q(demo_small["dsn"], """SELECT niveau, avg(indice_fragilite), min(indice_fragilite), max(indice_fragilite),
                                          count(*) FILTER (WHERE indice_fragilite IS NULL)
                                   FROM core.diagnostic_quartier WHERE millesime = 2025 GROUP BY 1""")
    assert {r[0] for r in rows} == {"IRIS", "QPV"}
    for _, avg, lo, hi, nulls in rows:
        assert abs(float(avg) - 50) < 1.5 and 0 <= lo <= hi <= 100 and nulls == 0


def test_qpv_indicators_long_with_numerator_and_denominator(demo_small):
    rows = q(demo_small["dsn"], """SELECT indicateur, bool_and(abs(100 * numerateur / denominateur - valeur) <= 0.05)
                                   FROM core.qpv_indicateur WHERE millesime = 2025 GROUP BY 1 ORDER BY 1""")
    assert rows == [("PART_CSS", True), ("TX_CHOMAGE", True), ("TX_PAUVRETE", True)]
