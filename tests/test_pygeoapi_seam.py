"""One test per patch of portail/pygeoapi_seam.py, on the real app in process.

If pygeoapi is upgraded, these say which patch still holds; the version guard
refuses to start on another release until they are reviewed.
"""
from __future__ import annotations

import base64
import logging
import os
from pathlib import Path

import psycopg
import pytest

from portail import pygeoapi_seam

ITEMS = "/collections/parc_residences/items"


@pytest.fixture(scope="module")
def client(settings, communes_loaded, demo_data, account):
    from portail.app import create_app
    app = create_app(settings)
    token = base64.b64encode(f"{account[0]}:{account[1]}".encode()).decode()
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Basic {token}"
    return client


@pytest.fixture
def calls(monkeypatch):
    """The keyword arguments of every provider query of the test."""
    from providers.published import PublishedViewProvider
    seen = []
    original = PublishedViewProvider.query

    def spy(self, *args, **kwargs):
        seen.append(kwargs)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(PublishedViewProvider, "query", spy)
    return seen


# -- version guard ---------------------------------------------------------------------------
@pytest.mark.unit
def test_another_pygeoapi_release_is_refused(monkeypatch):
    import pygeoapi
    pygeoapi_seam.check_version()
    monkeypatch.setattr(pygeoapi, "__version__", "0.22.0")
    with pytest.raises(pygeoapi_seam.UnsupportedPygeoapi, match="0.21.0"):
        pygeoapi_seam.check_version()


def test_the_replaced_endpoints_are_pygeoapis(client):
    """The views replaced are still pygeoapi's endpoints with the same rules."""
    rules = {r.endpoint: r.rule for r in client.application.url_map.iter_rules()}
    assert rules["pygeoapi.collection_items"].startswith("/collections/<path:collection_id>/items")
    assert rules["pygeoapi.collection_queryables"] == "/collections/<path:collection_id>/queryables"
    assert rules["pygeoapi.conformance"] == "/conformance"
    for endpoint in pygeoapi_seam.REPLACED_ENDPOINTS:
        assert client.application.view_functions[endpoint].__module__ == "portail.pygeoapi_seam"


# -- 1. items --------------------------------------------------------------------------------
def test_bbox_is_never_reprojected_in_python(client, calls, monkeypatch):
    import pygeoapi.api.itemtypes as itemtypes
    import pygeoapi.util as util

    def refuse(*args, **kwargs):
        raise AssertionError("transform_bbox called")

    monkeypatch.setattr(itemtypes, "transform_bbox", refuse)
    monkeypatch.setattr(util, "transform_bbox", refuse)
    crs = "http://www.opengis.net/def/crs/EPSG/0/"
    for params in ("bbox=3.0,50.6,3.1,50.7", f"bbox=50.6,3.0,50.7,3.1&bbox-crs={crs}4326",
                   f"bbox=700000,7050000,710000,7060000&bbox-crs={crs}2154",
                   f"bbox=334000,6540000,345000,6560000&bbox-crs={crs}3857"):
        r = client.get(f"{ITEMS}?f=json&limit=5&{params}")
        assert r.status_code == 200, r.get_json()
    assert [c["bbox_crs"].rsplit("/", 1)[1] for c in calls] == ["CRS84", "4326", "2154", "3857"]


def test_bbox_selects_the_lon_lat_rectangle(client, settings):
    """CRS84 and EPSG:4326 (latitude first) boxes give the rows of the lon/lat rectangle,
    counted here straight in PostGIS."""
    with psycopg.connect(settings.service_dsn()) as conn:
        expected = conn.execute(
            "SELECT count(*) FROM diffusion.parc_residence WHERE millesime = "
            "(SELECT max(millesime) FROM diffusion.parc_residence) AND "
            "ST_Intersects(geom_4326, ST_MakeEnvelope(3.0, 50.6, 3.1, 50.7, 4326))").fetchone()[0]
    lonlat = client.get(f"{ITEMS}?f=json&limit=1&bbox=3.0,50.6,3.1,50.7").get_json()
    latlon = client.get(f"{ITEMS}?f=json&limit=1&bbox=50.6,3.0,50.7,3.1&bbox-crs="
                        "http://www.opengis.net/def/crs/EPSG/0/4326").get_json()
    assert lonlat["numberMatched"] == latlon["numberMatched"] == expected > 0


def test_the_provider_is_told_crs_cursor_and_base_url(client, calls):
    first = client.get(f"{ITEMS}?f=json&limit=10&filter-crs="
                       "http://www.opengis.net/def/crs/EPSG/0/2154&filter=nb_logements>0").get_json()
    nxt = next(link["href"] for link in first["links"] if link["rel"] == "next")
    assert nxt.startswith("http://127.0.0.1:") and "cursor=" in nxt
    client.get("/" + nxt.split("/", 3)[3])
    assert calls[0]["filter_crs"].endswith("/2154") and calls[0]["cursor"] is None
    assert calls[0]["links_base"].endswith("/collections/parc_residences/items")
    assert calls[0]["crs"].endswith("CRS84")
    assert calls[1]["cursor"] == first["features"][-1]["id"]


def test_no_warning_per_request(client, caplog):
    caplog.set_level(logging.INFO)
    assert client.get(f"{ITEMS}?f=json&limit=3").status_code == 200
    noisy = [r for r in caplog.records if r.name.startswith("pygeoapi")
             and r.levelno >= logging.INFO]
    assert noisy == [], [r.getMessage() for r in noisy]


