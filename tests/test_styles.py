"""The layers' styles (QML, SLD 1.1), the QGIS project and their OGC API - Styles endpoints.

The rules are checked for every layer of the dictionary (each row falls in one rule at
most, a hidden figure never in a class), the files' structure without QGIS, and the
endpoints over HTTP behind the gate. tests/test_qgis_projet.py opens them in QGIS.
"""
from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from carte.catalog import is_map_layer, status_field
from data_dictionary.model import dictionary
from portail.settings import SOURCE_MENTION
from styles import projet, qml, sld
from styles.regles import (
    COMMUNE_MIN,
    EQUIPEMENT_MAX,
    MAP_ZOOMS,
    PALETTE,
    RESIDENCE_MAX,
    Cond,
    build_style,
    class_labels,
    main_indicator,
    needs_classes,
    scale_of_zoom,
)

CARTE_JS = Path(__file__).resolve().parents[1] / "carte" / "static" / "carte.js"
LIMITS = {"min": 0.0, "max": 1500.5, "breaks": [12.0, 40.0, 95.0, 300.0], "count": 80}
SE = "{http://www.opengis.net/se}"
OGC = "{http://www.opengis.net/ogc}"


def styles():
    return {name: build_style(layer, LIMITS if needs_classes(layer) else None)
            for name, layer in dictionary().layers.items()}


# -- rules --------------------------------------------------------------------------------
def test_scales_and_colours_are_the_maps():
    js = CARTE_JS.read_text(encoding="utf-8")
    assert f"ZOOM_IRIS = {MAP_ZOOMS['iris']}" in js
    assert f"ZOOM_RESIDENCE = {MAP_ZOOMS['residence']}" in js
    assert f"equipements: {MAP_ZOOMS['equipements']}" in js
    colours = re.search(r"var COLOURS = \[([^\]]+)\]", js).group(1)
    assert tuple(re.findall(r'"(#[0-9a-f]{6})"', colours)) == PALETTE
    # at Lille, zoom 12 of the map is about 1:87 000 and zoom 15 about 1:11 000
    assert (COMMUNE_MIN, RESIDENCE_MAX, EQUIPEMENT_MAX) == (87000, 11000, 43000)
    assert scale_of_zoom(MAP_ZOOMS["iris"]) > scale_of_zoom(MAP_ZOOMS["residence"])


def test_class_labels_are_french_with_units():
    labels = [label for label, _, _ in class_labels(
        {"min": 3, "max": 2000, "breaks": [20, 1500.5], "count": 9}, "logements")]
    assert labels == ["moins de 20 logements", "de 20 à moins de 1\u00a0500,5 logements",
                      "1\u00a0500,5 logements et plus"]
    assert class_labels({"count": 0, "breaks": []}, None) == []


def holds(cond: Cond | None, row: dict) -> bool:
    """The filter evaluated as QGIS and SLD do (a comparison with NULL is false)."""
    if cond is None:
        return True
    if cond.op == "and":
        return all(holds(part, row) for part in cond.parts)
    if cond.op == "or":
        return any(holds(part, row) for part in cond.parts)
    value = row.get(cond.field)
    if cond.op == "null":
        return value is None
    if cond.op == "notnull":
        return value is not None
    if value is None:
        return False
    if cond.op == "eq":
        return value == cond.value
    if cond.op == "in":
        return value in cond.value
    if cond.op == "ge":
        return value >= cond.value
    return value < cond.value


# Any status with any value (a value may read 0 where the view has NULL: QGIS's cache).
ROWS = st.fixed_dictionaries({
    "status": st.sampled_from(["P", "S", "Z", "N", None]),
    "value": st.one_of(st.none(), st.floats(0, 5000, allow_nan=False)),
})


