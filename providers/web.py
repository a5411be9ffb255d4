"""Request and response adjustments around pygeoapi 0.21, as a Flask blueprint.

Register with ``app.register_blueprint(providers.web.BLUEPRINT)``. It holds
no route; its hooks apply to the whole app:

- ``filter-lang=cql2-text`` / ``cql2-json`` (the CQL2 names; pygeoapi 0.21
  knows only ``cql-text``/``cql-json`` and always parses a GET ``filter`` as
  ECQL): a CQL2 text filter is parsed with pygeofilter's CQL2 text parser and
  handed to pygeoapi as CQL2-JSON; a CQL2-JSON ``filter`` given in the query
  string is handed over likewise.
- items: pygeoapi adds a ``next`` link whenever a page is full, even the last
  one; the provider marks a last page and the spurious link is removed.
- queryables: pygeoapi titles each property with its name; the French labels
  of the data dictionary replace them.
- conformance: only the classes this portal implements are claimed.
"""
from __future__ import annotations

import json
import logging
import re

from flask import Blueprint, g, request
from werkzeug.datastructures import ImmutableMultiDict

LOGGER = logging.getLogger(__name__)

BLUEPRINT = Blueprint("portail_ogc", __name__)

ITEMS_PATH = re.compile(r"^/collections/([^/]+)/items/?$")
EXECUTION_PATH = re.compile(r"^/processes/([^/]+)/execution/?$")
QUERYABLES_PATH = re.compile(r"^/collections/([^/]+)/queryables/?$")

NOT_IMPLEMENTED = {
    # read-only portal: no create/replace/delete
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
}
FILTER_CLASSES = [
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
]


@BLUEPRINT.before_app_request
def _cql2_filter_language():
    if request.method != "GET" or not ITEMS_PATH.match(request.path):
        return None
    lang = request.args.get("filter-lang")
    text = request.args.get("filter")
    if lang not in ("cql2-text", "cql2-json") or text is None:
        return None
    if lang == "cql2-text":
        from pygeofilter.backends.cql2_json import to_cql2
        from pygeofilter.parsers.cql2_text import parse
        try:
            body = to_cql2(parse(text))
        except Exception:  # noqa: BLE001 - unparsable: let pygeoapi's ECQL parser answer
            _set_args(request.args, {"filter-lang": "cql-text"})
            return None
    else:
        body = text
    _set_args(request.args, {"filter-lang": "cql-json", "filter": None})
    # pygeoapi reads a CQL2-JSON filter from the request body.
    request._cached_data = body.encode("utf-8")
    return None


@BLUEPRINT.before_app_request
def _post_items_needs_a_content_type():
    """POST on items without a Content-Type: pygeoapi 0.21's view returns None (a 500)."""
    if request.method == "POST" and ITEMS_PATH.match(request.path) \
            and not request.content_type:
        return _bad_request("Content-Type attendu : application/query-cql-json (filtre "
                            "CQL2-JSON dans le corps).", 415)
    return None


def _bad_request(description: str, status: int = 400):
    from flask import jsonify
    return jsonify({"code": "InvalidParameterValue", "type": "InvalidParameterValue",
                    "description": description}), status


@BLUEPRINT.before_app_request
def _sortby_checked():
    """``sortby`` with an empty member (``sortby=``, ``a,,b``): pygeoapi 0.21 indexes
    ``s[0]`` of each member and answered 500."""
    if request.method != "GET" or not ITEMS_PATH.match(request.path):
        return None
    value = request.args.get("sortby")
    if value is not None and any(not part.strip() for part in value.split(",")):
        return _bad_request("sortby : liste de propriétés séparées par des virgules, "
                            "chacune précédée de + ou - au besoin (ex. -population,nom).")
    return None


@BLUEPRINT.before_app_request
def _execution_body_checked():
    """An execution request whose body is not a JSON object (empty, ``null``, a list):
    pygeoapi 0.21 calls ``.get`` on it and answered 500."""
    if request.method != "POST" or not EXECUTION_PATH.match(request.path):
        return None
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _bad_request('Corps JSON attendu : {"inputs": {…}} (voir la description du '
                            "processus, /processes/<id>).")
    return None


@BLUEPRINT.before_app_request
def _datetime_checked():
    """A ``datetime`` the provider cannot read is a 400 before pygeoapi parses it.

    pygeoapi 0.21 hands ``datetime`` to dateutil, which raises OverflowError (not a
    ValueError) on a year of many digits: pygeoapi answered 500. The provider's own
    grammar (a year, a date, an interval of them) is checked here first.
    """
    if request.method != "GET" or not ITEMS_PATH.match(request.path):
        return None
    value = request.args.get("datetime")
    if value is None:
        return None
    from pygeoapi.provider.base import ProviderInvalidQueryError

    from providers.published import parse_millesimes
    try:
        parse_millesimes(value)
    except ProviderInvalidQueryError as exc:
        return _bad_request(exc.message)
    return None


def _set_args(args, changes: dict) -> None:
    items = [(k, v) for k, v in args.items(multi=True) if k not in changes]
    items += [(k, v) for k, v in changes.items() if v is not None]
    request.args = ImmutableMultiDict(items)


@BLUEPRINT.after_app_request
def _adjust(response):
    try:
        if getattr(g, "portail_last_page", False) and response.status_code == 200 \
                and _is_json(response):
            _drop_next(response)
        elif QUERYABLES_PATH.match(request.path) and response.status_code == 200 \
                and _is_json(response):
            _french_titles(response, QUERYABLES_PATH.match(request.path).group(1))
        elif request.path.rstrip("/") == "/conformance" and response.status_code == 200 \
                and _is_json(response):
            _conformance(response)
    except (ValueError, KeyError, TypeError):  # never turn a good answer into a 500
        LOGGER.exception("response adjustment failed on %s", request.path)
    return response


def _is_json(response) -> bool:
    # pygeoapi replaces response.headers with a plain dict: look the header up by hand.
    content_type = next((str(v) for k, v in response.headers.items()
                         if k.lower() == "content-type"), "")
    return content_type.split(";")[0].strip().endswith("json") \
        and not response.direct_passthrough


def _rewrite(response, body) -> None:
    response.set_data(json.dumps(body, ensure_ascii=False, default=str))


def _drop_next(response) -> None:
    body = json.loads(response.get_data())
    links = body.get("links") or []
    kept = [link for link in links if link.get("rel") != "next"]
    if len(kept) != len(links):
        body["links"] = kept
        _rewrite(response, body)


def _french_titles(response, collection: str) -> None:
    from data_dictionary.model import dictionary
    layer = dictionary().layers.get(collection)
    if layer is None:
        return
    body = json.loads(response.get_data())
    for name, prop in body.get("properties", {}).items():
        described = layer.fields.get(name)
        if described is not None:
            prop["title"] = described.label.fr
            prop["description"] = described.definition.fr
        elif name == "geometry":
            prop["title"] = "Géométrie"
    _rewrite(response, body)


def _conformance(response) -> None:
    body = json.loads(response.get_data())
    claims = [c for c in body.get("conformsTo", []) if c not in NOT_IMPLEMENTED]
    body["conformsTo"] = sorted(set(claims) | set(FILTER_CLASSES))
    _rewrite(response, body)
