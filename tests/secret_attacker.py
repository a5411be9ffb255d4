"""The outside attacker of issue 13, for tests/test_secret_attacker.py.

Everything here works on what the OGC API Features of a live server return to an ordinary
account: every loaded millésime of every collection through ``datetime``, every page through
the ``next`` links. Nothing imports the secrecy engine (``portail/secret``): this is an
independent checker. The database is read only by the tests, and only to confirm that
something derived here is really the hidden value.

The attacker (issue 13):
- believes a résidence's figures are unchanged between two millésimes unless the published data
  show otherwise (a belief equation is kept only while it agrees with the published data and
  the beliefs already kept);
- believes ``nb_quittances`` equals ``nb_logements`` on the same row;
- solves linear systems exactly (rational elimination) and linear programs with non-negativity
  (HiGHS through ``scipy.optimize.linprog``);
- knows a hidden figure is at least 1 (zeros are published as Z), except the figures of a
  résidence whose parc row is hidden;
- places a hidden résidence (drawn, without codes) by point-in-polygon with the published
  IRIS and QPV polygons. Near a boundary (``PLACEMENT_TOLERANCE_M``) it does not guess: the
  résidence's figures are split in non-negative pieces over the candidate territories, a
  linear relaxation that the truth satisfies whichever side it is on.
"""
from __future__ import annotations

import copy
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction

import numpy as np
import requests
from scipy import sparse
from scipy.optimize import linprog
from shapely import STRtree
from shapely.geometry import shape

# The convention's rules, as the attacker reads them (issue 13); a test checks that
# core.parametre_secret says the same.
THRESHOLD = 11
MIN_RESIDENCES = 2
MAX_SHARE_PERCENT = 85

STORAGE_CRS = "http://www.opengis.net/def/crs/EPSG/0/2154"
PAGE = 400                     # small enough that the larger layers take several pages
PLACEMENT_TOLERANCE_M = 10.0   # the drawn point of a résidence may be a few metres off

PARC_SCALES = {"iris": "parc_iris", "qpv": "parc_qpv", "commune": "parc_communes",
               "mel": "parc_mel"}
OCCUPATION_SCALES = {"iris": "occupation_iris", "qpv": "occupation_qpv",
                     "commune": "occupation_communes", "mel": "occupation_mel"}
ATTRIBUTION_SCALES = {"iris": "attributions_iris", "qpv": "attributions_qpv",
                      "commune": "attributions_communes", "mel": "attributions_mel"}
COLLECTIONS = (["parc_residences", "occupation_residences", "diagnostic_quartiers",
                "iris", "qpv", "communes"]
               + list(PARC_SCALES.values()) + list(OCCUPATION_SCALES.values())
               + list(ATTRIBUTION_SCALES.values()))
GEOMETRY_COLLECTIONS = {"parc_residences", "iris", "qpv", "communes"}

PUBLIC_CODES = {"P", "S", "Z", "N"}
IDENTITY_FIELDS = {"id", "residence_id", "millesime", "echelle_territoire", "code", "nom",
                   "periode"}


# --------------------------------------------------------------------------------------
# Reading the API
# --------------------------------------------------------------------------------------
@dataclass
class Publication:
    """Every row of every collection the attacker reads, by collection (properties, plus
    ``_geom``, a shapely geometry in EPSG:2154, for the layers whose shapes it uses)."""
    rows: dict[str, list[dict]]
    millesimes: dict[str, list[int]]

    def copy(self) -> "Publication":
        return Publication({k: [dict(r) for r in v] for k, v in self.rows.items()},
                           copy.deepcopy(self.millesimes))


def loaded_millesimes(session: requests.Session, base: str, collection: str) -> list[int]:
    """The millésimes a collection answers for: every year of its temporal extent asked
    through ``datetime`` (a year not loaded is a 400)."""
    meta = session.get(f"{base}/collections/{collection}", params={"f": "json"}, timeout=60)
    assert meta.status_code == 200, (collection, meta.status_code)
    begin = meta.json()["extent"]["temporal"]["interval"][0][0]
    first = int(str(begin)[:4])
    found = []
    for year in range(first, date.today().year + 2):
        r = session.get(f"{base}/collections/{collection}/items",
                        params={"datetime": str(year), "resulttype": "hits", "f": "json"},
                        timeout=60)
        if r.status_code == 200 and r.json()["numberMatched"] > 0:
            found.append(year)
        else:
            assert r.status_code in (200, 400), (collection, year, r.status_code)
    return found


def fetch_items(session: requests.Session, base: str, collection: str, millesime: int,
                geometry: bool) -> list[dict]:
    """All the items of one millésime, page after page through the ``next`` links."""
    url = f"{base}/collections/{collection}/items"
    params: dict | None = {"datetime": str(millesime), "limit": PAGE, "f": "json"}
    if geometry:
        params["crs"] = STORAGE_CRS
    else:
        params["skipGeometry"] = "true"
    rows, matched, pages = [], None, 0
    while url:
        r = session.get(url, params=params, timeout=120)
        assert r.status_code == 200, (collection, millesime, r.status_code, r.text[:300])
        body = r.json()
        matched = body["numberMatched"] if matched is None else matched
        for feature in body["features"]:
            row = dict(feature["properties"])
            row["_fid"] = feature["id"]
            if geometry:
                row["_geom"] = shape(feature["geometry"]) if feature["geometry"] else None
            rows.append(row)
        nxt = [link["href"] for link in body.get("links", []) if link.get("rel") == "next"]
        url, params = (nxt[0], None) if nxt else (None, None)
        pages += 1
        assert pages < 1000, (collection, millesime)
    assert len(rows) == matched, (collection, millesime, len(rows), matched)
    assert len({r["_fid"] for r in rows}) == len(rows), (collection, millesime, "duplicate ids")
    return rows


def read_publication(session: requests.Session, base: str) -> Publication:
    rows, millesimes = {}, {}
    for collection in COLLECTIONS:
        years = loaded_millesimes(session, base, collection)
        millesimes[collection] = years
        rows[collection] = [row for year in years
                            for row in fetch_items(session, base, collection, year,
                                                   collection in GEOMETRY_COLLECTIONS)]
    return Publication(rows, millesimes)


