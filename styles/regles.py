"""The style of each published layer, derived from the data dictionary, with the map page's rules.

One ``LayerStyle`` per collection, written as QML (``styles.qml``) and SLD 1.1
(``styles.sld``) and embedded in the QGIS project (``styles.projet``):

- a theme layer (or any layer with a numeric indicator) is coloured by classes of its main
  indicator — the first numeric field of the dictionary, the one the map page shows
  first — with the class limits of the map (``carte.classes``: quantiles over the
  published values of the latest millésime, rounded; per data version); the figures a
  status hides are hatched grey (« secret »), never drawn as a class or as 0; « sans
  objet » (N) and « non renseigné » (published row, empty figure) have their own rules;
- the territory outlines (communes, IRIS, QPV) are outlines, the communes labelled with
  their names; point layers are drawn by family or by mode where the dictionary has the
  field (BPE domains, stop modes), the metro and tram lines by mode;
- field aliases are the dictionary's French labels with their unit; the layer's title,
  abstract and attribution carry its source and the source mention;
- scale-dependent visibility mirrors the map: communes when zoomed out, then IRIS and QPV,
  then résidences (the map's zoom thresholds, ``MAP_ZOOMS``, turned into scales).

Filters are kept as a small tree (``Cond``) so that the same rule is written as a QGIS
expression and as an OGC filter.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from carte.catalog import indicator_fields, status_field
from data_dictionary.model import BPE_DOMAINS, Layer
from portail.settings import SOURCE_MENTION

# The map page's zoom thresholds (carte/static/carte.js: ZOOM_IRIS, ZOOM_RESIDENCE,
# CONTEXT_MIN_ZOOM.equipements); tests/test_styles.py checks that they still agree.
MAP_ZOOMS = {"iris": 12, "residence": 15, "equipements": 13}
# metres per pixel at zoom 0 at the latitude of Lille, as carte/layers.py
METRES_PER_PIXEL_Z0 = 156543.03 * math.cos(math.radians(50.6))
OGC_PIXEL_M = 0.00028          # the standard rendering pixel of SLD/SE and QGIS


def scale_of_zoom(zoom: int) -> int:
    """The scale denominator of a web-map zoom level at Lille, two significant figures."""
    scale = METRES_PER_PIXEL_Z0 / (2 ** zoom) / OGC_PIXEL_M
    power = 10 ** (math.floor(math.log10(scale)) - 1)
    return int(round(scale / power) * power)


COMMUNE_MIN = scale_of_zoom(MAP_ZOOMS["iris"])            # communes above this scale
RESIDENCE_MAX = scale_of_zoom(MAP_ZOOMS["residence"])     # résidences below this one
EQUIPEMENT_MAX = scale_of_zoom(MAP_ZOOMS["equipements"])

# The map page's colours (carte/static/carte.js: COLOURS, the secret grey, N, no data).
PALETTE = ("#fff5d6", "#fdd08a", "#f89a52", "#d9542c", "#8f1d12")
SECRET_GREY, HATCH_GREY = "#d9d9d9", "#6b6b6b"
NOT_APPLICABLE, NO_DATA = "#f2f2f2", "#ffffff"
OUTLINE = "#5b6770"
COMMUNE_LINE, QPV_LINE = "#37474f", "#c2185b"
FAMILY_COLOURS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02",
                  "#a6761d")
MODE_COLOURS = {"metro": "#b71c1c", "tram": "#e65100", "bus": "#1565c0", "autre": "#607d8b"}
MODE_LABELS = {"metro": "Métro", "tram": "Tramway", "bus": "Bus", "autre": "Autre mode"}
SINGLE_POINTS = {"etablissements_scolaires": "#2e7d32", "etablissements_finess": "#00838f"}
# Layers whose rows are not one value per territory (one row per indicator) or that are
# the territories themselves: outlines, not classes.
OUTLINE_LAYERS = {"communes": COMMUNE_LINE, "iris": OUTLINE, "qpv": QPV_LINE,
                  "indicateurs_qpv": QPV_LINE}
LABEL_FIELDS = {"communes": "nom"}
STYLE_ID = "defaut"
STYLE_TITLE = "Style du portail (comme la carte)"


# -- filters --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cond:
    """``op`` in: eq (field = value), in (field in values), ge, lt, null, notnull, and, or."""
    op: str
    field: str | None = None
    value: object = None
    parts: tuple[Cond, ...] = ()


def eq(name, value):
    return Cond("eq", name, value)


def one_of(name, values):
    return Cond("in", name, tuple(values))


def both(*parts):
    parts = tuple(p for p in parts if p is not None)
    return parts[0] if len(parts) == 1 else Cond("and", parts=parts)


# -- symbols --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Symbol:
    """kind: fill, marker or line. ``hatched``: grey hatching over the fill (secret)."""
    kind: str
    fill: str | None = None          # None: no fill (outline only)
    stroke: str = OUTLINE
    stroke_width: float = 0.26       # mm
    size: float = 2.6                # mm, markers
    hatched: bool = False
    dashed: bool = False


@dataclass(frozen=True)
class Rule:
    label: str
    cond: Cond | None
    symbol: Symbol
    kind: str = "classe"             # classe, secret, sans_objet, non_renseigne, famille


@dataclass(frozen=True)
class LayerStyle:
    layer: Layer
    title: str
    abstract: str
    attribution: str
    rules: tuple[Rule, ...]
    aliases: dict[str, str]
    min_scale: int = 0               # 0: no limit when zooming out
    max_scale: int = 0               # 0: no limit when zooming in
    label_field: str | None = None
    indicator: str | None = None
    classes: dict = field(default_factory=dict)
    # numeric field -> the status column that hides it (for the attribute table and tips)
    hidden_by: dict[str, str] = field(default_factory=dict)
    tip: str = ""                   # QGIS map tip (HTML with [% expressions %])

    @property
    def class_rules(self) -> list[Rule]:
        return [r for r in self.rules if r.kind == "classe"]

    @property
    def geometry_kind(self) -> str:
        g = self.layer.geometry
        return "marker" if "Point" in g else "line" if "Line" in g else "fill"


def alias(layer: Layer, name: str) -> str:
    f = layer.fields[name]
    return f"{f.label.fr} ({f.unit.fr})" if f.unit else f.label.fr


def visibility(layer: Layer) -> tuple[int, int]:
    """(min_scale, max_scale) as QGIS reads them: shown while max < scale < min."""
    if layer.scale == "commune":
        return 0, COMMUNE_MIN
    if layer.scale in ("iris", "qpv", "carreau"):
        return COMMUNE_MIN, RESIDENCE_MAX
    if layer.scale == "residence":
        return RESIDENCE_MAX, 0
    if layer.name == "equipements":
        return EQUIPEMENT_MAX, 0
    if layer.scale == "point" and "Point" in layer.geometry:
        return COMMUNE_MIN, 0
    return 0, 0


def palette(k: int) -> list[str]:
    """k colours of the map's sequential palette, spread from light to dark."""
    if k <= 1:
        return [PALETTE[2]]
    return [PALETTE[round(i * (len(PALETTE) - 1) / (k - 1))] for i in range(k)]


