"""Build the secrecy problem of one theme and millésime from territorial units.

Parc and occupation: units are résidences, published at résidence, IRIS, QPV,
commune and MEL scales. Attributions: units are cells (IRIS × QPV part) × year,
published at IRIS, QPV, commune and MEL scales as 3-year windows (the commune
and MEL totals also split inside / outside QPV), never per résidence nor per year (the single years are added as always-hidden aggregates,
so that the attack proves none of them can be derived).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from portail.secret.attack import Aggregate, Structure

MEL = "MEL"


@dataclass(frozen=True)
class Unit:
    key: str              # résidence id, or cell key
    code_iris: str
    code_insee: str
    code_qpv: str | None
    value: float          # the base: dwellings, households or allocations
    annee: int | None = None


def residence_problem(units: list[Unit]) -> tuple[Structure, list[float]]:
    """Résidences → (résidence, IRIS, QPV, commune, MEL)."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    aggregates: list[Aggregate] = []
    values: list[float] = []
    for n, u in enumerate(units):
        aggregates.append(Aggregate(("residence", u.key), "residence", frozenset([n]), unit=n))
        values.append(u.value)
        groups[("iris", u.code_iris)].append(n)
        groups[("commune", u.code_insee)].append(n)
        groups[("mel", MEL)].append(n)
        if u.code_qpv:
            groups[("qpv", u.code_qpv)].append(n)
    for key in sorted(groups):
        members = groups[key]
        aggregates.append(Aggregate(key, key[0], frozenset(members)))
        values.append(sum(units[n].value for n in members))
    return Structure.build(len(units), aggregates), values


def attribution_problem(cells: list[Unit], windows: list[int], window_years: int
                        ) -> tuple[Structure, list[float], list[bool]]:
    """Cells per year → (territory, window) sums; plus hidden (territory, year) checks.

    Returns the structure, the values and, per aggregate, whether it is published
    at all (single years never are).
    """
    groups: dict[tuple, list[int]] = defaultdict(list)
    for n, c in enumerate(cells):
        side = "en-qpv" if c.code_qpv else "hors-qpv"
        for scale, code in (("iris", c.code_iris), ("commune", c.code_insee), ("mel", MEL),
                            ("qpv", c.code_qpv), (f"commune-{side}", c.code_insee),
                            (f"mel-{side}", MEL)):
            if code:
                groups[(scale, code)].append(n)
    aggregates: list[Aggregate] = []
    values: list[float] = []
    published: list[bool] = []
    for (scale, code) in sorted(groups):
        members = groups[(scale, code)]
        for last in windows:
            years = range(last - window_years + 1, last + 1)
            inside = frozenset(n for n in members if cells[n].annee in years)
            # Inside and outside QPV tile the commune (the MEL) together: one scale.
            tiling = scale.replace("-en-qpv", "-split").replace("-hors-qpv", "-split")
            aggregates.append(Aggregate((scale, code, f"{years[0]}-{last}"), tiling, inside))
            values.append(sum(cells[n].value for n in inside))
            published.append(True)
        tiling = scale.replace("-en-qpv", "-split").replace("-hors-qpv", "-split")
        for year in sorted({cells[n].annee for n in members}):
            inside = frozenset(n for n in members if cells[n].annee == year)
            aggregates.append(Aggregate((scale, code, str(year)), f"{tiling}-annee", inside))
            values.append(sum(cells[n].value for n in inside))
            published.append(False)
    return Structure.build(len(cells), aggregates), values, published
