"""The communes loader: real file in, bad files refused without touching the database."""
from __future__ import annotations

import json

import pytest

from conftest import REFERENCE
from etl.communes import load_communes, read_communes
from etl.errors import SourceFileError


def _snapshot(conn) -> tuple:
    return conn.execute(
        """SELECT count(*), md5(string_agg(code_insee || nom || ST_AsEWKB(geom)::text, ','
                                           ORDER BY code_insee)),
                  (SELECT data_version FROM diffusion.data_version)
           FROM core.commune""").fetchone()


def _write(tmp_path, features, name="communes.geojson"):
    path = tmp_path / name
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


@pytest.fixture
def reference_features():
    return json.loads((REFERENCE / "mel_communes.geojson").read_text())["features"]


def test_reference_file_loads_into_lambert93(communes_loaded, owner_conn):
    assert communes_loaded.rows_loaded == 95
    srid, n, invalid = owner_conn.execute(
        "SELECT min(ST_SRID(geom)), count(*), count(*) FILTER (WHERE NOT ST_IsValid(geom)) "
        "FROM core.commune").fetchone()
    assert (srid, n, invalid) == (2154, 95, 0)
    # Roubaix's centroid lies where Lambert-93 puts it (about 711 km E, 7065 km N).
    x, y = owner_conn.execute("SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) "
                              "FROM core.commune WHERE code_insee = '59512'").fetchone()
    assert 705_000 < x < 718_000 and 7_058_000 < y < 7_072_000


def test_reload_of_the_same_file_changes_no_row(settings, communes_loaded, owner_conn):
    count, digest, version = _snapshot(owner_conn)
    load_communes(settings.owner_dsn(), REFERENCE / "mel_communes.geojson", 2026)
    count2, digest2, version2 = _snapshot(owner_conn)
    assert (count2, digest2) == (count, digest)
    assert version2 == version + 1  # a publication, even identical, bumps the version


@pytest.mark.parametrize("breakage, expected", [
    ("missing_column", "colonne absente"),
    ("duplicate", "déjà vu"),
    ("bad_code", "code INSEE invalide"),
    ("point", "au lieu d'un polygone"),
    ("empty", "aucune commune"),
    ("not_geojson", "illisible"),
])
def test_bad_file_is_refused_and_database_unchanged(settings, communes_loaded, owner_conn,
                                                    tmp_path, reference_features,
                                                    breakage, expected):
    before = _snapshot(owner_conn)
    features = [dict(f, properties=dict(f["properties"])) for f in reference_features[:5]]
    if breakage == "missing_column":
        for f in features:
            del f["properties"]["code_insee"]
        path = _write(tmp_path, features)
    elif breakage == "duplicate":
        path = _write(tmp_path, features + [features[2]])
    elif breakage == "bad_code":
        features[3]["properties"]["code_insee"] = "5935"
        path = _write(tmp_path, features)
    elif breakage == "point":
        features[1]["geometry"] = {"type": "Point", "coordinates": [3.06, 50.63]}
        path = _write(tmp_path, features)
    elif breakage == "empty":
        path = _write(tmp_path, [])
    else:
        path = tmp_path / "communes.geojson"
        path.write_text("code_insee;nom\n59350;Lille\n")
    with pytest.raises(SourceFileError) as err:
        load_communes(settings.owner_dsn(), path, 2026)
    assert expected in str(err.value)
    assert str(path) in str(err.value)
    assert _snapshot(owner_conn) == before


def test_problems_name_the_feature_and_field(tmp_path, reference_features):
    features = [dict(f, properties=dict(f["properties"])) for f in reference_features[:4]]
    features[2]["properties"]["code_insee"] = "ABCDE"
    with pytest.raises(SourceFileError) as err:
        read_communes(_write(tmp_path, features))
    assert err.value.problems[0].location == "entité 3"
    assert err.value.problems[0].field == "code_insee"


def test_geopackage_in_lambert93_with_ign_column_names(tmp_path, reference_features):
    import geopandas as gpd
    gdf = gpd.GeoDataFrame.from_features(reference_features[:3], crs="OGC:CRS84")
    gdf = gdf.rename(columns={"code_insee": "INSEE_COM", "nom": "NOM"}).to_crs(2154)
    path = tmp_path / "communes.gpkg"
    gdf.to_file(path, driver="GPKG")
    out = read_communes(path)
    assert list(out["code_insee"]) == [f["properties"]["code_insee"] for f in reference_features[:3]]
    assert out.crs.to_epsg() == 2154
