"""The secrecy engine on generated territories: the rules must hold for all inputs.

An independent checker (exact rational Gaussian elimination over the raw,
unreduced equations) verifies the attack engine's verdicts on small cases.
"""
from __future__ import annotations

from fractions import Fraction

from hypothesis import HealthCheck, given, settings, strategies as st

from portail.secret.attack import Attack, Publication
from portail.secret.suppress import COMPLEMENTARY, NEVER, PRIMARY, PUBLISHED, suppress
from portail.secret.territory import Unit, attribution_problem, residence_problem

T = 11


# -- an independent exact checker ----------------------------------------------------------
def _rref(rows: list[list[Fraction]]) -> list[list[Fraction]]:
    rows = [r[:] for r in rows]
    pivot_row = 0
    ncols = len(rows[0]) if rows else 0
    for col in range(ncols):
        pr = next((r for r in range(pivot_row, len(rows)) if rows[r][col] != 0), None)
        if pr is None:
            continue
        rows[pivot_row], rows[pr] = rows[pr], rows[pivot_row]
        piv = rows[pivot_row][col]
        rows[pivot_row] = [x / piv for x in rows[pivot_row]]
        for r in range(len(rows)):
            if r != pivot_row and rows[r][col] != 0:
                f = rows[r][col]
                rows[r] = [a - f * b for a, b in zip(rows[r], rows[pivot_row])]
        pivot_row += 1
    return rows[:pivot_row]


def exactly_derivable(structure, visible: list[bool], target: frozenset[int]) -> bool:
    """Is the sum over `target` a rational combination of the visible aggregates' rows?"""
    n = structure.n_units
    rows = [[Fraction(1 if u in a.members else 0) for u in range(n)]
            for a, v in zip(structure.aggregates, visible) if v]
    if not rows:
        return not target
    base = _rref(rows)
    b = [Fraction(1 if u in target else 0) for u in range(n)]
    return len(_rref(base + [b])) == len(base)


# -- generated territories ----------------------------------------------------------------
@st.composite
def territories(draw, max_residences=14):
    n_communes = draw(st.integers(1, 3))
    units = []
    for c in range(n_communes):
        n_iris = draw(st.integers(1, 3))
        for i in range(n_iris):
            for r in range(draw(st.integers(1, 4))):
                if len(units) >= max_residences:
                    break
                size = draw(st.one_of(st.integers(1, 10), st.integers(11, 60)))
                qpv = draw(st.sampled_from([None, None, "QA", "QB"]))
                units.append(Unit(f"R{len(units):03d}", f"5900{c}{i:04d}", f"5900{c}",
                                  qpv, size))
    return units


def _published_values(structure, values, status):
    return [values[i] if status[i] == PUBLISHED or status[i] == "Z" else None
            for i in range(len(values))]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(territories())
def test_suppression_leaves_no_leak_for_the_exact_checker(units):
    structure, values = residence_problem(units)
    result = suppress(structure, values, T)
    visible = [s in (PUBLISHED, "Z") for s in result.status]
    for i, agg in enumerate(structure.aggregates):
        if result.status[i] == PUBLISHED:
            assert values[i] == 0 or values[i] >= T          # primary rule
        if result.status[i] in (PRIMARY, COMPLEMENTARY):      # no hidden figure derivable
            assert not exactly_derivable(structure, visible, agg.members), agg.key
    # No derivable total-minus-parts remainder between 1 and 10.
    pub = Publication(structure, _published_values(structure, values, result.status))
    assert Attack(pub, T).leaks() == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(territories(max_residences=10))
def test_attack_agrees_with_the_exact_checker(units):
    """On primary-only suppression (often leaky), both detect the same exact disclosures."""
    structure, values = residence_problem(units)
    visible = [not (0 < v < T) for v in values]
    pub = Publication(structure, [v if ok else None for v, ok in zip(values, visible)])
    attack = Attack(pub, T)
    for i, agg in enumerate(structure.aggregates):
        if not visible[i]:
            assert attack.determinable(agg.members) == \
                exactly_derivable(structure, visible, agg.members), agg.key


@settings(max_examples=30, deadline=None)
@given(territories())
def test_suppression_is_deterministic(units):
    s1 = suppress(*residence_problem(units), T).status
    s2 = suppress(*residence_problem(list(units)), T).status
    assert s1 == s2


def test_a_single_hidden_residence_is_protected_by_a_second_one():
    # IRIS of 3 résidences: 5 (primary), 30, 40. Publishing IRIS = 75 and the two
    # others would give the 5 away: the smallest other résidence is hidden too.
    units = [Unit("R1", "593500101", "59350", None, 5),
             Unit("R2", "593500101", "59350", None, 30),
             Unit("R3", "593500101", "59350", None, 40),
             Unit("R4", "593500102", "59350", None, 50)]
    structure, values = residence_problem(units)
    status = dict(zip([a.key for a in structure.aggregates], suppress(structure, values, T).status))
    assert status[("residence", "R1")] == PRIMARY
    assert status[("residence", "R2")] == COMPLEMENTARY
    assert status[("residence", "R3")] == PUBLISHED
    assert status[("iris", "593500101")] == PUBLISHED


def test_attack_finds_the_classic_leaks():
    units = [Unit("R1", "593500101", "59350", "QA", 5),
             Unit("R2", "593500101", "59350", None, 30),
             Unit("R3", "593500102", "59350", "QA", 8),
             Unit("R4", "593500102", "59350", None, 12)]
    structure, values = residence_problem(units)
    primary_only = [None if 0 < v < T else v for v in values]
    leaks = Attack(Publication(structure, primary_only), T).leaks()
    revealed = {leak.value for leak in leaks if leak.kind == "remainder"}
    assert 5 in revealed and 8 in revealed  # IRIS − visible résidence, each
    exact = {leak.target for leak in leaks if leak.kind == "exact"}
    assert "residence R1" in exact and "residence R3" in exact


def test_consecutive_windows_never_reveal_a_single_year():
    cells = []
    for year, n in zip(range(2020, 2025), (6, 9, 7, 30, 4)):
        cells.append(Unit(f"c{year}", "593500101", "59350", None, n, annee=year))
        cells.append(Unit(f"d{year}", "593500102", "59350", None, 20, annee=year))
    structure, values, published = attribution_problem(cells, [2022, 2023, 2024], 3)
    result = suppress(structure, values, T, published=published)
    visible = [s in (PUBLISHED, "Z") for s in result.status]
    for i, agg in enumerate(structure.aggregates):
        if result.status[i] == NEVER or result.status[i] in (PRIMARY, COMPLEMENTARY):
            assert not exactly_derivable(structure, visible, agg.members), agg.key
    assert any(s == PUBLISHED for s in result.status)
