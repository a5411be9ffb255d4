"""The secrecy engine on generated territories and sequences of millésimes.

The suppression must leave nothing an analyst can derive, for every input:
résidences appearing, disappearing and changing size from one millésime to the
next, rent records and households equal to the dwellings or not, allocations
over consecutive 3-year windows. An independent checker, written here from the
published cells only (it does not use the engine's variables, reductions or
solver), verifies each outcome: exact rational elimination for exact disclosure,
``scipy.optimize.linprog`` for the feasible intervals.
"""
from __future__ import annotations

from collections import defaultdict
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from scipy.optimize import linprog

from portail.secret.model import HIDDEN, NEVER
from portail.secret.rules import SecretRules
from portail.secret.statuses import dominated_windows, windows_of
from portail.secret.suppress import suppress
from portail.secret.territory import (AllocationCell, ResidenceYear, allocation_problem, combine,
                                      residence_problem)

T = 11
YEARS = (2023, 2024, 2025)


# -- the independent checker -------------------------------------------------------------------
class Checker:
    """The attacker's equations, written from the cells a publication shows.

    Unknowns are the quantities per (theme, résidence, millésime) (or per allocation
    cell and year); the analyst's beliefs are equations between them, added where
    they hold: a résidence's figure equal from one millésime to the next, rent
    records equal to dwellings, households equal to occupied dwellings."""

    def __init__(self):
        self.index: dict = {}
        self.truth: list[float] = []
        self.equations: list[tuple[dict, float]] = []      # ({unknown: coef}, value)
        self.hidden: list[tuple[str, list[int], float, bool]] = []  # label, unknowns, value, nonzero

    def unknown(self, key, value: float) -> int:
        if key not in self.index:
            self.index[key] = len(self.truth)
            self.truth.append(float(value))
        return self.index[key]

    def equal(self, a, b) -> None:
        self.equations.append(({self.index[a]: 1, self.index[b]: -1}, 0.0))

    def published(self, unknowns: list[int], value: float) -> None:
        self.equations.append(({u: 1 for u in unknowns}, float(value)))

    def secret(self, label: str, unknowns: list[int], value: float, at_least_one: bool) -> None:
        self.hidden.append((label, unknowns, float(value), at_least_one))

    # exact rational elimination -------------------------------------------------------
    def derivable(self, unknowns: list[int]) -> bool:
        n = len(self.truth)
        rows = [[Fraction(eq.get(u, 0)) for u in range(n)] for eq, _ in self.equations]
        basis = _rref(rows)
        target = [Fraction(1 if u in unknowns else 0) for u in range(n)]
        return len(_rref(basis + [target])) == len(basis)

    # linear programs --------------------------------------------------------------------
    def interval(self, unknowns: list[int], lower: dict[int, float]) -> float:
        n = len(self.truth)
        a_eq = np.array([[eq.get(u, 0) for u in range(n)] for eq, _ in self.equations] or
                        np.zeros((0, n)))
        b_eq = np.array([v for _, v in self.equations])
        a_ub, b_ub = [], []
        for _, members, value, nonzero in self.hidden:
            if nonzero and len(members) > 1:
                a_ub.append([-1 if u in members else 0 for u in range(n)])
                b_ub.append(-1)
        bounds = [(lower.get(u, 0.0), None) for u in range(n)]
        c = np.array([1.0 if u in unknowns else 0.0 for u in range(n)])
        kw = dict(A_eq=a_eq if len(a_eq) else None, b_eq=b_eq if len(a_eq) else None,
                  A_ub=np.array(a_ub) if a_ub else None, b_ub=np.array(b_ub) if b_ub else None,
                  bounds=bounds, method="highs")
        low = linprog(c, **kw)
        high = linprog(-c, **kw)
        assert low.status == 0, low.message          # the truth is feasible
        if high.status == 3:
            return float("inf")
        assert high.status == 0, high.message
        return -high.fun - low.fun

    def leaks(self, beliefs: "Checker | None" = None) -> list[str]:
        """Exact disclosure (under ``beliefs``' equations when given: the analyst's
        links, true or not), then intervals (under the true links)."""
        found = []
        lower = {}
        for _, members, value, nonzero in self.hidden:
            if nonzero and len(members) == 1:
                lower[members[0]] = 1.0
        for label, members, value, nonzero in self.hidden:
            if (beliefs or self).derivable(members):
                found.append(f"{label} : dérivable")
            elif self.interval(members, lower) < T - 1 - 1e-6:
                found.append(f"{label} : intervalle étroit")
        return found


