"""The pygeoapi seam's answers (portail.pygeoapi_seam) and the dictionary pages (data_dictionary.web),
on the real app (portail.app.create_app), in process."""
from __future__ import annotations

import base64
import io
import json

import pytest

ITEMS = "/collections/communes/items"


@pytest.fixture(scope="module")
def client(settings, communes_loaded, account):
    from portail.app import create_app

    app = create_app(settings)  # registers the hooks and the dictionary pages itself
    token = base64.b64encode(f"{account[0]}:{account[1]}".encode()).decode()
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Basic {token}"
    return client


def _rels(body) -> list[str]:
    return [link["rel"] for link in body["links"]]


@pytest.mark.parametrize("limit,pages", [(19, 5), (95, 1), (100, 1), (50, 2)])
def test_no_next_link_after_the_last_page(client, limit, pages):
    url, count, seen = f"{ITEMS}?f=json&limit={limit}", 0, []
    while url:
        body = client.get(url).get_json()
        seen += [f["id"] for f in body["features"]]
        count += 1
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        url = nxt[0].split("127.0.0.1", 1)[1].split("/", 1)[1] if nxt else None
        url = "/" + url if url else None
        assert count <= pages
    assert count == pages and len(set(seen)) == 95
    last = client.get(f"{ITEMS}?f=json&limit={limit}&offset={max(0, 95 - limit)}").get_json()
    assert "next" not in _rels(last)
    if 95 - limit > 0:
        assert _rels(last).count("prev") == 1


def test_queryables_carry_french_titles(client):
    body = client.get("/collections/communes/queryables?f=json").get_json()
    assert body["properties"]["population_municipale"]["title"] == "Population municipale"
    assert body["properties"]["code_insee"]["title"] == "Code INSEE"
    assert body["properties"]["population_municipale"]["type"] == "integer"


def test_conformance_claims_only_what_is_implemented(client):
    claims = set(client.get("/conformance?f=json").get_json()["conformsTo"])
    assert "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete" not in claims
    assert "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter" in claims
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in claims
    assert not any("ogcapi-records" in c for c in claims)


def test_cql2_text_and_cql2_json_in_the_query_string(client):
    polygon = "POLYGON((3.0 50.6, 3.1 50.6, 3.1 50.65, 3.0 50.65, 3.0 50.6))"
    ecql = client.get(ITEMS, query_string={"f": "json", "limit": 100,
                                           "filter": f"INTERSECTS(geometry, {polygon})"}).get_json()
    cql2 = client.get(ITEMS, query_string={"f": "json", "limit": 100, "filter-lang": "cql2-text",
                                           "filter": f"S_INTERSECTS(geometry, {polygon})"})
    assert cql2.status_code == 200, cql2.get_data(as_text=True)[:300]
    expression = {"op": "s_intersects", "args": [{"property": "geometry"},
                                                 {"bbox": [3.0, 50.6, 3.1, 50.65]}]}
    as_json = client.get(ITEMS, query_string={"f": "json", "limit": 100, "filter-lang": "cql2-json",
                                              "filter": json.dumps(expression)})
    assert as_json.status_code == 200, as_json.get_data(as_text=True)[:300]
    expected = {f["id"] for f in ecql["features"]}
    assert expected and {f["id"] for f in cql2.get_json()["features"]} == expected
    assert {f["id"] for f in as_json.get_json()["features"]} == expected
    bad = client.get(ITEMS, query_string={"f": "json", "filter-lang": "cql2-json", "filter": "{"})
    assert bad.status_code == 400


def test_dictionary_pages(client):
    from portail.settings import SOURCE_MENTION
    html = client.get("/dictionnaire")
    assert html.status_code == 200 and html.mimetype == "text/html"
    text = html.get_data(as_text=True)
    assert "Population municipale" in text and SOURCE_MENTION in text
    assert 'id="communes"' in text and "RPLS" in text
    md = client.get("/dictionnaire.md").get_data(as_text=True)
    assert "| `population_municipale` | Population municipale |" in md
    xlsx = client.get("/dictionnaire.xlsx")
    assert xlsx.status_code == 200
    from openpyxl import load_workbook
    book = load_workbook(io.BytesIO(xlsx.data))
    rows = list(book["Champs"].iter_rows(values_only=True))
    assert rows[0][:4] == ("Thème", "Couche", "Champ", "Libellé")
    assert any(r[2] == "population_municipale" and r[3] == "Population municipale" for r in rows)
    assert any(SOURCE_MENTION in str(r[0]) for r in rows if r[0])


def test_dictionary_pages_need_an_account(settings, client):
    anonymous = client.application.test_client()
    assert anonymous.get("/dictionnaire").status_code == 401
