"""The interval attack: how tightly can an analyst bound a hidden figure?

With the equations of ``attack.py`` and what every analyst knows besides —
counts are never negative, and a hidden figure is never zero (a zero is
published as such, status Z) — a linear program bounds each hidden figure:
its smallest and largest feasible values. The convention's promise holds only
if that interval is at least ``threshold − 1`` wide: a hidden résidence known
to hold between 1 and 3 dwellings is as good as disclosed.

Solved with HiGHS (``highspy``), one model per connected component of the
unknowns, re-solved with a new objective for each hidden figure (warm start).
Most hidden résidences need no program: when another hidden unknown lies in
exactly the same published figures, dwellings can be moved between the two
without changing anything published, which proves the interval wide enough
(the true values are a feasible point, so the slack is known).
"""
from __future__ import annotations

import os
from collections import defaultdict
from contextlib import contextmanager

import numpy as np

from portail.secret.attack import EPS, Leak, WorldAttack

try:  # HiGHS prints a banner on stdout when a model is created
    import highspy
except ImportError:  # pragma: no cover - declared dependency
    highspy = None


@contextmanager
def _quiet_stdout():
    """HiGHS writes its banner with C stdio: silence file descriptor 1 meanwhile."""
    try:
        saved = os.dup(1)
    except OSError:  # no stdout at all
        yield
        return
    with open(os.devnull, "wb") as null:
        os.dup2(null.fileno(), 1)
        try:
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)


def _new_model():
    with _quiet_stdout():
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("log_to_console", False)
    # Many small programs, each re-solved with a new objective: presolve costs more
    # than it saves, and keeping the basis makes the second solve a few pivots.
    h.setOptionValue("presolve", "off")
    return h


