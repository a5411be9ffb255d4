"""The data dictionary: one YAML file per theme in ``data_dictionary/themes/``.

It is the single source of truth for what the portal publishes: the pygeoapi
collections (``portail-lls config generate``), the queryables' titles, the
export labels and the dictionary documents (HTML, Markdown, XLSX) all derive
from it. Loading checks every entry and reports problems in French with the
file and the place, so that a mistake in a YAML file is caught before it
reaches the configuration.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from portail.errors import UserError

THEMES_DIR = Path(__file__).resolve().parent / "themes"

SCALES = ("commune", "iris", "qpv", "residence", "mel", "carreau", "point")
SCALE_LABELS = {
    "commune": {"fr": "Commune", "en": "Commune"},
    "iris": {"fr": "IRIS", "en": "IRIS"},
    "qpv": {"fr": "QPV", "en": "Priority neighbourhood (QPV)"},
    "residence": {"fr": "Résidence", "en": "Residence"},
    "mel": {"fr": "Métropole (MEL)", "en": "Metropolitan area (MEL)"},
    "carreau": {"fr": "Carreau de 200 m", "en": "200 m grid cell"},
    "point": {"fr": "Point (équipement, établissement, arrêt)",
              "en": "Point (facility, establishment, stop)"},
}
# BPE domains (first letter of typequ), as in the INSEE BPE nomenclature.
BPE_DOMAINS = {
    "A": {"fr": "Services aux particuliers", "en": "Services"},
    "B": {"fr": "Commerces", "en": "Shops"},
    "C": {"fr": "Enseignement", "en": "Education"},
    "D": {"fr": "Santé et action sociale", "en": "Health and social care"},
    "E": {"fr": "Transports et déplacements", "en": "Transport"},
    "F": {"fr": "Sports, loisirs et culture", "en": "Sports, leisure, culture"},
    "G": {"fr": "Tourisme", "en": "Tourism"},
}
# The public statistical-secrecy status codes (docs/secret.md), as every document built
# from the data explains them (export legend sheet, fiche). The public code says only
# « secret » (S), never why: the reason (threshold, dominance, protection of another
# hidden figure) stays internal, so a hidden cell must never read as « under 11 ».
SECRET_STATUSES = {
    "P": {"fr": "publié", "en": "published"},
    "S": {"fr": "secret : chiffre masqué. Il peut compter moins de 11 unités (logements, "
                "ménages, quittances, attributions), désigner une seule résidence "
                "(attributions : règle de dominance) ou être un chiffre plus grand masqué "
                "pour qu'on ne puisse pas retrouver un autre chiffre masqué ; le code ne dit "
                "pas lequel, exprès. Une case masquée ne veut donc pas dire « moins de 11 ».",
          "en": "secret: hidden figure. It may count fewer than 11 units (dwellings, "
                "households, rent statements, allocations), designate a single residence "
                "(allocations: dominance rule) or be a larger figure hidden so that another "
                "hidden figure cannot be worked out; the code does not say which, on purpose. "
                "A hidden cell therefore does not mean « fewer than 11 »."},
    "Z": {"fr": "rien à compter sur ce territoire : zéro publié",
          "en": "nothing to count in this territory: a published zero"},
    "N": {"fr": "sans objet à cette échelle", "en": "not applicable at this scale"},
}
RHYTHMS = {"annuel": "yearly", "tous les 2 ans": "every 2 years",
           "tous les 3 ans": "every 3 years"}
# Dictionary type -> PostgreSQL base types the published view may use for it.
FIELD_TYPES = {
    # bpchar: a char column computed in a view (no length) is reported so.
    "string": {"text", "character varying", "character", "bpchar"},
    "integer": {"smallint", "integer", "bigint"},
    "number": {"numeric", "real", "double precision"},
    "boolean": {"boolean"},
    "date": {"date"},
}
GEOMETRY_TYPES = ("Point", "MultiPoint", "LineString", "MultiLineString",
                  "Polygon", "MultiPolygon")
NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
LANGS = ("fr", "en")


@dataclass(frozen=True)
class Text:
    """A French and English text."""
    fr: str
    en: str

    def __getitem__(self, lang: str) -> str:
        return self.fr if lang == "fr" else self.en


@dataclass(frozen=True)
class Source:
    key: str
    producer: Text
    file: str
    update_rhythm: str   # one of RHYTHMS (French)
    url: str | None = None

    @property
    def update_rhythm_en(self) -> str:
        return RHYTHMS[self.update_rhythm]


@dataclass(frozen=True)
class Scales:
    consultation: tuple[str, ...]
    export: tuple[str, ...]


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    label: Text
    definition: Text
    unit: Text | None
    source: Source
    scales: Scales


@dataclass(frozen=True)
class Layer:
    """One published view = one OGC API collection."""
    name: str              # collection identifier
    theme: str
    view: str              # diffusion.<view>
    scale: str
    title: Text
    description: Text
    keywords: dict[str, tuple[str, ...]]
    source: Source
    id_field: str
    title_field: str | None
    time_field: str | None
    geometry: str
    scales: Scales
    bbox: tuple[float, float, float, float]
    first_millesime: int | None
    fields: dict[str, Field]


@dataclass(frozen=True)
class Theme:
    name: str
    order: int
    title: Text
    description: Text
    scales: Scales
    sources: dict[str, Source]
    layers: dict[str, Layer]
    path: Path


@dataclass(frozen=True)
class Dictionary:
    themes: tuple[Theme, ...]
    layers: dict[str, Layer] = field(default_factory=dict)

    def layer_for_view(self, view: str) -> Layer | None:
        return next((layer for layer in self.layers.values() if layer.view == view), None)


class _Reader:
    """Reads one theme file, collecting every problem with its place."""

    def __init__(self, path: Path):
        self.path = path
        self.problems: list[str] = []

    def fail(self, where: str, message: str) -> None:
        self.problems.append(f"{self.path.name} : {where} : {message}")

    def text(self, node, where: str, required: bool = True) -> Text | None:
        if node is None and not required:
            return None
        if not isinstance(node, dict) or not all(
                isinstance(node.get(lang), str) and node.get(lang).strip() for lang in LANGS):
            self.fail(where, "texte attendu en français et en anglais (clés fr et en)")
            return Text("?", "?")
        return Text(node["fr"].strip(), node["en"].strip())

    def scales(self, node, where: str, default: Scales | None = None) -> Scales:
        if node is None and default is not None:
            return default
        result = {}
        for kind in ("consultation", "export"):
            values = (node or {}).get(kind)
            if not isinstance(values, list) or not all(v in SCALES for v in values):
                self.fail(f"{where}.{kind}", f"liste d'échelles parmi {', '.join(SCALES)} attendue")
                values = []
            result[kind] = tuple(values)
        if not set(result["export"]) <= set(result["consultation"]):
            self.fail(where, "une échelle d'export doit aussi être une échelle de consultation")
        return Scales(**result)

    def source(self, key: str, node) -> Source:
        where = f"sources.{key}"
        if not isinstance(node, dict):
            self.fail(where, "description de source attendue")
            node = {}
        rhythm = node.get("update_rhythm")
        if rhythm not in RHYTHMS:
            self.fail(f"{where}.update_rhythm", f"rythme parmi {', '.join(RHYTHMS)} attendu")
            rhythm = "annuel"
        if not isinstance(node.get("file"), str):
            self.fail(f"{where}.file", "nom du fichier source attendu")
        return Source(key, self.text(node.get("producer"), f"{where}.producer"),
                      str(node.get("file", "?")), rhythm, node.get("url"))


def _name(reader: _Reader, name, where: str) -> bool:
    if not isinstance(name, str) or not NAME.match(name):
        reader.fail(where, f"nom {name!r} invalide (minuscules, chiffres, _)")
        return False
    return True


def _read_layer(reader: _Reader, theme: str, name: str, node: dict, theme_scales: Scales,
                sources: dict[str, Source]) -> Layer | None:
    where = f"layers.{name}"
    if not _name(reader, name, where) or not isinstance(node, dict):
        return None
    source = sources.get(node.get("source"))
    if source is None:
        reader.fail(f"{where}.source", f"source {node.get('source')!r} non déclarée dans sources")
        source = Source("?", Text("?", "?"), "?", "annuel")
    scales = reader.scales(node.get("scales"), f"{where}.scales", theme_scales)
    fields: dict[str, Field] = {}
    for fname, fnode in (node.get("fields") or {}).items():
        fwhere = f"{where}.fields.{fname}"
        if not _name(reader, fname, fwhere):
            continue
        fnode = fnode or {}
        ftype = fnode.get("type")
        if ftype not in FIELD_TYPES:
            reader.fail(f"{fwhere}.type", f"type parmi {', '.join(FIELD_TYPES)} attendu")
        fsource = sources.get(fnode.get("source", source.key), source)
        fields[fname] = Field(
            fname, ftype, reader.text(fnode.get("label"), f"{fwhere}.label"),
            reader.text(fnode.get("definition"), f"{fwhere}.definition"),
            reader.text(fnode.get("unit"), f"{fwhere}.unit", required=False), fsource,
            reader.scales(fnode.get("scales"), f"{fwhere}.scales", scales))
    if not fields:
        reader.fail(f"{where}.fields", "au moins un champ attendu")
    for role in ("id_field", "title_field", "time_field"):
        value = node.get(role)
        if (value is not None or role == "id_field") and value not in fields:
            reader.fail(f"{where}.{role}", f"{value!r} n'est pas un champ déclaré")
    if node.get("time_field") and fields.get(node["time_field"]) and \
            fields[node["time_field"]].type != "integer":
        reader.fail(f"{where}.time_field", "le millésime doit être un champ entier (année)")
    if node.get("geometry") not in GEOMETRY_TYPES:
        reader.fail(f"{where}.geometry", f"type parmi {', '.join(GEOMETRY_TYPES)} attendu")
    if node.get("scale") not in SCALES:
        reader.fail(f"{where}.scale", f"échelle parmi {', '.join(SCALES)} attendue")
    extent = node.get("extent") or {}
    bbox = extent.get("bbox")
    if not (isinstance(bbox, list) and len(bbox) == 4
            and all(isinstance(v, (int, float)) for v in bbox)
            and bbox[0] < bbox[2] and bbox[1] < bbox[3]):
        reader.fail(f"{where}.extent.bbox", "quatre nombres (lon min, lat min, lon max, lat max)")
        bbox = [0, 0, 0, 0]
    keywords = node.get("keywords") or {}
    if not all(isinstance(keywords.get(lang), list) and keywords[lang] for lang in LANGS):
        reader.fail(f"{where}.keywords", "mots-clés attendus en fr et en")
    view = node.get("view")
    _name(reader, view, f"{where}.view")
    return Layer(
        name=name, theme=theme, view=str(view), scale=str(node.get("scale")),
        title=reader.text(node.get("title"), f"{where}.title"),
        description=reader.text(node.get("description"), f"{where}.description"),
        keywords={lang: tuple(keywords.get(lang) or ()) for lang in LANGS},
        source=source, id_field=node.get("id_field"), title_field=node.get("title_field"),
        time_field=node.get("time_field"), geometry=str(node.get("geometry")),
        scales=scales, bbox=tuple(float(v) for v in bbox),
        first_millesime=extent.get("first_millesime"), fields=fields)


def read_theme(path: Path) -> tuple[Theme | None, list[str]]:
    reader = _Reader(path)
    try:
        node = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        return None, [f"{path.name} : YAML illisible : {exc}"]
    if not isinstance(node, dict):
        return None, [f"{path.name} : un document YAML (dictionnaire) attendu"]
    name = node.get("theme")
    if name != path.stem:
        reader.fail("theme", f"doit valoir le nom du fichier ({path.stem!r})")
    scales = reader.scales(node.get("scales"), "scales")
    sources = {key: reader.source(key, value) for key, value in (node.get("sources") or {}).items()}
    if not sources:
        reader.fail("sources", "au moins une source attendue")
    layers = {}
    for lname, lnode in (node.get("layers") or {}).items():
        layer = _read_layer(reader, path.stem, lname, lnode, scales, sources)
        if layer is not None:
            layers[lname] = layer
    theme = Theme(path.stem, int(node.get("order", 99)),
                  reader.text(node.get("title"), "title"),
                  reader.text(node.get("description"), "description"),
                  scales, sources, layers, path)
    return theme, reader.problems


def load_dictionary(directory: Path = THEMES_DIR) -> Dictionary:
    """Read and check every theme file; a UserError lists all the problems found."""
    themes, problems = [], []
    for path in sorted(Path(directory).glob("*.yml")):
        theme, found = read_theme(path)
        problems += found
        if theme is not None:
            themes.append(theme)
    layers: dict[str, Layer] = {}
    views: dict[str, str] = {}
    for theme in themes:
        for layer in theme.layers.values():
            if layer.name in layers:
                problems.append(f"{theme.path.name} : couche {layer.name!r} déjà déclarée "
                                f"dans le thème {layers[layer.name].theme!r}")
            if layer.view in views:
                problems.append(f"{theme.path.name} : vue {layer.view!r} déjà publiée "
                                f"par la couche {views[layer.view]!r}")
            layers[layer.name] = layer
            views[layer.view] = layer.name
    if not themes:
        problems.append(f"aucun fichier de thème dans {directory}")
    if problems:
        raise UserError("Dictionnaire de données invalide :\n  " + "\n  ".join(problems),
                        hint="Corrigez les fichiers YAML de data_dictionary/themes/.")
    themes.sort(key=lambda t: (t.order, t.name))
    return Dictionary(tuple(themes), layers)


@lru_cache(maxsize=1)
def dictionary() -> Dictionary:
    """The dictionary shipped with the code (read once per process)."""
    return load_dictionary()
