"""The whole publication as an analyst sees it: cells, the equations they give, the unknowns.

A **cell** is one published figure group: a theme × period × scale × code row
(the parc of IRIS 591830102 in 2024, the allocations of commune 59350 over
2022-2024…) with one secrecy status. Its figures are sums over *units*
(résidences; for allocations, cells IRIS × QPV part × year), so a visible cell
is a linear equation over unknowns that an analyst can combine freely, across
layers, themes and millésimes.

The unknowns live in **worlds**, one per quantity an analyst can add up:

* ``logements`` — dwellings: the parc's ``nb_logements`` and the rent study's
  ``nb_quittances`` (one rent record per dwelling);
* ``occupes`` — occupied dwellings: the parc's ``nb_logements − nb_vacants`` and
  the households of the occupation theme (one household per occupied dwelling);
* ``attributions`` — allocations, per IRIS × QPV part × year.

Each cell gives one **face** (equation) in each world where it counts something.
Two quantities that are equal are **one variable** when the analyst would take
them to be equal: the same résidence in consecutive millésimes when its figure
did not change (an analyst assumes it unchanged), and the rent records or
households of a résidence when they equal its dwellings or occupied dwellings
(as they do on almost every published row). Linking only true equalities keeps
the model exact: whatever the analyst derives with it is really derivable.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

# Worlds (quantities that add up).
DWELLINGS, OCCUPIED, ALLOCATIONS = "logements", "occupes", "attributions"

# The base theme: its counts are published parc figures; the other themes' counts,
# when equal to one of them, are public through it (see ``World.exempt``).
BASE_THEME = "parc"

# Internal statuses (``core.secret_statut.motif`` keeps the reason; the public code
# says only « secret », so that S and C cannot be told apart).
PUBLISHED, EMPTY, NEVER = "P", "Z", "N"
THRESHOLD, DOMINANCE, COMPLEMENTARY = "S", "D", "C"
HIDDEN = (THRESHOLD, DOMINANCE, COMPLEMENTARY)


@dataclass
class Cell:
    key: tuple                 # (theme, period, scale, code)
    base: float                # the count the threshold applies to
    published: bool = True     # False: never shown (a single attribution year)
    primary: str | None = None  # THRESHOLD or DOMINANCE when hidden whatever happens

    @property
    def theme(self) -> str:
        return self.key[0]

    @property
    def period(self) -> str:
        return self.key[1]

    @property
    def scale(self) -> str:
        return self.key[2]

    @property
    def code(self) -> str:
        return self.key[3]

    def label(self) -> str:
        theme, period, scale, code = self.key
        return f"{theme} {scale} {code} {period}"


@dataclass
class Face:
    """The equation one cell gives in one world: the sum of ``members`` is ``value``."""
    cell: int
    members: frozenset[int]
    value: float
    group: tuple               # (theme, period): tilings are sought inside a group
    scale: str
    # Is this face's count a base of the secrecy rules in this world? The parc's
    # occupied dwellings are only a sub-count of its dwellings: in the occupied world
    # they are knowledge an analyst uses, not figures the threshold applies to.
    counted: bool = True


def _rank(q):
    return (0, q, "") if isinstance(q, int) else (1, 0, repr(q))


class Links:
    """Union-find of the quantities of one world that an analyst takes as one unknown."""

    def __init__(self):
        self._parent: dict = {}

    def add(self, q) -> None:
        self._parent.setdefault(q, q)

    def find(self, q):
        parent = self._parent
        root = q
        while parent[root] != root:
            root = parent[root]
        while parent[q] != root:
            parent[q], q = root, parent[q]
        return root

    def union(self, a, b) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            if _rank(rb) < _rank(ra):   # deterministic: the smaller key is the root
                ra, rb = rb, ra
            self._parent[rb] = ra

    def numbering(self) -> dict:
        """Quantity -> variable number, numbered in the sorted order of the roots."""
        roots = sorted({self.find(q) for q in self._parent}, key=_rank)
        index = {r: n for n, r in enumerate(roots)}
        return {q: index[self.find(q)] for q in self._parent}


@dataclass
class World:
    name: str
    n_vars: int
    faces: list[Face]
    var_values: list[float]              # the true value of each variable (defender's side)
    # "values": unknowns linked only where the links hold (remainders, intervals);
    # "structure": the analyst's beliefs, true or not (exact disclosure only);
    # "all": both at once (no belief beyond the truth, as for allocations).
    role: str = "all"
    # computed by ``prepare``:
    face_of_cell: dict[int, int] = field(default_factory=dict)
    unit_faces: dict[int, list[int]] = field(default_factory=dict)   # var -> single-member faces
    nested: dict[int, dict[str, list[int]]] = field(default_factory=dict)
    by_var: dict[int, list[int]] = field(default_factory=dict)       # var -> faces containing it

    @property
    def quantity(self) -> str:
        """What the world counts (its readings share it): logements, occupes, attributions."""
        return self.name.split(" (")[0]

    def prepare(self) -> "World":
        by_var: dict[int, list[int]] = defaultdict(list)
        for f, face in enumerate(self.faces):
            self.face_of_cell[face.cell] = f
            for v in face.members:
                by_var[v].append(f)
            if len(face.members) == 1:
                self.unit_faces.setdefault(next(iter(face.members)), []).append(f)
        self.by_var = dict(by_var)
        # Tilings: for each face, the finer scales of its own group whose faces lie
        # inside it, are disjoint and cover it (IRIS of a commune, résidences of an IRIS…).
        in_group: dict[tuple, list[int]] = defaultdict(list)   # (var, group) -> faces
        for f, face in enumerate(self.faces):
            for v in face.members:
                in_group[(v, face.group)].append(f)
        for f, face in enumerate(self.faces):
            touched: dict[str, set[int]] = defaultdict(set)
            for v in face.members:
                for g in in_group[(v, face.group)]:
                    other = self.faces[g]
                    if g != f and other.scale != face.scale:
                        touched[other.scale].add(g)
            nested = {}
            for scale, cands in touched.items():
                children = [g for g in cands if self.faces[g].members <= face.members]
                size = sum(len(self.faces[g].members) for g in children)
                if children and size == len(face.members) \
                        and any(len(self.faces[g].members) < len(face.members) for g in children) \
                        and len(frozenset().union(*(self.faces[g].members for g in children))) == size:
                    nested[scale] = sorted(children, key=lambda g: self.faces[g].cell)
            self.nested[f] = nested
        return self


@dataclass
class Problem:
    cells: list[Cell]
    worlds: list[World]
    twins: list[list[int]]               # cell -> the cells that share its fate (itself included)
    companions: dict[int, list[int]] = field(default_factory=dict)  # hidden with a cell

    @property
    def worlds_by_name(self) -> dict[str, World]:
        return {w.name: w for w in self.worlds}

    @classmethod
    def build(cls, cells: list[Cell], worlds: list[World],
              shared: list[list[int]] = ()) -> "Problem":
        """``shared``: further groups of cells published or hidden together (the two
        parts of a split that one status column governs)."""
        for w in worlds:
            w.prepare()
        # Cells whose counted figure sums the same unknowns are one figure under several
        # names — a commune that is a single IRIS, an IRIS whose résidences did not
        # change from one millésime to the next, rent records equal to the dwellings of
        # the same territory: hiding one and not the others hides nothing. One fate.
        signature: dict[tuple, list[int]] = defaultdict(list)
        for w in worlds:
            if w.role == "structure":
                continue
            for face in w.faces:
                if face.counted and face.members:
                    signature[(w.name, face.members)].append(face.cell)
        fate = Links()
        for c in range(len(cells)):
            fate.add(c)
        for group in list(signature.values()) + list(shared):
            for c in group[1:]:
                fate.union(group[0], c)
        members: dict[int, list[int]] = defaultdict(list)
        for c in range(len(cells)):
            members[fate.find(c)].append(c)
        twins = [members[fate.find(c)] for c in range(len(cells))]
        return cls(cells, worlds, twins)

    def index(self) -> dict[tuple, int]:
        return {cell.key: c for c, cell in enumerate(self.cells)}