# --------------------------------------------------------------------------------------
# Where things are: the attacker's map
# --------------------------------------------------------------------------------------
def qpv_communes(value) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [v for v in re.split(r"[^0-9AB]+", str(value or "")) if v]


@dataclass
class Placement:
    """Where each résidence row (residence_id, millésime) lies: its candidate pieces
    (code_iris, code_qpv or None). One piece when its codes are published or its point is
    clearly inside; several near a boundary."""
    pieces: dict[tuple[str, int], list[tuple[str, str | None]]]
    qpv_of_commune: dict[str, set[str]]           # QPVs listing the commune
    single_commune_qpv: dict[str, str]            # QPV -> its only commune

    def certain(self, key) -> bool:
        return len(self.pieces[key]) == 1


def territories_of_piece(piece: tuple[str, str | None], scale: str) -> list[str]:
    iris, qpv = piece
    if scale == "iris":
        return [iris]
    if scale == "commune":
        return [iris[:5]]        # an IRIS code starts with its commune's INSEE code
    if scale == "qpv":
        return [qpv] if qpv else []
    return ["MEL"]


def place(pub: Publication) -> Placement:
    iris_rows = pub.rows["iris"]
    iris_geoms = [r["_geom"] for r in iris_rows]
    iris_codes = [r["code_iris"] for r in iris_rows]
    iris_tree = STRtree(iris_geoms)
    qpv_rows = pub.rows["qpv"]
    qpv_geoms = [r["_geom"] for r in qpv_rows]
    qpv_codes = [r["code_qpv"] for r in qpv_rows]
    qpv_tree = STRtree(qpv_geoms)
    tol = PLACEMENT_TOLERANCE_M

    cache: dict[tuple[float, float], list] = {}
    pieces = {}
    for row in pub.rows["parc_residences"]:
        key = (row["residence_id"], row["millesime"])
        if row.get("code_iris"):
            pieces[key] = [(row["code_iris"], row.get("code_qpv") or None)]
            continue
        point = row["_geom"]
        xy = (point.x, point.y)
        if xy not in cache:
            near_iris = sorted(iris_codes[i] for i in
                               iris_tree.query(point, predicate="dwithin", distance=tol))
            near_qpv = [i for i in qpv_tree.query(point, predicate="dwithin", distance=tol)]
            deep_inside = [i for i in near_qpv if qpv_geoms[i].contains(point)
                           and qpv_geoms[i].boundary.distance(point) > tol]
            qpv_options: list[str | None] = sorted(qpv_codes[i] for i in near_qpv)
            if not deep_inside:
                qpv_options = [None] + qpv_options
            assert near_iris, f"résidence {key} lies in no published IRIS"
            cache[xy] = [(i, q) for i in near_iris for q in qpv_options]
        pieces[key] = cache[xy]

    qpv_of_commune: dict[str, set[str]] = defaultdict(set)
    single = {}
    for row in qpv_rows:
        communes = qpv_communes(row.get("communes"))
        for c in communes:
            qpv_of_commune[c].add(row["code_qpv"])
        if len(communes) == 1:
            single[row["code_qpv"]] = communes[0]
    return Placement(pieces, dict(qpv_of_commune), single)


def residences_by_millesime(pub: Publication) -> dict[int, list[dict]]:
    out = defaultdict(list)
    for row in pub.rows["parc_residences"]:
        out[row["millesime"]].append(row)
    return out


def possibly_in(placement: Placement, key, scale: str, code: str) -> bool:
    return any(code in territories_of_piece(p, scale) for p in placement.pieces[key])


def surely_in(placement: Placement, key, scale: str, code: str) -> bool:
    return all(code in territories_of_piece(p, scale) for p in placement.pieces[key])


def surely_outside_qpv(placement: Placement, key) -> bool:
    return all(p[1] is None for p in placement.pieces[key])


def surely_in_some_qpv(placement: Placement, key) -> bool:
    return all(p[1] is not None for p in placement.pieces[key])


# --------------------------------------------------------------------------------------
# Exact linear algebra over the rationals (sparse rows, fully reduced)
# --------------------------------------------------------------------------------------
class ExactSystem:
    """Linear equations over Fractions, kept in reduced row echelon form as sparse rows.

    ``add`` returns False (and keeps nothing) when the equation contradicts what is there.
    ``value_of`` returns the value of a linear form when the equations determine it."""

    def __init__(self):
        self.rows: dict[int, tuple[dict, Fraction]] = {}   # pivot variable -> (coeffs, rhs)
        self.where: dict[int, set[int]] = defaultdict(set)  # variable -> pivots of rows using it

    def reduce(self, coeffs: dict, rhs) -> tuple[dict, Fraction]:
        out = {v: Fraction(c) for v, c in coeffs.items() if c}
        rhs = Fraction(rhs)
        for v in [v for v in out if v in self.rows]:
            c = out.get(v)
            if not c:
                continue
            prow, prhs = self.rows[v]
            for w, pc in prow.items():
                nc = out.get(w, 0) - c * pc
                if nc:
                    out[w] = nc
                else:
                    out.pop(w, None)
            rhs -= c * prhs
        return out, rhs

    def add(self, coeffs: dict, rhs) -> bool:
        red, rhs = self.reduce(coeffs, rhs)
        if not red:
            return rhs == 0
        pivot = min(red)
        scale = red[pivot]
        row = {v: c / scale for v, c in red.items()}
        rhs = rhs / scale
        # Eliminate the new pivot from every row that uses it.
        for other in list(self.where.get(pivot, ())):
            orow, orhs = self.rows[other]
            c = orow[pivot]
            for w, rc in row.items():
                nc = orow.get(w, 0) - c * rc
                if nc:
                    if w not in orow:
                        self.where[w].add(other)
                    orow[w] = nc
                else:
                    if w in orow:
                        del orow[w]
                        self.where[w].discard(other)
            self.rows[other] = (orow, orhs - c * rhs)
        self.rows[pivot] = (row, rhs)
        for w in row:
            self.where[w].add(pivot)
        return True

    def value_of(self, coeffs: dict) -> Fraction | None:
        red, value = self.reduce(coeffs, 0)
        return None if red else -value

    def residual_key(self, coeffs: dict) -> tuple:
        """A key equal for two forms that differ by a determined constant."""
        red, _ = self.reduce(coeffs, 0)
        return tuple(sorted(red.items()))


