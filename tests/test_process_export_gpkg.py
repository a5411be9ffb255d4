"""The export process as GeoPackage, read back with fiona and with GDAL's ogrinfo."""
from __future__ import annotations

import subprocess

import fiona
import pytest

from portail.settings import SOURCE_MENTION

LAYERS = ["parc_communes", "parc_residences", "communes"]


def run(http, base, inputs):
    return http.post(f"{base}/processes/export/execution", json={"inputs": inputs}, timeout=120)


def number_matched(http, base, layer, millesime):
    resp = http.get(f"{base}/collections/{layer}/items",
                    params={"limit": 1, "f": "json", "datetime": str(millesime)})
    assert resp.status_code == 200, resp.text
    return resp.json()["numberMatched"]


@pytest.fixture(scope="module")
def gpkg(live_server, account, tmp_path_factory):
    import requests
    session = requests.Session()
    session.auth = account
    resp = run(session, live_server, {"layers": LAYERS, "format": "gpkg"})
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith("application/geopackage+sqlite3")
    path = tmp_path_factory.mktemp("gpkg") / "export.gpkg"
    path.write_bytes(resp.content)
    return path


def test_one_layer_per_exported_layer_in_lambert93(gpkg, http, live_server):
    assert sorted(fiona.listlayers(gpkg)) == sorted(LAYERS)
    for name in LAYERS:
        with fiona.open(gpkg, layer=name) as src:
            assert src.crs.to_epsg() == 2154
            rows = list(src)
            years = {r["properties"].get("millesime", r["properties"].get("millesime_cog"))
                     for r in rows}
            assert len(years) == 1, "default: the latest millésime of each layer"
            assert len(rows) == number_matched(http, live_server, name, years.pop()) > 0
            assert all(r.geometry is not None for r in rows)
            x, y = rows[0].geometry["coordinates"][0][0][0] if name != "parc_residences" \
                else rows[0].geometry["coordinates"]
            assert 600_000 < x < 800_000 and 6_900_000 < y < 7_200_000   # metres, Lambert-93


def test_dictionary_names_and_hidden_values_stay_null(gpkg):
    with fiona.open(gpkg, layer="parc_residences") as src:
        assert src.schema["geometry"] == "Point"
        props = src.schema["properties"]
        assert props["nb_logements"].startswith("int") and props["part_plai"].startswith("float")
        rows = [r["properties"] for r in src]
    hidden = [r for r in rows if r["statut_secret"] == "S"]
    shown = [r for r in rows if r["statut_secret"] == "P"]
    assert hidden and shown
    for r in hidden:
        assert r["nb_logements"] is None and r["part_plai"] is None and r["bailleur"] is None
        assert r["code_insee"] is None
    assert all(r["nb_logements"] >= 11 for r in shown)


def test_ogrinfo_reads_it(gpkg):
    out = subprocess.run(["ogrinfo", "-ro", "-so", "-al", str(gpkg)], capture_output=True,
                         text=True, check=True).stdout
    assert out.count("Layer name:") == len(LAYERS)
    assert "Lambert-93" in out and "Feature Count:" in out
    assert SOURCE_MENTION in out   # dataset metadata and layer descriptions


def test_codes_select_published_rows_in_the_gpkg(http, live_server, tmp_path):
    resp = run(http, live_server, {"layers": ["parc_iris"], "territory": {"communes": ["59350"]},
                                   "format": "gpkg"})
    assert resp.status_code == 200, resp.text
    (tmp_path / "e.gpkg").write_bytes(resp.content)
    with fiona.open(tmp_path / "e.gpkg", layer="parc_iris") as src:
        codes = {r["properties"]["code_insee"] for r in src}
    assert codes == {"59350"}


def test_unknown_format_is_refused(http, live_server):
    resp = run(http, live_server, {"layers": ["communes"], "format": "shp"})
    assert resp.status_code == 400
    assert "xlsx, csv ou gpkg" in resp.json()["description"]
