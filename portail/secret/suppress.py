"""Primary and complementary suppression, computed when data is published.

Primary: an aggregate whose base (dwellings, households, allocations) is
between 1 and threshold−1 is hidden (status ``S``). Complementary: while the
differencing attack (``attack.py``) finds a leak, hide one more published
aggregate among those that close it — the smallest first, ties broken by key,
so the result is deterministic and loses as little as possible (status ``C``).
Aggregates with the same units (a commune that is a single IRIS) share one fate.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from portail.errors import UserError
from portail.secret.attack import Attack, Publication, Structure

PUBLISHED, PRIMARY, COMPLEMENTARY, EMPTY = "P", "S", "C", "Z"
NEVER = "N"   # never published (single attribution years): checked, never shown


class SuppressionError(UserError):
    """No suppression closes every leak: the load is refused (rolled back), nothing published."""

    def __init__(self, message: str):
        super().__init__(f"Secret statistique : {message}",
                         hint="Rien n'a été publié ; signalez ce cas à l'équipe technique "
                              "avec le fichier chargé.")


@dataclass
class Suppression:
    status: list[str]
    rounds: int

    def hidden(self) -> set[int]:
        return {i for i, s in enumerate(self.status) if s in (PRIMARY, COMPLEMENTARY)}


def suppress(structure: Structure, values: list[float], threshold: int,
             published: list[bool] | None = None, forced: set[int] = frozenset(),
             forced_complementary: set[int] = frozenset(),
             protect_units: bool = True, max_rounds: int = 500) -> Suppression:
    """Statuses of every aggregate so that no leak remains.

    ``published[i]`` False marks an aggregate that is never shown but must not be
    derivable either (a single attribution year). ``forced`` aggregates are
    hidden as primary whatever their value (a résidence under the threshold in
    the parc hides its occupation too); ``forced_complementary`` ones are hidden
    as complementary from the start (a résidence hidden in the parc to protect
    another stays hidden in the themes whose base is close to its dwellings).
    """
    aggs = structure.aggregates
    twins: dict[frozenset, list[int]] = defaultdict(list)
    for i, agg in enumerate(aggs):
        if agg.members:
            twins[agg.members].append(i)

    status = [EMPTY if not agg.members or values[i] == 0 else PUBLISHED
              for i, agg in enumerate(aggs)]
    for i in range(len(aggs)):
        if published is not None and not published[i]:
            status[i] = NEVER
    for i, value in enumerate(values):
        if i in forced or (status[i] == PUBLISHED and value < threshold):
            status[i] = PRIMARY

    def hide(i: int, code: str) -> None:
        for j in twins[aggs[i].members]:
            if status[j] in (PUBLISHED, EMPTY):   # a zero can give a hidden unit away too
                status[j] = code

    for i in [i for i, s in enumerate(status) if s == PRIMARY]:
        hide(i, PRIMARY)
    for i in forced_complementary:
        hide(i, COMPLEMENTARY)

    for rounds in range(1, max_rounds + 1):
        pub = Publication(structure, [values[i] if status[i] in (PUBLISHED, EMPTY) else None
                                      for i in range(len(aggs))])
        attack = Attack(pub, threshold, protect_units=protect_units)
        # Cheap remainder checks first; the linear algebra only once they pass.
        leaks = attack.leaks(exact=False) or attack.leaks(remainders=False)
        if not leaks:
            return Suppression(status, rounds)
        hidden_now: set[int] = set()
        for leak in leaks:
            if leak.kind == "remainder" and hidden_now & set(leak.fixes):
                continue  # this round already touched it; re-check next round
            choice = next((j for j in leak.fixes if status[j] == PUBLISHED), None)
            if choice is None:
                choice = next((j for j in leak.fixes if status[j] == EMPTY), None)
            if choice is None:
                continue
            hide(choice, COMPLEMENTARY)
            hidden_now.add(choice)
        if not hidden_now:
            raise SuppressionError(f"{len(leaks)} fuite(s) sans correction possible : "
                                   + "; ".join(f"{lk.target} par {lk.relation}" for lk in leaks[:5]))
    raise SuppressionError(f"pas de point fixe après {max_rounds} tours")
