"""The linear attack on one world: what can an analyst derive from the visible cells?

Every visible face is an equation over the world's unknowns. Units whose own
figure is visible (a published résidence, in any millésime or theme linked to
it) are known and substituted. Each visible total is then reduced by its
visible parts at a finer scale (a commune minus its published IRIS), which
gives the same row space with local equations: connected components stay small.

Leaks looked for (each names the visible faces whose hiding would break it):

* ``remainder`` — a total minus its published parts (at every finer scale), or
  the difference of two derived sums whose unknowns are nested (IRIS against
  QPV, one millésime or window against another), whose value lies between 1
  and threshold − 1, or that isolates a single unknown;
* ``exact`` — a hidden figure (or a never-published single year) whose unknowns'
  sum lies in the row space of the equations: it is a linear combination of
  published figures.

The interval attack (non-negativity, linear programming) is in ``intervals.py``.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import lsqr

from portail.secret.model import World

EPS = 1e-6
HIDDEN_TARGET, NEVER_TARGET = 1, 2


@dataclass(frozen=True)
class Derivation:
    """How a leak is derived: a coefficient per visible face (raw, unreduced equations)."""
    faces: dict            # face index -> coefficient


@dataclass(frozen=True)
class Leak:
    kind: str              # "remainder" | "exact" | "interval"
    world: str
    face: int | None       # the revealed face (exact, interval), None for a remainder
    support: frozenset     # the unknowns involved
    value: float | None    # what the analyst learns (never printed for people)
    relation: str          # how, for people (face labels only, never values)
    derivation: Derivation


def _row_space(matrix: np.ndarray) -> np.ndarray:
    """Orthonormal basis (rows) of the row space of a 0/1 matrix, from the smaller
    Gram matrix: exact enough for these small integer matrices, faster than an SVD."""
    if matrix.size == 0:
        return np.zeros((0, matrix.shape[1]))
    if matrix.shape[0] <= matrix.shape[1]:
        w, u = np.linalg.eigh(matrix @ matrix.T)
        keep = w > max(w.max(), 1.0) * 1e-10
        return (matrix.T @ (u[:, keep] / np.sqrt(w[keep]))).T
    w, v = np.linalg.eigh(matrix.T @ matrix)
    keep = w > max(w.max(), 1.0) * 1e-10
    return v[:, keep].T


class WorldAttack:
    """Everything derivable in one world from the visible faces."""

    def __init__(self, world: World, visible: list[bool], targets: list[bool],
                 threshold: int, labels=None, space_cache: dict | None = None):
        """``visible[f]``: face f's value is published. ``targets[f]``: 0 if face f
        may be derivable; HIDDEN_TARGET for a hidden figure, which must never be;
        NEVER_TARGET for a never-published aggregate (a single attribution year),
        which must not be unless it is zero (« nothing in that year » is no secret)."""
        self.w = world
        self.visible = visible
        self.targets = targets
        self.threshold = threshold
        self.labels = labels or (lambda f: str(f))
        self.space_cache = space_cache if space_cache is not None else {}
        faces = world.faces
        self._target_units = {next(iter(faces[f].members)) for f in range(len(faces))
                              if targets[f] == HIDDEN_TARGET and len(faces[f].members) == 1}
        # Known unknowns: a visible single-member face gives its variable's value.
        self.known: dict[int, float] = {}
        self.known_by: dict[int, list[int]] = defaultdict(list)   # var -> visible unit faces
        for v, fs in world.unit_faces.items():
            for f in fs:
                if visible[f]:
                    self.known[v] = faces[f].value
                    self.known_by[v].append(f)
        # A published zero: every unknown in it is zero (counts are never negative).
        for f, face in enumerate(faces):
            if visible[f] and abs(face.value) < EPS and len(face.members) > 1:
                for v in face.members:
                    self.known.setdefault(v, 0.0)
                    self.known_by[v].append(f)
        # Reduced equations (face, scale reduced by, unknown support, value).
        self.equations: list[tuple[int, str | None, frozenset, float]] = []
        self.remainders: list[tuple[int, str | None, frozenset, float]] = []
        for f, face in enumerate(faces):
            if not visible[f] or len(face.members) == 1:
                continue
            nested = world.nested.get(f, {})
            ordered = sorted(nested.items(), key=lambda kv: (
                -sum(len(faces[g].members) for g in kv[1] if visible[g]), len(kv[1]), kv[0]))
            for rank, (scale, children) in enumerate(ordered or [(None, [])]):
                eq = self._reduce(f, scale, children)
                (self.equations if rank == 0 else self.remainders).append(eq)

    def _reduce(self, f: int, scale, children):
        faces, visible = self.w.faces, self.visible
        support = set(faces[f].members)
        value = faces[f].value
        for g in children:
            if visible[g]:
                support -= faces[g].members
                value -= faces[g].value
        unknown = frozenset(v for v in support if v not in self.known)
        value -= sum(self.known[v] for v in support if v in self.known)
        return (f, scale, unknown, value)

    # -- derivations -------------------------------------------------------------------
    def _raw(self, coefs: dict[int, float], scales: dict[int, str | None]) -> Derivation:
        """Reduced-equation coefficients -> raw coefficients per visible face."""
        raw: dict[int, float] = defaultdict(float)
        for f, y in coefs.items():
            if abs(y) < 1e-9:
                continue
            raw[f] += y
            scale = scales.get(f)
            if scale is not None:
                for g in self.w.nested[f][scale]:
                    if self.visible[g]:
                        raw[g] -= y
        return Derivation({f: y for f, y in raw.items() if abs(y) > 1e-9})

    # -- components and linear algebra ---------------------------------------------------
    def _components(self):
        parent: dict[int, int] = {}

        def find(x):
            root = x
            while parent.setdefault(root, root) != root:
                root = parent[root]
            while parent[x] != root:
                parent[x], x = root, parent[x]
            return root

        for _, _, support, _ in self.equations:
            it = iter(support)
            first = next(it, None)
            if first is None:
                continue
            ra = find(first)
            for v in it:
                rb = find(v)
                if ra != rb:
                    parent[rb] = ra
        comps: dict[int, list[int]] = defaultdict(list)
        for v in list(parent):
            comps[find(v)].append(v)
        return {root: sorted(vs) for root, vs in comps.items()}, find

    def _spaces(self):
        if hasattr(self, "_cached"):
            return self._cached
        comps, find = self._components()
        rows: dict[int, list[int]] = defaultdict(list)          # root -> equation numbers
        for k, (_, _, support, _) in enumerate(self.equations):
            if support:
                rows[find(next(iter(support)))].append(k)
        spaces = {}
        for root, vs in comps.items():
            supports = tuple(sorted(tuple(sorted(self.equations[k][2])) for k in rows[root]))
            key = (tuple(vs), supports)
            if key not in self.space_cache:
                index = {v: n for n, v in enumerate(vs)}
                matrix = np.zeros((len(rows[root]), len(vs)))
                for r, k in enumerate(rows[root]):
                    for v in self.equations[k][2]:
                        matrix[r, index[v]] = 1.0
                self.space_cache[key] = (index, _row_space(matrix))
            spaces[root] = self.space_cache[key] + (rows[root], hash(key))
        self._in_equations = {v for _, _, sup, _ in self.equations for v in sup}
        self._cached = (spaces, find)
        return self._cached

    def determinable_many(self, targets: list) -> list[bool]:
        """For each set of variables: is the sum of their values derivable?"""
        spaces, find = self._spaces()
        result = [True] * len(targets)
        parts: dict[int, list[tuple[int, list[int]]]] = defaultdict(list)
        for t, vs in enumerate(targets):
            by_comp: dict[int, list[int]] = defaultdict(list)
            for v in vs:
                if v in self.known:
                    continue
                if v not in self._in_equations:
                    result[t] = False       # in no equation: free
                    break
                by_comp[find(v)].append(v)
            else:
                for root, part in by_comp.items():
                    parts[root].append((t, part))
        for root, items in parts.items():
            items = [(t, part) for t, part in items if result[t]]
            if not items:
                continue
            index, basis, _, key = spaces[root]
            # Components the previous rounds of the suppression already answered.
            todo = []
            for t, part in items:
                known = self.space_cache.get(("det", key, tuple(sorted(part))))
                if known is None:
                    todo.append((t, part))
                elif not known:
                    result[t] = False
            items = todo
            if not items:
                continue
            # The sum over `part` is derivable iff its indicator b lies in the row space:
            # |b|² − |basis·b|² = 0 (orthonormal basis). b is sparse: sum the columns.
            for t, part in items:
                if len(basis):
                    proj = basis[:, [index[v] for v in part]].sum(axis=1)
                    residual = len(part) - float(proj @ proj)
                else:
                    residual = float(len(part))
                derivable = residual <= 1e-9 * len(part)
                self.space_cache[("det", key, tuple(sorted(part)))] = derivable
                if not derivable:
                    result[t] = False
        return result

    def determinable(self, vs) -> bool:
        return self.determinable_many([vs])[0]

    def derivation_of(self, vs) -> Derivation:
        """A combination of the equations giving the sum over ``vs`` (which must be derivable)."""
        spaces, find = self._spaces()
        coefs: dict[int, float] = {}
        scales: dict[int, str | None] = {}
        by_comp: dict[int, list[int]] = defaultdict(list)
        for v in vs:
            if v not in self.known:
                by_comp[find(v)].append(v)
        for root, part in by_comp.items():
            index, _, eq_numbers, _ = spaces[root]
            rows, cols = [], []
            for col, k in enumerate(eq_numbers):
                for v in self.equations[k][2]:
                    rows.append(index[v])
                    cols.append(col)
            matrix = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)),
                                       shape=(len(index), len(eq_numbers)))
            b = np.zeros(len(index))
            b[[index[v] for v in part]] = 1.0
            y = lsqr(matrix, b, atol=1e-12, btol=1e-12, iter_lim=20 * len(index) + 100)[0]
            for col, k in enumerate(eq_numbers):
                if abs(y[col]) > 1e-6:
                    f, scale, _, _ = self.equations[k]
                    coefs[f] = coefs.get(f, 0.0) + float(y[col])
                    scales[f] = scale
        return self._raw(coefs, scales)

    def _isolated(self, support: frozenset, value: float) -> bool:
        """A single unknown isolated: a leak unless it is a zero nobody hides."""
        return len(support) == 1 and (abs(value) > EPS or next(iter(support)) in self._target_units)

    # -- the leaks ---------------------------------------------------------------------------
    def leaks(self, remainders: bool = True, exact: bool = True) -> list[Leak]:
        found: list[Leak] = []
        t = self.threshold
        seen: set[frozenset] = set()
        name = self.w.name
        if remainders:
            for f, scale, support, value in self.equations + self.remainders:
                if not support or support in seen or not self.w.faces[f].counted:
                    continue
                rounded = round(value, 6)
                if 0 < rounded < t or self._isolated(support, rounded):
                    seen.add(support)
                    how = f"{self.labels(f)} − parties publiées" + (f" ({scale})" if scale else "")
                    found.append(Leak("remainder", name, None, support, rounded, how,
                                      self._raw({f: 1.0}, {f: scale})))
            by_var: dict[int, list[int]] = defaultdict(list)
            for k, (_, _, support, _) in enumerate(self.equations):
                for v in support:
                    by_var[v].append(k)
            for k, (f, sc, sup, val) in enumerate(self.equations):
                if not sup:
                    continue
                neighbours = set()
                for v in sup:
                    neighbours.update(by_var[v])
                for m in sorted(neighbours):
                    g, sc2, sup2, val2 = self.equations[m]
                    if m == k or not sup2 < sup or not (
                            self.w.faces[f].counted or self.w.faces[g].counted):
                        continue
                    diff = sup - sup2
                    if diff in seen:
                        continue
                    d = round(val - val2, 6)
                    if 0 < d < t or self._isolated(diff, d):
                        seen.add(diff)
                        found.append(Leak(
                            "remainder", name, None, diff, d,
                            f"({self.labels(f)}) − ({self.labels(g)})",
                            self._raw({f: 1.0, g: -1.0}, {f: sc, g: sc2})))
        if exact:
            hidden = [f for f, face in enumerate(self.w.faces)
                      if self.targets[f] and face.members]
            for f, disclosed in zip(hidden, self.determinable_many(
                    [self.w.faces[f].members for f in hidden])):
                if disclosed and self.targets[f] == NEVER_TARGET and \
                        abs(self.w.faces[f].value) < EPS:
                    continue
                if disclosed:
                    found.append(Leak("exact", name, f, self.w.faces[f].members, None,
                                      "combinaison linéaire des chiffres publiés",
                                      self.derivation_of(self.w.faces[f].members)))
        return found
