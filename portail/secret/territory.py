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
    occupes: float | None          # parc: dwellings minus the vacant ones (published with
                                   # it; None when the source does not say which are vacant)
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
    value_of: dict[str, dict] = {DWELLINGS: {}, OCCUPIED: {}}
    for r in rows:
        for theme, worlds in RESIDENCE_THEMES.items():
            for world, attr in worlds.items():
                v = getattr(r, attr)
                if v is not None:
                    value_of[world][(theme, r.residence_id, r.millesime)] = float(v)
    by_residence: dict[str, list[ResidenceYear]] = defaultdict(list)
    for r in rows:
        by_residence[r.residence_id].append(r)
    # Two readings of the same cells. ``true``: the links an analyst would make where
    # they hold (a figure unchanged from one millésime to the next, rent records equal
    # to the dwellings, households equal to the occupied dwellings): values stay
    # consistent, for the remainders and the intervals. ``belief``, for the dwellings
    # (a résidence's structure, which the published data show stable): every millésime
    # of a résidence taken as unchanged, true or not (the analyst cannot tell) — a
    # stronger structure for the exact-disclosure check, which also stops the lucky and
    # the near guesses (a résidence that gained one dwelling). Households and vacancy
    # change every year on most published résidences: nobody can assume them unchanged.
    true = {world: _links(value_of[world], by_residence, everything=False)
            for world in value_of}
    belief = {DWELLINGS: _links(value_of[DWELLINGS], by_residence, everything=True)}

    # Cells: (theme, period, scale, code) -> quantities in each world.
    quantities: dict[tuple, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        for theme, worlds in RESIDENCE_THEMES.items():
            q = (theme, r.residence_id, r.millesime)
            if q not in value_of[next(iter(worlds))]:
                continue
            for scale, code in _territories(r):
                key = (theme, str(r.millesime), scale, code)
                for world in worlds:
                    if q in value_of[world]:
                        quantities[key][world].append(q)
                    else:   # not given for one résidence: not published for the territory
                        quantities[key][world].append(None)
    base_world = {theme: next(iter(worlds)) for theme, worlds in RESIDENCE_THEMES.items()}
    cells: list[Cell] = []
    faces = {(world, reading): [] for world in value_of for reading in ("true", "belief")}
    for key in sorted(quantities, key=_order):
        c = len(cells)
        sums = {world: sum(value_of[world][q] for q in qs if q is not None)
                for world, qs in quantities[key].items()}
        cells.append(Cell(key, sums[base_world[key[0]]]))
        for world, qs in sorted(quantities[key].items()):
            if None in qs:
                continue
            for reading, numbering in (("true", true[world]), ("belief", belief.get(world))):
                if numbering is None:
                    continue
                faces[(world, reading)].append(Face(
                    c, frozenset(numbering[q] for q in qs), sums[world], key[:2], key[2],
                    counted=world == base_world[key[0]]))
    worlds = []
    for world in (DWELLINGS, OCCUPIED):
        numbering = true[world]
        values = [0.0] * (max(numbering.values(), default=-1) + 1)
        for q, n in numbering.items():
            values[n] = value_of[world][q]
        if world not in belief:
            worlds.append(World(world, len(values), faces[(world, "true")], values))
            continue
        worlds.append(World(world, len(values), faces[(world, "true")], values, role="values"))
        n_belief = max(belief[world].values(), default=-1) + 1
        worlds.append(World(f"{world} (croyances)", n_belief, faces[(world, "belief")],
                            [0.0] * n_belief, role="structure"))
    index = {cell.key: c for c, cell in enumerate(cells)}
    companions = {}
    for c, cell in enumerate(cells):
        if cell.theme == "parc" and cell.scale == "residence":
            others = [index[k] for k in ((t, cell.period, "residence", cell.code)
                                         for t in ("quittance", "occupation")) if k in index]
            if others:
                companions[c] = others
    return cells, worlds, companions


def _links(values: dict, by_residence: dict, everything: bool) -> dict:
    """Quantity -> variable number, linking what an analyst takes as one unknown.

    ``everything``: every consecutive millésime of a résidence (the analyst's belief);
    otherwise only where the values are equal. Rent records and households are linked
    to the dwellings and occupied dwellings of the same row where equal."""
    lk = Links()
    for q in values:
        lk.add(q)
    for rid, years in by_residence.items():
        years = sorted(years, key=lambda r: r.millesime)
        for theme in RESIDENCE_THEMES:
            present = [r.millesime for r in years if (theme, rid, r.millesime) in values]
            for a, b in zip(present, present[1:]):
                if everything or values[(theme, rid, a)] == values[(theme, rid, b)]:
                    lk.union((theme, rid, a), (theme, rid, b))
        for r in years:
            base = ("parc", rid, r.millesime)
            for theme in ("quittance", "occupation"):
                q = (theme, rid, r.millesime)
                # Linked only where equal, believed or not: where the rent records are
                # fewer than the dwellings, the analyst who takes them as equal is wrong
                # by the difference and learns nothing about the hidden count.
                if q in values and base in values and values[q] == values[base]:
                    lk.union(base, q)
    return lk.numbering()


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
