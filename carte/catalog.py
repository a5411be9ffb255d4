"""What the map offers, read from the data dictionary: themes, indicators, layers per scale.

A *map layer* is a published view of a theme at one of the map's scales (commune, IRIS,
QPV, résidence) that carries a secrecy status; an *indicator* is one of its numeric
fields, with its French/English label and unit. Each indicator names the status column
that governs it (``statut_secret``, or ``statut_quittance`` for rents + charges,
``statut_qpv`` for the inside/outside-QPV split of allocations, as in docs/secret.md),
so that the page can say why a value is hidden instead of drawing it as zero.
"""
from __future__ import annotations

from functools import lru_cache

from data_dictionary.model import BPE_DOMAINS, SCALE_LABELS, Dictionary, Field, Layer, dictionary

MAP_SCALES = ("commune", "iris", "qpv", "residence")
# Fields that are numbers but not indicators.
NOT_INDICATORS = {"millesime", "millesime_cog", "annee_construction"}
# The map's context layers (points and outlines), by collection name.
CONTEXT_LAYERS = {
    "etablissements_scolaires": {"kind": "point", "label_field": "nom",
                                 "title": {"fr": "Écoles, collèges, lycées",
                                           "en": "Schools"}},
    "arrets_transport": {"kind": "point", "label_field": "stop_name", "mode_field": "mode",
                         "modes": {"metro": {"fr": "métro", "en": "metro"},
                                   "tram": {"fr": "tramway", "en": "tram"},
                                   "bus": {"fr": "bus", "en": "bus"}},
                         "title": {"fr": "Arrêts métro / tram / bus",
                                   "en": "Metro / tram / bus stops"}},
    "equipements": {"kind": "point", "label_field": "typequ", "family_field": "domaine",
                    "title": {"fr": "Équipements (par famille)",
                              "en": "Facilities (by family)"}},
    "qpv": {"kind": "outline", "label_field": "nom_qpv",
            "title": {"fr": "Contours des QPV", "en": "QPV outlines"}},
    "communes": {"kind": "outline", "label_field": "nom",
                 "title": {"fr": "Limites communales", "en": "Commune boundaries"}},
}

# Layers of the map's own background (no checkbox: drawn under everything else when the
# background is the portal's): the metro and tram lines, coloured by line, under the stations.
FOND_LAYERS = {
    "lignes_transport": {"kind": "line", "label_field": "route_long_name", "mode_field": "mode",
                         "fields": ["route_id", "route_short_name", "route_color", "direction_id"],
                         "modes": {"metro": {"fr": "métro", "en": "metro"},
                                   "tram": {"fr": "tramway", "en": "tram"}},
                         "title": {"fr": "Lignes de métro et de tramway",
                                   "en": "Metro and tram lines"}},
}


def status_field(layer: Layer, field: Field) -> str | None:
    """The status column of ``layer`` that says whether ``field`` is published."""
    if "statut_quittance" in layer.fields and field.source.key != layer.source.key:
        return "statut_quittance"
    if "statut_qpv" in layer.fields and ("hors_qpv" in field.name or "en_qpv" in field.name):
        return "statut_qpv"
    return "statut_secret" if "statut_secret" in layer.fields else None


def is_map_layer(layer: Layer) -> bool:
    """A theme view at one map scale with a secrecy status and a territory key.

    A view whose rows mix scales (the neighbourhood diagnosis: IRIS and QPV rows) is not
    drawn: the map shows one layer per theme and scale."""
    return (layer.scale in MAP_SCALES and layer.scales.consultation == (layer.scale,)
            and "statut_secret" in layer.fields
            and ("code" in layer.fields or "residence_id" in layer.fields))


def indicator_fields(layer: Layer) -> list[Field]:
    return [f for f in layer.fields.values()
            if f.type in ("integer", "number") and f.name not in NOT_INDICATORS]


def _text(t) -> dict:
    return {"fr": t.fr, "en": t.en} if t is not None else None


def build_catalog(dic: Dictionary) -> dict:
    """The JSON the page reads at start (labels in French and English)."""
    themes = []
    for theme in sorted(dic.themes, key=lambda t: t.order):
        layers = {lay.scale: lay for lay in theme.layers.values() if is_map_layer(lay)}
        if not layers:
            continue
        indicators: dict[str, dict] = {}
        for scale in MAP_SCALES:
            layer = layers.get(scale)
            if layer is None:
                continue
            for f in indicator_fields(layer):
                entry = indicators.setdefault(f.name, {
                    "name": f.name, "label": _text(f.label), "unit": _text(f.unit),
                    "definition": _text(f.definition), "type": f.type, "scales": {}})
                entry["scales"][scale] = status_field(layer, f)
        mel = next((lay.name for lay in theme.layers.values() if lay.scale == "mel"), None)
        themes.append({
            "name": theme.name, "title": _text(theme.title), "mel": mel,
            "layers": {scale: {"name": lay.name, "title": _text(lay.title),
                               "id_field": lay.id_field,
                               "key_field": "code" if "code" in lay.fields else "residence_id",
                               "statuses": [n for n in lay.fields if n.startswith("statut_")]}
                       for scale, lay in layers.items()},
            "indicators": list(indicators.values()),
        })
    context = {}
    for name, spec in CONTEXT_LAYERS.items():
        layer = dic.layers.get(name)
        if layer is None:
            continue
        context[name] = {**spec, "name": name, "scale": layer.scale}
    fond = {name: {**spec, "name": name} for name, spec in FOND_LAYERS.items() if name in dic.layers}
    return {
        "scales": {s: SCALE_LABELS[s] for s in MAP_SCALES},
        "themes": themes,
        "context": context,
        "fond": fond,
        "equipment_families": BPE_DOMAINS,
    }


def allowed_layers(dic: Dictionary) -> dict[str, Layer]:
    """The collections the map's data endpoint may read (theme + context layers)."""
    out = {name: lay for name, lay in dic.layers.items() if is_map_layer(lay)}
    out.update({name: dic.layers[name] for name in CONTEXT_LAYERS if name in dic.layers})
    out.update({name: dic.layers[name] for name in FOND_LAYERS if name in dic.layers})
    return out


@lru_cache(maxsize=1)
def catalog() -> dict:
    return build_catalog(dictionary())
