"""The QGIS project (.qgz) of the portal: every layer, styled, grouped by theme then scale.

Written as the XML QGIS 3 reads (``<qgis>`` with the project CRS, the layer tree, the map
layers and the project's metadata), zipped with the ``.qgs`` inside, as QGIS saves a
``.qgz``. Each layer is an OGC API - Features layer (provider ``OAPIF``) of the portal's
public URL with ``authcfg=AUTHCFG_ID``: the identifier of a Basic authentication
configuration that the user creates once in QGIS with this identifier (the training page
says how); the file never holds a login or a password. Layers are in Lambert-93 (the
project CRS; QGIS reprojects the API's CRS84), visible by scale as on the map, and only
the project's theme (the stock for the project of every theme), the commune limits and
the metro and tram lines are ticked when the project opens (QGIS asks the
server only for what it draws).
"""
from __future__ import annotations

import io
import xml.etree.ElementTree as ET
import zipfile

from data_dictionary.model import SCALE_LABELS, SCALES, Dictionary
from portail.settings import SOURCE_MENTION
from styles.qml import QGIS_VERSION, style_attributes, style_elements
from styles.regles import LayerStyle

AUTHCFG_ID = "portlls"           # 7 characters, as QGIS's own identifiers
PROJECT_CRS = "EPSG:2154"
LAYER_CRS = "EPSG:4326"          # what QGIS 3.22 asks the API for (CRS84 axis order)
MEL_EXTENT_L93 = (677000.0, 7040000.0, 731000.0, 7080000.0)   # xmin, ymin, xmax, ymax
DEFAULT_TICKED = "parc"          # the theme ticked in the project of every theme
CHECKED_LAYERS = {"communes", "lignes_transport"}
GEOMETRY = {"Point": ("Point", "Point"), "MultiPoint": ("Point", "MultiPoint"),
            "LineString": ("Line", "LineString"), "MultiLineString": ("Line", "MultiLineString"),
            "Polygon": ("Polygon", "Polygon"), "MultiPolygon": ("Polygon", "MultiPolygon")}


def layer_id(collection: str) -> str:
    """QGIS keeps a layer's id only if it is longer than 10 characters."""
    return f"{collection}_portail_lls"


def datasource(public_url: str, collection: str) -> str:
    return f"url='{public_url.rstrip('/')}' typename='{collection}' authcfg={AUTHCFG_ID}"


# QGIS's own identifiers (srs.db) of the two CRS: it reads ``authid`` only beside them.
SRSID = {"EPSG:2154": "145", "EPSG:4326": "3452"}


def _srs(parent: ET.Element, authid: str) -> None:
    srs = ET.SubElement(parent, "spatialrefsys")
    ET.SubElement(srs, "srsid").text = SRSID[authid]
    ET.SubElement(srs, "authid").text = authid


def map_layer(style: LayerStyle, public_url: str) -> ET.Element:
    layer = style.layer
    geometry, wkb = GEOMETRY[layer.geometry]
    element = ET.Element("maplayer", {"type": "vector", "geometry": geometry, "wkbType": wkb,
                                      **style_attributes(style)})
    ET.SubElement(element, "id").text = layer_id(layer.name)
    ET.SubElement(element, "datasource").text = datasource(public_url, layer.name)
    ET.SubElement(element, "layername").text = style.title
    _srs(ET.SubElement(element, "srs"), LAYER_CRS)
    ET.SubElement(element, "title").text = style.title
    ET.SubElement(element, "abstract").text = style.abstract
    ET.SubElement(element, "attribution", href="").text = style.attribution
    keywords = ET.SubElement(element, "keywordList")
    for word in layer.keywords["fr"]:
        ET.SubElement(keywords, "value").text = word
    metadata = ET.SubElement(element, "resourceMetadata")
    ET.SubElement(metadata, "identifier").text = layer.name
    ET.SubElement(metadata, "language").text = "fra"
    ET.SubElement(metadata, "type").text = "dataset"
    ET.SubElement(metadata, "title").text = style.title
    ET.SubElement(metadata, "abstract").text = style.abstract
    rights = ET.SubElement(metadata, "rights")
    rights.text = SOURCE_MENTION
    ET.SubElement(element, "provider", encoding="").text = "OAPIF"
    element.extend(style_elements(style))
    return element


def _group(parent: ET.Element, name: str, checked: bool, expanded: bool = True) -> ET.Element:
    return ET.SubElement(parent, "layer-tree-group", name=name,
                         checked="Qt::Checked" if checked else "Qt::Unchecked",
                         expanded="1" if expanded else "0")


