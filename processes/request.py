"""The export request: the inputs of the ``export`` process, checked at the edge.

Only the shape is checked here (names against the data dictionary, numbers,
formats); what needs the database (territory codes, loaded millésimes, size)
is checked in ``selection.py``. Every refusal is an ``ExportInputError`` with
a French message (400).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from data_dictionary.model import Dictionary, Layer
from processes.errors import ExportInputError

FORMATS = ("xlsx", "csv", "gpkg")
# Territory kinds -> French name used in messages.
TERRITORY_KINDS = {"communes": "commune", "iris": "IRIS", "qpv": "QPV"}
CODE_PATTERNS = {
    "communes": re.compile(r"^[0-9][0-9AB][0-9]{3}$"),
    "iris": re.compile(r"^[0-9][0-9AB][0-9]{7}$"),
    "qpv": re.compile(r"^[A-Z]{2}[0-9A-Z]{5,8}$"),
}
MAX_LAYERS = 20
MAX_CODES = 1000
MEL_BBOX = (2.7, 50.45, 3.35, 50.85)   # lon/lat envelope the bbox must meet


@dataclass(frozen=True)
class Territory:
    """The whole MEL (kind 'mel'), a list of codes of one kind, or a lon/lat bbox."""
    kind: str                                   # mel | communes | iris | qpv | bbox
    codes: tuple[str, ...] = ()
    bbox: tuple[float, float, float, float] | None = None

    def describe(self) -> str:
        if self.kind == "mel":
            return "Métropole Européenne de Lille (toutes les communes)"
        if self.kind == "bbox":
            return "emprise (lon/lat WGS 84) " + ", ".join(f"{v:g}" for v in self.bbox)
        shown = ", ".join(self.codes[:20]) + (" …" if len(self.codes) > 20 else "")
        return f"{TERRITORY_KINDS[self.kind]} : {shown}"


@dataclass(frozen=True)
class ExportRequest:
    layers: tuple[Layer, ...]
    territory: Territory
    millesimes: tuple[int, ...]      # empty: the latest loaded millésime of each layer
    format: str


def exportable(layer: Layer) -> bool:
    """A layer is exportable when the dictionary lists its scale among its export scales."""
    return layer.scale in layer.scales.export


def exported_fields(layer: Layer) -> list:
    """The fields of a layer exported at its scale, in dictionary order."""
    return [f for f in layer.fields.values() if layer.scale in f.scales.export]


def parse_request(data: dict, dic: Dictionary) -> ExportRequest:
    if not isinstance(data, dict):
        raise ExportInputError("les entrées du processus doivent être un objet JSON")
    unknown = sorted(set(data) - {"layers", "territory", "millesime", "format"})
    if unknown:
        raise ExportInputError(f"entrée inconnue : {_short(unknown[0])} (entrées possibles : "
                               "layers, territory, millesime, format)")
    return ExportRequest(_layers(data.get("layers"), dic), _territory(data.get("territory")),
                         _millesimes(data.get("millesime")), _format(data.get("format")))


def _short(value, n: int = 40) -> str:
    return repr(str(value)[:n])


def _layers(value, dic: Dictionary) -> tuple[Layer, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ExportInputError("layers : indiquez au moins une couche (nom de collection), "
                               f"parmi : {', '.join(n for n, l in dic.layers.items() if exportable(l))}")
    if len(value) > MAX_LAYERS:
        raise ExportInputError(f"layers : au plus {MAX_LAYERS} couches par export")
    layers = []
    for name in value:
        layer = dic.layers.get(name) if isinstance(name, str) else None
        if layer is None:
            raise ExportInputError(
                f"layers : couche inconnue {_short(name)} ; couches exportables : "
                f"{', '.join(n for n, l in dic.layers.items() if exportable(l))}")
        if not exportable(layer):
            raise ExportInputError(
                f"layers : la couche {layer.name!r} ({layer.title.fr}) n'est pas exportable à "
                f"l'échelle {layer.scale} selon le dictionnaire de données")
        if layer not in layers:
            layers.append(layer)
    return tuple(layers)


def _territory(value) -> Territory:
    if value is None or (isinstance(value, str) and value.strip().upper() == "MEL"):
        return Territory("mel")
    if not isinstance(value, dict) or len(value) != 1:
        raise ExportInputError(
            "territory : « MEL », ou un objet avec une seule clé parmi communes, iris, qpv "
            "(liste de codes) ou bbox (lon min, lat min, lon max, lat max)")
    (kind, payload), = value.items()
    if kind == "mel" and payload in (True, "MEL"):
        return Territory("mel")
    if kind == "bbox":
        return Territory("bbox", bbox=_bbox(payload))
    if kind not in TERRITORY_KINDS:
        raise ExportInputError(f"territory : type de territoire inconnu {_short(kind)} "
                               "(communes, iris, qpv, bbox ou MEL)")
    if isinstance(payload, str):
        payload = [payload]
    if not isinstance(payload, list) or not payload:
        raise ExportInputError(f"territory.{kind} : une liste de codes est attendue")
    if len(payload) > MAX_CODES:
        raise ExportInputError(f"territory.{kind} : au plus {MAX_CODES} codes")
    codes = []
    for code in payload:
        if not isinstance(code, str) or not CODE_PATTERNS[kind].match(code.strip().upper()):
            raise ExportInputError(f"territory.{kind} : code {TERRITORY_KINDS[kind]} "
                                   f"mal formé {_short(code)}")
        if code.strip().upper() not in codes:
            codes.append(code.strip().upper())
    return Territory(kind, codes=tuple(codes))


def _bbox(value) -> tuple[float, float, float, float]:
    try:
        box = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        box = ()
    if len(box) != 4 or not all(math.isfinite(v) for v in box) \
            or not (box[0] < box[2] and box[1] < box[3]) \
            or not (-180 <= box[0] and box[2] <= 180 and -90 <= box[1] and box[3] <= 90):
        raise ExportInputError("territory.bbox : quatre nombres attendus, lon min, lat min, "
                               "lon max, lat max (WGS 84), avec min < max")
    if box[2] < MEL_BBOX[0] or box[0] > MEL_BBOX[2] or box[3] < MEL_BBOX[1] or box[1] > MEL_BBOX[3]:
        raise ExportInputError("territory.bbox : l'emprise ne recoupe pas la Métropole "
                               "Européenne de Lille (lon/lat WGS 84 attendus)")
    return box


def _millesimes(value) -> tuple[int, ...]:
    if value is None:
        return ()
    values = value if isinstance(value, list) else [value]
    years = []
    for v in values:
        if isinstance(v, bool) or not (isinstance(v, int) or (isinstance(v, str) and v.isdigit())) \
                or not 1990 <= int(v) <= 2100:
            raise ExportInputError(f"millesime : année attendue (ex. 2025), reçu {_short(v)}")
        years.append(int(v))
    if not years or len(years) > 12:
        raise ExportInputError("millesime : une à douze années")
    return tuple(sorted(set(years)))


def _format(value) -> str:
    if value is None:
        return "xlsx"
    fmt = str(value).strip().lower()
    if fmt not in FORMATS:
        raise ExportInputError(f"format : {_short(value)} non pris en charge (xlsx, csv ou gpkg)")
    return fmt