def french_number(value: float) -> str:
    """1500.5 -> « 1 500,5 » (no-break space): every decimal a class limit has (limits are
    rounded, at most a few decimals), so that two limits never read the same."""
    text = f"{float(value):,.6f}".rstrip("0").rstrip(".")
    return text.replace(",", "\u00a0").replace(".", ",")


def class_labels(limits: dict, unit: str | None) -> list[tuple[str, float | None, float | None]]:
    """[(label, low, high)] of each class: low <= value < high (None: open end)."""
    breaks = list(limits.get("breaks") or [])
    if not limits.get("count"):
        return []
    unit_text = f" {unit}" if unit else ""
    bounds = [None, *breaks, None]
    out = []
    for low, high in zip(bounds, bounds[1:]):
        if low is None and high is None:
            label = f"{french_number(limits['min'])} à {french_number(limits['max'])}{unit_text}"
        elif low is None:
            label = f"moins de {french_number(high)}{unit_text}"
        elif high is None:
            label = f"{french_number(low)}{unit_text} et plus"
        else:
            label = f"de {french_number(low)} à moins de {french_number(high)}{unit_text}"
        out.append((label, low, high))
    return out


def _range(name: str, low, high) -> Cond:
    return both(Cond("ge", name, low) if low is not None else None,
                Cond("lt", name, high) if high is not None else None,
                Cond("notnull", name) if low is None and high is None else None)


def choropleth_rules(layer: Layer, indicator: str, limits: dict) -> list[Rule]:
    """Classes of the indicator among published rows; secret hatched; N and empty apart.

    The status decides before the value: QGIS 3.22 reads a hidden (NULL) count as 0 once
    its OAPIF cache holds the layer, so a rule on the value alone would draw a hidden
    figure in the first class. A row whose status is S is hatched whatever QGIS reads;
    where a status covers several fields (the neighbourhood diagnosis), that is on the
    safe side."""
    kind = "marker" if "Point" in layer.geometry else "fill"
    status = status_field(layer, layer.fields[indicator])
    published = (Cond("or", parts=(Cond("null", status), one_of(status, ("P", "Z"))))
                 if status else None)
    unit = layer.fields[indicator].unit.fr if layer.fields[indicator].unit else None
    rules = []
    classes = class_labels(limits, unit)
    for i, ((label, low, high), colour) in enumerate(zip(classes, palette(len(classes)))):
        size = 2.0 + 1.0 * i if kind == "marker" else 2.6
        rules.append(Rule(label, both(published, _range(indicator, low, high)),
                          Symbol(kind, colour, "#333333" if kind == "marker" else OUTLINE,
                                 size=size)))
    if status:
        rules.append(Rule("secret : chiffre masqué (jamais un zéro)", eq(status, "S"),
                          Symbol(kind, SECRET_GREY, "#333333" if kind == "marker" else OUTLINE,
                                 size=3.6, hatched=True), "secret"))
        rules.append(Rule("sans objet à cette échelle", eq(status, "N"),
                          Symbol(kind, NOT_APPLICABLE, OUTLINE), "sans_objet"))
    rules.append(Rule("non renseigné", both(published, Cond("null", indicator)),
                      Symbol(kind, NO_DATA, OUTLINE), "non_renseigne"))
    return rules


