"""pygeoapi-config.yml, generated from the data dictionary.

The fixed part (server, logging, metadata) is ``pygeoapi-base.yml`` beside
this file; each dictionary layer becomes one collection. The output is
deterministic, so a test can compare it byte for byte with the committed file.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import yaml

from data_dictionary.model import Dictionary, Layer, dictionary
from portail.errors import UserError
from portail.settings import SOURCE_MENTION

BASE = Path(__file__).resolve().parent / "pygeoapi-base.yml"
PROVIDER = "providers.published.PublishedViewProvider"
STORAGE_CRS = "http://www.opengis.net/def/crs/EPSG/0/2154"
CRS_LIST = [
    "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
    "http://www.opengis.net/def/crs/EPSG/0/4326",
    "http://www.opengis.net/def/crs/EPSG/0/2154",
    "http://www.opengis.net/def/crs/EPSG/0/3857",
]
GEOMETRY_COLUMN = "geom"     # storage geometry (EPSG:2154) of every diffusion view
PORTAL_URL = "${PORTAIL_URL:-http://127.0.0.1:5000}"
STYLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/styles"   # OGC API - Styles
LICENCE_URL = "https://www.lillemetropole.fr"
HEADER = ("# GENERATED FILE - do not edit. Source: data_dictionary/ (themes/*.yml and\n"
          "# pygeoapi-base.yml). Regenerate with `portail-lls config generate`;\n"
          "# tests/test_dictionary_drift.py fails if this file is out of date.\n")

MENTION_EN = ("Source mention required on every document built from these data: "
              f"« {SOURCE_MENTION} ».")
MENTION_FR = f"Mention obligatoire sur tout document issu de ces données : « {SOURCE_MENTION} »."


def collection(layer: Layer) -> dict:
    """The pygeoapi resource of one dictionary layer."""
    source = layer.source
    description = {
        "fr": (f"{layer.description.fr} Source : {source.producer.fr} ({source.file}), "
               f"rythme de mise à jour : {source.update_rhythm}. {MENTION_FR}"),
        "en": (f"{layer.description.en} Source: {source.producer.en} ({source.file}), "
               f"update rhythm: {source.update_rhythm_en}. {MENTION_EN}"),
    }
    links = [
        {"type": "text/html", "rel": "describedby",
         "title": f"Dictionnaire de données : {layer.title.fr}",
         "href": f"{PORTAL_URL}/dictionnaire#{layer.name}", "hreflang": "fr-FR"},
        {"type": "text/html", "rel": "license",
         "title": "Convention d'accès au portail (usage professionnel, diffusion brute interdite)",
         "href": LICENCE_URL, "hreflang": "fr-FR"},
    ]
    links.append({"type": "application/json", "rel": STYLES_REL,
                  "title": "Styles de la couche (QGIS QML, SLD 1.1)",
                  "href": f"{PORTAL_URL}/collections/{layer.name}/styles", "hreflang": "fr-FR"})
    if source.url:
        links.append({"type": "text/html", "rel": "via", "title": source.producer.fr,
                      "href": source.url, "hreflang": "fr-FR"})
    extents: dict = {"spatial": {"bbox": list(layer.bbox),
                                 "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}}
    if layer.time_field and layer.first_millesime:
        extents["temporal"] = {
            "begin": datetime(int(layer.first_millesime), 1, 1, tzinfo=timezone.utc),
            "end": None,
            "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
        }
    provider = {
        "type": "feature",
        "name": PROVIDER,
        "data": {"view": layer.view},
        "id_field": layer.id_field,
    }
    if layer.title_field:
        provider["title_field"] = layer.title_field
    if layer.time_field:
        provider["time_field"] = layer.time_field
    provider.update({"geom_field": GEOMETRY_COLUMN, "storage_crs": STORAGE_CRS,
                     "crs": list(CRS_LIST)})
    return {
        "type": "collection",
        "title": {"fr": layer.title.fr, "en": layer.title.en},
        "description": description,
        "keywords": {"fr": list(layer.keywords["fr"]), "en": list(layer.keywords["en"])},
        "links": links,
        "extents": extents,
        "providers": [provider],
    }


def generate_config(dic: Dictionary | None = None) -> dict:
    dic = dic or dictionary()
    config = yaml.safe_load(BASE.read_text(encoding="utf-8"))
    processes = config.pop("resources", None) or {}   # OGC API processes, from the base
    config["resources"] = {name: collection(layer)
                           for theme in dic.themes for name, layer in theme.layers.items()}
    clash = sorted(set(processes) & set(config["resources"]))
    if clash:
        raise UserError(f"Nom de couche réservé à un processus : {', '.join(clash)}",
                        hint="Renommez la couche dans data_dictionary/themes/.")
    config["resources"].update(processes)
    return config


def render_config(dic: Dictionary | None = None) -> str:
    """The text of pygeoapi-config.yml (deterministic)."""
    body = yaml.safe_dump(generate_config(dic), sort_keys=False, allow_unicode=True,
                          width=100, default_flow_style=False)
    return HEADER + body


def write_config(path: Path, dic: Dictionary | None = None) -> bool:
    """Write the generated config; return True if the file changed."""
    text = render_config(dic)
    path = Path(path)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return True