def _rref(rows: list[list[Fraction]]) -> list[list[Fraction]]:
    rows = [r[:] for r in rows if any(r)]
    out, col = [], 0
    ncols = len(rows[0]) if rows else 0
    while rows and col < ncols:
        pivot = next((r for r in rows if r[col] != 0), None)
        if pivot is None:
            col += 1
            continue
        rows.remove(pivot)
        pivot = [x / pivot[col] for x in pivot]
        rows = [[a - r[col] * b for a, b in zip(r, pivot)] if r[col] else r for r in rows]
        out = [[a - r[col] * b for a, b in zip(r, pivot)] if r[col] else r for r in out]
        out.append(pivot)
        rows = [r for r in rows if any(r)]
        col += 1
    return out


# -- publications of generated territories -------------------------------------------------------
def residence_cells(rows: list[ResidenceYear]):
    """(theme, period, scale, code) -> (résidence rows in it) for every résidence theme."""
    out: dict[tuple, list[ResidenceYear]] = defaultdict(list)
    for r in rows:
        for theme, attr in (("parc", "logements"), ("quittance", "quittances"),
                            ("occupation", "menages")):
            if getattr(r, attr) is None:
                continue
            for scale, code in (("residence", r.residence_id), ("iris", r.code_iris),
                                ("qpv", r.code_qpv), ("commune", r.code_insee), ("mel", "MEL")):
                if code:
                    out[(theme, str(r.millesime), scale, code)].append(r)
    return out


def check_residences(rows: list[ResidenceYear], status: dict[tuple, str]) -> list[str]:
    """Everything the checker finds in a publication of résidence themes."""
    problems = []
    cells = residence_cells(rows)
    by_id: dict[str, list[ResidenceYear]] = defaultdict(list)
    for r in rows:
        by_id[r.residence_id].append(r)
    for world, themes in (("logements", {"parc": "logements", "quittance": "quittances"}),
                          ("occupes", {"parc": "occupes", "occupation": "menages"})):
        ck, beliefs = Checker(), Checker()
        for r in rows:
            for theme, attr in themes.items():
                if getattr(r, attr) is not None:
                    ck.unknown((theme, r.residence_id, r.millesime), getattr(r, attr))
                    beliefs.unknown((theme, r.residence_id, r.millesime), getattr(r, attr))
        # Beliefs: unchanged from one millésime to the next; the other theme equal to the
        # parc. ``ck`` keeps those that are true; ``beliefs`` adds what the analyst would
        # assume even where false: the dwellings of every millésime unchanged.
        for rid, years in by_id.items():
            years = sorted(years, key=lambda r: r.millesime)
            for theme, attr in themes.items():
                present = [r for r in years if getattr(r, attr) is not None]
                for a, b in zip(present, present[1:]):
                    # Dwellings are structural (believed unchanged); households and
                    # vacancy change every year on published rows (believed only if true).
                    if world == "logements" or getattr(a, attr) == getattr(b, attr):
                        beliefs.equal((theme, rid, a.millesime), (theme, rid, b.millesime))
                    if getattr(a, attr) == getattr(b, attr):
                        ck.equal((theme, rid, a.millesime), (theme, rid, b.millesime))
            for r in years:
                other = [t for t in themes if t != "parc"][0]
                if getattr(r, themes[other]) is None:
                    continue
                if getattr(r, themes[other]) == getattr(r, themes["parc"]):
                    ck.equal(("parc", rid, r.millesime), (other, rid, r.millesime))
                    beliefs.equal(("parc", rid, r.millesime), (other, rid, r.millesime))
        counted = [t for t in themes if world == "logements" or t != "parc"]
        for key, members in sorted(cells.items()):
            theme = key[0]
            if theme not in themes:
                continue
            attr = themes[theme]
            unknowns = [ck.index[(theme, r.residence_id, r.millesime)] for r in members]
            value = sum(getattr(r, attr) for r in members)
            s = status[key]
            if s in ("P", "Z"):
                ck.published(unknowns, value)
                beliefs.published(unknowns, value)
                if s == "P" and theme in counted and \
                        0 < sum(getattr(r, {"parc": "logements"}.get(theme, attr))
                                for r in members) < T:
                    problems.append(f"{key} publié sous le seuil")
            elif theme in counted:
                # Rent records equal to the dwellings, households equal to the occupied
                # dwellings of a published parc cell: that count is a published parc
                # figure (the convention publishes a résidence's data from 11 dwellings);
                # what stays hidden are the rents, the households' characteristics.
                twin = status.get(("parc",) + key[1:])
                parc_attr = {"quittance": "logements", "occupation": "occupes"}.get(theme)
                if parc_attr and twin in ("P", "Z") and \
                        all(getattr(r, attr) == getattr(r, parc_attr) for r in members):
                    continue
                small_residence = key[2] == "residence" and status[("parc",) + key[1:]] in HIDDEN
                ck.secret(f"{world} {key}", unknowns, value,
                          at_least_one=value >= 1 and not (small_residence and theme != "parc"))
        problems += ck.leaks(beliefs)
    return problems


