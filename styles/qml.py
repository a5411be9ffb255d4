"""QGIS style files (QML) of the layer styles, and the style part of a project's map layer.

The elements are those QGIS 3 writes itself (rule-based renderer, simple labelling, field
aliases, scale-dependent visibility), with only the properties the portal sets: QGIS
fills in its defaults for the others. The same elements go into the project
(``styles.projet``), so a layer looks the same whether its QML is loaded by hand or the
project is opened. ``tests/test_qgis_styles.py`` loads them in the real QGIS.
"""
from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET

from styles.regles import HATCH_GREY, NOT_APPLICABLE, SECRET_GREY, Cond, LayerStyle, Symbol

QGIS_VERSION = "3.22.0"      # the oldest QGIS the files are written for (LTR of the tests)
_KEYS = uuid.UUID("5f0c7c1e-8d4e-4a55-9a59-6d2f6f1a3b11")


def key(*parts) -> str:
    """A stable rule key: the same style gives the same bytes (cache, tests)."""
    return "{" + str(uuid.uuid5(_KEYS, "/".join(map(str, parts)))) + "}"


def rgba(colour: str | None, alpha: int = 255) -> str:
    if colour is None:
        return "0,0,0,0"
    c = colour.lstrip("#")
    return f"{int(c[0:2], 16)},{int(c[2:4], 16)},{int(c[4:6], 16)},{alpha}"


def literal(value) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, float):   # never an exponent (1e-05): QGIS reads plain decimals
        return str(int(value)) if value.is_integer() else f"{value:.10f}".rstrip("0")
    return str(value)


def expression(cond: Cond | None) -> str:
    """The QGIS expression of a filter."""
    if cond is None:
        return ""
    name = f'"{cond.field}"' if cond.field else ""
    if cond.op in ("and", "or"):
        return f" {cond.op.upper()} ".join(f"({expression(p)})" for p in cond.parts)
    if cond.op == "eq":
        return f"{name} = {literal(cond.value)}"
    if cond.op == "in":
        return f"{name} IN ({', '.join(literal(v) for v in cond.value)})"
    if cond.op == "ge":
        return f"{name} >= {literal(cond.value)}"
    if cond.op == "lt":
        return f"{name} < {literal(cond.value)}"
    if cond.op == "null":
        return f"{name} IS NULL"
    if cond.op == "notnull":
        return f"{name} IS NOT NULL"
    raise ValueError(cond.op)


def _props(parent: ET.Element, **props) -> None:
    for k, v in props.items():
        ET.SubElement(parent, "prop", k=k, v=str(v))


def _layer(parent: ET.Element, cls: str, **props) -> ET.Element:
    element = ET.SubElement(parent, "layer", {"class": cls, "pass": "0", "locked": "0",
                                              "enabled": "1"})
    _props(element, **props)
    return element


def _hatch(parent: ET.Element, name: str, distance: float) -> None:
    pattern = _layer(parent, "LinePatternFill", angle=45, distance=distance, distance_unit="MM",
                     color=rgba(HATCH_GREY), line_width=0.3, line_width_unit="MM")
    line = ET.SubElement(pattern, "symbol", type="line", name=f"@{name}@1", alpha="1",
                         clip_to_extent="1", force_rhr="0")
    _layer(line, "SimpleLine", line_color=rgba(HATCH_GREY), line_width=0.3,
           line_width_unit="MM", line_style="solid")


def symbol_element(symbol: Symbol, name: str) -> ET.Element:
    element = ET.Element("symbol", type=symbol.kind, name=name, alpha="1",
                         clip_to_extent="1", force_rhr="0")
    if symbol.kind == "fill":
        _layer(element, "SimpleFill", color=rgba(symbol.fill), outline_color=rgba(symbol.stroke),
               outline_width=symbol.stroke_width, outline_width_unit="MM",
               outline_style="dash" if symbol.dashed else "solid",
               style="solid" if symbol.fill else "no")
        if symbol.hatched:
            _hatch(element, name, 1.6)
    elif symbol.kind == "marker":
        if symbol.hatched:
            filled = _layer(element, "FilledMarker", name="circle", size=symbol.size,
                            size_unit="MM", angle=0)
            inner = ET.SubElement(filled, "symbol", type="fill", name=f"@{name}@0", alpha="1",
                                  clip_to_extent="1", force_rhr="0")
            _layer(inner, "SimpleFill", color=rgba(symbol.fill), outline_style="no",
                   style="solid")
            _hatch(inner, f"{name}@0", 0.7)
            _layer(element, "SimpleMarker", name="circle", size=symbol.size, size_unit="MM",
                   color=rgba(None), outline_color=rgba(symbol.stroke), outline_width=0.3,
                   outline_width_unit="MM", outline_style="solid")
        else:
            _layer(element, "SimpleMarker", name="circle", size=symbol.size, size_unit="MM",
                   color=rgba(symbol.fill), outline_color=rgba(symbol.stroke),
                   outline_width=symbol.stroke_width, outline_width_unit="MM",
                   outline_style="solid")
    else:
        _layer(element, "SimpleLine", line_color=rgba(symbol.stroke),
               line_width=symbol.stroke_width, line_width_unit="MM", line_style="solid",
               capstyle="round", joinstyle="round")
    return element


