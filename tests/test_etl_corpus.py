"""Bad input: each broken file of tests/corpus gives a clear message naming the file, the
line (or entity) and the field, and leaves the core tables EXACTLY as they were."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from etl.errors import SourceFileError
from etl.loading import current_year
from etl.registry import loader
from etl_fixtures import *  # noqa: F401,F403
from etl_fixtures import core_checksum

CORPUS = Path(__file__).parent / "corpus"

CASES = [
    # (file, source, options, expected location, expected field, reason pattern)
    ("rpls_colonne_manquante.csv", "rpls", {}, "ligne 1", "NBPIECE", r"colonne absente"),
    ("rpls_mauvais_separateur.csv", "rpls", {}, "ligne 1", None, r"séparateur virgule"),
    ("rpls_latin1.csv", "rpls", {"encoding": "utf-8"}, "ligne 2", "NOMVOIE", r"invalides en utf-8"),
    ("rpls_mojibake.csv", "rpls", {}, "ligne 3", "NOMVOIE", r"accents mal encodés"),
    ("bpe_hors_territoire.csv", "bpe", {}, "ligne 3", "LAMBERT_X/LAMBERT_Y", r"hors du territoire"),
    ("bpe_mauvais_crs.csv", "bpe", {}, "ligne 2", "LAMBERT_X/LAMBERT_Y", r"système de coordonnées erroné"),
    ("rpls_commune_inconnue.csv", "rpls", {}, "ligne 3", "DEPCOM", r"commune 75056 inconnue"),
    ("rpls_doublons.csv", "rpls", {}, "ligne 4", "IDENT_REP", r"C0001 déjà vu ligne 2"),
    ("iris_geometrie_invalide.geojson", "iris", {}, "entité 2", "geometry", r"géométrie invalide"),
    ("rpls_vide.csv", "rpls", {}, "ligne 1", None, r"fichier vide"),
    ("gtfs_tronque.zip", "gtfs", {}, "archive", None, r"zip tronquée"),
]


@pytest.mark.parametrize("name,source,options,location,field,reason", CASES, ids=[c[0] for c in CASES])
def test_bad_file_is_refused_and_nothing_changes(demo_small, name, source, options, location, field, reason):
    dsn = demo_small["dsn"]
    before = core_checksum(dsn)
    path = CORPUS / name
    with pytest.raises(SourceFileError) as err:
        loader(source)(dsn, path, 2025, **options)
    message = str(err.value)
    assert str(path) in message
    problem = next((p for p in err.value.problems if p.location.startswith(location)), None)
    assert problem is not None, message
    if field:
        assert problem.field == field, message
    assert re.search(reason, problem.reason), message
    assert core_checksum(dsn) == before


def test_future_millesime_is_refused(demo_small):
    dsn = demo_small["dsn"]
    before = core_checksum(dsn)
    with pytest.raises(SourceFileError) as err:
        loader("rpls")(dsn, CORPUS / "rpls_valide.csv", current_year() + 1)
    assert "dans le futur" in str(err.value) and "millesime" in str(err.value)
    assert core_checksum(dsn) == before


def test_latin1_is_detected_without_an_encoding(demo_small, tmp_path):
    """The same Latin-1 file loads when no encoding is forced (CP1252 detected)."""
    from etl import rpls, source
    result = source.read_csv(CORPUS / "rpls_latin1.csv", rpls.SPEC)
    assert result.encoding == "cp1252" and not result.rejections
    assert result.rows[0][8] == "DES ÉCOLES"


def test_rejected_share_below_the_maximum_loads_the_rest(demo_small, tmp_path):
    """--max-rejects: one bad line out of three is accepted at 50 %, reported in the summary."""
    dsn = demo_small["dsn"]
    s = loader("bpe")(dsn, CORPUS / "bpe_hors_territoire.csv", 2016, max_rejects=0.5)
    assert s.rows_loaded == 1 and s.rows_rejected == 1
    assert "ligne 3" in s.text() and "hors du territoire" in s.text()
    from etl.retention import purge
    import psycopg
    with psycopg.connect(dsn) as conn:  # leave the shared database as the demo made it
        conn.execute("DELETE FROM core.bpe_equipement WHERE millesime = 2016")
        conn.execute("DELETE FROM core.load WHERE source = 'bpe' AND millesime = 2016")