@st.composite
def residence_histories(draw, max_residences=7):
    """Résidences over three millésimes: appearing, disappearing, changing size."""
    n_communes = draw(st.integers(1, 2))
    rows = []
    n = 0
    for c in range(n_communes):
        for i in range(draw(st.integers(1, 2))):
            for _ in range(draw(st.integers(1, 3))):
                if n >= max_residences:
                    break
                n += 1
                qpv = draw(st.sampled_from([None, None, "QA"]))
                first = draw(st.integers(0, 1))
                last = draw(st.integers(first + 1, 2))
                size = draw(st.one_of(st.integers(1, 10), st.integers(11, 40)))
                for y in YEARS[first:last + 1]:
                    if draw(st.integers(0, 5)) == 0:
                        size = draw(st.one_of(st.integers(1, 10), st.integers(11, 40)))
                    vacant = draw(st.integers(0, min(2, size)))
                    occupied = size - vacant
                    rows.append(ResidenceYear(
                        f"R{n:02d}", y, f"5900{c}{i:04d}", f"5900{c}", qpv, size, occupied,
                        quittances=draw(st.sampled_from([size, size, max(size - 1, 0)])),
                        menages=draw(st.sampled_from([occupied, occupied, max(occupied - 1, 0)]))))
    return rows


def statuses_of(problem, result) -> dict[tuple, str]:
    return {cell.key: ("S" if result.status[c] in HIDDEN else result.status[c])
            for c, cell in enumerate(problem.cells)}


def run_residences(rows):
    problem, companions = combine(residence_problem(rows))
    return problem, suppress(problem, T, companions)


