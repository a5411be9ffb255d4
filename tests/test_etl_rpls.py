"""RPLS loader: grouping into résidences, stable ids, encodings, CRS, codes by position, reloads."""
from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from hypothesis import given, strategies as st

from etl.errors import SourceFileError
from etl.rpls import load_rpls, residence_key
from etl_fixtures import core_checksum

CORPUS = Path(__file__).parent / "corpus"
REFERENCE = Path(__file__).parent.parent / "data" / "reference"


@pytest.fixture
def territory(fresh_database):
    from etl.communes import load_communes
    load_communes(fresh_database.owner_dsn(), REFERENCE / "mel_communes.geojson", 2026)
    return fresh_database.owner_dsn()


def rows(dsn, query, params=None):
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()


def test_dwellings_grouped_by_landlord_and_address(territory):
    s = load_rpls(territory, CORPUS / "rpls_valide.csv", 2024)
    assert (s.rows_read, s.rows_loaded, s.rows_rejected) == (3, 3, 0)
    res = rows(territory, "SELECT adresse, nb_logements, code_insee, code_iris, code_qpv FROM core.residence "
                          "ORDER BY adresse")
    # no IRIS loaded: the commune's single IRIS code; no QPV loaded: null
    assert res == [("12 RUE DES ÉCOLES", 2, "59350", "593500000", None),
                   ("14 RUE DES ÉCOLES", 1, "59350", "593500000", None)]
    fin = dict(rows(territory, "SELECT logement_id, financement FROM core.logement"))
    assert fin == {"C0001": "PLUS", "C0002": "PLAI", "C0003": "PLS"}
    statut = dict(rows(territory, "SELECT logement_id, statut FROM core.logement"))
    assert statut["C0003"] == "vacant"


def test_same_file_twice_changes_nothing_and_reload_replaces_exactly(territory, tmp_path):
    load_rpls(territory, CORPUS / "rpls_valide.csv", 2024)
    before = core_checksum(territory)
    again = load_rpls(territory, CORPUS / "rpls_valide.csv", 2024)
    assert again.skipped and core_checksum(territory) == before
    # a changed file for the same millésime replaces it: no dwelling of the old file is left
    lines = (CORPUS / "rpls_valide.csv").read_text().splitlines()
    smaller = tmp_path / "rpls.csv"
    smaller.write_text("\n".join(lines[:2]) + "\n")
    load_rpls(territory, smaller, 2024)
    assert rows(territory, "SELECT logement_id FROM core.logement") == [("C0001",)]
    assert rows(territory, "SELECT count(*) FROM core.residence") == [(1,)]


def test_residence_id_is_stable_across_millesimes(territory):
    load_rpls(territory, CORPUS / "rpls_valide.csv", 2023)
    load_rpls(territory, CORPUS / "rpls_valide.csv", 2024)
    a = rows(territory, "SELECT residence_id FROM core.residence WHERE millesime = 2023 ORDER BY 1")
    b = rows(territory, "SELECT residence_id FROM core.residence WHERE millesime = 2024 ORDER BY 1")
    assert a == b and len(a) == 2


def test_wgs84_coordinates_and_missing_commune_code_filled_by_position(territory, tmp_path):
    text = (CORPUS / "rpls_valide.csv").read_text().replace(";X;Y", ";LONGITUDE;LATITUDE")
    text = text.replace(";703900;7059300", ";3.0632;50.6369").replace(";703905;7059305", ";3.0633;50.6370")
    text = text.replace(";703950;7059320", ";3.0640;50.6371").replace(";59350;", ";;")
    f = tmp_path / "rpls_wgs84.csv"
    f.write_text(text)
    s = load_rpls(territory, f, 2024)
    assert s.rows_loaded == 3
    assert rows(territory, "SELECT DISTINCT code_insee FROM core.logement") == [("59350",)]


def test_declared_commune_differing_from_position_is_reported(territory, tmp_path):
    text = (CORPUS / "rpls_valide.csv").read_text().replace("C0003;BAILLEUR CORPUS;900000001;59350",
                                                            "C0003;BAILLEUR CORPUS;900000001;59009")
    f = tmp_path / "rpls_ecart.csv"
    f.write_text(text)
    s = load_rpls(territory, f, 2024)
    assert any("ligne 4" in w and "59009" in w and "59350" in w for w in s.warnings)


def test_max_rejects_share(territory, tmp_path):
    text = (CORPUS / "rpls_commune_inconnue.csv").read_text()
    f = tmp_path / "rpls.csv"
    f.write_text(text)
    with pytest.raises(SourceFileError) as err:
        load_rpls(territory, f, 2024, max_rejects=0.2)
    assert "--max-rejects" in str(err.value.hint)
    s = load_rpls(territory, f, 2024, max_rejects=0.5)
    assert (s.rows_loaded, s.rows_rejected) == (2, 1)


words = st.text(alphabet="ABCDEÉÈabcé -'0123456789", min_size=1, max_size=30)


@given(words, words)
def test_residence_key_ignores_case_accents_and_spacing(bailleur, address):
    k = residence_key(bailleur, None, "59350", None, address)
    assert k == residence_key(bailleur.lower(), None, "59350", None, "  " + address.upper().replace(" ", "  "))
    assert k.startswith("R") and len(k) == 13
    assert k != residence_key(bailleur, None, "59009", None, address)
