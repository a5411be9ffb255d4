"""The map page, as a Flask blueprint (``register``, called by ``portail.app``).

Routes (all behind the gate, except the static assets under ``/static/carte/``):

- ``GET /carte``: the page (Leaflet, shipped with the project, no CDN);
- ``GET /carte/api/catalogue``: themes, indicators, scales, context layers, loaded
  millésimes, background setting and source mention;
- ``GET /carte/api/couches/<layer>``: a layer's GeoJSON, simplified per zoom
  (``zoom``, ``millesime``, ``bbox``, ``champs``, ``famille``; see ``carte.layers``);
- ``GET /carte/api/classes?couche=&champ=&millesime=&methode=&fixe=``: class limits of
  an indicator over the published values of the whole MEL (``carte.classes``);
- ``GET /carte/api/noms/<commune|iris>``: place names of the own background (``carte.noms``);
- ``GET /carte/api/recherche?q=&millesime=``: communes, IRIS, QPV and published
  résidences matching a name, code or address (``carte.recherche``).
"""
from __future__ import annotations

import gzip
import logging

from flask import Blueprint, Response, jsonify, render_template, request

from carte.catalog import catalog
from carte.classes import ClassRequestError, class_limits
from carte.classes import parse_request as parse_class_request
from carte.layers import LayerRequestError, layer_geojson, millesimes, parse_request
from carte.fond import background
from carte.noms import NamesRequestError, place_names
from carte.recherche import SearchRequestError, search
from data_dictionary.model import dictionary
from portail.settings import SOURCE_MENTION, get_settings

LOGGER = logging.getLogger(__name__)

BLUEPRINT = Blueprint("carte", __name__, template_folder="templates",
                      static_folder="static", static_url_path="/static/carte")


def catalogue_body() -> dict:
    settings = get_settings()
    body = dict(catalog())
    body["millesimes"] = millesimes(dictionary())
    body["background"] = background(settings.tiles_url, settings.tiles_attribution)
    # The BAN geocoder, called by the browser only when configured (PORTAIL_GEOCODEUR_URL).
    body["geocoder"] = settings.geocoder_url
    body["source"] = SOURCE_MENTION
    body["api"] = settings.public_url
    return body


@BLUEPRINT.get("/carte")
def page():
    # The catalogue is written into the page: one round trip less before the first layer.
    return render_template("carte.html", source=SOURCE_MENTION, catalogue=catalogue_body())


@BLUEPRINT.get("/carte/api/catalogue")
def catalogue():
    return jsonify(catalogue_body())


@BLUEPRINT.get("/carte/api/couches/<name>")
def layer(name: str):
    try:
        req = parse_request(dictionary(), name, request.args)
    except LayerRequestError as exc:
        return jsonify({"code": "InvalidParameterValue", "description": str(exc)}), 400
    body = layer_geojson(req)
    response = Response(body, mimetype="application/geo+json")
    # GeoJSON compresses about 5:1; worth it on a metropolitan network, cheap on loopback.
    if len(body) > 4096 and "gzip" in request.headers.get("Accept-Encoding", ""):
        response.set_data(gzip.compress(body, compresslevel=5))
        response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding"
    return response


@BLUEPRINT.get("/carte/api/classes")
def classes():
    try:
        req = parse_class_request(dictionary(), request.args)
    except ClassRequestError as exc:
        return jsonify({"code": "InvalidParameterValue", "description": str(exc)}), 400
    return jsonify(class_limits(req))


@BLUEPRINT.get("/carte/api/noms/<echelle>")
def noms(echelle: str):
    try:
        return jsonify({"echelle": echelle, "noms": place_names(dictionary(), echelle)})
    except NamesRequestError as exc:
        return jsonify({"code": "InvalidParameterValue", "description": str(exc)}), 400


@BLUEPRINT.get("/carte/api/recherche")
def recherche():
    try:
        year = request.args.get("millesime") or None
        year = int(year) if year is not None else None
        body = search(dictionary(), request.args.get("q", ""), year)
    except SearchRequestError as exc:
        return jsonify({"code": "InvalidParameterValue", "description": str(exc)}), 400
    except ValueError:
        return jsonify({"code": "InvalidParameterValue",
                        "description": "millesime : une année attendue (par ex. 2025)"}), 400
    return jsonify(body)


@BLUEPRINT.after_request
def compress(response):
    """The JSON answers of the map's own endpoints (names, search, classes) gzipped like
    the layers when the browser accepts it and it is worth it."""
    if (response.mimetype == "application/json" and not response.direct_passthrough
            and "Content-Encoding" not in response.headers
            and "gzip" in request.headers.get("Accept-Encoding", "")):
        body = response.get_data()
        if len(body) > 4096:
            response.set_data(gzip.compress(body, compresslevel=5))
            response.headers["Content-Encoding"] = "gzip"
            response.headers["Vary"] = "Accept-Encoding"
    return response


def register(app) -> None:
    """The map page and its data endpoints, on the portal's app (``portail.app``)."""
    app.register_blueprint(BLUEPRINT)
