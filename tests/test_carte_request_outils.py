"""The arguments of the map's new endpoints (issue 18): whatever a client sends, either a
request of known names and bounded numbers, or a refusal in French (a 400), never anything
else: class limits, the distance-to-station filter, the search."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from carte.catalog import allowed_layers, indicator_fields
from carte.classes import METHODS, ClassRequestError
from carte.classes import parse_request as parse_classes
from carte.layers import LayerRequestError, parse_request
from carte.recherche import MAX_LENGTH, MIN_LENGTH, SearchRequestError, fold, search
from data_dictionary.model import dictionary

DIC = dictionary()
NAMES = sorted(allowed_layers(DIC))
text = st.text(max_size=40)


@settings(max_examples=300, deadline=None)
@given(couche=st.one_of(st.sampled_from(NAMES), text),
       champ=st.one_of(st.sampled_from(["nb_logements", "taux_vacance", "nom", "bailleur", "x"]), text),
       millesime=st.one_of(st.integers(1900, 2100).map(str), text, st.just("")),
       methode=st.one_of(st.sampled_from(["quantiles", "jenks", ""]), text),
       fixe=st.one_of(st.sampled_from(["oui", "non", ""]), text))
def test_class_arguments(couche, champ, millesime, methode, fixe):
    args = {"couche": couche, "champ": champ, "millesime": millesime, "methode": methode,
            "fixe": fixe}
    try:
        req = parse_classes(DIC, args)
    except ClassRequestError as exc:
        assert str(exc).split(" : ")[0] in ("couche", "champ", "methode", "millesime")
        return
    assert req.layer.name in NAMES and "millesime" in req.layer.fields
    assert req.field in {f.name for f in indicator_fields(req.layer)}
    assert req.method in METHODS and isinstance(req.fixed, bool)


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(NAMES), station=st.one_of(st.integers(-10, 30000).map(str), text))
def test_station_filter_arguments(name, station):
    args = {"zoom": "15", "bbox": "3.0,50.6,3.1,50.7", "station_m": station}
    try:
        req = parse_request(DIC, name, args)
    except LayerRequestError as exc:
        assert str(exc) and "Traceback" not in str(exc)
        return
    assert req.station_m is None or (1 <= req.station_m <= 20000
                                     and req.layer.scale == "residence")


@settings(max_examples=200, deadline=None)
@given(q=st.text(max_size=120))
def test_search_refuses_bad_lengths_before_reading_anything(q):
    if MIN_LENGTH <= len(q.strip()) <= MAX_LENGTH:
        assert isinstance(fold(q), str)
        return
    try:
        search(DIC, q)
    except SearchRequestError as exc:
        assert str(exc).startswith("q : ")
    else:
        raise AssertionError("accepted")