# --------------------------------------------------------------------------------------
# The attacker's system for dwellings (parc) over every millésime at once
# --------------------------------------------------------------------------------------
@dataclass
class Cell:
    """A hidden figure the attacker tries to recover, as a linear form of the unknowns."""
    label: str                 # layer, code, millésime, field: what a failure names
    form: dict                 # variable -> coefficient
    constant: int              # the published part the form leaves out
    lower: int                 # what the attacker knows: the figure is at least this
    truth_key: tuple           # to look the true value up, for the failure message only


@dataclass
class AttackSystem:
    variables: list[tuple]
    equations: list[tuple[dict, Fraction, str]]        # data equations, all kept
    beliefs_kept: list[tuple[dict, Fraction, str]]
    beliefs_dropped: list[str]
    exact: ExactSystem
    cells: list[Cell]
    inequalities: list[tuple[dict, int]]               # form >= bound
    forms: dict = field(default_factory=dict)          # (tag, scale, code, m) -> (form, constant)


class _Vars:
    def __init__(self):
        self.index: dict[tuple, int] = {}

    def __call__(self, name: tuple) -> int:
        if name not in self.index:
            self.index[name] = len(self.index)
        return self.index[name]


def _num(value) -> Fraction:
    return Fraction(str(value))


@dataclass
class Figure:
    """One résidence figure summed into territory figures of the same name."""
    tag: str
    residence_collection: str
    status_field: str
    value_field: str
    scales: dict[str, str]
    always_positive: bool = False     # nb_logements: a drawn résidence has a dwelling
    at_most_dwellings: bool = False   # households: at most one per published dwelling


PARC_FIGURES = [Figure("x", "parc_residences", "statut_secret", "nb_logements", PARC_SCALES,
                       always_positive=True),
                Figure("q", "parc_residences", "statut_quittance", "nb_quittances",
                       PARC_SCALES)]
OCCUPATION_FIGURES = [Figure("h", "occupation_residences", "statut_secret", "nb_menages",
                             OCCUPATION_SCALES, at_most_dwellings=True)]


def build_dwellings_system(pub: Publication, placement: Placement) -> AttackSystem:
    """Dwellings (``x``) and rent records (``q``), with the belief q = x on each row; for the
    intervals, a published household count is a floor for the dwellings of the same
    résidence or territory and millésime (one household per dwelling at most)."""
    system = build_system(pub, placement, PARC_FIGURES, links=[("q", "x")])
    for scale, collection in [("residence", "occupation_residences"),
                              *OCCUPATION_SCALES.items()]:
        for row in pub.rows[collection]:
            if row["statut_secret"] != "P":
                continue
            code = row["residence_id"] if scale == "residence" else \
                ("MEL" if scale == "mel" else row["code"])
            got = system.forms.get(("x", scale, code, row["millesime"]))
            if got and got[0]:
                system.inequalities.append((got[0], int(row["nb_menages"] - got[1])))
    return system


def build_occupation_system(pub: Publication, placement: Placement) -> AttackSystem:
    """Households (``h``). No « unchanged » belief: the published data show otherwise —
    most résidences published in two consecutive millésimes have a different household
    count (``household_stability`` measures it); an analyst who assumed it unchanged for
    the hidden ones would be wrong more often than right."""
    return build_system(pub, placement, OCCUPATION_FIGURES, links=[], unchanged=False)


def household_stability(pub: Publication) -> tuple[int, int]:
    """(résidences published in two consecutive millésimes with the same household count,
    those published in two consecutive millésimes) — what the published data show."""
    counts = defaultdict(dict)
    for row in pub.rows["occupation_residences"]:
        if row["statut_secret"] == "P":
            counts[row["residence_id"]][row["millesime"]] = row["nb_menages"]
    same = pairs = 0
    for by_year in counts.values():
        for year, n in by_year.items():
            if year + 1 in by_year:
                pairs += 1
                same += by_year[year + 1] == n
    return same, pairs


