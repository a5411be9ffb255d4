"""What a descriptive sheet (« fiche ») shows: published rows only, side by side.

For one territory (commune, IRIS, QPV or résidence) and a millésime, each theme
(parc, occupation, attributions) gives its key indicators for the territory,
its commune and the whole MEL. Every figure is read from the published
``diffusion`` views with the service role: the commune and MEL columns are the
published rows of those scales, never a sum computed here. A figure the view
does not give (secrecy, nothing to count, not applicable) stays absent and is
shown with its status code, never as 0.

Labels, units and definitions come from the data dictionary; this module only
names which fields are the key ones.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from http import HTTPStatus

from psycopg import sql
from psycopg.rows import dict_row
from pygeoapi.process.base import ProcessorExecuteError

from data_dictionary.codes import equipment_label, mode_label
from data_dictionary.model import BPE_DOMAINS, SECRET_STATUSES, Dictionary, Field, Layer
from diffusion import millesimes
from diffusion.catalogue import SCHEMA
from processes.request import CODE_PATTERNS

SCALES = {"commune": "commune", "iris": "IRIS", "qpv": "QPV", "residence": "résidence"}
THEMES = ("parc", "occupation", "attributions")
# Key indicators of each theme: (field, the status field that governs it).
KEY_INDICATORS: dict[str, tuple[tuple[str, str], ...]] = {
    "parc": (("nb_logements", "statut_secret"), ("nb_t1", "statut_secret"),
             ("nb_t2", "statut_secret"), ("nb_t3", "statut_secret"), ("nb_t4", "statut_secret"),
             ("nb_t5_plus", "statut_secret"), ("part_plai", "statut_secret"),
             ("surface_moyenne", "statut_secret"), ("taux_vacance", "statut_secret"),
             ("taux_rotation", "statut_secret"), ("part_dpe_f_g", "statut_secret"),
             ("loyer_m2", "statut_secret"), ("quittance_moyenne", "statut_quittance")),
    "occupation": (("nb_menages", "statut_secret"), ("part_1_pers", "statut_secret"),
                   ("part_5_pers_plus", "statut_secret"), ("part_monoparentaux", "statut_secret"),
                   ("part_ress_inf_60", "statut_secret"), ("part_65_plus", "statut_secret"),
                   ("part_emploi", "statut_secret"), ("part_apl", "statut_secret")),
    "attributions": (("nb_attributions", "statut_secret"), ("part_q1", "statut_secret"),
                     ("part_dalo", "statut_secret"), ("part_q1_hors_qpv", "statut_qpv"),
                     ("part_q2_q4_en_qpv", "statut_qpv")),
}
# The secrecy status codes (docs/secret.md), in French, from the one legend.
STATUS_LEGEND = {code: text["fr"] for code, text in SECRET_STATUSES.items()}
RESIDENCE_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
NEAREST_STOPS = 5
NEAREST_EQUIPMENTS = 10
AROUND_M = 500


class FicheError(ProcessorExecuteError):
    """A request the sheet cannot answer: a French message and an HTTP status."""
    ogc_exception_code = "InvalidParameterValue"

    def __init__(self, message: str, status: HTTPStatus = HTTPStatus.BAD_REQUEST):
        super().__init__(message, user_msg=message)
        self.http_status_code = status


@dataclass(frozen=True)
class Place:
    """A territory of the sheet: one column of the comparison."""
    scale: str
    code: str
    name: str


@dataclass(frozen=True)
class Cell:
    value: object | None          # the published value, or None
    status: str | None            # the status code governing it (None: no published row)


@dataclass
class ThemeBlock:
    theme: str
    title: str
    millesime: int | None
    period: str | None                       # attributions: the 3-year window
    fields: list[Field]
    cells: dict[str, list[Cell]]              # field name -> one cell per column
    note: str | None = None                   # why the block has no figure


@dataclass
class Fiche:
    place: Place
    columns: list[Place]                      # territory, [its commune], MEL
    millesime: int | None                     # the requested millésime (None: latest)
    blocks: list[ThemeBlock]
    exported: date
    context_note: str | None = None
    proximity: list[tuple[Field, object]] = field(default_factory=list)
    stops: list[dict] = field(default_factory=list)
    equipments: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    identity: list[tuple[str, object]] = field(default_factory=list)   # résidence: address…
    locator: dict | None = None                # the small locator map (SVG in Lambert-93)

    @property
    def title(self) -> str:
        return f"{self.place.name} ({SCALES[self.place.scale]} {self.place.code})"


def check_request(scale: str, code: str, millesime) -> tuple[str, str, int | None]:
    """Shape of the request: a known scale, a well-formed code, a year (400 otherwise)."""
    scale = str(scale or "").strip().lower()
    if scale not in SCALES:
        raise FicheError(f"échelle inconnue {str(scale)[:20]!r} : commune, iris, qpv ou residence")
    code = str(code or "").strip()
    pattern = {"commune": CODE_PATTERNS["communes"], "iris": CODE_PATTERNS["iris"],
               "qpv": CODE_PATTERNS["qpv"], "residence": RESIDENCE_CODE}[scale]
    if scale != "residence":
        code = code.upper()
    if not pattern.match(code):
        raise FicheError(f"code {SCALES[scale]} mal formé : {code[:40]!r}")
    if millesime in (None, ""):
        return scale, code, None
    text = str(millesime).strip()
    # ASCII digits only: str.isdigit() also accepts « ² » or fullwidth digits.
    if isinstance(millesime, bool) or not re.fullmatch(r"[0-9]{4}", text) \
            or not 1990 <= int(text) <= 2100:
        raise FicheError(f"millésime : année attendue (ex. 2025), reçu {text[:20]!r}")
    return scale, code, int(text)


def theme_layer(dic: Dictionary, theme: str, scale: str) -> Layer | None:
    """The dictionary layer of a theme at a scale that carries its key indicators."""
    wanted = {f for pair in KEY_INDICATORS[theme] for f in pair}
    return next((layer for layer in dic.layers.values()
                 if layer.theme == theme and layer.scale == scale
                 and wanted <= set(layer.fields)), None)


def _code_column(layer: Layer) -> str:
    return "residence_id" if layer.scale == "residence" else "code"


def _one(conn, query, params) -> dict | None:
    cur = conn.cursor(row_factory=dict_row)
    return cur.execute(query, params).fetchone()


def _place(conn, scale: str, code: str) -> tuple[Place, str | None]:
    """The territory (404 if not published) and the code of its commune, if published."""
    if scale == "residence":
        row = _one(conn, sql.SQL(
            "SELECT residence_id, adresse, code_insee FROM {} WHERE residence_id = %s "
            "ORDER BY millesime DESC LIMIT 1").format(sql.Identifier(SCHEMA, "parc_residence")),
            [code])
        if row is None:
            raise FicheError(f"résidence inconnue : {code}", HTTPStatus.NOT_FOUND)
        name = f"Résidence {code}" + (f", {row['adresse']}" if row["adresse"] else "")
        return Place(scale, code, name), row["code_insee"]
    view, column, name_column, commune = {
        "commune": ("commune", "code_insee", "nom", "code_insee"),
        "iris": ("iris", "code_iris", "nom_iris", "code_insee"),
        "qpv": ("qpv", "code_qpv", "nom_qpv", "communes"),
    }[scale]
    row = _one(conn, sql.SQL("SELECT {n} AS nom, {c} AS commune FROM {v} WHERE {k} = %s "
                             "ORDER BY 1 LIMIT 1").format(
        n=sql.Identifier(name_column), c=sql.Identifier(commune),
        v=sql.Identifier(SCHEMA, view), k=sql.Identifier(column)), [code])
    if row is None:
        unknown = {"commune": "commune inconnue", "iris": "IRIS inconnu", "qpv": "QPV inconnu"}
        raise FicheError(f"{unknown[scale]} : {code}", HTTPStatus.NOT_FOUND)
    commune_code = (row["commune"] or "").split(",")[0] or None
    return Place(scale, code, row["nom"]), commune_code


def _commune_place(conn, code: str | None) -> Place | None:
    if not code:
        return None
    row = _one(conn, sql.SQL("SELECT nom FROM {} WHERE code_insee = %s LIMIT 1").format(
        sql.Identifier(SCHEMA, "commune")), [code])
    return Place("commune", code, row["nom"]) if row else None


def _millesimes(conn, layer: Layer) -> list[int]:
    return millesimes.loaded(conn, layer.view, layer.time_field)


def _row(conn, layer: Layer, code: str, millesime: int, columns: list[str]) -> dict | None:
    stmt = sql.SQL("SELECT {cols} FROM {v} WHERE {k} = %s AND {m} = %s").format(
        cols=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
        v=sql.Identifier(SCHEMA, layer.view), k=sql.Identifier(_code_column(layer)),
        m=sql.Identifier(layer.time_field))
    return _one(conn, stmt, [code, millesime])


def _block(conn, dic: Dictionary, theme: str, columns: list[Place],
           millesime: int | None) -> tuple[ThemeBlock, bool]:
    """One theme; the flag says whether the requested millésime is loaded for it."""
    pairs = KEY_INDICATORS[theme]
    names = [f for f, _ in pairs]
    title = next(t.title.fr for t in dic.themes if t.name == theme)
    own = theme_layer(dic, theme, columns[0].scale)
    ref = theme_layer(dic, theme, "mel")
    fields = [(own or ref).fields[f] for f in names]
    empty = {f: [Cell(None, None) for _ in columns] for f in names}
    if own is None:
        return ThemeBlock(theme, title, None, None, fields, empty,
                          f"jamais publié à l'échelle {SCALES[columns[0].scale]}"), False
    loaded = _millesimes(conn, own)
    if not loaded:
        return ThemeBlock(theme, title, None, None, fields, empty, "aucun millésime chargé"), False
    if millesime is not None and millesime not in loaded:
        return ThemeBlock(theme, title, millesime, None, fields, empty,
                          f"millésime {millesime} non chargé pour ce thème (millésimes "
                          f"disponibles : {millesimes.available_text(loaded)})"), False
    year = millesime if millesime is not None else millesimes.default(loaded)
    statuses = sorted({s for _, s in pairs})
    cells: dict[str, list[Cell]] = {f: [] for f in names}
    period = None
    for place in columns:
        layer = theme_layer(dic, theme, place.scale)
        wanted = names + statuses + (["periode"] if "periode" in layer.fields else [])
        row = _row(conn, layer, place.code, year, wanted) if layer else None
        if row and row.get("periode") and place is columns[0]:
            period = row["periode"]
        for f, status in pairs:
            cells[f].append(Cell(row[f], row[status]) if row else Cell(None, None))
    note = None
    if cells[names[0]][0].status is None:    # no published row for the territory itself
        note = f"pas de ligne publiée pour ce territoire en {year}"
    return ThemeBlock(theme, title, year, period, fields, cells, note), True


def _residence_context(conn, dic: Dictionary, fiche: Fiche, year: int | None) -> None:
    layer = dic.layers.get("proximite_residences")
    code = fiche.place.code
    prox = None
    if layer is not None:
        columns = [f for f in layer.fields if f not in ("id", "residence_id", layer.time_field)]
        stmt = sql.SQL("SELECT {m} AS millesime, {cols} FROM {v} WHERE residence_id = %s "
                       "AND (%s::int IS NULL OR {m} <= %s) ORDER BY {m} DESC LIMIT 1").format(
            m=sql.Identifier(layer.time_field),
            cols=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
            v=sql.Identifier(SCHEMA, layer.view))
        prox = _one(conn, stmt, [code, year, year])
        if prox:
            fiche.proximity = [(layer.fields[c], prox[c]) for c in columns]
    # The résidence's position (public: every résidence is drawn on the map).
    where = sql.SQL("SELECT geom FROM {} WHERE residence_id = %s "
                    "AND (%s::int IS NULL OR millesime <= %s) ORDER BY millesime DESC LIMIT 1"
                    ).format(sql.Identifier(SCHEMA, "parc_residence"))
    cur = conn.cursor(row_factory=dict_row)
    # Nearest stops, each name and mode once (a station has one platform per direction).
    rows = cur.execute(sql.SQL(
        "WITH r AS ({where}) SELECT a.stop_name, a.mode, round(ST_Distance(a.geom, r.geom))::int AS m "
        "FROM {stops} a, r WHERE a.millesime = (SELECT max(millesime) FROM {stops}) "
        "ORDER BY a.geom <-> r.geom LIMIT %s").format(
        where=where, stops=sql.Identifier(SCHEMA, "arrets_transport")),
        [code, year, year, NEAREST_STOPS * 6]).fetchall()
    seen = set()
    for stop in rows:
        key = ((stop["stop_name"] or "").strip().lower(), stop["mode"])
        if key in seen:
            continue
        seen.add(key)
        stop["mode_label"] = mode_label(stop["mode"])
        fiche.stops.append(stop)
        if len(fiche.stops) == NEAREST_STOPS:
            break
    fiche.equipments = cur.execute(sql.SQL(
        "WITH r AS ({where}) SELECT e.typequ, e.domaine, round(ST_Distance(e.geom, r.geom))::int AS m "
        "FROM {eq} e, r WHERE e.millesime = (SELECT max(millesime) FROM {eq}) "
        "AND ST_DWithin(e.geom, r.geom, %s) ORDER BY e.geom <-> r.geom LIMIT %s").format(
        where=where, eq=sql.Identifier(SCHEMA, "equipements")),
        [code, year, year, AROUND_M, NEAREST_EQUIPMENTS]).fetchall()
    for e in fiche.equipments:
        domain = BPE_DOMAINS.get(e["domaine"])
        e["domaine_label"] = domain["fr"].lower() if domain else e["domaine"]
        e["type_label"] = equipment_label(e["typequ"])


def _residence_identity(conn, fiche: Fiche, year: int | None) -> None:
    """Address, landlord and construction year: what the published view gives (nothing
    for a résidence under secrecy)."""
    row = _one(conn, sql.SQL(
        "SELECT adresse, bailleur, annee_construction FROM {} WHERE residence_id = %s "
        "AND (%s::int IS NULL OR millesime = %s) ORDER BY millesime DESC LIMIT 1").format(
        sql.Identifier(SCHEMA, "parc_residence")), [fiche.place.code, year, year])
    if row is None:
        return
    for label, key in (("Adresse", "adresse"), ("Bailleur", "bailleur"),
                       ("Année de construction", "annee_construction")):
        if row[key] is not None:
            fiche.identity.append((label, row[key]))


# Geometry of each scale's territory in the published views (Lambert-93).
_GEOMETRY = {"commune": ("commune", "code_insee"), "iris": ("iris", "code_iris"),
             "qpv": ("qpv", "code_qpv"), "residence": ("parc_residence", "residence_id")}


def _locator(conn, fiche: Fiche, commune_code: str | None) -> None:
    """A small locator map: the communes of the MEL, the territory highlighted, framed on
    its commune (on the whole MEL for a commune). SVG paths from PostGIS (``ST_AsSVG``,
    y pointing down), simplified to about 1/400 of the frame."""
    place = fiche.place
    view, key = _GEOMETRY[place.scale]
    cur = conn.cursor(row_factory=dict_row)
    frame_code = None if place.scale == "commune" else commune_code
    frame = cur.execute(sql.SQL(
        "SELECT ST_XMin(b) AS x0, ST_YMin(b) AS y0, ST_XMax(b) AS x1, ST_YMax(b) AS y1 FROM "
        "(SELECT ST_Extent(geom)::box2d AS b FROM {} WHERE %s::text IS NULL OR code_insee = %s) e"
    ).format(sql.Identifier(SCHEMA, "commune")), [frame_code, frame_code]).fetchone()
    if not frame or frame["x0"] is None:
        return
    width, height = frame["x1"] - frame["x0"], frame["y1"] - frame["y0"]
    margin = 0.06 * max(width, height)
    tolerance = max(width, height) / 400
    communes = [r["d"] for r in cur.execute(sql.SQL(
        "SELECT ST_AsSVG(ST_SimplifyPreserveTopology(geom, %s), 0, 0) AS d FROM {} "
        "WHERE geom && ST_MakeEnvelope(%s, %s, %s, %s, 2154)").format(
        sql.Identifier(SCHEMA, "commune")),
        [tolerance, frame["x0"] - margin, frame["y0"] - margin, frame["x1"] + margin,
         frame["y1"] + margin]).fetchall()]
    target = cur.execute(sql.SQL(
        "SELECT ST_AsSVG(ST_SimplifyPreserveTopology(geom, %s), 0, 0) AS d, "
        "ST_X(ST_PointOnSurface(geom)) AS x, -ST_Y(ST_PointOnSurface(geom)) AS y, "
        "GeometryType(geom) AS kind FROM {} WHERE {} = %s AND geom IS NOT NULL "
        "ORDER BY 1 LIMIT 1").format(sql.Identifier(SCHEMA, view), sql.Identifier(key)),
        [tolerance, place.code]).fetchone()
    fiche.locator = {
        "viewbox": (frame["x0"] - margin, -frame["y1"] - margin, width + 2 * margin,
                    height + 2 * margin),
        "communes": communes,
        "target": target,
        "stroke": max(width, height) / 500,
    }


def read_fiche(conn, dic: Dictionary, scale: str, code: str, millesime, today: date) -> Fiche:
    """Everything the sheet shows, from the published views (service role connection)."""
    scale, code, millesime = check_request(scale, code, millesime)
    place, commune_code = _place(conn, scale, code)
    mel = Place("mel", "MEL", "Métropole Européenne de Lille")
    commune = _commune_place(conn, commune_code) if scale != "commune" else None
    columns = [place] + ([commune] if commune else []) + [mel]
    fiche = Fiche(place, columns, millesime, [], today)
    if scale != "commune" and commune is None:
        fiche.notes.append("Commune de comparaison non diffusée pour ce territoire "
                           "(résidence sous le secret statistique).")
    loaded_somewhere = False
    for theme in THEMES:
        block, loaded = _block(conn, dic, theme, columns, millesime)
        fiche.blocks.append(block)
        loaded_somewhere |= loaded
    if millesime is not None and not loaded_somewhere:
        own = [layer for theme in THEMES if (layer := theme_layer(dic, theme, scale))]
        years = sorted({y for layer in own for y in _millesimes(conn, layer)})
        raise FicheError(f"millésime {millesime} non chargé (millésimes disponibles : "
                         f"{', '.join(map(str, years)) or 'aucun'})", HTTPStatus.NOT_FOUND)
    if scale == "residence":
        parc = fiche.blocks[0]
        _residence_identity(conn, fiche, parc.millesime)
        _residence_context(conn, dic, fiche, parc.millesime)
    _locator(conn, fiche, commune_code)
    return fiche
