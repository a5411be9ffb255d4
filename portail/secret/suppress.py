"""Primary and complementary suppression over the whole publication at once.

Primary: a cell whose base is between 1 and threshold − 1 is hidden (``S``), so
is an allocation cell that could be pinned on one résidence (``D``, dominance),
and a résidence hidden in the parc is hidden in every theme.

Complementary: while the attacks find a leak — a small remainder, an exact
disclosure, an interval narrower than threshold − 1, in any world — hide one
more published cell among those the leak's derivation uses, the cheapest first
(its base plus what must fall with it), ties broken by key: the result is
deterministic and loses as little as a greedy choice can. A fix that would not
change the derivation (a résidence still known from another millésime) is
never chosen. Cells with the same figures (a commune that is a single IRIS)
share one fate. Zeros are published (« nothing here » is no secret, and it lets
every analyst know that a hidden figure is at least 1) unless one would give away
a hidden figure — the zero households of a résidence under the threshold.
"""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

from portail.errors import UserError
from portail.secret.attack import HIDDEN_TARGET, NEVER_TARGET, Leak, WorldAttack
from portail.secret.intervals import IntervalAttack
from portail.secret.model import (BASE_THEME, COMPLEMENTARY, DOMINANCE, EMPTY, HIDDEN, NEVER,
                                  PUBLISHED, THRESHOLD, Problem)


class SuppressionError(UserError):
    """No suppression closes every leak: nothing is published."""

    def __init__(self, message: str):
        super().__init__(f"Secret statistique : {message}",
                         hint="Rien n'a été publié ; signalez ce cas à l'équipe technique "
                              "avec le fichier chargé.")


@dataclass
class Suppression:
    status: list[str]                  # internal: P Z N S D C
    rounds: int = 0
    seconds: dict = field(default_factory=dict)   # phase -> seconds

    def hidden(self) -> set[int]:
        return {c for c, s in enumerate(self.status) if s in HIDDEN}


def targets_of(problem: Problem, world, status: list[str]) -> list[int]:
    """Per face: must it stay underivable? Hidden cells yes, never-published ones unless
    zero. A hidden cell of another theme whose figure a published parc cell gives
    (rent records equal to the dwellings of the same published territory) is no
    secret: its count is public there; only its other figures are protected."""
    faces = world.faces
    twin = public_counts(problem)
    targets = [0] * len(faces)
    for f, face in enumerate(faces):
        if not face.counted:
            continue
        s = status[face.cell]
        if s == NEVER:
            targets[f] = NEVER_TARGET
        elif s in HIDDEN:
            if face.cell in twin and status[twin[face.cell]] in (PUBLISHED, EMPTY):
                continue
            targets[f] = HIDDEN_TARGET
    return targets


def public_counts(problem: Problem) -> dict[int, int]:
    """Cell of another theme -> the parc cell whose published figure is its count: the
    same territory and period, the same unknowns under the TRUE links (every rent
    record a dwelling, every household an occupied dwelling: equal, not believed so)."""
    if getattr(problem, "_public_counts", None) is None:
        found: dict[int, int] = {}
        for w in problem.worlds:
            if w.role == "structure":
                continue
            parc = {}
            for face in w.faces:
                cell = problem.cells[face.cell]
                if cell.theme == BASE_THEME:
                    parc[(cell.period, cell.scale, cell.code)] = face
            for face in w.faces:
                cell = problem.cells[face.cell]
                twin = parc.get((cell.period, cell.scale, cell.code))
                if face.counted and cell.theme != BASE_THEME and twin is not None \
                        and twin.members == face.members:
                    found[face.cell] = twin.cell
        problem._public_counts = found
    return problem._public_counts


def visible_faces(world, status: list[str]) -> list[bool]:
    return [status[face.cell] in (PUBLISHED, EMPTY) for face in world.faces]


def attacks(problem: Problem, status: list[str], threshold: int, caches: dict | None = None
            ) -> dict[str, WorldAttack]:
    caches = caches if caches is not None else {}
    labels = (lambda w: (lambda f: problem.cells[w.faces[f].cell].label()))
    return {w.name: WorldAttack(w, visible_faces(w, status), targets_of(problem, w, status),
                                threshold, labels=labels(w),
                                space_cache=caches.setdefault(w.name, {}))
            for w in problem.worlds}


def remainder_leaks(atts: dict[str, WorldAttack]) -> list[Leak]:
    return [lk for a in atts.values() if a.w.role != "structure" for lk in a.leaks(exact=False)]


def exact_leaks(atts: dict[str, WorldAttack]) -> list[Leak]:
    # The analyst's beliefs only add links: what the true links disclose, they do too.
    return [lk for a in atts.values() if a.w.role != "values"
            for lk in a.leaks(remainders=False)]


def interval_leaks(problem: Problem, status: list[str], atts: dict[str, WorldAttack],
                   with_truth: bool = True, caches: dict | None = None) -> list[Leak]:
    leaks = []
    for w in problem.worlds:
        if w.role == "structure":
            continue
        att = atts[w.name]
        hidden = [status[face.cell] in HIDDEN for face in w.faces]
        bounded = [f for f in range(len(w.faces)) if att.targets[f] == HIDDEN_TARGET]
        cache = None if caches is None else caches.setdefault(("lp", w.name), {})
        leaks += IntervalAttack(att, hidden, bounded, w.var_values if with_truth else None,
                                cache).narrow()
    return leaks