@settings(max_examples=45, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(residence_histories())
def test_no_residence_figure_is_derivable_nor_narrowly_bounded(rows):
    problem, result = run_residences(rows)
    assert check_residences(rows, statuses_of(problem, result)) == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(residence_histories())
def test_suppression_is_deterministic(rows):
    """The same data, whatever the order the database returns it in: the same statuses."""
    problem, result = run_residences(rows)
    again_problem, again = run_residences(list(reversed(rows)))
    assert statuses_of(problem, result) == statuses_of(again_problem, again)


def test_the_checker_sees_a_leak_in_a_primary_only_publication():
    """The checker is not blind: with only the threshold applied, it finds the classic leaks."""
    rows = [ResidenceYear("R1", y, "593500101", "59350", None, 5, 5, 5, 5) for y in YEARS] + \
           [ResidenceYear("R2", y, "593500101", "59350", None, 30, 30, 30, 30) for y in YEARS]
    problem, _ = combine(residence_problem(rows))
    status = {cell.key: ("S" if 0 < cell.base < T else "P") for cell in problem.cells}
    for key in list(status):
        if key[2] == "residence" and key[3] == "R1":
            status[key] = "S"
    found = check_residences(rows, status)
    assert any("R1" in f for f in found)


# -- the classes, as small stories -------------------------------------------------------
def _status(problem, result, key):
    return result.status[problem.index()[key]]


def test_a_new_small_residence_is_not_given_away_by_the_difference_of_two_millesimes():
    # Three résidences of 30, 40 and 5 dwellings in 2023; a new one of 3 dwellings in 2024.
    rows = []
    for y in YEARS:
        rows += [ResidenceYear("R1", y, "593500101", "59350", None, 30, 30, 30, 30),
                 ResidenceYear("R2", y, "593500101", "59350", None, 40, 40, 40, 40),
                 ResidenceYear("R3", y, "593500101", "59350", None, 5, 5, 5, 5),
                 ResidenceYear("R4", y, "593500102", "59350", None, 60, 60, 60, 60)]
    rows += [ResidenceYear("R9", y, "593500101", "59350", None, 3, 3, 3, 3) for y in YEARS[1:]]
    problem, result = run_residences(rows)
    assert check_residences(rows, statuses_of(problem, result)) == []
    # In 2023 the IRIS's hidden part is R3 only (protected); in 2024 R3 + R9: the
    # difference of the two published IRIS totals would be R9 exactly.
    iris = [_status(problem, result, ("parc", str(y), "iris", "593500101")) for y in YEARS]
    commune = [_status(problem, result, ("parc", str(y), "commune", "59350")) for y in YEARS]
    assert "P" not in (iris[0], iris[1]) or "P" not in (commune[0], commune[1]) or \
        all(s in HIDDEN for s in iris[:2])


def test_rent_records_equal_to_dwellings_fall_with_the_parc():
    rows = [ResidenceYear(f"R{k}", 2024, "593500101", "59350", None, size, size, size, size)
            for k, size in enumerate((4, 25, 30, 35))] + \
           [ResidenceYear("R9", 2024, "593500102", "59350", None, 50, 50, 50, 50)]
    problem, result = run_residences(rows)
    statuses = statuses_of(problem, result)
    for key, s in statuses.items():
        if key[0] == "parc" and s == "S":
            twin = statuses[("quittance",) + key[1:]]
            assert twin == "S", key   # nb_quittances = nb_logements would give it away
    assert check_residences(rows, statuses) == []


def test_hidden_cells_never_sum_under_the_threshold_nor_bound_narrowly():
    # IRIS of 6 small résidences (15 dwellings) next to a large one: 15 ≥ 11, but each
    # small one would lie in [1, 10] — too narrow; one more figure must fall.
    sizes = (2, 5, 1, 3, 1, 3)
    rows = [ResidenceYear(f"R{k}", 2024, "593500121", "59350", None, s, s, s, s)
            for k, s in enumerate(sizes)] + \
           [ResidenceYear("RB", 2024, "593500121", "59350", None, 800, 800, 800, 800),
            ResidenceYear("RC", 2024, "593500122", "59350", None, 90, 90, 90, 90)]
    problem, result = run_residences(rows)
    statuses = statuses_of(problem, result)
    assert statuses[("parc", "2024", "residence", "RB")] == "S" or \
        statuses[("parc", "2024", "iris", "593500121")] == "S"
    assert check_residences(rows, statuses) == []


# -- allocations -------------------------------------------------------------------------------------
def check_allocations(cells: list[AllocationCell], windows: list[int], status: dict) -> list[str]:
    ck = Checker()
    years = sorted({c.annee for c in cells})
    parts = sorted({(c.code_insee, c.code_iris, c.code_qpv or "") for c in cells})
    value = {(c.annee, c.code_insee, c.code_iris, c.code_qpv or ""): c.value for c in cells}
    for y in years:
        for p in parts:
            ck.unknown((y,) + p, value.get((y,) + p, 0.0))

    def members(scale, code, span):
        out = []
        for y in span:
            for insee, iris, qpv in parts:
                side = "en-qpv" if qpv else "hors-qpv"
                where = {"iris": iris, "qpv": qpv, "commune": insee, "mel": "MEL",
                         f"commune-{side}": insee, f"mel-{side}": "MEL"}
                if where.get(scale) == code:
                    out.append(ck.index[(y, insee, iris, qpv)])
        return out

    problems = []
    for key, s in sorted(status.items()):
        _, period, scale, code = key
        if "-" in period:
            first, last = map(int, period.split("-"))
            us = members(scale, code, range(first, last + 1))
            total = sum(ck.truth[u] for u in us)
            if s in ("P", "Z"):
                ck.published(us, total)
                if 0 < total < T:
                    problems.append(f"{key} publié sous le seuil")
            else:
                ck.secret(str(key), us, total, at_least_one=total >= 1)
    problems += ck.leaks()
    for key, s in status.items():   # single years: never derivable unless zero
        _, period, scale, code = key
        if "-" not in period and s == NEVER:
            us = members(scale, code, [int(period)])
            if sum(ck.truth[u] for u in us) > 0 and ck.derivable(us):
                problems.append(f"{key} année seule dérivable")
    return problems


@st.composite
def allocation_histories(draw):
    cells = []
    for c in range(draw(st.integers(1, 2))):
        for i in range(draw(st.integers(1, 3))):
            qpv = draw(st.sampled_from([None, "QA"]))
            for y in range(2022, 2026):
                n = draw(st.one_of(st.just(0), st.integers(1, 6), st.integers(7, 30)))
                if n:
                    cells.append(AllocationCell(y, f"5900{c}", f"5900{c}{i:04d}", qpv, n))
    return cells


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(allocation_histories())
def test_no_allocation_window_nor_single_year_is_derivable(cells):
    windows = windows_of(cells, 3)
    if not windows:
        return
    alloc = allocation_problem(cells, windows, 3)
    problem, _ = combine(alloc)
    result = suppress(problem, T)
    status = {cell.key: ("S" if result.status[c] in HIDDEN else result.status[c])
              for c, cell in enumerate(problem.cells)}
    assert check_allocations(cells, windows, status) == []


def test_allocations_that_would_designate_one_residence_are_hidden():
    rules = SecretRules()
    residences = [ResidenceYear("R1", 2024, "593710000", "59371", None, 40, 40),
                  ResidenceYear("R2", 2024, "593500101", "59350", None, 90, 90),
                  ResidenceYear("R3", 2024, "593500101", "59350", None, 10, 10),
                  ResidenceYear("R4", 2024, "593500102", "59350", None, 50, 50),
                  ResidenceYear("R5", 2024, "593500102", "59350", None, 45, 45)]
    territories = {("iris", "593710000"), ("iris", "593500101"), ("iris", "593500102"),
                   ("commune", "59350"), ("iris", "593999999")}
    dominated = dominated_windows(residences, [2024], rules, territories)
    assert ("iris", "593710000", 2024) in dominated      # a single résidence
    assert ("iris", "593500101", 2024) in dominated      # 90 of 100 dwellings: > 85 %
    assert ("iris", "593500102", 2024) not in dominated  # 50 and 45
    assert ("commune", "59350", 2024) not in dominated
    assert ("iris", "593999999", 2024) in dominated      # no résidence at all
    strict = SecretRules(part_max=95.0)
    assert ("iris", "593500101", 2024) not in dominated_windows(residences, [2024], strict,
                                                                territories)


@pytest.mark.parametrize("seuil", [11, 20])
def test_the_threshold_is_a_parameter(seuil):
    rows = [ResidenceYear(f"R{k}", 2024, "593500101", "59350", None, s, s, s, s)
            for k, s in enumerate((15, 30, 45))]
    problem, companions = combine(residence_problem(rows))
    result = suppress(problem, seuil, companions)
    hidden = {problem.cells[c].key[3] for c in result.hidden()
              if problem.cells[c].key[:3] == ("parc", "2024", "residence")}
    assert ("R0" in hidden) == (seuil > 15)
