"""The differencing attack: what can an analyst derive from the published figures?

Model. A figure is published for *aggregates* (a résidence, an IRIS, a QPV, a
commune, the MEL; for attributions, a territory × 3-year window). Each
aggregate is the sum of *units* (résidences; for attributions, cells
commune × IRIS × QPV-part × year), so every visible aggregate is one linear
equation over the unit values. An analyst with the exports and a spreadsheet
can combine those equations freely.

Two kinds of leak are looked for (the convention's rules):

* **exact disclosure** — a hidden aggregate (a hidden résidence, IRIS, …, a
  single attribution year) whose value is a linear combination of published
  figures. Found with linear algebra: the indicator vector of its unknown units
  lies in the row space of the equations (SVD per connected component);
* **small remainder** — a derivable sum of hidden units whose value is between
  1 and threshold−1 (for each published total: total − its visible parts at each
  finer scale; and the difference of two derived sums whose unit sets are
  nested, which catches IRIS/QPV overlaps).

Each leak names the published aggregates involved and the visible ones whose
hiding would close it; the suppressor (``suppress.py``) uses that, the auditor
(``audit.py``) prints it.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

Key = tuple  # (scale, code[, window]) of an aggregate


@dataclass
class Aggregate:
    key: Key
    scale: str
    members: frozenset[int]      # unit indices
    unit: int | None = None      # set when the aggregate is a single unit (résidence scale)


@dataclass
class Structure:
    """Units and the aggregates published over them (no values)."""
    n_units: int
    aggregates: list[Aggregate]
    # aggregate index -> {finer scale: [child aggregate indices]} for scales that partition it
    nested: dict[int, dict[str, list[int]]] = field(default_factory=dict)
    unit_aggregate: dict[int, int] = field(default_factory=dict)   # unit -> its own aggregate

    @classmethod
    def build(cls, n_units: int, aggregates: list[Aggregate]) -> "Structure":
        s = cls(n_units, aggregates)
        by_unit: dict[int, list[int]] = defaultdict(list)
        for i, agg in enumerate(aggregates):
            for u in agg.members:
                by_unit[u].append(i)
            if agg.unit is not None:
                s.unit_aggregate[agg.unit] = i
        for i, agg in enumerate(aggregates):
            touched: dict[str, set[int]] = defaultdict(set)
            for u in agg.members:
                for j in by_unit[u]:
                    if j != i and aggregates[j].scale != agg.scale:
                        touched[aggregates[j].scale].add(j)
            nested = {}
            for scale, touched_children in touched.items():
                # Children at this scale that lie inside the aggregate and tile it.
                children = [j for j in touched_children if aggregates[j].members <= agg.members]
                sizes = sum(len(aggregates[j].members) for j in children)
                if children and sizes == len(agg.members) and \
                        len(frozenset().union(*(aggregates[j].members for j in children))) == sizes \
                        and any(len(aggregates[j].members) < len(agg.members) for j in children):
                    nested[scale] = sorted(children, key=lambda j: aggregates[j].key)
            s.nested[i] = nested
        return s


@dataclass(frozen=True)
class Leak:
    kind: str                    # "exact" | "remainder"
    target: str                  # what is revealed, for people
    value: float | None          # the revealed value (known to the analyst)
    relation: str                # how it is derived, for people
    fixes: tuple[int, ...]       # visible aggregates whose hiding would close it, best first


@dataclass
class Publication:
    """What is visible: a value for each visible aggregate, None when hidden."""
    structure: Structure
    values: list[float | None]

    def visible(self, i: int) -> bool:
        return self.values[i] is not None


def _row_space(matrix: np.ndarray) -> np.ndarray:
    """Orthonormal basis (rows) of the row space of a 0/1 matrix.

    From the eigen-decomposition of the smaller Gram matrix: for these small
    integer matrices it is exact enough and several times faster than an SVD.
    """
    if matrix.size == 0:
        return np.zeros((0, matrix.shape[1]))
    if matrix.shape[0] <= matrix.shape[1]:
        w, u = np.linalg.eigh(matrix @ matrix.T)
        keep = w > max(w.max(), 1.0) * 1e-10
        return (matrix.T @ (u[:, keep] / np.sqrt(w[keep]))).T
    w, v = np.linalg.eigh(matrix.T @ matrix)
    keep = w > max(w.max(), 1.0) * 1e-10
    return v[:, keep].T


def _describe(agg: Aggregate) -> str:
    return " ".join(str(k) for k in agg.key)


class Attack:
    """Everything derivable from one publication; ``leaks()`` lists what must not be."""

    def __init__(self, pub: Publication, threshold: int, protect_units: bool = True):
        self.pub = pub
        self.s = pub.structure
        self.threshold = threshold
        self.protect_units = protect_units  # units without an aggregate (cells) are protected too?
        aggs = self.s.aggregates
        # Units whose own value is published are known.
        self.known: dict[int, float] = {}
        for u, i in self.s.unit_aggregate.items():
            if pub.visible(i):
                self.known[u] = pub.values[i]
        # Reduced equations: (aggregate, scale reduced by, unknown support, value).
        # ``equations``: each visible total minus its visible parts at the nearest
        # finer scale (same row space as the raw totals, but local: components
        # stay small). ``remainders``: the same at every finer scale, checked only.
        self.equations: list[tuple[int, str | None, frozenset[int], float]] = []
        self.remainders: list[tuple[int, str | None, frozenset[int], float]] = []
        for i, agg in enumerate(aggs):
            if not pub.visible(i) or agg.unit is not None:
                continue
            nested = self.s.nested.get(i, {})
            # The primary reduction removes the most published units (then: fewest children).
            ordered = sorted(nested.items(), key=lambda kv: (
                -sum(len(aggs[j].members) for j in kv[1] if pub.visible(j)), len(kv[1]), kv[0]))
            reductions = ordered or [(None, [])]
            for rank, (scale, children) in enumerate(reductions):
                eq = self._reduce(i, scale, children)
                (self.equations if rank == 0 else self.remainders).append(eq)

    def _reduce(self, i: int, scale, children):
        aggs, pub = self.s.aggregates, self.pub
        support = set(aggs[i].members)
        value = pub.values[i]
        for j in children:
            if pub.visible(j):
                support -= aggs[j].members
                value -= pub.values[j]
        unknown = frozenset(u for u in support if u not in self.known)
        value -= sum(self.known[u] for u in support if u in self.known)
        return (i, scale, unknown, value)

    # -- components and linear algebra ------------------------------------------------
    def _components(self):
        parent: dict[int, int] = {}

        def find(x):
            while parent.setdefault(x, x) != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for _, _, support, _ in self.equations:
            it = iter(support)
            first = next(it, None)
            if first is None:
                continue
            find(first)
            for u in it:
                ra, rb = find(first), find(u)
                if ra != rb:
                    parent[ra] = rb
        comps: dict[int, list[int]] = defaultdict(list)
        for u in parent:
            comps[find(u)].append(u)
        return {root: sorted(units) for root, units in comps.items()}, find

    def _rowspaces(self):
        comps, find = self._components()
        rows: dict[int, list[frozenset[int]]] = defaultdict(list)
        for _, _, support, _ in self.equations:
            if support:
                rows[find(next(iter(support)))].append(support)
        spaces = {}
        for root, units in comps.items():
            index = {u: k for k, u in enumerate(units)}
            matrix = np.zeros((len(rows[root]), len(units)))
            for r, support in enumerate(rows[root]):
                for u in support:
                    matrix[r, index[u]] = 1.0
            spaces[root] = (index, _row_space(matrix))
        return spaces, find

    def determinable(self, units: frozenset[int] | set[int]) -> bool:
        """Is the sum over these units derivable from the published figures?"""
        return self.determinable_many([units])[0]

    def determinable_many(self, targets: list) -> list[bool]:
        """``determinable`` for many unit sets at once (one projection per component)."""
        spaces, find = self._cached_spaces()
        result = [True] * len(targets)
        # component -> [(target number, its unknown units in that component)]
        parts: dict[int, list[tuple[int, list[int]]]] = defaultdict(list)
        for t, units in enumerate(targets):
            by_comp: dict[int, list[int]] = defaultdict(list)
            for u in units:
                if u in self.known:
                    continue
                if u not in self._in_equations:
                    result[t] = False  # appears in no equation: free
                    break
                by_comp[find(u)].append(u)
            else:
                for root, part in by_comp.items():
                    parts[root].append((t, part))
        for root, items in parts.items():
            items = [(t, part) for t, part in items if result[t]]
            if not items:
                continue
            index, basis = spaces[root]
            b = np.zeros((len(index), len(items)))
            for col, (_, part) in enumerate(items):
                b[[index[u] for u in part], col] = 1.0
            residual = b - basis.T @ (basis @ b) if len(basis) else b
            norms = np.linalg.norm(residual, axis=0)
            for col, (t, part) in enumerate(items):
                if norms[col] > 1e-7 * np.sqrt(len(part)):
                    result[t] = False
        return result

    def _cached_spaces(self):
        if not hasattr(self, "_spaces"):
            self._spaces = self._rowspaces()
            self._in_equations = {u for _, _, sup, _ in self.equations for u in sup}
        return self._spaces

    # -- the leaks -----------------------------------------------------------------------
    def leaks(self, remainders: bool = True, exact: bool = True) -> list[Leak]:
        """The leaks: cheap remainder checks and/or the exact (linear algebra) ones."""
        aggs, pub, t = self.s.aggregates, self.pub, self.threshold
        found: list[Leak] = []
        seen_remainders: set[frozenset[int]] = set()

        def fixes_for(i: int, scale: str | None) -> tuple[int, ...]:
            """Visible parts of aggregate i (children at `scale`, else known units), smallest first."""
            cands = []
            if scale is not None:
                cands = [j for j in self.s.nested[i][scale] if pub.visible(j)]
            if not cands:
                cands = [self.s.unit_aggregate[u] for u in aggs[i].members
                         if u in self.known and u in self.s.unit_aggregate]
            cands.sort(key=lambda j: (pub.values[j], aggs[j].key))
            return tuple(cands) + (i,)

        # Small remainders: total minus its visible parts, at each finer scale.
        for i, scale, support, value in (self.equations + self.remainders if remainders else []):
            if not support or support in seen_remainders:
                continue
            rounded = round(value, 6)
            if 0 < rounded < t or (len(support) == 1 and self._protected_unit(next(iter(support)))):
                seen_remainders.add(support)
                how = f"{_describe(aggs[i])} − parties publiées" + (f" ({scale})" if scale else "")
                found.append(Leak("remainder", f"{len(support)} unité(s) masquée(s)", rounded,
                                  how, fixes_for(i, scale)))
        # Nested differences of two derived sums (IRIS against QPV, windows…).
        by_unit: dict[int, list[int]] = defaultdict(list)
        for k, (_, _, support, _) in enumerate(self.equations):
            for u in support:
                by_unit[u].append(k)
        for k, (i, sc, sup, val) in enumerate(self.equations if remainders else []):
            if not sup:
                continue
            neighbours = set()
            for u in sup:
                neighbours.update(by_unit[u])
            for m in neighbours:
                j, sc2, sup2, val2 = self.equations[m]
                if m == k or not (sup2 < sup):
                    continue
                diff = sup - sup2
                if diff in seen_remainders:
                    continue
                d = round(val - val2, 6)
                if 0 < d < t or (len(diff) == 1 and self._protected_unit(next(iter(diff)))):
                    seen_remainders.add(diff)
                    found.append(Leak("remainder", f"{len(diff)} unité(s) masquée(s)", d,
                                      f"({_describe(aggs[i])}) − ({_describe(aggs[j])})",
                                      fixes_for(j, sc2) + fixes_for(i, sc)))
        # Exact disclosure of a hidden aggregate.
        hidden = [h for h, agg in enumerate(aggs)
                  if exact and not pub.visible(h) and agg.members]
        for h, disclosed in zip(hidden, self.determinable_many([aggs[h].members for h in hidden])):
            if disclosed:
                found.append(Leak("exact", _describe(aggs[h]), None,
                                  "combinaison linéaire des chiffres publiés",
                                  self._fixes_for_hidden(h)))
        return found

    def _protected_unit(self, u: int) -> bool:
        # A single hidden unit must never be revealed: a résidence, or a cell when asked.
        return u in self.s.unit_aggregate or self.protect_units

    def _fixes_for_hidden(self, h: int) -> tuple[int, ...]:
        """Visible parts next to the hidden units of h, from the most local total out
        (smallest first within each), then the totals themselves."""
        aggs, pub = self.s.aggregates, self.pub
        members = aggs[h].members
        order = (lambda j: (pub.values[j], aggs[j].key))
        fixes: list[int] = sorted((self.s.unit_aggregate[u] for u in members
                                   if u in self.known and u in self.s.unit_aggregate), key=order)
        # Its published siblings in the tilings of published totals come first: hiding
        # one breaks "total − siblings" (a commune's part inside QPV against outside).
        for i, agg in enumerate(aggs):
            if not pub.visible(i) or not members <= agg.members:
                continue
            for children in self.s.nested.get(i, {}).values():
                if h in children:
                    fixes += sorted((j for j in children if j != h and pub.visible(j)
                                     and j not in fixes), key=order)
        touching = sorted({(i, scale) for i, scale, sup, _ in self.equations + self.remainders
                           if sup & members or aggs[i].members & members},
                          key=lambda e: (len(aggs[e[0]].members), aggs[e[0]].key, e[1] or ""))
        seen = set(fixes)
        fixes = list(dict.fromkeys(fixes))
        for i, scale in touching[:3]:  # the most local totals are the ones worth breaking
            parts = [j for j in self.s.nested[i][scale] if pub.visible(j)] if scale else []
            parts += [self.s.unit_aggregate[u] for u in aggs[i].members
                      if u in self.known and u in self.s.unit_aggregate]
            for j in sorted(set(parts) - seen, key=order):
                fixes.append(j)
                seen.add(j)
        totals = sorted({i for i, _ in touching}, key=lambda i: (len(aggs[i].members), aggs[i].key))
        return tuple(fixes) + tuple(i for i in totals if i not in fixes)