def build_system(pub: Publication, placement: Placement, figures: list[Figure],
                 links: list[tuple[str, str]], unchanged: bool = True) -> AttackSystem:
    """The attacker's linear system over every millésime at once.

    Unknowns: the pieces (one per candidate place) of every hidden résidence figure, per
    millésime. Data equations: every published (P, or Z = 0) territory figure of every
    millésime equals the sum of the résidences located in the territory that millésime; a
    published résidence figure whose place is uncertain is the sum of its pieces.
    Beliefs, added after the data in a fixed order and kept only while consistent: a
    résidence's figure is unchanged from one of its millésimes to the next; the figures
    named by ``links`` are equal on the same row."""
    var = _Vars()
    parc_status = {(r["residence_id"], r["millesime"]): r["statut_secret"]
                   for r in pub.rows["parc_residences"]}
    parc_dwellings = {(r["residence_id"], r["millesime"]): r["nb_logements"]
                      for r in pub.rows["parc_residences"] if r["statut_secret"] == "P"}
    # expr[(tag, rid, m)] = ({piece: variable}, None) or ({}, published constant)
    expr: dict[tuple, tuple[dict, Fraction | None]] = {}
    equations: list[tuple[dict, Fraction, str]] = []
    cells: list[Cell] = []
    inequalities: list[tuple[dict, int]] = []
    forms: dict = {}
    keys_of = defaultdict(set)
    for fig in figures:
        for row in pub.rows[fig.residence_collection]:
            rid, m = row["residence_id"], row["millesime"]
            if (rid, m) not in placement.pieces:
                continue
            keys_of[fig.tag].add((rid, m))
            pieces = placement.pieces[(rid, m)]
            known = _known(row, fig.value_field, fig.status_field)
            if known is not None and len(pieces) == 1:
                expr[(fig.tag, rid, m)] = ({}, known)
                continue
            pv = {p: var((fig.tag, rid, m, p)) for p in pieces}
            expr[(fig.tag, rid, m)] = (pv, None)
            form = {v: 1 for v in pv.values()}
            label = f"{fig.residence_collection} {rid} {m} {fig.value_field}"
            if known is not None:
                equations.append((form, known, label))
            elif row[fig.status_field] == "S":
                # What the attacker knows of a hidden figure: at least 1, except the figures
                # of a résidence whose parc row is hidden (they may be 0 in other themes).
                lower = 1 if fig.always_positive or parc_status.get((rid, m)) == "P" else 0
                cells.append(Cell(label, form, 0, lower, ("residence", rid, m, fig.tag)))
                if lower:
                    inequalities.append((form, lower))
                # Households live in dwellings: never more than the published dwellings.
                if fig.at_most_dwellings and (rid, m) in parc_dwellings:
                    inequalities.append(({v: -1 for v in pv.values()},
                                         -int(parc_dwellings[(rid, m)])))

        # Territory equations and hidden territory cells.
        contributions: dict[tuple, tuple[dict, Fraction]] = {}
        for (rid, m) in keys_of[fig.tag]:
            pv, const = expr[(fig.tag, rid, m)]
            for scale in fig.scales:
                if const is not None:
                    (piece,) = placement.pieces[(rid, m)]
                    parts = [(code, None) for code in territories_of_piece(piece, scale)]
                else:
                    parts = [(code, v) for piece, v in pv.items()
                             for code in territories_of_piece(piece, scale)]
                for code, v in parts:
                    coeffs, c0 = contributions.get((scale, code, m), ({}, Fraction(0)))
                    if v is None:
                        c0 += const
                    else:
                        coeffs[v] = coeffs.get(v, 0) + 1
                    contributions[(scale, code, m)] = (coeffs, c0)
        for (scale, code, m), (coeffs, c0) in contributions.items():
            forms[(fig.tag, scale, code, m)] = (dict(coeffs), c0)
        for (rid, m) in keys_of[fig.tag]:
            pv, const = expr[(fig.tag, rid, m)]
            forms[(fig.tag, "residence", rid, m)] = (
                {v: 1 for v in pv.values()}, const if const is not None else Fraction(0))
        for scale, collection in fig.scales.items():
            for row in pub.rows[collection]:
                code = "MEL" if scale == "mel" else row["code"]
                m = row["millesime"]
                coeffs, c0 = contributions.get((scale, code, m), ({}, Fraction(0)))
                label = f"{collection} {row['code']} {m} {fig.value_field}"
                known = _known(row, fig.value_field, fig.status_field)
                if known is not None:
                    equations.append((dict(coeffs), known - c0, label))
                elif row[fig.status_field] == "S":
                    cells.append(Cell(label, dict(coeffs), int(c0), 1,
                                      ("territory", scale, row["code"], m, fig.tag)))
                    if coeffs:
                        inequalities.append((dict(coeffs), 1 - int(c0)))

    # Beliefs, in a fixed order: unchanged from one millésime to the next, then the links.
    beliefs: list[tuple[dict, Fraction, str]] = []
    for fig in figures if unchanged else []:
        years_of = defaultdict(list)
        for (rid, m) in keys_of[fig.tag]:
            years_of[rid].append(m)
        for rid in sorted(years_of):
            years = sorted(years_of[rid])
            for a, b in zip(years, years[1:]):
                beliefs += [(c, r, f"unchanged {rid} {a}->{b} {fig.value_field}")
                            for c, r in same_figure(expr[(fig.tag, rid, a)],
                                                    expr[(fig.tag, rid, b)])]
    for left, right in links:
        for (rid, m) in sorted(keys_of[left] & keys_of[right]):
            beliefs += [(c, r, f"{left}={right} {rid} {m}")
                        for c, r in same_figure(expr[(left, rid, m)], expr[(right, rid, m)])]

    exact = ExactSystem()
    for coeffs, rhs, label in equations:
        assert exact.add(coeffs, rhs), (
            f"the published data contradict themselves (or the attacker's placement) at {label}")
    kept, dropped = [], []
    for belief in beliefs:
        (kept if exact.add(belief[0], belief[1]) else dropped).append(belief)
    return AttackSystem(list(var.index), equations, kept, [b[2] for b in dropped], exact,
                        cells, inequalities, forms)


def same_figure(a, b) -> list[tuple[dict, Fraction]]:
    """The equations saying two figure expressions are equal: piece by piece when both are
    split over the same candidate places (the résidence has not moved), else their sums;
    none when both are published constants (the data then say whether they differ)."""
    pa, ca = a
    pb, cb = b
    if ca is not None and cb is not None:
        return []
    if ca is None and cb is None and set(pa) == set(pb):
        return [({pa[p]: 1, pb[p]: -1}, Fraction(0)) for p in sorted(pa, key=str)
                if pa[p] != pb[p]]
    coeffs: dict[int, int] = defaultdict(int)
    rhs = Fraction(0)
    if ca is None:
        for v in pa.values():
            coeffs[v] += 1
    else:
        rhs -= ca
    if cb is None:
        for v in pb.values():
            coeffs[v] -= 1
    else:
        rhs += cb
    coeffs = {v: c for v, c in coeffs.items() if c}
    return [(coeffs, rhs)] if coeffs else []


def exact_disclosures(system: AttackSystem) -> list[tuple[Cell, Fraction]]:
    """Every hidden cell whose value the attacker's equations determine."""
    found = []
    for cell in system.cells:
        if not cell.form:
            found.append((cell, Fraction(cell.constant)))
            continue
        value = system.exact.value_of(cell.form)
        if value is not None:
            found.append((cell, value + cell.constant))
    return found


