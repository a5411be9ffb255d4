"""The map endpoint's arguments: whatever a client sends, either a request made only of
known names and bounded numbers, or a LayerRequestError (a 400), never anything else."""
from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from carte.catalog import allowed_layers, build_catalog, is_map_layer, status_field
from carte.layers import MAX_ZOOM, MEL_BBOX, MIN_ZOOM, LayerRequestError, parse_request
from data_dictionary.model import dictionary

DIC = dictionary()
NAMES = sorted(allowed_layers(DIC))
text = st.text(max_size=40)
number = st.floats(allow_nan=True, allow_infinity=True).map(str)


@settings(max_examples=300, deadline=None)
@given(name=st.one_of(st.sampled_from(NAMES), text),
       zoom=st.one_of(st.integers(-50, 80).map(str), text),
       millesime=st.one_of(st.integers(1900, 2100).map(str), text, st.just("")),
       bbox=st.one_of(st.just(None), st.lists(number, min_size=3, max_size=5).map(",".join), text),
       champs=st.one_of(st.just(""), text, st.lists(st.sampled_from(
           ["nb_logements", "taux_vacance", "bailleur", "nb_attributions", "x"]), max_size=3)
           .map(",".join)),
       famille=st.one_of(st.just(None), st.sampled_from(["A", "C", "'; drop"])))
def test_any_arguments_give_a_checked_request_or_a_clear_refusal(name, zoom, millesime, bbox,
                                                                 champs, famille):
    args = {"zoom": zoom, "millesime": millesime, "champs": champs}
    if bbox is not None:
        args["bbox"] = bbox
    if famille is not None:
        args["famille"] = famille
    try:
        req = parse_request(DIC, name, args)
    except LayerRequestError as exc:
        assert str(exc) and "Traceback" not in str(exc)
        return
    assert req.layer.name in NAMES
    assert MIN_ZOOM <= req.zoom <= MAX_ZOOM
    assert req.millesime is None or 1900 <= req.millesime <= 2200
    for field in req.fields:
        assert req.layer.fields[field].type in ("integer", "number")
    if req.bbox is not None:
        assert all(math.isfinite(v) for v in req.bbox)
        assert req.bbox == (0.0, 0.0, 0.0, 0.0) or (
            MEL_BBOX[0] <= req.bbox[0] < req.bbox[2] <= MEL_BBOX[2]
            and MEL_BBOX[1] <= req.bbox[1] < req.bbox[3] <= MEL_BBOX[3])
    if req.is_point or req.layer.scale == "residence":
        assert req.bbox is not None


def test_each_indicator_is_governed_by_a_status_of_its_layer():
    for layer in allowed_layers(DIC).values():
        for field in layer.fields.values():
            status = status_field(layer, field)
            assert status is None or status in layer.fields
    parc = DIC.layers["parc_communes"]
    assert status_field(parc, parc.fields["quittance_moyenne"]) == "statut_quittance"
    assert status_field(parc, parc.fields["nb_logements"]) == "statut_secret"
    attributions = DIC.layers["attributions_communes"]
    assert status_field(attributions, attributions.fields["part_q1_hors_qpv"]) == "statut_qpv"


def test_one_map_layer_per_theme_and_scale():
    """The neighbourhood diagnosis carries a secrecy status but mixes IRIS and QPV rows:
    it is not drawn, and the occupation theme keeps its own IRIS layer on the map."""
    assert not is_map_layer(DIC.layers["diagnostic_quartiers"])
    assert "diagnostic_quartiers" not in allowed_layers(DIC)
    occupation = next(t for t in build_catalog(DIC)["themes"] if t["name"] == "occupation")
    assert occupation["layers"]["iris"]["name"] == "occupation_iris"
    assert occupation["layers"]["qpv"]["name"] == "occupation_qpv"