@hsettings(max_examples=300, deadline=None)
@given(row=ROWS)
def test_each_row_falls_in_one_rule_and_a_hidden_figure_in_no_class(row):
    """The status decides first: an S row is hatched whatever its value reads (QGIS reads a
    NULL count as 0 from its cache), never in a class nor as 0; N is « sans objet »; a
    published row is in the class of its value, or « non renseigné » when empty."""
    for name, style in styles().items():
        layer = style.layer
        if not style.indicator:
            continue
        status = status_field(layer, layer.fields[style.indicator])
        values = {style.indicator: row["value"]}
        if status:
            values[status] = row["status"]
        kinds = [r.kind for r in style.rules if holds(r.cond, values)]
        if status and row["status"] == "S":
            assert kinds == ["secret"], (name, row, kinds)
        elif status and row["status"] == "N":
            assert kinds == ["sans_objet"], (name, row, kinds)
        elif row["value"] is not None:
            assert kinds == ["classe"], (name, row, kinds)
        else:
            assert kinds == ["non_renseigne"], (name, row, kinds)
    secret = [r for s in styles().values() for r in s.rules if r.kind == "secret"]
    assert secret and all(r.symbol.hatched and r.symbol.fill not in PALETTE for r in secret)


def test_every_layer_has_a_style_from_the_dictionary():
    found = styles()
    assert set(found) == set(dictionary().layers)
    for name, style in found.items():
        layer = style.layer
        assert SOURCE_MENTION in style.attribution and SOURCE_MENTION in style.abstract
        assert style.aliases["millesime" if "millesime" in layer.fields else
                             next(iter(layer.fields))]
        for field, text in style.aliases.items():
            spec = layer.fields[field]
            assert text == (f"{spec.label.fr} ({spec.unit.fr})" if spec.unit else spec.label.fr)
        if is_map_layer(layer):
            assert style.indicator == main_indicator(layer)
            kinds = [r.kind for r in style.rules]
            assert kinds.count("classe") == len(LIMITS["breaks"]) + 1
            assert {"secret", "sans_objet", "non_renseigne"} <= set(kinds)
    assert found["communes"].label_field == "nom"
    assert [r.label for r in found["equipements"].rules][:2] == ["Services aux particuliers",
                                                                 "Commerces"]


# -- files --------------------------------------------------------------------------------
SE_RULE_ORDER = ["Name", "Description", "LegendGraphic", "Filter", "ElseFilter",
                 "MinScaleDenominator", "MaxScaleDenominator", "LineSymbolizer",
                 "PolygonSymbolizer", "PointSymbolizer", "TextSymbolizer"]


def test_sld_follows_symbology_encoding_1_1():
    for name, style in styles().items():
        root = ET.fromstring(sld.sld(style))
        assert root.tag == "{http://www.opengis.net/sld}StyledLayerDescriptor"
        assert root.get("version") == "1.1.0"
        assert root.find(f".//{SE}Name").text == name
        assert SOURCE_MENTION in root.find(f".//{SE}Abstract").text
        rules = root.findall(f".//{SE}Rule")
        assert len(rules) == len(style.rules) + (1 if style.label_field else 0)
        for rule in rules:
            tags = [child.tag.split("}")[1] for child in rule]
            positions = [SE_RULE_ORDER.index(t) if "Symbolizer" not in t else 7 for t in tags]
            assert positions == sorted(positions), (name, tags)
            assert any("Symbolizer" in t for t in tags)
            for symbolizer in rule:
                if symbolizer.tag.endswith("Symbolizer"):
                    for parameter in symbolizer.iter(f"{SE}SvgParameter"):
                        assert parameter.get("name") and parameter.text
        if style.indicator:
            hatched = [r for r in rules if r.find(f".//{SE}GraphicFill") is not None]
            assert len(hatched) == (1 if any(r.kind == "secret" for r in style.rules) else 0)


def test_qml_is_a_rule_based_style():
    for name, style in styles().items():
        body = qml.qml(style)
        root = ET.fromstring(body.split(b"\n", 1)[1])
        renderer = root.find("renderer-v2")
        assert renderer.get("type") == "RuleRenderer"
        assert len(renderer.findall("rules/rule")) == len(style.rules)
        assert len(renderer.findall("symbols/symbol")) == len(style.rules)
        assert [a.get("field") for a in root.findall("aliases/alias")] == list(style.aliases)