class IntervalAttack:
    """Linear programs over the attacker's system: the kept equations (in their reduced
    form), non-negative pieces, and the lower bounds the attacker knows."""

    def __init__(self, system: AttackSystem):
        self.system = system
        n = self.n = len(system.variables)
        rows = list(system.exact.rows.values())
        a_eq = sparse.lil_matrix((len(rows), n))
        self.b_eq = np.zeros(len(rows))
        for i, (coeffs, rhs) in enumerate(rows):
            for v, c in coeffs.items():
                a_eq[i, v] = float(c)
            self.b_eq[i] = float(rhs)
        a_ub = sparse.lil_matrix((len(system.inequalities), n))
        self.b_ub = np.zeros(len(system.inequalities))
        for i, (coeffs, bound) in enumerate(system.inequalities):
            for v, c in coeffs.items():
                a_ub[i, v] = -float(c)
            self.b_ub[i] = -float(bound)
        self.a_eq, self.a_ub = a_eq.tocsr(), a_ub.tocsr()
        self.cache: dict[tuple, tuple[float, float]] = {}

    def optimum(self, form: dict, sign: int) -> float:
        c = np.zeros(self.n)
        for v, k in form.items():
            c[v] = sign * float(k)
        has_ub, has_eq = self.a_ub.shape[0] > 0, self.a_eq.shape[0] > 0
        res = linprog(c, A_ub=self.a_ub if has_ub else None, b_ub=self.b_ub if has_ub else None,
                      A_eq=self.a_eq if has_eq else None, b_eq=self.b_eq if has_eq else None,
                      bounds=(0, None), method="highs")
        if res.status == 3:                  # unbounded
            return float("inf")
        assert res.status == 0, f"the attacker's LP failed: {res.message}"
        return sign * res.fun

    def interval(self, cell: Cell) -> tuple[float, float]:
        """The feasible interval of a hidden cell (its published constant included).

        On the feasible set a form equals its residual (after reduction by the kept
        equations) plus a determined constant: one pair of LPs per distinct residual."""
        residual, rhs = self.system.exact.reduce(cell.form, 0)
        offset = float(-rhs) + cell.constant
        if not residual:
            return (offset, offset)
        key = tuple(sorted(residual.items()))
        if key not in self.cache:
            self.cache[key] = (self.optimum(residual, +1), self.optimum(residual, -1))
        low, high = self.cache[key]
        return (low + offset, high + offset)


def interval(system: AttackSystem, cell: Cell) -> tuple[float, float]:
    attack = getattr(system, "_interval_attack", None)
    if attack is None:
        attack = system._interval_attack = IntervalAttack(system)
    return attack.interval(cell)


def narrow_intervals(system: AttackSystem, min_width: float) -> list[tuple[Cell, float]]:
    """Every hidden cell whose feasible interval, under the attacker's equations,
    non-negativity and lower bounds, is narrower than ``min_width``."""
    narrow = []
    for cell in system.cells:
        low, high = interval(system, cell)
        if high - low < min_width - 1e-6:
            narrow.append((cell, high - low))
    return narrow


# --------------------------------------------------------------------------------------
# Published totals minus published parts (sums of hidden cells)
# --------------------------------------------------------------------------------------
@dataclass
class Remainder:
    """A derivable sum of hidden cells: a published total minus its published parts."""
    label: str                   # the total, and what was subtracted
    value: Fraction
    hidden_parts: list[tuple[str, bool]]     # (label, surely inside the total's territory)
    window: int | None = None                # for attributions: the window's millésime
    parent: tuple = ()
    policy: str = ""
    published_parts: frozenset = frozenset()

    @property
    def single_part(self) -> bool:
        """Exactly one hidden part, surely there: the remainder is that cell."""
        return len(self.hidden_parts) == 1 and self.hidden_parts[0][1]


@dataclass
class Theme:
    """A theme whose figures are summed from résidences (parc, occupation)."""
    name: str
    residence_collection: str
    scales: dict[str, str]
    value_field: str
    status_field: str


THEMES = [
    Theme("parc", "parc_residences", PARC_SCALES, "nb_logements", "statut_secret"),
    Theme("parc", "parc_residences", PARC_SCALES, "nb_quittances", "statut_quittance"),
    Theme("occupation", "occupation_residences", OCCUPATION_SCALES, "nb_menages",
          "statut_secret"),
]


def _known(row, value_field, status_field):
    """The value of a published figure (P: the value, Z: 0), None when hidden or N."""
    st = row.get(status_field)
    if st == "P":
        return _num(row[value_field])
    if st == "Z":
        return Fraction(0)
    return None