def context_rules(layer: Layer) -> list[Rule]:
    """Outlines, families, modes or one symbol for the context layers."""
    if layer.name in OUTLINE_LAYERS:
        colour = OUTLINE_LAYERS[layer.name]
        return [Rule(layer.title.fr, None,
                     Symbol("fill", None, colour, 0.6 if layer.name != "iris" else 0.3,
                            dashed=colour == QPV_LINE), "contour")]
    if "Line" in layer.geometry and "mode" in layer.fields:
        return [Rule(MODE_LABELS.get(m, m), eq("mode", m),
                     Symbol("line", None, MODE_COLOURS[m], 1.0), "famille")
                for m in ("metro", "tram")]
    if "mode" in layer.fields:
        sizes = {"metro": 3.2, "tram": 2.8, "bus": 1.6, "autre": 1.6}
        return [Rule(MODE_LABELS[m], eq("mode", m),
                     Symbol("marker", MODE_COLOURS[m], "#ffffff", 0.2, sizes[m]), "famille")
                for m in ("metro", "tram", "bus", "autre")]
    if "domaine" in layer.fields:
        return [Rule(text["fr"], eq("domaine", code),
                     Symbol("marker", colour, "#ffffff", 0.2, 2.2), "famille")
                for (code, text), colour in zip(BPE_DOMAINS.items(), FAMILY_COLOURS)]
    colour = SINGLE_POINTS.get(layer.name, "#455a64")
    return [Rule(layer.title.fr, None, Symbol("marker", colour, "#ffffff", 0.2, 2.4), "famille")]


def main_indicator(layer: Layer) -> str | None:
    """The indicator the map shows first: the dictionary's first numeric field."""
    fields = indicator_fields(layer)
    return fields[0].name if fields else None


def needs_classes(layer: Layer) -> bool:
    return (layer.name not in OUTLINE_LAYERS and layer.scale != "point"
            and main_indicator(layer) is not None)


def build_style(layer: Layer, limits: dict | None) -> LayerStyle:
    """The style of ``layer``; ``limits`` (carte.classes) for layers that need classes."""
    indicator = main_indicator(layer) if needs_classes(layer) else None
    if indicator:
        rules = choropleth_rules(layer, indicator, limits or {})
        what = layer.fields[indicator].label.fr
        title = f"{layer.title.fr} — {what}"
    else:
        rules = context_rules(layer)
        title = layer.title.fr
    source = layer.source
    attribution = f"{SOURCE_MENTION} ; {source.producer.fr}"
    abstract = (f"{layer.description.fr}\n\nSource : {source.producer.fr} ({source.file}). "
                f"{SOURCE_MENTION}.")
    if indicator and "statut_secret" in layer.fields:
        abstract += ("\n\nHachures grises : chiffre masqué par le secret statistique "
                     "(jamais un zéro ; pas forcément « moins de 11 »).")
    if indicator:
        abstract += ("\n\nClasses : quantiles des valeurs publiées du dernier millésime "
                     "sur toute la MEL, comme la carte du portail.")
    low, high = visibility(layer)
    hidden_by = {}
    for spec in indicator_fields(layer):
        status = status_field(layer, spec)
        if status:
            hidden_by[spec.name] = status
    return LayerStyle(
        layer=layer, title=title, abstract=abstract, attribution=attribution,
        rules=tuple(rules), aliases={name: alias(layer, name) for name in layer.fields},
        min_scale=low, max_scale=high, label_field=LABEL_FIELDS.get(layer.name),
        indicator=indicator, classes=dict(limits or {}) if indicator else {},
        hidden_by=hidden_by, tip=map_tip(layer, indicator, hidden_by))


def map_tip(layer: Layer, indicator: str | None, hidden_by: dict[str, str]) -> str:
    """The tip QGIS shows over a feature: its name and the main indicator, « secret » or
    « sans objet » by the status (never the 0 QGIS may read for a hidden count)."""
    name = layer.title_field or layer.id_field
    lines = [f'<b>[% "{name}" %]</b>']
    if indicator:
        spec = layer.fields[indicator]
        unit = f" {spec.unit.fr}".replace("'", "''") if spec.unit else ""
        value = f'"{indicator}"'
        status = hidden_by.get(indicator)
        if status:
            value = (f"CASE WHEN \"{status}\" = 'S' THEN 'secret' "
                     f"WHEN \"{status}\" = 'N' THEN 'sans objet' "
                     f"WHEN \"{indicator}\" IS NULL THEN 'non renseigné' "
                     f"ELSE concat(\"{indicator}\", '{unit}') END")
        else:
            value = f"coalesce(concat(\"{indicator}\", '{unit}'), 'non renseigné')"
        lines.append(f"{spec.label.fr} : [% {value} %]")
    lines.append(f"<i>{SOURCE_MENTION}</i>")
    return "<br>".join(lines)
