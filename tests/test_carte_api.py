"""The map page's endpoints on the live server: catalogue from the dictionary, layers
simplified per zoom with bounded payloads, bad input refused, hidden values never sent."""
from __future__ import annotations

import pytest
import requests

from carte.catalog import MAP_SCALES, catalog
from carte.layers import MAX_FEATURES, precision, tolerance
from data_dictionary.model import dictionary


def layer(http, base, name, **params):
    return http.get(f"{base}/carte/api/couches/{name}", params=params)


def test_map_page_and_its_api_need_an_account(live_server):
    for path in ("/carte", "/carte/api/catalogue", "/carte/api/couches/parc_communes"):
        assert requests.get(live_server + path).status_code == 401, path
    # the shipped assets are public, like pygeoapi's /static (nothing in them is data)
    assert requests.get(live_server + "/static/carte/vendor/leaflet/leaflet.js").status_code == 200
    assert requests.get(live_server + "/static/carte/carte.js").status_code == 200


def test_catalogue_lists_the_dictionary_indicators_and_loaded_millesimes(http, live_server):
    body = http.get(f"{live_server}/carte/api/catalogue").json()
    themes = {t["name"]: t for t in body["themes"]}
    assert {"parc", "occupation", "attributions"} <= set(themes)
    parc = themes["parc"]
    assert set(parc["layers"]) == set(MAP_SCALES)
    dic = dictionary()
    for scale, lay in parc["layers"].items():
        assert dic.layers[lay["name"]].scale == scale
    nb = next(i for i in parc["indicators"] if i["name"] == "nb_logements")
    assert nb["label"]["fr"] == "Logements sociaux" and nb["unit"]["fr"] == "logements"
    quittance = next(i for i in parc["indicators"] if i["name"] == "quittance_moyenne")
    assert set(quittance["scales"].values()) == {"statut_quittance"}
    assert "residence" not in themes["attributions"]["layers"]   # never per résidence
    assert body["millesimes"]["parc_communes"] and body["millesimes"]["parc_communes"] == sorted(
        body["millesimes"]["parc_communes"], reverse=True)
    assert body["background"]["url"] == ""      # offline by default
    assert body["source"].startswith("Source : Portail cartographique")
    assert set(body["context"]) >= {"etablissements_scolaires", "arrets_transport",
                                    "equipements", "qpv"}


def test_territory_layer_carries_only_the_indicator_and_statuses(http, live_server):
    resp = layer(http, live_server, "parc_communes", zoom=11, champs="nb_logements")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/geo+json"
    data = resp.json()
    assert data["numberReturned"] == len(data["features"]) == 95
    props = data["features"][0]["properties"]
    assert set(props) == {"id", "code", "nom", "code_insee", "statut_secret", "statut_quittance",
                          "nb_logements", "millesime"}
    assert len(resp.content) < 150_000, len(resp.content)


def test_simplification_shrinks_the_geometries(http, live_server):
    coarse = layer(http, live_server, "parc_iris", zoom=9, champs="nb_logements").content
    fine = layer(http, live_server, "parc_iris", zoom=17, champs="nb_logements").content
    assert len(coarse) < len(fine)
    assert tolerance(9) > tolerance(17) and precision(9) < precision(17)


def test_hidden_values_are_never_sent(http, live_server):
    data = layer(http, live_server, "parc_residences", zoom=15, bbox="2.7,50.45,3.35,50.85",
                 champs="nb_logements,taux_vacance").json()
    assert {f["properties"]["statut_secret"] for f in data["features"]} <= {"P", "S", "Z", "N"}
    hidden = [f for f in data["features"] if f["properties"]["statut_secret"] == "S"]
    shown = [f for f in data["features"] if f["properties"]["statut_secret"] == "P"]
    assert hidden and shown
    for f in hidden:   # a résidence under secrecy: drawn, no figure
        assert f["geometry"] and f["properties"]["nb_logements"] is None
        assert f["properties"]["taux_vacance"] is None
        assert f["properties"]["code_insee"] is None
    assert all(f["properties"]["nb_logements"] >= 11 for f in shown)


def test_point_layers_need_a_bbox_and_are_bounded(http, live_server):
    resp = layer(http, live_server, "equipements", zoom=13)
    assert resp.status_code == 400 and "bbox" in resp.json()["description"]
    data = layer(http, live_server, "equipements", zoom=13, bbox="2.7,50.45,3.35,50.85").json()
    assert data["numberReturned"] <= MAX_FEATURES
    family = layer(http, live_server, "equipements", zoom=13, bbox="2.7,50.45,3.35,50.85",
                   famille="C").json()
    assert family["features"] and {f["properties"]["domaine"] for f in family["features"]} == {"C"}


@pytest.mark.parametrize("name, params, word", [
    ("core.residence", {}, "couche inconnue"),
    ("parc_communes", {"champs": "nb_logements;drop table x"}, "champs"),
    ("parc_communes", {"champs": "bailleur"}, "champs"),
    ("parc_communes", {"zoom": "onze"}, "entiers"),
    ("parc_communes", {"bbox": "1,2,3"}, "bbox"),
    ("parc_communes", {"bbox": "3,50,2,51"}, "bbox"),
    ("parc_communes", {"famille": "A"}, "famille"),
    ("parc_residences", {"zoom": 16}, "bbox"),
])
def test_bad_requests_are_refused_in_french(http, live_server, name, params, word):
    resp = layer(http, live_server, name, **params)
    assert resp.status_code == 400
    assert word in resp.json()["description"]


def test_catalogue_is_built_from_the_dictionary_alone():
    built = catalog()
    names = {i["name"] for t in built["themes"] for i in t["indicators"]}
    assert "millesime" not in names and "annee_construction" not in names
    assert "nb_attributions" in names
