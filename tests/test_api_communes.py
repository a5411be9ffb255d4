"""The thin slice over HTTP: real file -> core -> diffusion view -> provider -> gate -> client."""
from __future__ import annotations

import json

import requests
import shapely
from shapely.geometry import box, shape

from conftest import REFERENCE

ITEMS = "/collections/communes/items"


def _reference_communes() -> list[dict]:
    return json.loads((REFERENCE / "mel_communes.geojson").read_text())["features"]


def test_all_95_communes_in_one_page(http, live_server):
    r = http.get(f"{live_server}{ITEMS}", params={"limit": 100, "f": "json"})
    assert r.status_code == 200
    body = r.json()
    assert body["numberMatched"] == 95
    assert body["numberReturned"] == 95
    codes = {f["id"] for f in body["features"]}
    assert codes == {f["properties"]["code_insee"] for f in _reference_communes()}
    lille = next(f for f in body["features"] if f["id"] == "59350")
    assert lille["properties"]["nom"] == "Lille"
    assert lille["geometry"]["type"] == "MultiPolygon"
    # Served in CRS84 by default: longitude first, inside the MEL.
    lon, lat = lille["geometry"]["coordinates"][0][0][0]
    assert 2.7 < lon < 3.3 and 50.4 < lat < 50.9
    assert "next" not in {link["rel"] for link in body["links"]}


def test_paging_with_next_links_covers_everything_once(http, live_server):
    url, seen, pages = f"{live_server}{ITEMS}?limit=20&f=json", [], 0
    while url:
        body = http.get(url).json()
        seen += [f["id"] for f in body["features"]]
        nxt = [link for link in body["links"] if link["rel"] == "next"]
        assert all(link["type"] == "application/geo+json" for link in nxt)
        url = nxt[0]["href"] if nxt else None
        pages += 1
        assert pages < 10
    assert len(seen) == 95 and len(set(seen)) == 95


def test_bbox_returns_exactly_the_intersecting_communes(http, live_server):
    bbox = (3.0, 50.6, 3.1, 50.65)
    r = http.get(f"{live_server}{ITEMS}", params={"bbox": ",".join(map(str, bbox)),
                                                   "limit": 100, "f": "json"})
    assert r.status_code == 200
    got = {f["id"] for f in r.json()["features"]}
    # Expected from the source file itself, with shapely (away from the box's edges
    # the reprojection to Lambert-93 and back cannot change the answer).
    window = box(*bbox)
    inner, outer = window.buffer(-0.002), window.buffer(0.002)
    sure_in = {f["properties"]["code_insee"] for f in _reference_communes()
               if shape(f["geometry"]).intersects(inner)}
    maybe = {f["properties"]["code_insee"] for f in _reference_communes()
             if shape(f["geometry"]).intersects(outer)}
    assert sure_in <= got <= maybe
    assert "59350" in got and len(got) < 95


def test_get_by_id_and_unknown_id(http, live_server):
    r = http.get(f"{live_server}{ITEMS}/59350", params={"f": "json"})
    assert r.status_code == 200
    feature = r.json()
    assert feature["id"] == "59350" and feature["properties"]["nom"] == "Lille"
    assert shapely.geometry.shape(feature["geometry"]).is_valid
    for unknown in ("99999", "not-a-code", "'; DROP TABLE core.commune; --"):
        r = http.get(f"{live_server}{ITEMS}/{requests.utils.quote(unknown, safe='')}",
                     params={"f": "json"})
        assert r.status_code == 404, unknown
    assert http.get(f"{live_server}{ITEMS}", params={"limit": 100}).json()["numberMatched"] == 95


def test_output_crs_lambert93(http, live_server):
    r = http.get(f"{live_server}{ITEMS}/59350", params={
        "f": "json", "crs": "http://www.opengis.net/def/crs/EPSG/0/2154"})
    assert r.status_code == 200
    assert r.headers["Content-Crs"] == "<http://www.opengis.net/def/crs/EPSG/0/2154>"
    x, y = r.json()["geometry"]["coordinates"][0][0][0]
    assert 690_000 < x < 720_000 and 7_050_000 < y < 7_070_000


def test_bad_parameters_are_400_not_500(http, live_server):
    for params in ({"limit": "-1"}, {"limit": "abc"}, {"bbox": "1,2,3"},
                   {"sortby": "no_such_field"}, {"properties": "nope"}):
        r = http.get(f"{live_server}{ITEMS}", params={**params, "f": "json"})
        assert r.status_code == 400, (params, r.status_code, r.text[:200])


def test_equality_filter_on_a_property(http, live_server):
    r = http.get(f"{live_server}{ITEMS}", params={"nom": "Roubaix", "f": "json"})
    assert r.status_code == 200
    assert [f["id"] for f in r.json()["features"]] == ["59512"]
    r = http.get(f"{live_server}{ITEMS}", params={"population_municipale": "x' OR 1=1 --",
                                                   "f": "json"})
    assert r.status_code == 400