def test_project_holds_every_layer_and_no_credential():
    dic = dictionary()
    found = styles()
    body = projet.qgz(dic, found, "https://portail.example.org/", [t.name for t in dic.themes],
                      "Portail", 7, "portail-lls-mel")
    assert body == projet.qgz(dic, found, "https://portail.example.org/",
                              [t.name for t in dic.themes], "Portail", 7, "portail-lls-mel")
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.namelist() == ["portail-lls-mel.qgs"]
        text = archive.read("portail-lls-mel.qgs").decode("utf-8")
    assert "password" not in text.lower() and "username" not in text.lower()
    assert " user=" not in text and "user='" not in text
    root = ET.fromstring(text.split("\n", 1)[1])
    sources = [e.text for e in root.iter("datasource")]
    assert len(sources) == len(dic.layers)
    assert all(s.startswith("url='https://portail.example.org' typename='")
               and s.endswith(f"authcfg={projet.AUTHCFG_ID}") for s in sources)
    assert root.find("projectCrs/spatialrefsys/authid").text == "EPSG:2154"
    assert all(len(e.text) > 10 for e in root.iter("id"))   # QGIS keeps only longer ids
    assert "version 7" in root.find("projectMetadata/abstract").text
    one = projet.project_xml(dic, found, "https://p", ["territoires", "occupation", "contexte"],
                             "P", 7, "occupation").decode("utf-8")
    assert "typename='occupation_iris'" in one and "typename='parc_communes'" not in one
    tree = ET.fromstring(one.split("\n", 1)[1]).find("layer-tree-group")
    ticked = {e.get("id") for e in tree.iter("layer-tree-layer") if e.get("checked") == "Qt::Checked"}
    assert projet.layer_id("occupation_communes") in ticked   # a theme's project shows it
    assert projet.layer_id("communes") in ticked
    assert len(projet.AUTHCFG_ID) == 7 and projet.AUTHCFG_ID.isalnum()


# -- HTTP ---------------------------------------------------------------------------------
PROTECTED = ["/collections/parc_communes/styles", "/collections/parc_communes/styles/defaut",
             "/collections/parc_communes/styles/defaut?f=qml",
             "/collections/parc_communes/styles/defaut/metadata", "/qgis/projet.qgz",
             "/qgis/projet-parc.qgz"]


@pytest.mark.parametrize("path", PROTECTED)
def test_gate_refuses_styles_and_project_without_credentials(live_server, path):
    import requests
    answer = requests.get(f"{live_server}{path}", timeout=30)
    assert answer.status_code == 401
    assert b"<qgis" not in answer.content and b"StyledLayerDescriptor" not in answer.content


def test_collection_links_to_its_styles(http, live_server):
    collection = http.get(f"{live_server}/collections/parc_iris", params={"f": "json"}).json()
    link = next(x for x in collection["links"]
                if x["rel"] == "http://www.opengis.net/def/rel/ogc/1.0/styles")
    assert link["href"] == f"{live_server}/collections/parc_iris/styles"
    listing = http.get(link["href"]).json()
    assert listing["default"] == "defaut"
    sheets = {x["type"]: x["href"] for x in listing["styles"][0]["links"]
              if x["rel"] == "stylesheet"}
    qml_answer = http.get(sheets["application/vnd.qgis.qml"])
    assert qml_answer.headers["Content-Type"].startswith("application/vnd.qgis.qml")
    assert qml_answer.content.lstrip().startswith(b"<!DOCTYPE qgis")
    sld_answer = http.get(sheets["application/vnd.ogc.sld+xml;version=1.1"])
    assert sld_answer.headers["Content-Type"].startswith("application/vnd.ogc.sld+xml")
    assert b"StyledLayerDescriptor" in sld_answer.content


