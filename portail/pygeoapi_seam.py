"""The one boundary with pygeoapi (and Flask internals): every patch, in one file.

pygeoapi 0.21 is pinned (``pyproject.toml``); ``check_version`` refuses another
release, so that an upgrade starts here: each patch below names the pygeoapi
code it replaces or wraps, and has its own test (``tests/test_pygeoapi_seam.py``).
The shortcomings of pygeoapi behind them are written as upstream issues in
``docs/pygeoapi-upstream.md``.

The patches:

1. ``items`` — ``GET``/``POST /collections/{id}/items`` is served by the portal's
   handler instead of ``pygeoapi.api.itemtypes.get_collection_items``. Same
   document (links, ``timeStamp``, HTML, CSV and JSON-LD renderings), but:
   the box is not reprojected in Python (pygeoapi builds a pyproj transformer per
   request, half of a bbox request): ``bbox`` and ``bbox-crs`` go to the provider,
   which reprojects in PostGIS; the provider receives the output ``crs``, the
   ``filter-crs``, the paging ``cursor`` and the base URL of its links
   explicitly (it never reads ``flask.request``); no spurious ``next`` link on a
   full last page; no WARNING per request for an absent ``offset``;
   ``filter-lang=cql2-text|cql2-json`` understood; 400 (not 500) for an empty
   ``sortby`` member, a ``datetime`` of many digits, a ``POST`` without
   ``Content-Type``.
2. ``queryables`` — the same document as pygeoapi's, with the provider's titles and
   descriptions (pygeoapi titles every property with its name).
3. ``conformance`` — only the classes the portal implements (pygeoapi claims Part 4
   create-replace-delete for any feature provider, and does not claim the CQL2
   classes); computed without touching pygeoapi's module list (its ``conformance``
   extends that list at every request).
4. ``execution`` — a process execution whose body is not a JSON object is a 400
   (pygeoapi calls ``.get`` on it: a 500).
5. ``jobs`` — the synchronous run of a process goes through ``run_sync`` (pygeoapi's
   ``BaseManager._execute_handler_sync``); a synchronous run is not stored, so its
   ``Location`` header is dropped (``job_not_stored``); a job result is served as an
   attachment with its file name (``serve_result_as``).
6. ``prepare`` — pygeoapi reads its config and OpenAPI document from environment
   variables when ``pygeoapi.flask_app`` is first imported: they are set, and the
   document generated, before that import.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import os
import urllib.parse
from datetime import datetime
from http import HTTPStatus
from pathlib import Path
from typing import Callable

import yaml

LOGGER = logging.getLogger(__name__)

PYGEOAPI_VERSION = "0.21.0"
OPENAPI_MARK = "x-portail-security"   # marks a document already post-processed
# Bumped when what ``secure`` adds changes (2: the paths of the styles and the QGIS project).
OPENAPI_REVISION = "2"

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
# The endpoints of pygeoapi's blueprint whose view is the portal's.
REPLACED_ENDPOINTS = ("pygeoapi.collection_items", "pygeoapi.collection_queryables",
                      "pygeoapi.conformance")
RESERVED_PARAMS = ("bbox", "bbox-crs", "crs", "f", "lang", "limit", "offset", "resulttype",
                   "datetime", "sortby", "properties", "skipGeometry", "q", "filter",
                   "filter-lang", "filter-crs")


class UnsupportedPygeoapi(RuntimeError):
    """The installed pygeoapi is not the release these patches were written for."""


def check_version() -> None:
    import pygeoapi
    if pygeoapi.__version__ != PYGEOAPI_VERSION:
        raise UnsupportedPygeoapi(
            f"pygeoapi {pygeoapi.__version__} installé, le portail est écrit pour "
            f"{PYGEOAPI_VERSION} : relisez portail/pygeoapi_seam.py (un test par ajustement) "
            "avant de changer la version dans pyproject.toml")


# -- 6. before pygeoapi is imported -----------------------------------------------------------
def prepare(config_path: Path, openapi_path: Path, public_url: str, templates: Path,
            secure: Callable[[dict], dict], regenerate: bool = False) -> None:
    """Point pygeoapi at our config, our templates and an up-to-date OpenAPI document
    (post-processed by ``secure``, the gate's security scheme).

    pygeoapi reads all of them from the environment when ``pygeoapi.flask_app`` is
    first imported, so this runs before that import.
    """
    check_version()
    os.environ["PYGEOAPI_CONFIG"] = str(config_path)
    os.environ["PYGEOAPI_OPENAPI"] = str(openapi_path)
    os.environ["PORTAIL_URL"] = public_url
    os.environ["PORTAIL_TEMPLATES"] = str(templates)   # offline HTML templates (no CDN)
    # The mark says from which configuration (and which post-processing) the document was
    # made: a new configuration (a layer, a link) or portal code rebuilds it.
    mark = openapi_fingerprint(config_path, public_url)
    if not openapi_path.exists():
        regenerate = True
    elif not regenerate:   # a top-level key: yaml.safe_dump writes it on a line of its own
        text = openapi_path.read_text(encoding="utf-8")
        regenerate = f"\n{OPENAPI_MARK}: {mark}\n" not in text
    if regenerate:
        from pygeoapi.openapi import generate_openapi_document
        generated = generate_openapi_document(Path(config_path), "yaml")
        document = secure(yaml.safe_load(generated))
        document[OPENAPI_MARK] = mark
        openapi_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = openapi_path.with_suffix(f".{os.getpid()}.tmp")   # workers may start together
        tmp.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True),
                       encoding="utf-8")
        os.replace(tmp, openapi_path)


def openapi_fingerprint(config_path: Path, public_url: str = "") -> str:
    """The configuration's and the public URL's hash (the document's server URL), and the
    revision of the portal's post-processing."""
    digest = hashlib.sha256(Path(config_path).read_bytes() + b"\0" + public_url.encode())
    return f"{digest.hexdigest()[:20]}-{OPENAPI_REVISION}"


def install(app) -> None:
    """Register pygeoapi's blueprint on ``app`` with the portal's patches (1–5)."""
    check_version()
    from pygeoapi.flask_app import BLUEPRINT
    app.register_blueprint(BLUEPRINT)
    originals = {name: app.view_functions[name] for name in REPLACED_ENDPOINTS}
    app.view_functions["pygeoapi.collection_items"] = _items_view(
        originals["pygeoapi.collection_items"])
    app.view_functions["pygeoapi.collection_queryables"] = _queryables_view
    app.view_functions["pygeoapi.conformance"] = _conformance_view
    app.before_request(_execution_body_checked)
    app.after_request(_job_headers)


# -- shared pieces ------------------------------------------------------------------------------
def _api():
    from pygeoapi.flask_app import api_
    return api_


def _respond(function, *args):
    """pygeoapi's ``execute_from_flask`` for one of our API functions."""
    from flask import make_response, request
    from pygeoapi.api import APIRequest, apply_gzip
    api = _api()
    api_request = APIRequest.from_flask(request, api.locales)
    headers, status, content = function(api, api_request, *args)
    content = apply_gzip(headers, content)
    response = make_response(content, status)
    if headers:
        response.headers = headers
    return response


def _bad_request(description: str, status: int = 400):
    from flask import jsonify
    return jsonify({"code": "InvalidParameterValue", "type": "InvalidParameterValue",
                    "description": description}), status


def _ours(provider_def: dict) -> bool:
    return str(provider_def.get("name", "")).startswith("providers.")


# -- 1. items -------------------------------------------------------------------------------------
def _items_view(original):
    def collection_items(collection_id, item_id=None):
        from flask import request
        if item_id is not None or request.method not in ("GET", "POST"):
            return original(collection_id, item_id)
        if request.method == "POST":
            if not request.content_type:
                return _bad_request("Content-Type attendu : application/query-cql-json "
                                    "(filtre CQL2-JSON dans le corps).", 415)
            if request.content_type == "application/geo+json":
                return original(collection_id, item_id)   # pygeoapi: not editable, 400
        else:
            refusal = _checked_get_args(request.args)
            if refusal is not None:
                return refusal
        return _respond(items, collection_id)
    return collection_items


def _checked_get_args(args):
    """What pygeoapi 0.21 answered with a 500, refused first: a ``sortby`` with an empty
    member (it indexes ``s[0]``), a ``datetime`` outside the millésime grammar (dateutil
    raises OverflowError on a year of many digits)."""
    value = args.get("sortby")
    if value is not None and any(not part.strip() for part in value.split(",")):
        return _bad_request("sortby : liste de propriétés séparées par des virgules, "
                            "chacune précédée de + ou - au besoin (ex. -population,nom).")
    value = args.get("datetime")
    if value is not None:
        from diffusion.errors import InvalidQuery
        from diffusion.millesimes import parse_datetime
        try:
            parse_datetime(value)
        except InvalidQuery as exc:
            return _bad_request(exc.message)
    return None


def items(api, request, dataset):
    """``get_collection_items`` of pygeoapi 0.21 for the portal's provider (see patch 1)."""
    from pygeoapi import l10n
    from pygeoapi.api import (F_HTML, F_JSON, F_JSONLD, FORMAT_TYPES, SYSTEM_LOCALE,
                              evaluate_limit, validate_bbox, validate_datetime)
    from pygeoapi.api.itemtypes import DEFAULT_CRS, DEFAULT_CRS_LIST, set_content_crs_header
    from pygeoapi.plugin import PLUGINS, load_plugin
    from pygeoapi.provider.base import ProviderGenericError
    from pygeoapi.util import (filter_dict_by_key_value, get_provider_by_type,
                               get_supported_crs_list, str2bool)

    if not request.is_valid(PLUGINS["formatter"].keys()):
        return api.get_format_exception(request)
    headers = request.get_response_headers(SYSTEM_LOCALE, **api.api_headers)

    def error(status, code, message):
        return api.get_exception(status, headers, request.format, code, message)

    collections = filter_dict_by_key_value(api.config["resources"], "type", "collection")
    if dataset not in collections:
        return error(HTTPStatus.NOT_FOUND, "NotFound", "Collection not found")
    params = request.params
    collection = collections[dataset]

    offset = params.get("offset")
    if offset is None:
        offset = 0
    else:
        try:
            offset = int(offset)
        except ValueError:
            return error(HTTPStatus.BAD_REQUEST, "InvalidParameterValue",
                         "offset value should be an integer")
        if offset < 0:
            return error(HTTPStatus.BAD_REQUEST, "InvalidParameterValue",
                         "offset value should be positive or zero")
    try:
        limit = evaluate_limit(params.get("limit"), api.config["server"].get("limits", {}),
                               collection.get("limits", {}))
    except ValueError as err:
        return error(HTTPStatus.BAD_REQUEST, "InvalidParameterValue", str(err))
    resulttype = params.get("resulttype") or "results"
    try:
        bbox = validate_bbox(params.get("bbox"))
    except ValueError as err:
        return error(HTTPStatus.BAD_REQUEST, "InvalidParameterValue", str(err))

    try:
        datetime_ = validate_datetime(collection["extents"], params.get("datetime"))
    except (ValueError, OverflowError) as err:
        return error(HTTPStatus.BAD_REQUEST, "InvalidParameterValue", str(err))

    try:
        provider_def = get_provider_by_type(collection["providers"], "feature")
    except Exception:  # noqa: BLE001 - not a feature collection of ours: pygeoapi answers
        provider_def = None
    if provider_def is None or not _ours(provider_def):
        from pygeoapi.api.itemtypes import get_collection_items
        return get_collection_items(api, request, dataset)
    try:
        p = load_plugin("provider", provider_def)
    except ProviderGenericError as err:
        return error(err.http_status_code, err.ogc_exception_code, err.message)

    query_crs = params.get("crs")
    supported_crs = get_supported_crs_list(provider_def, DEFAULT_CRS_LIST)
    if query_crs is not None and query_crs not in supported_crs:
        return error(HTTPStatus.BAD_REQUEST, "InvalidParameterValue",
                     f"CRS {query_crs!r} not supported for this collection. List of "
                     f"supported CRSs: {', '.join(supported_crs)}.")
    set_content_crs_header(headers, provider_def, query_crs)

    bbox_crs = params.get("bbox-crs")
    if bbox_crs is not None:
        if len(bbox) == 0:
            return error(HTTPStatus.BAD_REQUEST, "NoApplicableCode",
                         "bbox-crs specified without bbox parameter")
        if len(bbox_crs) == 0:
            return error(HTTPStatus.BAD_REQUEST, "NoApplicableCode",
                         "bbox-crs specified but is empty")
        if bbox_crs not in supported_crs:
            return error(HTTPStatus.BAD_REQUEST, "NoApplicableCode",
                         f"bbox-crs {bbox_crs} not supported for this collection")
    elif bbox:
        bbox_crs = DEFAULT_CRS

    fields = p.fields
    properties = [(k, v) for k, v in params.items()
                  if k not in RESERVED_PARAMS and (k in fields or p.include_extra_query_parameters)]

    sortby = []
    if params.get("sortby") is not None:
        for member in params["sortby"].split(","):
            if not member.strip():
                return error(HTTPStatus.BAD_REQUEST, "InvalidParameterValue",
                             "sortby : liste de propriétés séparées par des virgules, chacune "
                             "précédée de + ou - au besoin (ex. -population,nom).")
            order, prop = ("+", member)
            if member[0] in "+-":
                order, prop = member[0], member[1:]
            if prop not in fields:
                return error(HTTPStatus.BAD_REQUEST, "InvalidParameterValue",
                             "bad sort property")
            sortby.append({"property": prop, "order": order})

    select_properties = []
    if params.get("properties") is not None:
        select_properties = params["properties"].split(",")
        if set(select_properties) - (set(p.properties) | set(fields)):
            return error(HTTPStatus.BAD_REQUEST, "InvalidParameterValue",
                         "unknown properties specified")
    skip_geometry = str2bool(params["skipGeometry"]) if params.get("skipGeometry") else False

    filter_crs = params.get("filter-crs", DEFAULT_CRS)
    filter_lang = params.get("filter-lang")
    cql_text = params.get("filter")
    body = request.data
    filter_from_body = False
    if filter_lang in ("cql2-text", "cql2-json") and cql_text is not None:
        # CQL2 names (pygeoapi 0.21 knows cql-text/cql-json only): read as CQL2-JSON,
        # as pygeoapi would read it from the body.
        body, cql_text = _cql2_as_json(filter_lang, cql_text)
        filter_lang = "cql-json" if cql_text is None else "cql-text"
    modify = (filter_crs, provider_def.get("storage_crs"), provider_def.get("geom_field"))
    filter_ = None
    if cql_text is not None:
        try:
            filter_ = _parsed_filter("ecql", cql_text, *modify)
        except Exception:  # noqa: BLE001 - pygeoapi's answer to any unreadable filter
            LOGGER.error("Bad CQL text")
            return error(HTTPStatus.BAD_REQUEST, "InvalidParameterValue", "Bad CQL text")
    elif body:
        try:
            filter_ = _parsed_filter("cql2-json", body.decode(), *modify)
            filter_from_body = True
        except Exception:  # noqa: BLE001
            LOGGER.error("Bad CQL JSON")
            return error(HTTPStatus.BAD_REQUEST, "InvalidParameterValue", "Bad CQL JSON")
    if filter_lang not in (None, "cql-json", "cql-text"):
        return error(HTTPStatus.BAD_REQUEST, "InvalidParameterValue", "Invalid filter language")
    # pygeoapi's l10n.get_plugin_locale logs at INFO on every request for a provider
    # without languages: ask it only when the provider declares some.
    prv_locale = l10n.get_plugin_locale(provider_def, request.raw_locale) \
        if provider_def.get("languages") or provider_def.get("language") else None

    from flask import request as flask_request
    uri = f"{api.get_collections_url()}/{dataset}/items"
    get = flask_request.method == "GET"
    try:
        content = p.query(
            offset=offset, limit=limit, resulttype=resulttype, bbox=bbox,
            datetime_=datetime_, properties=properties, sortby=sortby,
            skip_geometry=skip_geometry, select_properties=select_properties,
            q=params.get("q") or None, language=prv_locale, filterq=filter_,
            crs=query_crs or DEFAULT_CRS, bbox_crs=bbox_crs, filter_crs=filter_crs,
            filter_from_body=filter_from_body,
            cursor=params.get("cursor") if get else None,
            links_base=_server_url(api) + flask_request.path if get else None,
            link_args=list(flask_request.args.items(multi=True)))
    except ProviderGenericError as err:
        return error(err.http_status_code, err.ogc_exception_code, err.message)

    serialized = "".join(f"&{urllib.parse.quote(k, safe='')}="
                         f"{urllib.parse.quote(str(v), safe=',')}"
                         for k, v in params.items() if k not in ("f", "offset"))
    links = content.setdefault("links", [])
    links.extend([
        {"type": "application/geo+json", "rel": request.get_linkrel(F_JSON),
         "title": l10n.translate("This document as GeoJSON", request.locale),
         "href": f"{uri}?f={F_JSON}{serialized}"},
        {"rel": request.get_linkrel(F_JSONLD), "type": FORMAT_TYPES[F_JSONLD],
         "title": l10n.translate("This document as RDF (JSON-LD)", request.locale),
         "href": f"{uri}?f={F_JSONLD}{serialized}"},
        {"type": FORMAT_TYPES[F_HTML], "rel": request.get_linkrel(F_HTML),
         "title": l10n.translate("This document as HTML", request.locale),
         "href": f"{uri}?f={F_HTML}{serialized}"}])
    if "next" not in [link["rel"] for link in links]:
        # pygeoapi's own paging links. On a GET the provider pages (its links carry the
        # cursor) and gives no ``next`` on the last page: pygeoapi's would be spurious.
        paged_by_provider = get and resulttype != "hits"
        matched = content.get("numberMatched", -1)
        if not paged_by_provider and (matched > limit + offset
                                      or len(content["features"]) == limit):
            next_link = {"type": "application/geo+json", "rel": "next",
                         "title": l10n.translate("Items (next)", request.locale),
                         "href": f"{uri}?offset={offset + limit}{serialized}"}
        else:
            next_link = None
        if offset > 0:
            links.append({"type": "application/geo+json", "rel": "prev",
                          "title": l10n.translate("Items (prev)", request.locale),
                          "href": f"{uri}?offset={max(0, offset - limit)}{serialized}"})
        if next_link is not None:
            links.append(next_link)
    links.append({"type": FORMAT_TYPES[F_JSON],
                  "title": l10n.translate(collection["title"], request.locale),
                  "rel": "collection", "href": "/".join(uri.split("/")[:-1])})
    content["timeStamp"] = datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    l10n.set_response_language(headers, prv_locale, request.locale)
    return _render_items(api, request, dataset, collection, provider_def, p, uri, offset,
                         headers, content)


@functools.lru_cache(maxsize=512)
def _parsed_filter(language: str, text: str, filter_crs, storage_crs, geometry_column):
    """A filter as pygeoapi reads it (pygeofilter's parser, then ``modify_pygeofilter``:
    geometries into the storage CRS), kept per text: the ECQL parser costs more than the
    query of a cached page. The tree is only read afterwards (``providers.cql``)."""
    from pygeofilter.parsers.cql2_json import parse as parse_cql2_json
    from pygeofilter.parsers.ecql import parse as parse_ecql_text
    from pygeoapi.util import modify_pygeofilter
    parsed = parse_ecql_text(text) if language == "ecql" else parse_cql2_json(text)
    return modify_pygeofilter(parsed, filter_crs_uri=filter_crs, storage_crs_uri=storage_crs,
                              geometry_column_name=geometry_column)


def _render_items(api, request, dataset, collection, provider_def, p, uri, offset, headers,
                  content):
    """The last part of pygeoapi's ``get_collection_items``: HTML, CSV, JSON-LD or GeoJSON."""
    from pygeoapi import l10n
    from pygeoapi.api import F_HTML, F_JSONLD
    from pygeoapi.formatter.base import FormatterSerializationError
    from pygeoapi.linked_data import geojson2jsonld
    from pygeoapi.plugin import load_plugin
    from pygeoapi.util import render_j2_template, to_json

    if request.format == F_HTML:
        tpl_config = api.get_dataset_templates(dataset)
        content["items_path"] = uri
        content["dataset_path"] = "/".join(uri.split("/")[:-1])
        content["collections_path"] = api.get_collections_url()
        content["offset"] = offset
        content["id_field"] = p.id_field
        if p.uri_field is not None:
            content["uri_field"] = p.uri_field
        if p.title_field is not None:
            content["title_field"] = l10n.translate(p.title_field, request.locale)
            content["id_field"] = content["title_field"]
        content = render_j2_template(api.tpl_config, tpl_config,
                                     "collections/items/index.html", content, request.locale)
        return headers, HTTPStatus.OK, content
    if request.format == "csv":
        formatter = load_plugin("formatter", {"name": "CSV", "geom": True})
        try:
            content = formatter.write(data=content, options={"provider_def": provider_def})
        except FormatterSerializationError:
            return api.get_exception(HTTPStatus.INTERNAL_SERVER_ERROR, headers, request.format,
                                     "NoApplicableCode", "Error serializing output")
        headers["Content-Type"] = formatter.mimetype
        filename = p.filename or f"{dataset}.csv"
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        return headers, HTTPStatus.OK, content
    if request.format == F_JSONLD:
        return headers, HTTPStatus.OK, geojson2jsonld(api, content, dataset,
                                                      id_field=(p.uri_field or "id"))
    return headers, HTTPStatus.OK, to_json(content, api.pretty_print)


def _server_url(api) -> str:
    """``server.url`` of the configuration (the URL clients use), as pygeoapi's links."""
    return str(api.config["server"]["url"]).rstrip("/")


def _cql2_as_json(lang: str, text: str) -> tuple[bytes | None, str | None]:
    """A CQL2 ``filter`` of the query string as a CQL2-JSON body (None, None: none), or
    the text to read as ECQL when the CQL2 text parser cannot read it."""
    if lang == "cql2-json":
        return text.encode("utf-8"), None
    from pygeofilter.backends.cql2_json import to_cql2
    from pygeofilter.parsers.cql2_text import parse
    try:
        return to_cql2(parse(text)).encode("utf-8"), None
    except Exception:  # noqa: BLE001 - unreadable as CQL2: pygeoapi's ECQL parser answers
        return None, text


# -- 2. queryables ---------------------------------------------------------------------------------
def _queryables_view(collection_id=None):
    return _respond(queryables, collection_id)


def queryables(api, request, dataset):
    """``get_collection_queryables`` of pygeoapi 0.21, titled from the provider's fields."""
    from pygeoapi.api.itemtypes import get_collection_queryables
    from pygeoapi.api import F_HTML
    from pygeoapi import l10n
    from pygeoapi.plugin import load_plugin
    from pygeoapi.util import get_provider_by_type, render_j2_template, to_json

    resource = api.config["resources"].get(dataset) if dataset else None
    provider_def = None
    if resource is not None and resource.get("type") == "collection":
        try:
            provider_def = get_provider_by_type(resource["providers"], "feature")
        except Exception:  # noqa: BLE001 - no feature provider: pygeoapi answers
            provider_def = None
    if provider_def is None or not _ours(provider_def):
        return get_collection_queryables(api, request, dataset)
    headers = request.get_response_headers(**api.api_headers)
    p = load_plugin("provider", provider_def)
    wanted = [x for x in (request.params.get("properties") or "").split(",") if x]
    if set(wanted) - (set(p.properties) | set(p.fields)):
        return api.get_exception(HTTPStatus.BAD_REQUEST, headers, request.format,
                                 "InvalidParameterValue", "unknown properties specified")
    queryables_id = f"{api.get_collections_url()}/{dataset}/queryables"
    if request.params:
        queryables_id += "?" + urllib.parse.urlencode(request.params)
    document = {"type": "object",
                "title": l10n.translate(resource["title"], request.locale),
                "properties": {}, "$schema": "http://json-schema.org/draft/2019-09/schema",
                "$id": queryables_id}
    if p.fields:
        document["properties"]["geometry"] = {"format": "geometry-any",
                                              "x-ogc-role": "primary-geometry",
                                              "title": "Géométrie"}
    for name, field in p.fields.items():
        if (wanted and name not in wanted) or (p.properties and name not in p.properties):
            continue
        entry = {"title": field.get("title", name), "type": field["type"]}
        if field.get("description"):
            entry["description"] = field["description"]
        if field.get("format") is not None:
            entry["format"] = field["format"]
        if "values" in field:
            entry["enum"] = field["values"]
        if name == p.id_field:
            entry["x-ogc-role"] = "id"
        if name == p.time_field:
            entry["x-ogc-role"] = "primary-instant"
        document["properties"][name] = entry
    if request.format == F_HTML:
        tpl_config = api.get_dataset_templates(dataset)
        document["collections_path"] = api.get_collections_url()
        document["dataset_path"] = f"{api.get_collections_url()}/{dataset}"
        content = render_j2_template(api.tpl_config, tpl_config,
                                     "collections/queryables.html", document, request.locale)
        return headers, HTTPStatus.OK, content
    headers["Content-Type"] = "application/schema+json"
    return headers, HTTPStatus.OK, to_json(document, api.pretty_print)


# -- 3. conformance --------------------------------------------------------------------------------
def conformance_classes(api) -> list[str]:
    """What the portal implements: pygeoapi's classes for our resources, without
    Part 4, with the CQL2 classes of ``providers.cql``."""
    from pygeoapi.api import CONFORMANCE_CLASSES, all_apis
    apis = all_apis()
    claimed = set(CONFORMANCE_CLASSES)
    for resource in api.config["resources"].values():
        if resource["type"] == "process":
            claimed.update(apis["process"].CONFORMANCE_CLASSES)
            continue
        for provider in resource.get("providers", []):
            if provider["type"] in apis:
                claimed.update(apis[provider["type"]].CONFORMANCE_CLASSES)
            if provider["type"] == "feature":
                claimed.update(apis["itemtypes"].CONFORMANCE_CLASSES_FEATURES)
    return sorted((claimed - NOT_IMPLEMENTED) | set(FILTER_CLASSES))


def _conformance_view():
    return _respond(conformance)


def conformance(api, request):
    """pygeoapi's ``conformance``, with ``conformance_classes``."""
    from pygeoapi.api import F_HTML
    from pygeoapi.util import render_j2_template, to_json
    document = {"conformsTo": conformance_classes(api)}
    headers = request.get_response_headers(**api.api_headers)
    if request.format == F_HTML:
        content = render_j2_template(api.tpl_config, api.config["server"]["templates"],
                                     "conformance.html", document, request.locale)
        return headers, HTTPStatus.OK, content
    return headers, HTTPStatus.OK, to_json(document, api.pretty_print)


# -- 4. execution body ------------------------------------------------------------------------------
def _execution_body_checked():
    """An execution request whose body is not a JSON object (empty, ``null``, a list):
    pygeoapi 0.21 calls ``.get`` on it and answered 500."""
    from flask import request
    if request.method != "POST" or request.url_rule is None \
            or request.url_rule.endpoint != "pygeoapi.execute_process_jobs":
        return None
    if not isinstance(request.get_json(silent=True), dict):
        return _bad_request('Corps JSON attendu : {"inputs": {…}} (voir la description du '
                            "processus, /processes/<id>).")
    return None


# -- 5. jobs ------------------------------------------------------------------------------------------
def run_sync(manager, processor, job_id: str, data: dict, requested_outputs,
             requested_response):
    """Run a process in the request, as pygeoapi's manager does (mimetype, outputs, status)."""
    return manager._execute_handler_sync(processor, job_id, data, requested_outputs,
                                         requested_response=requested_response)


def job_not_stored() -> None:
    """This execution was synchronous and is not stored: no ``Location`` header."""
    from flask import g
    g.portail_job_not_stored = True


def serve_result_as(filename: str) -> None:
    """The job result of this request is an attachment named ``filename``."""
    from flask import g
    g.portail_job_result_filename = filename


def _job_headers(response):
    from flask import g
    if g.get("portail_job_not_stored"):
        response.headers.pop("Location", None)
    filename = g.get("portail_job_result_filename")
    if filename and response.status_code == 200:
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