def residence_theme_remainders(pub: Publication, placement: Placement,
                               theme: Theme) -> list[Remainder]:
    out: list[Remainder] = []
    terr: dict[tuple, dict] = {}
    for scale, collection in theme.scales.items():
        for row in pub.rows[collection]:
            terr[(scale, "MEL" if scale == "mel" else row["code"], row["millesime"])] = row
    res_rows = defaultdict(list)
    for row in pub.rows[theme.residence_collection]:
        res_rows[row["millesime"]].append(row)

    for m in sorted(res_rows):
        # Résidences of the millésime and where they are.
        residences = []
        for row in res_rows[m]:
            key = (row["residence_id"], m)
            if key not in placement.pieces:
                continue
            residences.append((key, _known(row, theme.value_field, theme.status_field),
                               f"{theme.residence_collection} {key[0]} {m}"))

        def residence_parts(inside, possibly, certain_out=None):
            """Published résidences surely in the zone, hidden résidences possibly in it;
            None when a published one might be in it without being surely in it."""
            known, hidden, names = Fraction(0), [], set()
            for key, value, label in residences:
                if not possibly(key):
                    continue
                if value is not None:
                    if not inside(key):
                        return None
                    known += value
                    names.add(label)
                else:
                    hidden.append((label, inside(key)))
            return known, hidden, names

        def node(scale, code):
            return terr.get((scale, code, m))

        iris_of = defaultdict(list)
        communes = []
        for (scale, code, mm) in terr:
            if mm != m:
                continue
            if scale == "iris":
                iris_of[code[:5]].append(code)
            if scale == "commune":
                communes.append(code)

        def split(scale, code, policy):
            """(known, hidden parts, names of published parts) of a territory, None if the
            attacker cannot split it. ``policy``: 'children' (one level down), 'finest'
            (hidden children split further), 'residences' (straight to résidences)."""
            def res(scale_, code_):
                return residence_parts(
                    lambda k: surely_in(placement, k, scale_, code_),
                    lambda k: possibly_in(placement, k, scale_, code_))
            if policy == "residences" or scale in ("iris", "qpv"):
                return res(scale, code)
            child_scale = "commune" if scale == "mel" else "iris"
            children = communes if scale == "mel" else iris_of.get(code, [])
            known, hidden, names = Fraction(0), [], set()
            for child in sorted(children):
                row = node(child_scale, child)
                value = _known(row, theme.value_field, theme.status_field) if row else None
                if value is not None:
                    known += value
                    names.add(f"{child_scale} {child}")
                elif policy == "children":
                    hidden.append((f"{theme.scales[child_scale]} {child} {m}", True))
                else:
                    sub = split(child_scale, child, "finest")
                    if sub is None:
                        return None
                    known += sub[0]
                    hidden += sub[1]
                    names |= sub[2]
            return known, hidden, names

        for (scale, code, mm), row in sorted(terr.items()):
            if mm != m:
                continue
            total = _known(row, theme.value_field, theme.status_field)
            if total is None:
                continue
            policies = {"iris": ["residences"], "qpv": ["residences"],
                        "commune": ["children", "finest", "residences"],
                        "mel": ["children", "finest", "residences"]}[scale]
            for policy in policies:
                got = split(scale, code, policy)
                if got is None:
                    continue
                known, hidden, names = got
                out.append(Remainder(
                    f"{theme.scales[scale]} {code} {m} {theme.value_field} minus its "
                    f"published parts ({policy})", total - known, hidden, None,
                    (scale, code), policy, frozenset(names)))
            # The same territory against its QPV: what lies outside the QPVs.
            if scale in ("commune", "mel"):
                got = _outside_qpv_split(placement, theme, scale, code, m, node, residences)
                if got is not None:
                    known, hidden, names = got
                    out.append(Remainder(
                        f"{theme.scales[scale]} {code} {m} {theme.value_field} minus its "
                        f"published QPV and published résidences outside QPV",
                        total - known, hidden, None, (scale, code), "qpv", frozenset(names)))
    return out


def _outside_qpv_split(placement, theme, scale, code, m, node, residences):
    """A commune (or the MEL) = its QPVs + the résidences outside any QPV, when each of its
    QPVs lies in it alone."""
    if scale == "mel":
        qpvs = sorted(placement.single_commune_qpv) if all(
            q in placement.single_commune_qpv for qs in placement.qpv_of_commune.values()
            for q in qs) else None
    else:
        listed = placement.qpv_of_commune.get(code, set())
        qpvs = sorted(listed) if all(placement.single_commune_qpv.get(q) == code
                                     for q in listed) else None
    if qpvs is None:
        return None
    known, hidden, names = Fraction(0), [], set()
    for q in qpvs:
        row = node("qpv", q)
        value = _known(row, theme.value_field, theme.status_field) if row else None
        if value is not None:
            known += value
            names.add(f"qpv {q}")
        else:
            hidden.append((f"{theme.scales['qpv']} {q} {m}", True))

    def inside(key):
        return (scale == "mel" or surely_in(placement, key, "commune", code)) \
            and surely_outside_qpv(placement, key)

    def possibly(key):
        return (scale == "mel" or possibly_in(placement, key, "commune", code)) \
            and not surely_in_some_qpv(placement, key)

    for key, value, label in residences:
        if not possibly(key):
            continue
        if value is not None:
            if not inside(key):
                return None
            known += value
            names.add(label)
        else:
            hidden.append((label, inside(key)))
    return known, hidden, names


ATTRIBUTION_PARTS = {  # field -> the status that governs it
    "nb_attributions": "statut_secret", "nb_en_qpv": "statut_qpv", "nb_hors_qpv": "statut_qpv"}


def attribution_remainders(pub: Publication, placement: Placement) -> list[Remainder]:
    """Allocations, each window: MEL and communes minus their published parts (communes,
    IRIS), the QPV totals against the communes' and the MEL's ``nb_en_qpv``."""
    out: list[Remainder] = []
    rows = {}
    for scale, collection in ATTRIBUTION_SCALES.items():
        for row in pub.rows[collection]:
            rows[(scale, "MEL" if scale == "mel" else row["code"], row["millesime"])] = row
    windows = sorted({k[2] for k in rows})
    for w in windows:
        def val(scale, code, fld):
            row = rows.get((scale, code, w))
            return _known(row, fld, ATTRIBUTION_PARTS[fld]) if row else None

        communes = sorted(c for (s, c, ww) in rows if s == "commune" and ww == w)
        iris = sorted(c for (s, c, ww) in rows if s == "iris" and ww == w)
        qpvs = sorted(c for (s, c, ww) in rows if s == "qpv" and ww == w)

        def remainder(parent, fld, parts, label, policy):
            total = val(*parent, fld)
            if total is None:
                return
            known, hidden, names = Fraction(0), [], set()
            for (scale, code, part_fld) in parts:
                v = val(scale, code, part_fld)
                if v is not None:
                    known += v
                    names.add((scale, code, part_fld))
                else:
                    hidden.append((f"{ATTRIBUTION_SCALES[scale]} {code} {w} {part_fld}", True))
            out.append(Remainder(f"{ATTRIBUTION_SCALES[parent[0]]} {parent[1]} {w} {fld} "
                                 f"minus {label}", total - known, hidden, w, parent, policy,
                                 frozenset(names)))

        for fld in ("nb_attributions", "nb_en_qpv", "nb_hors_qpv"):
            remainder(("mel", "MEL"), fld, [("commune", c, fld) for c in communes],
                      f"its published communes' {fld}", f"communes {fld}")
        remainder(("mel", "MEL"), "nb_attributions", [("iris", i, "nb_attributions") for i in iris],
                  "its published IRIS", "iris")
        # MEL: published communes, and the published IRIS of its hidden communes.
        finest = []
        for c in communes:
            if val("commune", c, "nb_attributions") is not None:
                finest.append(("commune", c, "nb_attributions"))
            else:
                finest += [("iris", i, "nb_attributions") for i in iris if i[:5] == c]
        remainder(("mel", "MEL"), "nb_attributions", finest,
                  "its published communes and the published IRIS of the others", "finest")
        if all(q in placement.single_commune_qpv for q in qpvs):
            remainder(("mel", "MEL"), "nb_en_qpv", [("qpv", q, "nb_attributions") for q in qpvs],
                      "its published QPV", "qpv")
        for c in communes:
            remainder(("commune", c), "nb_attributions",
                      [("iris", i, "nb_attributions") for i in iris if i[:5] == c],
                      "its published IRIS", "iris")
            listed = placement.qpv_of_commune.get(c, set())
            if listed and all(placement.single_commune_qpv.get(q) == c for q in listed):
                remainder(("commune", c), "nb_en_qpv",
                          [("qpv", q, "nb_attributions") for q in sorted(listed)],
                          "its published QPV", "qpv")
    return out