def renderer_element(style: LayerStyle) -> ET.Element:
    renderer = ET.Element("renderer-v2", type="RuleRenderer", symbollevels="0",
                          forceraster="0", enableorderby="0", referencescale="-1")
    rules = ET.SubElement(renderer, "rules", key=key(style.layer.name, "racine"))
    symbols = ET.SubElement(renderer, "symbols")
    for i, rule in enumerate(style.rules):
        attrs = {"key": key(style.layer.name, i, rule.label), "symbol": str(i),
                 "label": rule.label}
        if rule.cond is not None:
            attrs["filter"] = expression(rule.cond)
        ET.SubElement(rules, "rule", attrs)
        symbols.append(symbol_element(rule.symbol, str(i)))
    return renderer


def labeling_element(style: LayerStyle) -> ET.Element | None:
    if not style.label_field:
        return None
    labeling = ET.Element("labeling", type="simple")
    settings = ET.SubElement(labeling, "settings", calloutType="simple")
    text = ET.SubElement(settings, "text-style", fieldName=style.label_field, isExpression="0",
                         fontSize="8", fontSizeUnit="Point", textColor=rgba("#1d2733"),
                         textOpacity="1", fontWeight="50", fontItalic="0")
    ET.SubElement(text, "text-buffer", bufferDraw="1", bufferSize="0.8", bufferSizeUnits="MM",
                  bufferColor=rgba("#ffffff"), bufferOpacity="1", bufferNoFill="1")
    ET.SubElement(settings, "placement", placement="0", placementFlags="10",
                  centroidInside="1", centroidWhole="0")
    ET.SubElement(settings, "rendering", obstacle="1", scaleVisibility="0",
                  displayAll="0", upsidedownLabels="0", labelPerPart="0", mergeLines="0")
    return labeling


def aliases_element(style: LayerStyle) -> ET.Element:
    aliases = ET.Element("aliases")
    for index, (name, text) in enumerate(style.aliases.items()):
        ET.SubElement(aliases, "alias", field=name, index=str(index), name=text)
    return aliases


def conditional_styles_element(style: LayerStyle) -> ET.Element:
    """In the attribute table, a figure its status hides shows as a grey cell with no text:
    QGIS 3.22 reads a hidden (NULL) count as 0 from its OAPIF cache, and a 0 must not be
    read there."""
    element = ET.Element("conditionalstyles")
    ET.SubElement(element, "rowstyles")
    fields = ET.SubElement(element, "fieldstyles")
    for name, status in style.hidden_by.items():
        field_style = ET.SubElement(fields, "fieldstyle", fieldname=name)
        for code, colour, label in (("S", SECRET_GREY, "secret"),
                                    ("N", NOT_APPLICABLE, "sans objet")):
            ET.SubElement(field_style, "style", {
                "name": label, "rule": f'"{status}" = \'{code}\'',
                "background_color": colour, "background_color_alpha": "255",
                "text_color": colour, "text_color_alpha": "255"})
    return element


def style_attributes(style: LayerStyle) -> dict[str, str]:
    """The attributes QGIS keeps on the ``qgis`` (QML) or ``maplayer`` (project) element."""
    scaled = bool(style.min_scale or style.max_scale)
    return {"hasScaleBasedVisibilityFlag": "1" if scaled else "0",
            # QGIS: 0 means no limit for both bounds
            "minScale": str(style.min_scale or 100000000), "maxScale": str(style.max_scale),
            "labelsEnabled": "1" if style.label_field else "0",
            "styleCategories": "AllStyleCategories"}


def style_elements(style: LayerStyle) -> list[ET.Element]:
    parts = [renderer_element(style)]
    labeling = labeling_element(style)
    if labeling is not None:
        parts.append(labeling)
    parts.append(aliases_element(style))
    parts.append(conditional_styles_element(style))
    tip = ET.Element("mapTip")
    tip.text = style.tip
    parts.append(tip)
    return parts


def comment(text: str) -> str:
    """Text safe inside an XML comment (no « -- »)."""
    return text.replace("--", "- -")


def qml(style: LayerStyle) -> bytes:
    """The QML file of ``style`` (UTF-8)."""
    root = ET.Element("qgis", {"version": QGIS_VERSION, **style_attributes(style)})
    root.extend(style_elements(style))
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            f"<!-- {comment(style.title)}. {comment(style.attribution)}. -->\n" + body
            + "\n").encode("utf-8")
