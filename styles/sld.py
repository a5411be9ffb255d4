"""SLD 1.1 (Symbology Encoding 1.1, OGC filters 1.1) of the layer styles, for other clients.

The same rules as the QML: one ``se:Rule`` per class, secret (hatched with a
``shape://slash`` graphic fill), « sans objet », « non renseigné »; scale denominators
for the visibility; the title and the abstract carry the source mention. Elements are
written in the order of the SE 1.1 schema (Rule: Name, Description, Filter,
Min/MaxScaleDenominator, symbolizers).
"""
from __future__ import annotations

import xml.etree.ElementTree as ET

from styles.regles import HATCH_GREY, Cond, LayerStyle, Symbol

SLD = "http://www.opengis.net/sld"
SE = "http://www.opengis.net/se"
OGC = "http://www.opengis.net/ogc"
XLINK = "http://www.w3.org/1999/xlink"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_LOCATION = f"{SLD} http://schemas.opengis.net/sld/1.1.0/StyledLayerDescriptor.xsd"
PIXELS_PER_MM = 1 / 0.28        # SE's standard pixel: 0.28 mm

for prefix, uri in (("sld", SLD), ("se", SE), ("ogc", OGC), ("xlink", XLINK), ("xsi", XSI)):
    ET.register_namespace(prefix, uri)


def _se(parent: ET.Element, tag: str, text: str | None = None, **attrs) -> ET.Element:
    element = ET.SubElement(parent, f"{{{SE}}}{tag}", attrs)
    if text is not None:
        element.text = text
    return element


def _svg(parent: ET.Element, name: str, value) -> None:
    _se(parent, "SvgParameter", str(value), name=name)


def _px(mm: float) -> str:
    return f"{mm * PIXELS_PER_MM:.1f}"


def _literal(value) -> str:
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.10f}".rstrip("0")
    return str(value)


def filter_element(parent: ET.Element, cond: Cond) -> None:
    def o(p, tag):
        return ET.SubElement(p, f"{{{OGC}}}{tag}")

    def write(p, c: Cond):
        if c.op in ("and", "or"):
            node = o(p, "And" if c.op == "and" else "Or")
            for part in c.parts:
                write(node, part)
            return
        if c.op == "in":
            node = o(p, "Or") if len(c.value) > 1 else p
            for value in c.value:
                write(node, Cond("eq", c.field, value))
            return
        tag = {"eq": "PropertyIsEqualTo", "ge": "PropertyIsGreaterThanOrEqualTo",
               "lt": "PropertyIsLessThan", "null": "PropertyIsNull"}.get(c.op)
        if c.op == "notnull":
            node = o(o(p, "Not"), "PropertyIsNull")
        else:
            node = o(p, tag)
        o(node, "PropertyName").text = c.field
        if c.op in ("eq", "ge", "lt"):
            o(node, "Literal").text = _literal(c.value)

    write(o(parent, "Filter"), cond)


def _fill(parent: ET.Element, colour: str) -> None:
    _svg(_se(parent, "Fill"), "fill", colour)


def _stroke(parent: ET.Element, symbol: Symbol) -> None:
    stroke = _se(parent, "Stroke")
    _svg(stroke, "stroke", symbol.stroke)
    _svg(stroke, "stroke-width", _px(symbol.stroke_width))
    if symbol.dashed:
        _svg(stroke, "stroke-dasharray", "6 3")


def _hatch_fill(parent: ET.Element, size_px: str) -> None:
    graphic = _se(_se(_se(parent, "Fill"), "GraphicFill"), "Graphic")
    mark = _se(graphic, "Mark")
    _se(mark, "WellKnownName", "shape://slash")
    stroke = _se(mark, "Stroke")
    _svg(stroke, "stroke", HATCH_GREY)
    _svg(stroke, "stroke-width", "1")
    _se(graphic, "Size", size_px)


def symbolizers(parent: ET.Element, symbol: Symbol) -> None:
    if symbol.kind == "fill":
        poly = _se(parent, "PolygonSymbolizer")
        if symbol.fill:
            _fill(poly, symbol.fill)
        _stroke(poly, symbol)
        if symbol.hatched:
            _hatch_fill(_se(parent, "PolygonSymbolizer"), "6")
    elif symbol.kind == "marker":
        graphic = _se(_se(parent, "PointSymbolizer"), "Graphic")
        mark = _se(graphic, "Mark")
        _se(mark, "WellKnownName", "circle")
        if symbol.hatched:
            _hatch_fill(mark, "4")
        elif symbol.fill:
            _fill(mark, symbol.fill)
        _stroke(mark, Symbol("marker", stroke=symbol.stroke, stroke_width=0.3))
        _se(graphic, "Size", _px(symbol.size))
    else:
        _stroke(_se(parent, "LineSymbolizer"), symbol)


def text_rule(parent: ET.Element, style: LayerStyle) -> None:
    rule = _se(parent, "Rule")
    _se(rule, "Name", "Étiquettes")
    if style.max_scale:     # the labels show where the layer shows
        _se(rule, "MinScaleDenominator", str(style.max_scale))
    if style.min_scale:
        _se(rule, "MaxScaleDenominator", str(style.min_scale))
    text = _se(rule, "TextSymbolizer")
    label = _se(text, "Label")
    ET.SubElement(label, f"{{{OGC}}}PropertyName").text = style.label_field
    font = _se(text, "Font")
    _svg(font, "font-family", "sans-serif")
    _svg(font, "font-size", "11")
    halo = _se(text, "Halo")
    _se(halo, "Radius", "1.5")
    _fill(halo, "#ffffff")
    _fill(text, "#1d2733")


def sld(style: LayerStyle) -> bytes:
    """The SLD 1.1 document of ``style`` (UTF-8)."""
    root = ET.Element(f"{{{SLD}}}StyledLayerDescriptor",
                      {"version": "1.1.0", f"{{{XSI}}}schemaLocation": SCHEMA_LOCATION})
    layer = ET.SubElement(root, f"{{{SLD}}}NamedLayer")
    _se(layer, "Name", style.layer.name)
    user = ET.SubElement(layer, f"{{{SLD}}}UserStyle")
    _se(user, "Name", "defaut")
    description = _se(user, "Description")
    _se(description, "Title", style.title)
    _se(description, "Abstract", f"{style.abstract}\n\n{style.attribution}")
    feature_style = _se(user, "FeatureTypeStyle")
    for rule in style.rules:
        element = _se(feature_style, "Rule")
        _se(element, "Name", rule.label)
        _se(_se(element, "Description"), "Title", rule.label)
        if rule.cond is not None:
            filter_element(element, rule.cond)
        if style.max_scale:
            _se(element, "MinScaleDenominator", str(style.max_scale))
        if style.min_scale:
            _se(element, "MaxScaleDenominator", str(style.min_scale))
        symbolizers(element, rule.symbol)
    if style.label_field:
        text_rule(feature_style, style)
    ET.indent(root)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8",
                                                                       xml_declaration=False)