def test_no_next_link_on_a_full_last_page(client):
    matched = client.get(f"{ITEMS}?f=json&limit=1&resulttype=hits").get_json()["numberMatched"]
    last = client.get(f"{ITEMS}?f=json&limit=10&offset={matched - 10}").get_json()
    assert len(last["features"]) == 10
    rels = [link["rel"] for link in last["links"]]
    assert "next" not in rels and rels.count("prev") == 1


def test_cql2_filter_languages(client):
    ecql = client.get(f"{ITEMS}?f=json&limit=5&filter=nb_logements > 40").get_json()
    text = client.get(f"{ITEMS}?f=json&limit=5&filter-lang=cql2-text&filter=nb_logements > 40")
    json_ = client.get(f"{ITEMS}?f=json&limit=5&filter-lang=cql2-json&filter="
                       '{"op": ">", "args": [{"property": "nb_logements"}, 40]}')
    ids = [f["id"] for f in ecql["features"]]
    assert ecql["numberMatched"] > len(ids)   # a next page exists: its link is checked below
    assert ids and [f["id"] for f in text.get_json()["features"]] == ids
    assert [f["id"] for f in json_.get_json()["features"]] == ids
    # the links repeat the filter as it was given
    nxt = next(link["href"] for link in json_.get_json()["links"] if link["rel"] == "next")
    assert "filter-lang=cql2-json" in nxt and "filter=" in nxt


@pytest.mark.parametrize("query,status", [
    ("sortby=", 400), ("sortby=nom,,code", 400), ("datetime=99999999999999999999999", 400),
])
def test_what_pygeoapi_answered_500_is_a_400(client, query, status):
    r = client.get(f"{ITEMS}?f=json&{query}")
    assert r.status_code == status and r.get_json()["code"] == "InvalidParameterValue"


def test_post_items_without_content_type(client):
    r = client.post(f"{ITEMS}?f=json", data=b"x", content_type="")
    assert r.status_code == 415


# -- 2. queryables ---------------------------------------------------------------------------
def test_queryables_titles_and_descriptions_from_the_dictionary(client):
    body = client.get("/collections/parc_residences/queryables?f=json").get_json()
    props = body["properties"]
    assert props["nb_logements"]["title"] != "nb_logements"
    assert props["nb_logements"]["description"]
    assert props["geometry"]["title"] == "Géométrie"
    assert props["millesime"]["x-ogc-role"] == "primary-instant"
    only = client.get("/collections/parc_residences/queryables?f=json&properties=nb_logements")
    assert set(only.get_json()["properties"]) == {"geometry", "nb_logements"}


# -- 3. conformance --------------------------------------------------------------------------
def test_conformance_leaves_pygeoapis_list_alone(client):
    from pygeoapi.api import CONFORMANCE_CLASSES
    before = list(CONFORMANCE_CLASSES)
    first = client.get("/conformance?f=json").get_json()["conformsTo"]
    second = client.get("/conformance?f=json").get_json()["conformsTo"]
    assert first == second and CONFORMANCE_CLASSES == before
    assert set(pygeoapi_seam.FILTER_CLASSES) <= set(first)
    assert not pygeoapi_seam.NOT_IMPLEMENTED & set(first)


# -- 4. execution body -----------------------------------------------------------------------
@pytest.mark.parametrize("body", [b"null", b"[]", b""])
def test_execution_body_must_be_an_object(client, body):
    r = client.post("/processes/export/execution", data=body, content_type="application/json")
    assert r.status_code == 400 and "inputs" in r.get_json()["description"]


# -- 5. jobs ---------------------------------------------------------------------------------
def test_a_synchronous_execution_names_no_job(client):
    r = client.post("/processes/export/execution", json={"inputs": {
        "layers": ["communes"], "territory": {"communes": ["59350"]}, "format": "csv"}})
    assert r.status_code == 200 and "Location" not in r.headers


# -- 6. prepare ------------------------------------------------------------------------------
def test_the_openapi_document_is_marked_and_secured(settings, client):
    text = settings.openapi_path.read_text(encoding="utf-8")
    assert pygeoapi_seam.OPENAPI_MARK in text and "basicAuth" in text


def test_the_openapi_document_is_rebuilt_when_the_configuration_changes(tmp_path, monkeypatch):
    """A new layer or link in pygeoapi-config.yml (or new portal paths: OPENAPI_REVISION)
    rebuilds the document at the next start; the same configuration keeps it."""
    for name in ("PYGEOAPI_CONFIG", "PYGEOAPI_OPENAPI", "PORTAIL_URL", "PORTAIL_TEMPLATES"):
        monkeypatch.setenv(name, os.environ.get(name, ""))
    config = tmp_path / "pygeoapi-config.yml"
    config.write_bytes((Path(__file__).resolve().parents[1] / "pygeoapi-config.yml").read_bytes())
    openapi = tmp_path / "openapi.yml"
    calls = []

    def secure(document):
        calls.append(len(document["paths"]))
        return document

    def prepare():
        pygeoapi_seam.prepare(config, openapi, "http://127.0.0.1:5000", tmp_path, secure)

    prepare()
    prepare()
    assert len(calls) == 1
    mark = pygeoapi_seam.openapi_fingerprint(config, "http://127.0.0.1:5000")
    assert f"\n{pygeoapi_seam.OPENAPI_MARK}: {mark}\n" in openapi.read_text(encoding="utf-8")
    config.write_text(config.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    prepare()
    assert len(calls) == 2
    monkeypatch.setattr(pygeoapi_seam, "OPENAPI_REVISION", "test")
    prepare()
    assert len(calls) == 3
    pygeoapi_seam.prepare(config, openapi, "https://portail.example.org", tmp_path, secure)
    assert len(calls) == 4     # another public URL: the servers of the document change
