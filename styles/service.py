"""Styles and QGIS projects, generated once per data version and kept in memory.

The class limits come from the published views through ``carte.classes`` (the map's
own computation, itself cached per data version), so QGIS and the map draw the same
classes. A new publication bumps the data version: the next request builds new files.
The documents carry no figure of any row, only class limits computed over published
values (a hidden figure is NULL in the views and never enters them).
"""
from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass

from carte.classes import ClassRequest, class_limits
from data_dictionary.model import Dictionary, Layer, dictionary
from diffusion.cache import LRU
from diffusion.errors import InvalidQuery, NotPublished
from diffusion.store import connection, data_version
from styles import projet, qml, sld
from styles.regles import LayerStyle, build_style, main_indicator, needs_classes

FORMATS = {
    "qml": ("application/vnd.qgis.qml", "qml"),
    "sld11": ("application/vnd.ogc.sld+xml;version=1.1", "sld"),
}
LOGGER = logging.getLogger(__name__)
QGZ_TYPE = "application/vnd.qgis.qgz"
IN_EVERY_PROJECT = ("territoires", "contexte")   # themes that come with each theme's project
_documents = LRU(256)
_styles = LRU(8)
_lock = threading.Lock()


@dataclass(frozen=True)
class Document:
    body: bytes
    media_type: str
    filename: str
    etag: str


def current_version() -> int:
    with connection() as conn:
        return data_version(conn)


def _limits(layer: Layer) -> dict | None:
    if not needs_classes(layer):
        return None
    request = ClassRequest(layer, main_indicator(layer), None, "quantiles",
                           fixed="millesime" not in layer.fields)
    try:
        return class_limits(request)
    except (NotPublished, InvalidQuery):
        # a view not (yet) published: its layer has no classes, the others keep theirs
        LOGGER.warning("styles: no class limits for %s (view not published)", layer.name)
        return {}


def styles_for(version: int, dic: Dictionary | None = None) -> dict[str, LayerStyle]:
    """Every layer's style for this data version (built once, under a lock)."""
    found = _styles.get(version)
    if found is not None:
        return found
    with _lock:
        found = _styles.get(version)
        if found is None:
            dic = dic or dictionary()
            found = {name: build_style(layer, _limits(layer)) for name, layer in dic.layers.items()}
            _styles.put(version, found)
    return found


def _document(key: tuple, build, media_type: str, filename: str) -> Document:
    found = _documents.get(key)
    if found is None:
        body = build()
        etag = hashlib.sha256(body).hexdigest()[:32]
        found = Document(body, media_type, filename, etag)
        _documents.put(key, found)
    return found


def stylesheet(collection: str, fmt: str, version: int | None = None) -> Document:
    """The QML or SLD 1.1 of a collection (``fmt`` in ``FORMATS``)."""
    version = current_version() if version is None else version
    media_type, extension = FORMATS[fmt]
    writer = qml.qml if fmt == "qml" else sld.sld
    return _document((version, "style", collection, fmt),
                     lambda: writer(styles_for(version)[collection]),
                     media_type, f"{collection}.{extension}")


def project(public_url: str, theme: str | None = None, version: int | None = None) -> Document:
    """The .qgz of every theme, or of one theme with the territories and the context."""
    version = current_version() if version is None else version
    dic = dictionary()
    names = [t.name for t in dic.themes]
    if theme is None:
        themes, title, name = names, "Portail LLS de la MEL", "portail-lls-mel"
    else:
        chosen = next(t for t in dic.themes if t.name == theme)
        themes = [t for t in names if t == theme or t in IN_EVERY_PROJECT]
        title = f"Portail LLS de la MEL — {chosen.title.fr}"
        name = f"portail-lls-mel-{theme}"
    ticked = theme or projet.DEFAULT_TICKED
    return _document((version, "projet", public_url, theme),
                     lambda: projet.qgz(dic, styles_for(version), public_url, themes, title,
                                        version, name, ticked),
                     QGZ_TYPE, f"{name}.qgz")