class IntervalAttack:
    """Feasible intervals of the hidden figures of one world."""

    def __init__(self, attack: WorldAttack, hidden: list[bool], bounded: list[int],
                 true_values: list[float] | None = None, cache: dict | None = None):
        """``hidden[f]``: face f belongs to a hidden published cell (so its sum is ≥ 1);
        ``bounded``: the hidden faces whose interval must be wide; ``true_values``:
        the defender's values of the variables (for the no-program proof), or None."""
        self.a = attack
        self.w = attack.w
        self.hidden = hidden
        self.bounded = bounded
        self.true_values = true_values
        self.min_width = attack.threshold - 1
        self.cache = cache if cache is not None else {}   # programs already solved
        # A hidden figure is at least 1 (zeros are published): a bound on its variable.
        # Except the figures of a résidence under the threshold, hidden even when zero;
        # the bound is kept where the true value is not zero — a stronger attacker.
        self.lower: dict[int, float] = {}
        for f, face in enumerate(self.w.faces):
            if hidden[f] and len(face.members) == 1 and face.value >= 1:
                v = next(iter(face.members))
                if v not in attack.known:
                    self.lower[v] = 1.0

    # -- the proof without a program ----------------------------------------------------
    def _certified(self) -> set[int]:
        """Bounded faces proved wide without a program, by moving value between twins.

        Twins: unknowns in exactly the same *published* figures, each a hidden
        résidence (at least 1). Moving value from one twin to another changes no
        published figure, and hidden figures stay ≥ 1 as long as every twin keeps 1.
        A hidden figure gains everything above 1 of its members' twins outside it,
        and loses everything above 1 of its members that have a twin outside it."""
        if self.true_values is None:
            return set()
        w, a = self.w, self.a
        groups: dict[tuple, list[int]] = defaultdict(list)
        for v, fs in w.by_var.items():
            if v in a.known or self.lower.get(v, 0.0) < 1.0:
                continue
            groups[tuple(f for f in fs
                         if len(w.faces[f].members) > 1 and a.visible[f])].append(v)
        group_of: dict[int, int] = {}
        slack: list[float] = []
        for n, vs in enumerate(groups.values()):
            slack.append(sum(self.true_values[v] - 1.0 for v in vs))
            for v in vs:
                group_of[v] = n
        sizes = [len(vs) for vs in groups.values()]
        proved = set()
        for f in self.bounded:
            inside: dict[int, int] = defaultdict(int)
            for v in w.faces[f].members:
                if v in group_of:
                    inside[group_of[v]] += 1
            # A group wholly inside the figure moves nothing in or out of it.
            width = sum(slack[g] for g, n in inside.items() if n < sizes[g])
            if width >= self.min_width - EPS:
                proved.add(f)
        return proved

    # -- the programs -----------------------------------------------------------------------
    def narrow(self) -> list[Leak]:
        """The bounded faces whose feasible interval is narrower than threshold − 1."""
        a, w = self.a, self.w
        proved = self._certified()
        todo = [f for f in self.bounded if f not in proved]
        todo = [f for f in todo if any(v not in a.known for v in w.faces[f].members)]
        if not todo:
            return []
        # Rows: reduced equations (equalities) and hidden faces (sum ≥ 1).
        rows: list[tuple[list[int], float, float, int | None]] = []
        for k, (f, _, support, value) in enumerate(a.equations):
            if support:
                rows.append((sorted(support), value, value, k))
        # A hidden total is at least 1 too, which a hidden résidence inside it already
        # implies (most cases).
        for f, face in enumerate(w.faces):
            if self.hidden[f] and len(face.members) > 1 and face.value >= 1:
                unknown = sorted(v for v in face.members if v not in a.known)
                need = 1.0 - sum(a.known[v] for v in face.members if v in a.known)
                if unknown and need > EPS and not any(v in self.lower for v in unknown):
                    rows.append((unknown, need, highspy.kHighsInf, None))
        # Proof by a small program first: the unknowns near the figure free, every other
        # one fixed at its true value. That restricts the feasible set, so a wide
        # interval there is wide in the whole problem; only the others need the whole.
        if self.true_values is not None:
            for size, hops in self.LOCAL_REGIONS:
                todo = self._locally_narrow(todo, rows, size, hops)
            if not todo:
                return []
        # Components over every row.
        parent: dict[int, int] = {}

        def find(x):
            root = x
            while parent.setdefault(root, root) != root:
                root = parent[root]
            while parent[x] != root:
                parent[x], x = root, parent[x]
            return root

        for vs, _, _, _ in rows:
            r0 = find(vs[0])
            for v in vs[1:]:
                r1 = find(v)
                if r0 != r1:
                    parent[r1] = r0
        comp_rows: dict[int, list[int]] = defaultdict(list)
        for n, (vs, _, _, _) in enumerate(rows):
            comp_rows[find(vs[0])].append(n)
        models: dict[int, tuple] = {}
        keys: dict[int, tuple] = {}
        cache = self.cache
        leaks = []
        for f in sorted(todo):
            unknown = [v for v in w.faces[f].members if v not in a.known]
            if any(v not in parent for v in unknown):
                continue   # an unknown in no constraint at all: unbounded above
            parts: dict[int, list[int]] = defaultdict(list)
            for v in unknown:
                parts[find(v)].append(v)
            width, coefs, scales = 0.0, {}, {}
            for root in sorted(parts):
                if root not in keys:
                    keys[root] = self._component_key(rows, comp_rows[root])
                key = (keys[root], tuple(sorted(parts[root])))
                if key not in cache:
                    if root not in models:
                        models[root] = self._model(rows, comp_rows[root])
                    low, high, duals = self._bounds(models[root], parts[root])
                    # The binding equations (non-zero duals, of either program) are what
                    # narrows the interval: the first dual seen gives the coefficient.
                    binding = {}
                    for pos, n in enumerate(comp_rows[root]):
                        k = rows[n][3]
                        for dual in duals:
                            if k is not None and abs(dual[pos]) > 1e-9:
                                face, scale, _, _ = a.equations[k]
                                binding.setdefault(face, (scale, dual[pos]))
                    cache[key] = (high - low, binding)
                part_width, binding = cache[key]
                width += part_width
                if width == highspy.kHighsInf:
                    break
                for face, (scale, dual) in binding.items():
                    if face not in coefs:
                        coefs[face], scales[face] = dual, scale
            if width >= self.min_width - EPS:
                continue
            # Never the bounds themselves: they may hint at a hidden value.
            leaks.append(Leak("interval", w.name, f, w.faces[f].members, None,
                              "intervalle trop étroit (programmation linéaire)",
                              a._raw(dict(coefs), scales)))
        return leaks

    # Regions tried in turn: rows up to this size free their unknowns, this many steps
    # away from the figure.
    LOCAL_REGIONS = ((200, 1), (200, 2))

    def _locally_narrow(self, todo: list[int], rows, size: int, hops: int) -> list[int]:
        """The figures a truth-anchored local program cannot prove wide."""
        a, w, truth = self.a, self.w, self.true_values
        rows_of: dict[int, list[int]] = defaultdict(list)
        for n, (vs, _, _, _) in enumerate(rows):
            for v in vs:
                rows_of[v].append(n)
        row_hash = [hash((tuple(vs), lo, hi)) for vs, lo, hi, _ in rows]
        left = []
        for f in todo:
            unknown = sorted(v for v in w.faces[f].members if v not in a.known)
            free = set(unknown)
            frontier = list(unknown)
            for _ in range(hops):
                reached = set()
                for v in frontier:
                    for n in rows_of.get(v, ()):
                        if len(rows[n][0]) <= size:
                            reached.update(rows[n][0])
                frontier = list(reached - free)
                free |= reached
            local = sorted({n for v in free for n in rows_of.get(v, ())})
            if any(v not in rows_of for v in unknown):
                continue   # in no row: unbounded above
            free = sorted(free)
            key = ("local", tuple(unknown), tuple(free), tuple(row_hash[n] for n in local),
                   tuple(self.lower.get(v, 0.0) for v in free))
            if key not in self.cache:
                index = {v: i for i, v in enumerate(free)}
                h = _new_model()
                inf = highspy.kHighsInf
                h.addVars(len(free), np.array([self.lower.get(v, 0.0) for v in free]),
                          np.full(len(free), inf))
                for n in local:
                    vs, lo, hi, _ = rows[n]
                    fixed = sum(truth[v] for v in vs if v not in index)
                    cols = [index[v] for v in vs if v in index]
                    h.addRow(lo - fixed, hi - fixed if hi != inf else inf, len(cols),
                             np.array(cols, dtype=np.int32), np.ones(len(cols)))
                low, high, _ = self._bounds((h, index, np.arange(len(free), dtype=np.int32)),
                                            unknown)
                self.cache[key] = high - low
            if self.cache[key] < self.min_width - EPS:
                left.append(f)
        return left

    def _component_key(self, rows, row_numbers) -> tuple:
        """What a component's programs depend on: its rows and its variables' bounds."""
        members = tuple(sorted((tuple(rows[n][0]), rows[n][1], rows[n][2]) for n in row_numbers))
        vs = sorted({v for n in row_numbers for v in rows[n][0]})
        return hash((members, tuple(self.lower.get(v, 0.0) for v in vs)))

    def _model(self, rows, row_numbers):
        vs = sorted({v for n in row_numbers for v in rows[n][0]})
        index = {v: i for i, v in enumerate(vs)}
        h = _new_model()
        inf = highspy.kHighsInf
        h.addVars(len(vs), np.array([self.lower.get(v, 0.0) for v in vs]), np.full(len(vs), inf))
        for n in row_numbers:
            members, lo, hi, _ = rows[n]
            h.addRow(lo, hi, len(members), np.array([index[v] for v in members], dtype=np.int32),
                     np.ones(len(members)))
        return h, index, np.arange(len(vs), dtype=np.int32)

    def _bounds(self, model, unknown):
        """(smallest, largest, row duals) of the sum over ``unknown`` in one component."""
        h, index, cols = model
        cost = np.zeros(len(index))
        cost[[index[v] for v in unknown]] = 1.0
        h.changeColsCost(len(index), cols, cost)
        bounds, duals = [], []
        for sense in (highspy.ObjSense.kMinimize, highspy.ObjSense.kMaximize):
            h.changeObjectiveSense(sense)
            h.run()
            status = h.getModelStatus()
            if status in (highspy.HighsModelStatus.kUnbounded,
                          highspy.HighsModelStatus.kUnboundedOrInfeasible) and bounds:
                return bounds[0] if bounds else 0.0, highspy.kHighsInf, duals
            if status != highspy.HighsModelStatus.kOptimal:
                raise RuntimeError("programme linéaire du secret : "
                                   + h.modelStatusToString(status))
            bounds.append(h.getInfo().objective_function_value)
            duals.append(list(h.getSolution().row_dual))
        return bounds[0], bounds[1], duals