def iris_qpv_pairs(pub: Publication) -> dict[str, list[str | None]]:
    """For each IRIS, where an allocated dwelling may be: outside any QPV, or in a QPV whose
    polygon comes within ``PLACEMENT_TOLERANCE_M`` of the IRIS."""
    qpv_rows = pub.rows["qpv"]
    tree = STRtree([r["_geom"] for r in qpv_rows])
    pairs = {}
    for row in pub.rows["iris"]:
        near = tree.query(row["_geom"], predicate="dwithin", distance=PLACEMENT_TOLERANCE_M)
        pairs[row["code_iris"]] = [None] + sorted(qpv_rows[i]["code_qpv"] for i in near)
    return pairs


def build_allocation_system(pub: Publication) -> AttackSystem:
    """Allocations of every window at once. Unknowns: the allocations of each year in each
    (IRIS, QPV or none) place, non-negative; a window's figure is the sum of its three years.
    Data equations: every published (P, or Z = 0) nb_attributions of IRIS, QPV, communes
    and MEL, and the published in/out-QPV split of communes and MEL, each window. Cells:
    every hidden one (at least 1, except the parts of a hidden split: one may be 0).
    Consecutive windows share two years, which links them: this is the attack of one window
    against the next."""
    var = _Vars()
    pairs = iris_qpv_pairs(pub)
    rows = [(scale, collection, row) for scale, collection in ATTRIBUTION_SCALES.items()
            for row in pub.rows[collection]]
    leaves = [(i, q) for i in sorted(pairs) for q in pairs[i]]

    def inside(leaf, scale, code, part):
        i, q = leaf
        if part == "nb_en_qpv" and q is None or part == "nb_hors_qpv" and q is not None:
            return False
        return {"iris": i == code, "commune": i[:5] == code, "qpv": q == code,
                "mel": True}[scale]

    equations, cells, inequalities = [], [], []
    for scale, collection, row in rows:
        code = "MEL" if scale == "mel" else row["code"]
        parts = [("nb_attributions", "statut_secret")]
        if scale in ("commune", "mel"):
            parts += [("nb_en_qpv", "statut_qpv"), ("nb_hors_qpv", "statut_qpv")]
        span = window_years(row["periode"])
        for fld, status in parts:
            form = {var(("a", leaf, y)): 1 for leaf in leaves if inside(leaf, scale, code, fld)
                    for y in span}
            label = f"{collection} {row['code']} {row['millesime']} {fld}"
            known = _known(row, fld, status)
            if known is not None:
                equations.append((form, known, label))
            elif row[status] == "S" and form:
                # (No place for it at all, e.g. in QPV in a commune without QPV: a
                # structural zero that anyone knows, not a secret.)
                lower = 1 if fld == "nb_attributions" else 0
                cells.append(Cell(label, form, 0, lower,
                                  ("allocation", scale, row["code"], row["periode"], fld)))
                if lower:
                    inequalities.append((form, lower))
    exact = ExactSystem()
    for coeffs, rhs, label in equations:
        assert exact.add(coeffs, rhs), (
            f"the published allocations contradict themselves (or the attacker's map) at {label}")
    return AttackSystem(list(var.index), equations, [], [], exact, cells, inequalities)


# --------------------------------------------------------------------------------------
# Dominance: allocations that could be pinned on one résidence
# --------------------------------------------------------------------------------------
def window_years(periode: str) -> range:
    first, last = (int(y) for y in periode.split("-"))
    return range(first, last + 1)


