"""Query capabilities of the generic provider, over HTTP against the real server.

Expected answers are computed from the reference file itself (shapely for
the spatial ones), never copied from the server.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from shapely.geometry import box, shape

from conftest import REFERENCE
from data_dictionary.model import dictionary

ITEMS = "/collections/communes/items"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"


@pytest.fixture(scope="module")
def reference() -> list[dict]:
    return json.loads((REFERENCE / "mel_communes.geojson").read_text())["features"]


def ids(body) -> set[str]:
    return {f["id"] for f in body["features"]}


def get(http, url, **params):
    params.setdefault("f", "json")
    params.setdefault("limit", 100)
    r = http.get(url, params=params)
    assert r.status_code == 200, (params, r.status_code, r.text[:300])
    return r.json()


def test_hits_gives_the_exact_count_and_no_feature(http, live_server):
    body = get(http, f"{live_server}{ITEMS}", resulttype="hits")
    assert body["numberMatched"] == 95 and body["features"] == []


def test_paging_links_keyset_and_offset_agree(http, live_server):
    url, pages, seen = f"{live_server}{ITEMS}?limit=10&f=json", [], []
    while url:
        body = http.get(url).json()
        pages.append(body)
        seen += [f["id"] for f in body["features"]]
        links = {link["rel"]: link for link in body["links"] if link["rel"] in ("next", "prev")}
        for link in links.values():
            assert link["type"] == "application/geo+json"
            assert link["href"].startswith(live_server)
        if len(pages) > 1:
            assert "prev" in links
        url = links["next"]["href"] if "next" in links else None
        assert len(pages) <= 10
    assert len(pages) == 10 and seen == sorted(seen) and len(set(seen)) == 95
    assert "cursor=" in pages[3]["links"][-1]["href"] or any(
        "cursor=" in link["href"] for link in pages[3]["links"] if link["rel"] == "next")
    # A page reached by keyset (cursor) equals the page reached by offset.
    by_offset = get(http, f"{live_server}{ITEMS}", limit=10, offset=40)
    assert [f["id"] for f in by_offset["features"]] == seen[40:50]
    assert all(b["numberMatched"] == 95 for b in pages)


def test_sortby_multi_key(http, live_server, reference):
    body = get(http, f"{live_server}{ITEMS}", sortby="code_epci,-population_municipale,nom",
               skipGeometry="true")
    got = [f["id"] for f in body["features"]]
    expected = sorted(reference, key=lambda f: (f["properties"]["code_epci"],
                                                -f["properties"]["population_municipale"],
                                                f["properties"]["nom"]))
    assert got == [f["properties"]["code_insee"] for f in expected]


def test_properties_and_skip_geometry(http, live_server):
    body = get(http, f"{live_server}{ITEMS}", properties="nom,population_totale",
               skipGeometry="true", limit=5)
    for feature in body["features"]:
        assert feature["geometry"] is None
        assert set(feature["properties"]) == {"code_insee", "nom", "population_totale"}


CQL_CASES = [
    ("population_municipale > 50000", lambda p: p["population_municipale"] > 50000),
    ("population_municipale >= 10000 AND population_totale < 20000",
     lambda p: p["population_municipale"] >= 10000 and p["population_totale"] < 20000),
    ("nom LIKE 'La%'", lambda p: p["nom"].startswith("La")),
    ("nom ILIKE 'l%'", lambda p: p["nom"].lower().startswith("l")),
    ("nom IN ('Lille', 'Roubaix', 'Tourcoing')", lambda p: p["nom"] in ("Lille", "Roubaix", "Tourcoing")),
    ("nom NOT IN ('Lille', 'Roubaix')", lambda p: p["nom"] not in ("Lille", "Roubaix")),
    ("population_totale BETWEEN 5000 AND 6000", lambda p: 5000 <= p["population_totale"] <= 6000),
    ("codes_postaux IS NULL", lambda p: p["codes_postaux"] is None),
    ("codes_postaux IS NOT NULL", lambda p: p["codes_postaux"] is not None),
    ("nom = 'Lille' OR nom = 'Roubaix'", lambda p: p["nom"] in ("Lille", "Roubaix")),
    ("NOT nom LIKE 'L%'", lambda p: not p["nom"].startswith("L")),
    ("population_totale > population_municipale", lambda p: p["population_totale"] > p["population_municipale"]),
    ("code_insee <> '59350'", lambda p: p["code_insee"] != "59350"),
]


@pytest.mark.parametrize("cql,predicate", CQL_CASES, ids=[c for c, _ in CQL_CASES])
def test_cql_text_filters(http, live_server, reference, cql, predicate):
    body = get(http, f"{live_server}{ITEMS}", filter=cql, skipGeometry="true")
    expected = {f["properties"]["code_insee"] for f in reference if predicate(f["properties"])}
    assert ids(body) == expected
    assert body["numberMatched"] == len(expected)


CQL_JSON_CASES = [
    ({"op": "and", "args": [{"op": ">", "args": [{"property": "population_municipale"}, 20000]},
                            {"op": "like", "args": [{"property": "nom"}, "%x"]}]},
     lambda p: p["population_municipale"] > 20000 and p["nom"].endswith("x")),
    ({"op": "in", "args": [{"property": "nom"}, ["Lille", "Loos"]]},
     lambda p: p["nom"] in ("Lille", "Loos")),
    # pygeofilter 0.4 reads BETWEEN's bounds as one array (an early CQL2 draft).
    ({"op": "not", "args": [{"op": "between", "args": [{"property": "population_totale"},
                                                      [1000, 100000]]}]},
     lambda p: not 1000 <= p["population_totale"] <= 100000),
    ({"op": "isNull", "args": [{"property": "codes_postaux"}]}, lambda p: p["codes_postaux"] is None),
]


@pytest.mark.parametrize("expression,predicate", CQL_JSON_CASES)
def test_cql2_json_filters_by_post(http, live_server, reference, expression, predicate):
    r = http.post(f"{live_server}{ITEMS}", params={"f": "json", "limit": 100},
                  data=json.dumps(expression), headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text[:300]
    expected = {f["properties"]["code_insee"] for f in reference if predicate(f["properties"])}
    assert ids(r.json()) == expected


WINDOW = (3.0, 50.6, 3.1, 50.65)


def _spatial_expected(reference, geom, margin=0.002):
    """(surely in, maybe in): away from edges, reprojection cannot change the answer."""
    inner = geom.buffer(-margin) if geom.area else geom
    sure = {f["properties"]["code_insee"] for f in reference if shape(f["geometry"]).intersects(inner)}
    maybe = {f["properties"]["code_insee"] for f in reference
             if shape(f["geometry"]).intersects(geom.buffer(margin))}
    return sure, maybe


def test_spatial_filters_polygon_bbox_and_json_agree(http, live_server, reference):
    window = box(*WINDOW)
    sure, maybe = _spatial_expected(reference, window)
    wkt = window.wkt
    text_polygon = ids(get(http, f"{live_server}{ITEMS}", filter=f"INTERSECTS(geometry, {wkt})"))
    text_bbox = ids(get(http, f"{live_server}{ITEMS}", filter="BBOX(geometry, %s, %s, %s, %s)" % WINDOW))
    json_polygon = {"op": "s_intersects", "args": [{"property": "geometry"},
                                                   json.loads(json.dumps(window.__geo_interface__))]}
    json_bbox = {"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": list(WINDOW)}]}
    results = []
    for expression in (json_polygon, json_bbox):
        r = http.post(f"{live_server}{ITEMS}", params={"f": "json", "limit": 100},
                      data=json.dumps(expression), headers={"Content-Type": "application/json"})
        assert r.status_code == 200, r.text[:300]
        results.append(ids(r.json()))
    for got in (text_polygon, text_bbox, *results):
        assert sure <= got <= maybe, (len(sure), len(got), len(maybe))
    # pygeofilter 0.4 reads a CQL2-JSON bbox with a wrong axis order: not here.
    assert results[1] == results[0] == text_polygon
    assert 3 < len(text_polygon) < 40


def test_s_within_and_dwithin(http, live_server, reference):
    big = box(2.9, 50.55, 3.2, 50.75)
    within = ids(get(http, f"{live_server}{ITEMS}", filter=f"WITHIN(geometry, {big.wkt})"))
    sure = {f["properties"]["code_insee"] for f in reference if shape(f["geometry"]).within(big.buffer(-0.003))}
    maybe = {f["properties"]["code_insee"] for f in reference if shape(f["geometry"]).within(big.buffer(0.003))}
    assert sure <= within <= maybe and within
    # Lille's town hall area: 1 km around a point, metres in Lambert-93.
    near = ids(get(http, f"{live_server}{ITEMS}",
                   filter="DWITHIN(geometry, POINT(3.0706 50.6310), 1000, meters)"))
    assert "59350" in near and len(near) < 10
    far = ids(get(http, f"{live_server}{ITEMS}",
                  filter="DWITHIN(geometry, POINT(3.0706 50.6310), 20, kilometers)"))
    assert near < far


def test_filter_crs_lambert93(http, live_server, reference):
    from pyproj import Transformer
    to_l93 = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True).transform
    window = shapely.transform(box(*WINDOW), lambda xy: np.column_stack(to_l93(xy[:, 0], xy[:, 1])))
    got = ids(get(http, f"{live_server}{ITEMS}", filter=f"INTERSECTS(geometry, {window.wkt})",
                  **{"filter-crs": EPSG.format(2154)}))
    sure, maybe = _spatial_expected(reference, box(*WINDOW))
    assert sure <= got <= maybe


def test_bbox_crs_lambert93_and_epsg4326(http, live_server, reference):
    sure, maybe = _spatial_expected(reference, box(*WINDOW))
    lat_lon = f"{WINDOW[1]},{WINDOW[0]},{WINDOW[3]},{WINDOW[2]}"
    got = ids(get(http, f"{live_server}{ITEMS}", bbox=lat_lon, **{"bbox-crs": EPSG.format(4326)}))
    assert sure <= got <= maybe


def test_datetime_is_the_millesime(http, live_server):
    for value in ("2026", "2026-05-01", "2026-01-01T00:00:00Z", "2020/2030", "../2026", "2026/.."):
        assert get(http, f"{live_server}{ITEMS}", datetime=value)["numberMatched"] == 95, value
    for value in ("2019", "2015/2020", "abc", "2026/2020", "1990"):
        r = http.get(f"{live_server}{ITEMS}", params={"datetime": value, "f": "json"})
        assert r.status_code == 400, (value, r.status_code)
        assert r.json()["code"] in ("InvalidParameterValue", "InvalidQuery")


@pytest.mark.parametrize("epsg", [4326, 2154, 3857])
def test_output_crs(http, live_server, epsg):
    r = http.get(f"{live_server}{ITEMS}/59350", params={"f": "json", "crs": EPSG.format(epsg)})
    assert r.status_code == 200
    assert r.headers["Content-Crs"] == f"<{EPSG.format(epsg)}>"
    a, b = r.json()["geometry"]["coordinates"][0][0][0]
    if epsg == 4326:
        assert 50.5 < a < 50.8 and 2.9 < b < 3.2       # latitude first
    elif epsg == 2154:
        assert 690_000 < a < 720_000 and 7_050_000 < b < 7_070_000
    else:
        assert 330_000 < a < 350_000 and 6_540_000 < b < 6_570_000
    items = get(http, f"{live_server}{ITEMS}", crs=EPSG.format(epsg), limit=3)
    assert len(items["features"]) == 3


def test_default_output_is_crs84(http, live_server):
    r = http.get(f"{live_server}{ITEMS}", params={"f": "json", "limit": 1})
    assert r.headers["Content-Crs"] == f"<{CRS84}>"
    collection = http.get(f"{live_server}/collections/communes", params={"f": "json"}).json()
    assert collection["storageCrs"] == EPSG.format(2154)
    assert EPSG.format(3857) in collection["crs"]


def test_csv_and_html_outputs(http, live_server):
    r = http.get(f"{live_server}{ITEMS}", params={"f": "csv", "limit": 100})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    lines = r.text.strip().splitlines()
    assert len(lines) == 96 and "nom" in lines[0]
    r = http.get(f"{live_server}{ITEMS}", params={"f": "html", "limit": 10})
    assert r.status_code == 200 and "text/html" in r.headers["Content-Type"]
    r = http.get(f"{live_server}/collections/communes/queryables", params={"f": "html"})
    assert r.status_code == 200


def test_queryables_types(http, live_server):
    r = http.get(f"{live_server}/collections/communes/queryables", params={"f": "json"})
    assert r.status_code == 200
    props = r.json()["properties"]
    assert props["population_municipale"]["type"] == "integer"
    assert props["nom"]["type"] == "string"
    assert props["code_insee"]["x-ogc-role"] == "id"
    assert props["millesime_cog"]["x-ogc-role"] == "primary-instant"


def test_schema_has_french_titles(http, live_server):
    r = http.get(f"{live_server}/collections/communes/schema", params={"f": "json"})
    assert r.status_code == 200
    assert r.json()["properties"]["population_municipale"]["title"] == "Population municipale"


def test_openapi_declares_limit_default_and_maximum(http, live_server):
    document = http.get(f"{live_server}/openapi", params={"f": "json"}).json()
    params = document["paths"]["/collections/communes/items"]["get"]["parameters"]
    limit = next(p for p in params if p.get("name") == "limit")
    assert limit["schema"]["default"] == 100 and limit["schema"]["maximum"] == 10000


def test_collection_metadata_from_the_dictionary(http, live_server):
    from portail.settings import SOURCE_MENTION
    for lang, title in (("fr", "Communes de la MEL"), ("en", "Communes of the MEL")):
        body = http.get(f"{live_server}/collections/communes", params={"f": "json", "lang": lang}).json()
        assert body["title"] == title
        assert SOURCE_MENTION in body["description"]
    assert body["extent"]["temporal"]["interval"][0][0].startswith("2014")
    rels = {link["rel"] for link in body["links"]}
    assert {"license", "describedby"} <= rels


def test_counts_follow_a_new_publication(http, live_server, owner_conn):
    """The count cache is keyed by the data version: a publication is seen at once."""
    from etl.publish import publish
    query = {"filter": "population_municipale > 200000", "resulttype": "hits"}
    before = get(http, f"{live_server}{ITEMS}", **query)["numberMatched"]
    for _ in range(4):   # every worker caches it
        assert get(http, f"{live_server}{ITEMS}", **query)["numberMatched"] == before
    try:
        with owner_conn.transaction():
            owner_conn.execute("UPDATE core.commune SET population_municipale = "
                               "population_municipale + 1000000 WHERE code_insee = '59009'")
            publish(owner_conn, "test: cache")
        for _ in range(4):
            assert get(http, f"{live_server}{ITEMS}", **query)["numberMatched"] == before + 1
    finally:
        with owner_conn.transaction():
            owner_conn.execute("UPDATE core.commune SET population_municipale = "
                               "population_municipale - 1000000 WHERE code_insee = '59009'")
            publish(owner_conn, "test: cache restored")
    assert get(http, f"{live_server}{ITEMS}", **query)["numberMatched"] == before


@pytest.mark.parametrize("name", sorted(dictionary().layers))
def test_json_csv_and_html_for_every_collection(http, live_server, name):
    url = f"{live_server}/collections/{name}/items"
    body = http.get(url, params={"f": "json", "limit": 5}).json()
    assert body["numberReturned"] == len(body["features"]) > 0
    first_id = body["features"][0]["id"]
    csv = http.get(url, params={"f": "csv", "limit": 5})
    assert csv.status_code == 200 and csv.headers["Content-Type"].startswith("text/csv")
    lines = csv.text.strip().splitlines()
    assert len(lines) == body["numberReturned"] + 1
    assert set(dictionary().layers[name].fields) <= set(lines[0].split(","))
    html = http.get(url, params={"f": "html", "limit": 5})
    assert html.status_code == 200 and "text/html" in html.headers["Content-Type"]
    item = http.get(f"{url}/{first_id}", params={"f": "html"})
    assert item.status_code == 200


@pytest.mark.parametrize("name", ["communes", "parc_residences", "attributions_communes"])
def test_schema_of_a_collection(http, live_server, name):
    r = http.get(f"{live_server}/collections/{name}/schema", params={"f": "json"})
    assert r.status_code == 200
    assert set(dictionary().layers[name].fields) <= set(r.json()["properties"])