def suppress(problem: Problem, threshold: int, companions: dict[int, list[int]] | None = None,
             intervals: bool = True, max_rounds: int = 5000, progress=None,
             caches: dict | None = None) -> Suppression:
    """Statuses of every cell so that no attack finds a leak.

    ``companions[c]``: cells hidden whenever c is (a résidence hidden in the parc is
    hidden in the other themes). ``caches``: row spaces and programs already computed,
    keyed by everything they depend on (pure functions of their keys): the publication's
    audit reuses them — it reads its inputs from the views, and a key built from equal
    inputs is the same computation."""
    cells = problem.cells
    companions = companions or {}
    problem.companions = companions
    status = [NEVER if not cell.published else EMPTY if cell.base == 0 else PUBLISHED
              for cell in cells]

    def hide(c: int, code: str, zeros: bool = False) -> list[int]:
        done, todo = [], [c]
        while todo:
            x = todo.pop()
            for y in problem.twins[x]:
                if status[y] == PUBLISHED or zeros and status[y] == EMPTY:
                    status[y] = code
                    done.append(y)
                    todo += companions.get(y, [])
        return done

    for c, cell in enumerate(cells):
        if status[c] == PUBLISHED and (cell.primary or cell.base < threshold):
            hide(c, cell.primary or THRESHOLD)
    # A résidence under the threshold shows nothing in any theme, not even a zero
    # (« no household » is data about it too).
    for c, cell in enumerate(cells):
        if status[c] in (THRESHOLD, DOMINANCE):
            for d in companions.get(c, []):
                hide(d, THRESHOLD, zeros=True)

    caches = caches if caches is not None else {}
    result = Suppression(status)
    timing = defaultdict(float)
    for rounds in range(1, max_rounds + 1):
        started = time.monotonic()
        atts = attacks(problem, status, threshold, caches)
        leaks = remainder_leaks(atts)
        timing["restes"] += time.monotonic() - started
        if not leaks:
            started = time.monotonic()
            leaks = exact_leaks(atts)
            timing["exact"] += time.monotonic() - started
        if not leaks and intervals:
            started = time.monotonic()
            leaks = interval_leaks(problem, status, atts, caches=caches)
            timing["intervalles"] += time.monotonic() - started
        if progress:
            progress(rounds, len(leaks), sum(s in HIDDEN for s in status))
        if not leaks:
            result.rounds = rounds
            result.seconds = dict(timing)
            return result
        hidden_now: set[int] = set()
        for leak in leaks:
            options = fixes(problem, atts[leak.world], status, leak)
            if any(hidden_now & set(cells_) for _, cells_ in options):
                continue   # this round already changed it: re-checked next round
            if not options:
                continue
            hidden_now.update(x for c in options[0][1]
                              for x in hide(c, COMPLEMENTARY, zeros=True))
        if not hidden_now:
            stuck = [lk for lk in leaks if not fixes(problem, atts[lk.world], status, lk)]
            raise SuppressionError(
                f"{len(stuck)} fuite(s) sans correction possible : "
                + "; ".join(f"{lk.relation} ({lk.world})" for lk in stuck[:5]))
    raise SuppressionError(f"pas de point fixe après {max_rounds} tours")


def fixes(problem: Problem, att: WorldAttack, status: list[str], leak: Leak
          ) -> list[tuple[float, tuple[int, ...]]]:
    """Ways to break the leak's derivation, cheapest first: (cost, cells to hide).

    A group of identical figures (twins) breaks it only if the derivation uses the
    group with a non-zero net coefficient: an IRIS that did not change between two
    millésimes cancels out of their difference, and hiding it would change nothing.
    The same for a variable known from published résidences: hiding them helps only
    if the derivation needs that variable's value."""
    w = att.w
    options: set[tuple[int, ...]] = set()

    def unit_fix(v: int):
        faces = att.known_by.get(v, [])
        if faces and all(status[w.faces[f].cell] in (PUBLISHED, EMPTY) for f in faces):
            options.add(tuple(sorted({w.faces[f].cell for f in faces})))

    # What each group of twins contributes to the derivation (twins may differ in this
    # world: an IRIS of unchanged dwellings but not of unchanged occupied dwellings).
    contribution: dict[tuple, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for f, coef in leak.derivation.faces.items():
        face = w.faces[f]
        if len(face.members) > 1 and status[face.cell] in (PUBLISHED, EMPTY) \
                and any(v not in att.known for v in face.members):
            vector = contribution[tuple(problem.twins[face.cell])]
            for v in face.members:
                vector[v] += coef
    options |= {group for group, vector in contribution.items()
                if any(abs(y) > 1e-9 for y in vector.values())}
    # A known variable breaks the derivation once unknown if the totals of the
    # derivation weigh it (its published résidence subtracted from an IRIS), not if
    # they cancel it out (the same résidence in two millésimes of a difference).
    weight: dict[int, float] = defaultdict(float)
    for f, coef in leak.derivation.faces.items():
        members = w.faces[f].members
        if len(members) > 1:
            for v in members:
                if v in att.known:
                    weight[v] += coef
    for v, y in weight.items():
        if abs(y) > 1e-9:
            unit_fix(v)
    if leak.face is not None:   # a hidden figure whose unknowns other cells make known
        for v in w.faces[leak.face].members:
            if v in att.known:
                unit_fix(v)

    def falling(option):
        done, todo = set(), list(option)
        while todo:
            x = todo.pop()
            for y in problem.twins[x]:
                if y not in done and status[y] in (PUBLISHED, EMPTY):
                    done.add(y)
                    todo += companions_of(problem, y)
        return done

    def cost(option):
        # The smallest figures first (a figure repeated over unchanged millésimes counts
        # each time; a zero counts as one), then the fewest.
        cells = falling(option)
        return sum(max(problem.cells[c].base, 1.0) for c in cells), len(cells)

    ranked = sorted(options, key=lambda o: (cost(o), [problem.cells[c].key for c in o]))
    return [(cost(o)[0], o) for o in ranked]


def companions_of(problem: Problem, c: int) -> list[int]:
    return problem.companions.get(c, [])