def test_style_answers_say_what_was_wrong(http, live_server):
    bad = http.get(f"{live_server}/collections/parc_iris/styles/defaut", params={"f": "mapbox"})
    assert bad.status_code == 400 and "qml" in bad.json()["description"]
    assert http.get(f"{live_server}/collections/parc_iris/styles/autre").status_code == 404
    assert http.get(f"{live_server}/collections/inconnue/styles").status_code == 404
    assert http.get(f"{live_server}/qgis/projet-inconnu.qgz").status_code == 404
    negotiated = http.get(f"{live_server}/collections/parc_iris/styles/defaut",
                          headers={"Accept": "application/vnd.qgis.qml"})
    assert negotiated.headers["Content-Type"].startswith("application/vnd.qgis.qml")
    plain = http.get(f"{live_server}/collections/parc_iris/styles/defaut")
    assert plain.headers["Content-Type"].startswith("application/vnd.ogc.sld+xml")


def test_etag_spares_a_second_download(http, live_server):
    url = f"{live_server}/qgis/projet.qgz"
    first = http.get(url)
    assert first.status_code == 200 and first.headers["ETag"]
    assert 'filename="portail-lls-mel.qgz"' in first.headers["Content-Disposition"]
    again = http.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and not again.content


def test_styles_use_the_maps_class_limits_and_the_data_version(http, live_server):
    for name in ("parc_communes", "occupation_iris", "attributions_qpv"):
        layer = dictionary().layers[name]
        field = main_indicator(layer)
        limits = http.get(f"{live_server}/carte/api/classes",
                          params={"couche": name, "champ": field}).json()
        root = ET.fromstring(http.get(f"{live_server}/collections/{name}/styles/defaut",
                                      params={"f": "sld11"}).content)
        literals = sorted({float(x.text) for x in root.iter(f"{OGC}Literal")
                           if re.fullmatch(r"-?[0-9.]+", x.text or "")})
        if name == "parc_communes":
            assert limits["breaks"], "the test data give the communes classes"
        assert literals == sorted(float(b) for b in limits["breaks"]), name
    version = http.get(f"{live_server}/health").json()["data_version"]
    with zipfile.ZipFile(io.BytesIO(http.get(f"{live_server}/qgis/projet-parc.qgz").content)) \
            as archive:
        text = archive.read("portail-lls-mel-parc.qgs").decode("utf-8")
    assert f"version {version}." in text
    assert "typename='parc_residences'" in text and "typename='attributions_iris'" not in text
    assert "typename='communes'" in text and "typename='equipements'" in text


def test_documents_are_built_once_per_data_version(settings, demo_data):
    """In the process, from the test database: the same version gives the same objects (built
    once); another version (a later publication) builds new ones."""
    from styles import service
    version = service.current_version()
    styles_now = service.styles_for(version)
    assert service.styles_for(version) is styles_now
    first = service.stylesheet("parc_communes", "qml", version)
    assert service.stylesheet("parc_communes", "qml", version) is first
    project = service.project("https://portail.example.org", None, version)
    assert service.project("https://portail.example.org", None, version) is project
    later = version + 1000
    assert service.styles_for(later) is not styles_now
    rebuilt = service.project("https://portail.example.org", None, later)
    assert rebuilt is not project and rebuilt.etag != project.etag


def test_openapi_describes_the_styles_and_the_project(http, live_server):
    document = http.get(f"{live_server}/openapi", params={"f": "json"}).json()
    for path in ("/collections/{collectionId}/styles",
                 "/collections/{collectionId}/styles/{styleId}",
                 "/collections/{collectionId}/styles/{styleId}/metadata",
                 "/qgis/projet.qgz", "/qgis/projet-{theme}.qgz"):
        operation = document["paths"][path]["get"]
        assert "401" in operation["responses"] and operation.get("security") != [], path
    parameters = document["paths"]["/collections/{collectionId}/styles/{styleId}"]["get"][
        "parameters"]
    assert next(p for p in parameters if p["name"] == "f")["schema"]["enum"] == ["qml", "sld11"]