def layer_tree(dic: Dictionary, styles: dict[str, LayerStyle], public_url: str,
               themes: list[str], ticked: str) -> ET.Element:
    """Groups by theme (dictionary order), then by scale (commune → point)."""
    root = ET.Element("layer-tree-group")
    for theme in dic.themes:
        if theme.name not in themes:
            continue
        layers = [lay for lay in theme.layers.values() if lay.name in styles]
        if not layers:
            continue
        tick = theme.name == ticked
        group = _group(root, theme.title.fr,
                       tick or any(lay.name in CHECKED_LAYERS for lay in layers),
                       expanded=tick)
        for scale in SCALES:
            at_scale = [lay for lay in layers if lay.scale == scale]
            if not at_scale:
                continue
            sub = _group(group, SCALE_LABELS[scale]["fr"],
                         tick or any(lay.name in CHECKED_LAYERS for lay in at_scale))
            for lay in at_scale:
                checked = (tick and lay.scale != "mel") or lay.name in CHECKED_LAYERS
                ET.SubElement(sub, "layer-tree-layer", id=layer_id(lay.name), name=styles[lay.name].title,
                              providerKey="OAPIF", source=datasource(public_url, lay.name),
                              checked="Qt::Checked" if checked else "Qt::Unchecked",
                              expanded="0")
    return root


def project_xml(dic: Dictionary, styles: dict[str, LayerStyle], public_url: str,
                themes: list[str], title: str, data_version: int,
                ticked: str = DEFAULT_TICKED) -> bytes:
    """The project's XML; ``ticked``: the theme shown when it opens (with the commune
    limits and the metro and tram lines)."""
    qgis = ET.Element("qgis", version=QGIS_VERSION, projectname=title)
    ET.SubElement(qgis, "title").text = title
    _srs(ET.SubElement(qgis, "projectCrs"), PROJECT_CRS)
    tree = layer_tree(dic, styles, public_url, themes, ticked)
    qgis.append(tree)
    layers = ET.SubElement(qgis, "projectlayers")
    chosen = [lay for t in dic.themes if t.name in themes for lay in t.layers.values()
              if lay.name in styles]
    for lay in chosen:
        layers.append(map_layer(styles[lay.name], public_url))
    # The drawing order (top first): points, lines, outlines, then the coloured territories.
    rank = {"marker": 0, "line": 1}
    order = ET.SubElement(tree, "custom-order", enabled="1")
    for lay in sorted(chosen, key=lambda lay: (rank.get(styles[lay.name].geometry_kind, 2),
                                               styles[lay.name].indicator is not None)):
        ET.SubElement(order, "item").text = layer_id(lay.name)
    xmin, ymin, xmax, ymax = MEL_EXTENT_L93
    view = ET.SubElement(qgis, "ProjectViewSettings", UseProjectScales="0")
    extent = ET.SubElement(view, "DefaultViewExtent", xmin=str(xmin), ymin=str(ymin),
                           xmax=str(xmax), ymax=str(ymax))
    _srs(extent, PROJECT_CRS)
    canvas = ET.SubElement(qgis, "mapcanvas", name="theMapCanvas", annotationsVisible="1")
    ET.SubElement(canvas, "units").text = "meters"
    box = ET.SubElement(canvas, "extent")
    for tag, value in (("xmin", xmin), ("ymin", ymin), ("xmax", xmax), ("ymax", ymax)):
        ET.SubElement(box, tag).text = str(value)
    _srs(ET.SubElement(canvas, "destinationsrs"), PROJECT_CRS)
    # QGIS reads ``projectCrs`` only when the project says it reprojects.
    properties = ET.SubElement(ET.SubElement(qgis, "properties"), "SpatialRefSys")
    ET.SubElement(properties, "ProjectionsEnabled", type="int").text = "1"
    metadata = ET.SubElement(qgis, "projectMetadata")
    ET.SubElement(metadata, "identifier").text = f"portail-lls-mel-{'-'.join(themes)}"
    ET.SubElement(metadata, "language").text = "fra"
    ET.SubElement(metadata, "title").text = title
    ET.SubElement(metadata, "abstract").text = (
        "Couches du portail des logements locatifs sociaux de la MEL (OGC API - Features), "
        "avec les styles de la carte du portail. Authentification : configuration de base "
        f"d'identifiant « {AUTHCFG_ID} » à créer une fois dans QGIS (identifiant et mot de "
        f"passe du portail). Données publiées, version {data_version}. {SOURCE_MENTION}.")
    ET.SubElement(metadata, "rights").text = SOURCE_MENTION
    ET.SubElement(metadata, "author").text = "Métropole Européenne de Lille"
    ET.indent(qgis)
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            + ET.tostring(qgis, encoding="unicode") + "\n").encode("utf-8")


def qgz(dic: Dictionary, styles: dict[str, LayerStyle], public_url: str, themes: list[str],
        title: str, data_version: int, name: str, ticked: str = DEFAULT_TICKED) -> bytes:
    """The zipped project, ``{name}.qgs`` inside (fixed dates: same input, same bytes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo(f"{name}.qgs", date_time=(2020, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, project_xml(dic, styles, public_url, themes, title,
                                           data_version, ticked))
    return buffer.getvalue()
