"""Territories: IRIS (CONTOURS-IRIS), QPV (national file), EPCI membership."""
from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import psycopg
import pytest
from shapely.geometry import box

from etl.errors import SourceFileError
from etl.territories import load_epci, load_iris, load_qpv

REFERENCE = Path(__file__).parent.parent / "data" / "reference"


@pytest.fixture
def territory(fresh_database):
    from etl.communes import load_communes
    load_communes(fresh_database.owner_dsn(), REFERENCE / "mel_communes.geojson", 2026)
    return fresh_database.owner_dsn()


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_iris_shapefile_without_crs_needs_declaration(territory, tmp_path):
    g = gpd.GeoDataFrame({"CODE_IRIS": ["593500101"], "NOM_IRIS": ["Test"], "INSEE_COM": ["59350"],
                          "TYP_IRIS": ["H"]}, geometry=[box(703000, 7059000, 704000, 7060000)])
    shp = tmp_path / "CONTOURS-IRIS.shp"
    g.to_file(shp, engine="pyogrio")
    with pytest.raises(SourceFileError, match="non déclaré"):
        load_iris(territory, shp, 2025)
    s = load_iris(territory, shp, 2025, source_crs="EPSG:2154")
    assert s.rows_loaded == 1
    with psycopg.connect(territory) as conn:
        area = conn.execute("SELECT ST_Area(geom) FROM core.iris").fetchone()[0]
    assert abs(area - 1_000_000) < 1


def test_iris_in_wgs84_reprojected_and_other_communes_skipped(territory, tmp_path):
    """CONTOURS-IRIS is national: an IRIS of Paris is skipped and counted (issue 14), an IRIS
    code that does not start with its commune is still a rejection."""
    g = gpd.GeoDataFrame({"CODE_IRIS": ["593500101", "750560101", "593500102"], "NOM_IRIS": ["A", "B", "C"],
                          "INSEE_COM": ["59350", "75056", "59009"], "TYP_IRIS": ["H", "H", "H"]},
                         geometry=[box(3.05, 50.62, 3.07, 50.64), box(2.3, 48.8, 2.31, 48.81),
                                   box(3.07, 50.62, 3.08, 50.63)], crs=4326)
    f = tmp_path / "iris.gpkg"
    g.to_file(f, engine="pyogrio")
    with pytest.raises(SourceFileError) as err:
        load_iris(territory, f, 2025)
    assert "entité 3" in str(err.value) and "commune 59009 différente du début du code IRIS" in str(err.value)
    s = load_iris(territory, f, 2025, max_rejects=0.5)
    assert (s.rows_loaded, s.rows_outside, s.rows_rejected) == (1, 1, 1)
    with psycopg.connect(territory) as conn:
        srid, x = conn.execute("SELECT ST_SRID(geom), ST_XMin(geom) FROM core.iris").fetchone()
    assert srid == 2154 and 690_000 < x < 710_000


def test_qpv_national_file_keeps_the_territory_and_finds_communes(territory, tmp_path):
    g = gpd.GeoDataFrame({"code_qp": ["QP059001", "QP075001"], "nom_qp": ["Lille test", "Paris test"],
                          "commune_qp": ["59350", "75056"]},
                         geometry=[box(703000, 7059000, 703500, 7059500), box(651000, 6861000, 652000, 6862000)],
                         crs=2154)
    f = tmp_path / "qp.geojson"
    g.to_crs(4326).to_file(f, engine="pyogrio")
    s = load_qpv(territory, f, 2024)
    assert s.rows_loaded == 1 and s.rows_outside == 1 and "1 hors du territoire (ignorées)" in s.text()
    with psycopg.connect(territory) as conn:
        assert conn.execute("SELECT code_qpv, communes FROM core.qpv").fetchall() == [("QP059001", ["59350"])]


def test_epci_reference_file(territory):
    s = load_epci(territory, REFERENCE / "mel_communes_epci_2026.csv", 2026)
    assert s.rows_loaded == 95
    with psycopg.connect(territory) as conn:
        assert conn.execute("SELECT DISTINCT siren_epci FROM core.epci_membership").fetchall() == [("200093201",)]
