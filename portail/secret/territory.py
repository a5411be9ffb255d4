"""Build the publication model (``model.py``) from territorial units.

Résidence themes: every millésime of the parc (dwellings and occupied
dwellings), of the rent study (rent records) and of the occupation (households),
published per résidence, IRIS, QPV, commune and the MEL. Allocations: cells
IRIS × QPV part × year (a zero where nothing was allocated: an analyst does not
know where the zeros are), published per IRIS, QPV, commune and the MEL as
3-year windows, the commune and the MEL also split inside / outside QPV; every
single year is a never-published aggregate that must stay underivable.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from portail.secret.model import (ALLOCATIONS, DOMINANCE, DWELLINGS, OCCUPIED, Cell, Face, Links,
                                  Problem, World)

MEL = "MEL"
RESIDENCE_SCALES = ("residence", "iris", "qpv", "commune", "mel")


@dataclass(frozen=True)
class ResidenceYear:
    residence_id: str
    millesime: int
    code_iris: str
    code_insee: str
    code_qpv: str | None
    logements: float               # parc: dwellings
    occupes: float                 # parc: dwellings minus the vacant ones (published with it)
    quittances: float | None = None  # rent study: records (None: not in the study)
    menages: float | None = None     # occupation: households (None: no data)


@dataclass(frozen=True)
class AllocationCell:
    annee: int
    code_insee: str
    code_iris: str
    code_qpv: str | None
    value: float


def _territories(r: ResidenceYear):
    yield "residence", r.residence_id
    yield "iris", r.code_iris
    if r.code_qpv:
        yield "qpv", r.code_qpv
    yield "commune", r.code_insee
    yield "mel", MEL


# (theme, quantity in each world it counts in)
RESIDENCE_THEMES = {
    "parc": {DWELLINGS: "logements", OCCUPIED: "occupes"},
    "quittance": {DWELLINGS: "quittances"},
    "occupation": {OCCUPIED: "menages"},
}


def residence_problem(rows: list[ResidenceYear]) -> tuple[list[Cell], list[World], dict]:
    """Cells, worlds and companions (a parc résidence -> the same résidence in the
    other themes) of every résidence theme over every millésime."""
    links = {DWELLINGS: Links(), OCCUPIED: Links()}
    value_of: dict[str, dict] = {DWELLINGS: {}, OCCUPIED: {}}
    for r in rows:
        for theme, worlds in RESIDENCE_THEMES.items():
            for world, attr in worlds.items():
                v = getattr(r, attr)
                if v is not None:
                    q = (theme, r.residence_id, r.millesime)
                    links[world].add(q)
                    value_of[world][q] = float(v)
    # Links an analyst would make, where they are true: the same figure in two
    # consecutive millésimes of a résidence, the rent records equal to the
    # dwellings, the households equal to the occupied dwellings.
    by_residence: dict[str, list[ResidenceYear]] = defaultdict(list)
    for r in rows:
        by_residence[r.residence_id].append(r)
    for world, lk in links.items():
        values = value_of[world]
        for rid, years in by_residence.items():
            years = sorted(years, key=lambda r: r.millesime)
            for theme in RESIDENCE_THEMES:
                present = [r.millesime for r in years if (theme, rid, r.millesime) in values]
                for a, b in zip(present, present[1:]):
                    if values[(theme, rid, a)] == values[(theme, rid, b)]:
                        lk.union((theme, rid, a), (theme, rid, b))
            for r in years:
                base = ("parc", rid, r.millesime)
                for theme in ("quittance", "occupation"):
                    q = (theme, rid, r.millesime)
                    if q in values and base in values and values[q] == values[base]:
                        lk.union(base, q)
    numbering = {world: lk.numbering() for world, lk in links.items()}
    var_values = {}
    for world, num in numbering.items():
        vals = [0.0] * (max(num.values(), default=-1) + 1)
        for q, n in num.items():
            vals[n] = value_of[world][q]
        var_values[world] = vals

    # Cells: (theme, period, scale, code) -> {world: (members, value)}.
    members: dict[tuple, dict[str, set]] = defaultdict(lambda: defaultdict(set))
    values: dict[tuple, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in rows:
        for theme, worlds in RESIDENCE_THEMES.items():
            q = (theme, r.residence_id, r.millesime)
            if q not in value_of[next(iter(worlds))]:
                continue
            for scale, code in _territories(r):
                key = (theme, str(r.millesime), scale, code)
                for world in worlds:
                    members[key][world].add(numbering[world][q])
                    values[key][world] += value_of[world][q]
    base_world = {theme: next(iter(worlds)) for theme, worlds in RESIDENCE_THEMES.items()}
    cells: list[Cell] = []
    faces: dict[str, list[Face]] = {DWELLINGS: [], OCCUPIED: []}
    for key in sorted(members, key=_order):
        c = len(cells)
        cells.append(Cell(key, values[key][base_world[key[0]]]))
        for world, vs in sorted(members[key].items()):
            faces[world].append(Face(c, frozenset(vs), values[key][world], key[:2], key[2],
                                     counted=world == base_world[key[0]]))
    worlds = [World(DWELLINGS, len(var_values[DWELLINGS]), faces[DWELLINGS], var_values[DWELLINGS]),
              World(OCCUPIED, len(var_values[OCCUPIED]), faces[OCCUPIED], var_values[OCCUPIED])]
    index = {cell.key: c for c, cell in enumerate(cells)}
    companions = {}
    for c, cell in enumerate(cells):
        if cell.theme == "parc" and cell.scale == "residence":
            others = [index[k] for k in ((t, cell.period, "residence", cell.code)
                                         for t in ("quittance", "occupation")) if k in index]
            if others:
                companions[c] = others
    return cells, worlds, companions


def _order(key):
    theme, period, scale, code = key
    return (theme, period, RESIDENCE_SCALES.index(scale) if scale in RESIDENCE_SCALES else 9, code)


def allocation_problem(rows: list[AllocationCell], windows: list[int], window_years: int,
                       dominated: set[tuple] = frozenset()
                       ) -> tuple[list[Cell], list[World], dict, list[list[int]]]:
    """Cells and the world of allocations: 3-year windows ending each year of ``windows``
    (published) and single years (never). ``dominated``: (scale, code, window end) of
    the windows that could be pinned on one résidence (primary suppression)."""
    years = sorted({r.annee for r in rows})
    if not windows or not years:
        return [], [], {}, []
    first = min(windows) - window_years + 1
    grid_years = [y for y in years if y >= first and y <= max(windows)]
    parts = sorted({(r.code_insee, r.code_iris, r.code_qpv or "") for r in rows})
    observed = {(r.annee, r.code_insee, r.code_iris, r.code_qpv or ""): float(r.value) for r in rows}
    var_of: dict[tuple, int] = {}
    var_values: list[float] = []
    for y in grid_years:
        for part in parts:
            var_of[(y,) + part] = len(var_values)
            var_values.append(observed.get((y,) + part, 0.0))
    groups: dict[tuple, list[tuple]] = defaultdict(list)
    for insee, iris, qpv in parts:
        side = "en-qpv" if qpv else "hors-qpv"
        for scale, code in (("iris", iris), ("qpv", qpv), ("commune", insee), ("mel", MEL),
                            (f"commune-{side}", insee), (f"mel-{side}", MEL)):
            if code:
                groups[(scale, code)].append((insee, iris, qpv))
    cells: list[Cell] = []
    faces: list[Face] = []

    def add(key, published, parts_, years_, primary=None):
        vs = frozenset(var_of[(y,) + p] for y in years_ for p in parts_)
        value = sum(var_values[v] for v in vs)
        c = len(cells)
        cells.append(Cell(key, value, published=published, primary=primary))
        # Inside and outside QPV tile the commune (the MEL) together: one tiling scale.
        tiling = key[2].replace("-en-qpv", "-split").replace("-hors-qpv", "-split")
        faces.append(Face(c, vs, value, key[:2], tiling))

    for last in windows:
        span = [y for y in grid_years if last - window_years < y <= last]
        period = f"{last - window_years + 1}-{last}"
        for (scale, code), parts_ in sorted(groups.items()):
            primary = DOMINANCE if (scale, code, last) in dominated else None
            add(("attributions", period, scale, code), True, parts_, span, primary)
    for y in grid_years:
        for (scale, code), parts_ in sorted(groups.items()):
            add(("attributions", str(y), scale, code), False, parts_, [y])
    # One status column (statut_qpv) governs both parts of a split: one fate.
    index = {cell.key: c for c, cell in enumerate(cells)}
    shared = []
    for cell in cells:
        if cell.published and cell.scale.endswith("-en-qpv"):
            other = index.get(cell.key[:2] + (cell.scale.replace("-en-qpv", "-hors-qpv"),
                                              cell.code))
            if other is not None:
                shared.append([index[cell.key], other])
    return cells, [World(ALLOCATIONS, len(var_values), faces, var_values)], {}, shared


def combine(*parts) -> tuple[Problem, dict]:
    """One problem from several (cells, worlds[, companions[, shared]]) parts; cell
    numbers shift."""
    cells: list[Cell] = []
    worlds: list[World] = []
    companions: dict[int, list[int]] = {}
    shared: list[list[int]] = []
    for part in parts:
        p_cells, p_worlds = part[0], part[1]
        shift = len(cells)
        cells += p_cells
        for w in p_worlds:
            for face in w.faces:
                face.cell += shift
            worlds.append(w)
        if len(part) > 2:
            for c, others in part[2].items():
                companions[c + shift] = [o + shift for o in others]
        if len(part) > 3:
            shared += [[c + shift for c in group] for group in part[3]]
    return Problem.build(cells, worlds, shared), companions