def dominance_findings(pub: Publication, placement: Placement) -> list[str]:
    found = []
    parc_years = set(pub.millesimes["parc_residences"])
    residences = residences_by_millesime(pub)
    parc_total = {}
    for scale, collection in PARC_SCALES.items():
        for row in pub.rows[collection]:
            parc_total[(scale, "MEL" if scale == "mel" else row["code"], row["millesime"])] = \
                _known(row, "nb_logements", "statut_secret")

    def check(label, years, possibly, surely, dwellings_total):
        for m in years:
            keys = [(r["residence_id"], m) for r in residences[m]]
            on_map = [k for k in keys if possibly(k)]
            if len(on_map) < MIN_RESIDENCES:
                found.append(f"{label}: the map of {m} shows {len(on_map)} résidence(s) there")
            total = dwellings_total(m)
            if total:
                for r in residences[m]:
                    k = (r["residence_id"], m)
                    if r["statut_secret"] == "P" and surely(k) and \
                            _num(r["nb_logements"]) * 100 > MAX_SHARE_PERCENT * total:
                        found.append(f"{label}: published résidence {k[0]} holds more than "
                                     f"{MAX_SHARE_PERCENT} % of the published dwellings of {m}")

    for scale, collection in ATTRIBUTION_SCALES.items():
        for row in pub.rows[collection]:
            code = "MEL" if scale == "mel" else row["code"]
            years = [m for m in window_years(row["periode"]) if m in parc_years]
            if row["statut_secret"] == "P" and row["nb_attributions"]:
                check(f"{collection} {row['code']} {row['millesime']} (window {row['periode']})",
                      years,
                      lambda k, s=scale, c=code: possibly_in(placement, k, s, c),
                      lambda k, s=scale, c=code: surely_in(placement, k, s, c),
                      lambda m, s=scale, c=code: parc_total.get((s, c, m)))
            if row.get("statut_qpv") != "P" or scale not in ("commune", "mel"):
                continue
            in_c = (lambda k: True) if scale == "mel" else \
                (lambda k, c=code: possibly_in(placement, k, "commune", c))
            surely_c = (lambda k: True) if scale == "mel" else \
                (lambda k, c=code: surely_in(placement, k, "commune", c))
            listed = sorted(placement.single_commune_qpv) if scale == "mel" else \
                sorted(placement.qpv_of_commune.get(code, set()))
            whole = all((scale == "mel" or placement.single_commune_qpv.get(q) == code)
                        for q in listed) and (scale != "mel" or all(
                            q in placement.single_commune_qpv
                            for qs in placement.qpv_of_commune.values() for q in qs))

            def in_qpv_total(m, listed=listed, whole=whole):
                values = [parc_total.get(("qpv", q, m)) for q in listed]
                return sum(values) if whole and all(v is not None for v in values) else None

            def out_qpv_total(m, scale=scale, code=code, in_qpv_total=in_qpv_total):
                t, q = parc_total.get((scale, code, m)), in_qpv_total(m)
                return t - q if t is not None and q is not None else None

            label = f"{collection} {row['code']} {row['millesime']} (window {row['periode']})"
            if row["nb_en_qpv"]:
                check(label + " nb_en_qpv", years,
                      lambda k, f=in_c: f(k) and not surely_outside_qpv(placement, k),
                      lambda k, f=surely_c: f(k) and surely_in_some_qpv(placement, k),
                      in_qpv_total)
            if row["nb_hors_qpv"]:
                check(label + " nb_hors_qpv", years,
                      lambda k, f=in_c: f(k) and not surely_in_some_qpv(placement, k),
                      lambda k, f=surely_c: f(k) and surely_outside_qpv(placement, k),
                      out_qpv_total)
    return found


# --------------------------------------------------------------------------------------
# diagnostic_quartiers
# --------------------------------------------------------------------------------------
RATES = [  # (rate in %, count, base), one decimal
    ("part_parc_social", "menages_parc_social", "nb_menages"),
    ("part_menages_pauvres", "menages_pauvres", "nb_menages"),
    ("taux_chomage", "chomeurs", "actifs"),
]


def count_fields(row: dict) -> list[str]:
    return [k for k, v in row.items() if isinstance(v, int) and not isinstance(v, bool)
            and k != "millesime" and not k.startswith("_")]


def diagnostic_findings(pub: Publication) -> list[str]:
    found = []
    occupation = {}
    for collection, niveau in (("occupation_iris", "IRIS"), ("occupation_qpv", "QPV")):
        for row in pub.rows[collection]:
            occupation[(niveau, row["code"], row["millesime"])] = row["statut_secret"]
    for row in pub.rows["diagnostic_quartiers"]:
        where = f"diagnostic_quartiers {row['niveau']} {row['code']} {row['millesime']}"
        for k in count_fields(row):
            if 1 <= row[k] < THRESHOLD:
                found.append(f"{where}: {k} published under {THRESHOLD}")
        social, prive = row.get("menages_parc_social"), row.get("menages_parc_prive")
        occ = occupation.get((row["niveau"].upper(), row["code"], row["millesime"]))
        if occ == "S" and (social is not None or prive is not None):
            found.append(f"{where}: households of the social/private stock published while "
                         f"the occupation of the same territory and millésime is hidden")
        if (social is None) != (prive is None) and row.get("nb_menages") is not None:
            found.append(f"{where}: one of menages_parc_social/menages_parc_prive hidden, the "
                         f"other and nb_menages published (their difference gives it)")
        for rate, count, base in RATES:
            if row.get(count) is None and row.get(rate) is not None and row.get(base):
                width = row[base] * 0.1 / 100
                if width < THRESHOLD - 1:
                    found.append(f"{where}: hidden {count} lies in an interval narrower than "
                                 f"{THRESHOLD - 1} given {rate} and {base}")
    return found


# --------------------------------------------------------------------------------------
# Codes and field groups
# --------------------------------------------------------------------------------------
QUITTANCE_GROUP = {"nb_quittances", "quittance_moyenne", "charges_moyennes"}
QPV_GROUP = {"nb_hors_qpv", "nb_q1_hors_qpv", "part_q1_hors_qpv", "nb_en_qpv",
             "nb_q2_q4_en_qpv", "part_q2_q4_en_qpv"}


def group_of(collection: str, fld: str) -> str | None:
    """The status field governing a figure of a parc, occupation or attributions layer."""
    if fld in IDENTITY_FIELDS or fld.startswith("statut_") or fld.startswith("_"):
        return None
    if collection.startswith("parc_") and (fld in QUITTANCE_GROUP
                                           or fld.startswith("nb_quittance_")):
        return "statut_quittance"
    if collection.startswith("attributions_") and fld in QPV_GROUP:
        return "statut_qpv"
    if fld == "code_insee" and not collection.endswith("_residences"):
        return None
    return "statut_secret"


def shape_findings(pub: Publication) -> list[str]:
    """Public codes only (P, S, Z, N), and every figure of a hidden group null."""
    found = []
    for collection, rows in pub.rows.items():
        for row in rows:
            for k, v in row.items():
                if k.startswith("statut_") and v not in PUBLIC_CODES:
                    found.append(f"{collection} {row['_fid']}: {k} is {v!r}, not a public code")
            if not collection.startswith(("parc_", "occupation_", "attributions_")):
                continue
            for k, v in row.items():
                g = group_of(collection, k)
                if g and row.get(g) == "S" and v is not None:
                    found.append(f"{collection} {row['id']}: {k} published while {g} is S")
    return found
