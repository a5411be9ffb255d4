"""OGC API - Styles on each collection, and the QGIS project to download (behind the gate).

- ``GET /collections/{id}/styles``: the styles of the collection (one, ``defaut``) with
  a link per stylesheet;
- ``GET /collections/{id}/styles/{styleId}?f=qml|sld11``: the stylesheet (QML for QGIS,
  SLD 1.1 for other clients; without ``f``, the ``Accept`` header chooses, SLD 1.1 by
  default);
- ``GET /collections/{id}/styles/{styleId}/metadata``: what the style is and uses;
- ``GET /qgis/projet.qgz`` (every theme) and ``/qgis/projet-{theme}.qgz`` (one theme with
  the territories and the context layers).

Every answer is built once per data version (``styles.service``) and carries an ETag.
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, request

from data_dictionary.model import dictionary
from styles import service
from styles.regles import STYLE_ID, STYLE_TITLE

BLUEPRINT = Blueprint("styles", __name__)
STYLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/styles"
_PUBLIC_URL = {"url": "http://127.0.0.1:5000"}


def _base() -> str:
    return _PUBLIC_URL["url"].rstrip("/")


def _error(status: int, code: str, description: str):
    response = jsonify({"code": code, "description": description})
    response.status_code = status
    return response


def _collection_or_404(collection_id: str):
    layer = dictionary().layers.get(collection_id)
    if layer is None:
        abort(_error(404, "NotFound", f"Collection inconnue : {collection_id[:64]!r}."))
    return layer


def _send(document: service.Document, attachment: bool) -> Response:
    if request.if_none_match and document.etag in request.if_none_match:
        response = Response(status=304)
    else:
        response = Response(document.body, mimetype=document.media_type.split(";")[0])
        response.headers["Content-Type"] = document.media_type + (
            "" if "charset" in document.media_type or document.media_type.endswith("qgz")
            else "; charset=utf-8")
    response.set_etag(document.etag)
    disposition = "attachment" if attachment else "inline"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{document.filename}"'
    return response


def _stylesheet_links(collection_id: str) -> list[dict]:
    href = f"{_base()}/collections/{collection_id}/styles/{STYLE_ID}"
    return [
        {"rel": "stylesheet", "type": service.FORMATS["qml"][0], "title": "QGIS (QML)",
         "href": f"{href}?f=qml"},
        {"rel": "stylesheet", "type": service.FORMATS["sld11"][0], "title": "SLD 1.1",
         "href": f"{href}?f=sld11"},
        {"rel": "describedby", "type": "application/json", "title": "Métadonnées du style",
         "href": f"{href}/metadata"},
    ]


@BLUEPRINT.get("/collections/<collection_id>/styles")
def styles_list(collection_id: str):
    layer = _collection_or_404(collection_id)
    return jsonify({
        "default": STYLE_ID,
        "styles": [{"id": STYLE_ID, "title": f"{STYLE_TITLE} : {layer.title.fr}",
                    "links": _stylesheet_links(collection_id)}],
        "links": [
            {"rel": "self", "type": "application/json", "title": "Styles de la collection",
             "href": f"{_base()}/collections/{collection_id}/styles"},
            {"rel": "collection", "type": "application/json", "title": layer.title.fr,
             "href": f"{_base()}/collections/{collection_id}"},
        ],
    })


def _format() -> str:
    fmt = request.args.get("f")
    if fmt is not None:
        if fmt not in service.FORMATS:
            abort(_error(400, "InvalidParameterValue",
                         f"f : « {fmt[:32]} » inconnu ; valeurs possibles : "
                         f"{', '.join(service.FORMATS)}."))
        return fmt
    accepted = request.accept_mimetypes
    best = accepted.best_match(["application/vnd.ogc.sld+xml", "application/vnd.qgis.qml"])
    return "qml" if best == "application/vnd.qgis.qml" else "sld11"


def _style_or_404(style_id: str) -> None:
    if style_id != STYLE_ID:
        abort(_error(404, "NotFound", f"Style inconnu : {style_id[:64]!r} ; style proposé : "
                                      f"{STYLE_ID}."))


@BLUEPRINT.get("/collections/<collection_id>/styles/<style_id>")
def stylesheet(collection_id: str, style_id: str):
    _collection_or_404(collection_id)
    _style_or_404(style_id)
    return _send(service.stylesheet(collection_id, _format()), attachment=False)


@BLUEPRINT.get("/collections/<collection_id>/styles/<style_id>/metadata")
def style_metadata(collection_id: str, style_id: str):
    layer = _collection_or_404(collection_id)
    _style_or_404(style_id)
    style = service.styles_for(service.current_version())[collection_id]
    used = sorted({r.cond.field for r in style.rules if r.cond is not None and r.cond.field}
                  | {p.field for r in style.rules if r.cond is not None
                     for p in r.cond.parts if p.field}
                  | ({style.label_field} if style.label_field else set()))
    return jsonify({
        "id": STYLE_ID, "title": style.title, "description": style.abstract,
        "keywords": list(layer.keywords["fr"]), "scope": "style",
        "stylesheets": [{"title": link["title"], "link": link}
                        for link in _stylesheet_links(collection_id)[:2]],
        "layers": [{"id": collection_id, "type": style.geometry_kind,
                    "attributes": [{"id": name, "title": style.aliases.get(name, name)}
                                   for name in used]}],
        "classes": [{"label": r.label, "kind": r.kind} for r in style.rules],
        "links": [{"rel": "self", "type": "application/json",
                   "href": f"{_base()}/collections/{collection_id}/styles/{STYLE_ID}/metadata"}],
    })


@BLUEPRINT.get("/qgis/projet.qgz")
def qgis_project():
    return _send(service.project(_base()), attachment=True)


@BLUEPRINT.get("/qgis/projet-<theme>.qgz")
def qgis_theme_project(theme: str):
    if theme not in {t.name for t in dictionary().themes}:
        return _error(404, "NotFound", f"Thème inconnu : {theme[:64]!r}.")
    return _send(service.project(_base(), theme), attachment=True)


def openapi_paths(document: dict) -> dict:
    """Describe this module's routes in the OpenAPI document (before the gate's 401s)."""
    collection = {"name": "collectionId", "in": "path", "required": True,
                  "schema": {"type": "string"}, "description": "Identifiant de la collection."}
    style = {"name": "styleId", "in": "path", "required": True,
             "schema": {"type": "string", "enum": [STYLE_ID]}}
    fmt = {"name": "f", "in": "query", "required": False,
           "schema": {"type": "string", "enum": list(service.FORMATS)},
           "description": "qml (QGIS) ou sld11 (SLD 1.1) ; sans f, l'en-tête Accept choisit, "
                          "SLD 1.1 par défaut."}
    theme = {"name": "theme", "in": "path", "required": True,
             "schema": {"type": "string",
                        "enum": [t.name for t in dictionary().themes]}}
    tags = ["styles"]

    def answer(description, media):
        return {"200": {"description": description,
                        "content": {m: {"schema": {"type": "string"}} for m in media}},
                "404": {"description": "Collection, style ou thème inconnu."}}
    paths = document.setdefault("paths", {})
    paths["/collections/{collectionId}/styles"] = {"get": {
        "summary": "Styles de la collection (OGC API - Styles)", "tags": tags,
        "operationId": "getCollectionStyles", "parameters": [collection],
        "responses": answer("La liste des styles et leurs feuilles de style.",
                            ["application/json"])}}
    paths["/collections/{collectionId}/styles/{styleId}"] = {"get": {
        "summary": "Feuille de style : QML pour QGIS, SLD 1.1 pour les autres clients",
        "tags": tags, "operationId": "getCollectionStyle",
        "parameters": [collection, style, fmt],
        "responses": {**answer("La feuille de style.",
                               [media for media, _ in service.FORMATS.values()]),
                      "400": {"description": "Valeur de f inconnue."}}}}
    paths["/collections/{collectionId}/styles/{styleId}/metadata"] = {"get": {
        "summary": "Métadonnées du style", "tags": tags,
        "operationId": "getCollectionStyleMetadata", "parameters": [collection, style],
        "responses": answer("Titre, résumé, attributs utilisés, classes.",
                            ["application/json"])}}
    paths["/qgis/projet.qgz"] = {"get": {
        "summary": "Projet QGIS de toutes les couches", "tags": tags,
        "operationId": "getQgisProject",
        "responses": answer("Le projet (.qgz).", [service.QGZ_TYPE])}}
    paths["/qgis/projet-{theme}.qgz"] = {"get": {
        "summary": "Projet QGIS d'un thème (avec les territoires et le contexte)", "tags": tags,
        "operationId": "getQgisThemeProject", "parameters": [theme],
        "responses": answer("Le projet (.qgz).", [service.QGZ_TYPE])}}
    document.setdefault("tags", []).append(
        {"name": "styles", "description": "Styles des couches (QML, SLD 1.1) et projet QGIS"})
    return document


def project_facts() -> dict:
    """What the training page (carte.accueil) tells of the project, from this package."""
    from styles.projet import AUTHCFG_ID
    from styles.regles import COMMUNE_MIN, RESIDENCE_MAX
    return {"authcfg": AUTHCFG_ID,
            "scales": {"communes": COMMUNE_MIN, "residences": RESIDENCE_MAX},
            "in_every_project": service.IN_EVERY_PROJECT, "style_example": "parc_communes"}


def register(app, public_url: str) -> None:
    _PUBLIC_URL["url"] = public_url
    app.register_blueprint(BLUEPRINT)
