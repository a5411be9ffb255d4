"""Statistical secrecy attacked from outside: one regression test per leak class of issue 13.

The attack (tests/secret_attacker.py) reads only what the OGC API Features of the live server
give the ordinary test account, every loaded millésime through ``datetime``, every page through
``next``. It does not import the secrecy engine. The database (core schema, owner connection)
is read only to confirm that a derived figure really is the hidden one, so that a failure
says whether a disclosure is real. Messages name cells (layer, code, millésime, field) and
how they were derived, never a hidden value.

A test here fails when the publication gives a hidden figure away; the sanity tests at the
end weaken the publication in memory and show that each check then fails.
"""
from __future__ import annotations

from collections import defaultdict
from fractions import Fraction

import psycopg
import pytest
import requests

import secret_attacker as atk
from secret_attacker import THRESHOLD


# --------------------------------------------------------------------------------------
# Fixtures: what the attacker reads, once for the module; the truth, for confirmation only
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def published(live_server, account) -> atk.Publication:
    session = requests.Session()
    session.auth = account
    pub = atk.read_publication(session, live_server)
    assert pub.rows["parc_residences"], "nothing published: the attack would prove nothing"
    return pub


@pytest.fixture(scope="module")
def placement(published) -> atk.Placement:
    return atk.place(published)


@pytest.fixture(scope="module")
def dwellings(published, placement) -> atk.AttackSystem:
    return atk.build_dwellings_system(published, placement)


@pytest.fixture(scope="module")
def households(published, placement) -> atk.AttackSystem:
    return atk.build_occupation_system(published, placement)


@pytest.fixture(scope="module")
def allocations(published) -> atk.AttackSystem:
    return atk.build_allocation_system(published)


class Truth:
    """The hidden values, read from core to confirm (never to find) a disclosure."""

    def __init__(self, dsn: str):
        with psycopg.connect(dsn) as conn:
            self.residence = {
                (rid, m): (n, iris, qpv, insee) for m, rid, n, iris, qpv, insee in conn.execute(
                    "SELECT millesime, residence_id, nb_logements, code_iris, code_qpv, "
                    "code_insee FROM core.residence")}
            self.quittances = dict(((rid, m), n) for m, rid, n in conn.execute(
                "SELECT millesime, residence_id, nb_logements_renseignes "
                "FROM core.loyer_charges"))
            self.menages = dict(((rid, m), n) for m, rid, n in conn.execute(
                "SELECT millesime, residence_id, nb_menages FROM core.occupation"))
            self.allocations = conn.execute(
                "SELECT annee, code_insee, code_iris, code_qpv, sum(nb_attributions) "
                "FROM core.attribution GROUP BY 1, 2, 3, 4").fetchall()
            self.parametres = conn.execute(
                "SELECT seuil, attributions_residences_min, attributions_part_max "
                "FROM core.parametre_secret").fetchall()
        self.by_tag = {"x": lambda k: self.residence[k][0],
                       "q": lambda k: self.quittances.get(k, 0),
                       "h": lambda k: self.menages.get(k, 0)}

    def residence_value(self, rid: str, m: int, tag: str) -> int:
        return self.by_tag[tag]((rid, m))

    def territory_value(self, scale: str, code: str, m: int, tag: str) -> int:
        total = 0
        for (rid, mm), (_, iris, qpv, insee) in self.residence.items():
            if mm != m:
                continue
            inside = {"iris": iris == code, "qpv": qpv == code, "commune": insee == code,
                      "mel": True}[scale]
            if inside:
                total += self.by_tag[tag]((rid, mm))
        return total

    def allocation_value(self, scale: str, code: str, periode: str, fld: str) -> int:
        years = atk.window_years(periode)
        total = 0
        for year, insee, iris, qpv, n in self.allocations:
            if year not in years:
                continue
            if fld == "nb_en_qpv" and qpv is None or fld == "nb_hors_qpv" and qpv is not None:
                continue
            if {"iris": iris == code, "qpv": qpv == code, "commune": insee == code,
                    "mel": True}[scale]:
                total += n
        return total

    def value(self, key: tuple) -> int:
        if key[0] == "allocation":
            return self.allocation_value(*key[1:])
        if key[0] == "residence":
            return self.residence_value(*key[1:])
        return self.territory_value(*key[1:])


@pytest.fixture(scope="module")
def truth(settings, live_server) -> Truth:
    # After live_server: the demo data are loaded and published by then.
    truth = Truth(settings.owner_dsn())
    assert truth.residence, "core.residence is empty: nothing to confirm against"
    return truth


def _confirmed(truth: Truth, cell: atk.Cell, derived) -> bool:
    return Fraction(truth.value(cell.truth_key)) == Fraction(derived)


def _report(title: str, lines: list[str], limit: int = 40) -> str:
    shown = "\n  ".join(lines[:limit])
    more = f"\n  … and {len(lines) - limit} more" if len(lines) > limit else ""
    return f"{title} ({len(lines)}):\n  {shown}{more}"


# --------------------------------------------------------------------------------------
# Ground rules
# --------------------------------------------------------------------------------------
def test_the_rules_attacked_are_the_configured_ones(truth):
    """The attacker assumes the convention's threshold and the dominance rule of issue 13."""
    assert truth.parametres == [(atk.THRESHOLD, atk.MIN_RESIDENCES,
                                 pytest.approx(atk.MAX_SHARE_PERCENT))]


def test_every_millesime_and_window_is_attacked(published):
    assert len(published.millesimes["parc_residences"]) >= 3
    assert len(published.millesimes["attributions_communes"]) >= 2
    for collection in atk.COLLECTIONS:
        assert published.millesimes[collection], f"{collection}: no millésime read"
    assert {r["periode"] for r in published.rows["attributions_iris"]} == {
        f"{m - 2}-{m}" for m in published.millesimes["attributions_iris"]}


def test_public_codes_only_and_hidden_groups_hold_nothing(published):
    """Statuses are P, S, Z or N (no C anywhere), and every figure of a group whose status is
    S is null (a hidden résidence shows no code_iris or code_qpv either, but is drawn)."""
    undrawn = [r["id"] for r in published.rows["parc_residences"] if r["_geom"] is None]
    assert not undrawn, _report("résidences not drawn", undrawn)
    found = atk.shape_findings(published)
    assert not found, _report("published inside a hidden group, or a non-public code", found)


def test_no_published_base_count_under_the_threshold(published):
    found = []
    bases = [("parc_", "nb_logements"), ("parc_", "nb_quittances"),
             ("occupation_", "nb_menages"), ("attributions_", "nb_attributions"),
             ("attributions_", "nb_en_qpv"), ("attributions_", "nb_hors_qpv")]
    for collection, rows in published.rows.items():
        for prefix, fld in bases:
            if collection.startswith(prefix):
                found += [f"{collection} {r['id']} {fld}" for r in rows
                          if r.get(fld) is not None and 1 <= r[fld] < THRESHOLD]
    assert not found, _report(f"counts published between 1 and {THRESHOLD - 1}", found)


# --------------------------------------------------------------------------------------
# 1. Comparing millésimes (with 2. field groups inside the same system: q = x)
# --------------------------------------------------------------------------------------
def _disclosures(system: atk.AttackSystem, truth: Truth) -> tuple[list[str], list[str]]:
    real, believed = [], []
    for cell, derived in atk.exact_disclosures(system):
        if _confirmed(truth, cell, derived):
            real.append(f"{cell.label}: determined, equal to the hidden value in core")
        else:
            believed.append(f"{cell.label}: determined under the attacker's beliefs, "
                            f"differs from core")
    return real, believed


def test_no_hidden_dwellings_determined_across_millesimes(dwellings, truth):
    """All millésimes at once: unknowns are the hidden résidences (one per résidence while
    the data allow the unchanged belief), equations every published nb_logements and
    nb_quittances of IRIS, QPV, communes and MEL, each millésime. Exact rational elimination:
    no hidden résidence figure and no hidden territory total may be determined."""
    assert dwellings.cells, "no hidden cell: nothing to attack"
    real, believed = _disclosures(dwellings, truth)
    assert not real and not believed, _report(
        "hidden dwellings or rent records determined by the published totals of every "
        "millésime", real + believed) + (
        f"\n(beliefs dropped as contradicted by the data: {len(dwellings.beliefs_dropped)})")


def test_no_residence_published_one_year_and_hidden_another_at_the_same_size(published, truth):
    """The unchanged belief gives such a résidence away in the millésime where it is hidden."""
    statuses = defaultdict(dict)
    for row in published.rows["parc_residences"]:
        statuses[row["residence_id"]][row["millesime"]] = row["statut_secret"]
    found = []
    for rid, by_year in sorted(statuses.items()):
        shown = [m for m, s in by_year.items() if s == "P"]
        hidden = [m for m, s in by_year.items() if s == "S"]
        for h in hidden:
            same = [p for p in shown if truth.residence_value(rid, p, "x")
                    == truth.residence_value(rid, h, "x")]
            if same:
                found.append(f"parc_residences {rid}: hidden in {h}, published in "
                             f"{min(same)} with the same number of dwellings (core)")
    assert not found, _report("résidences given away by another millésime", found)


def test_households_are_not_a_figure_anyone_can_assume_unchanged(published):
    """Why the household attack takes no « unchanged » belief (the issue: unless the published
    data show otherwise): they do show it, on most résidences published two years running."""
    same, pairs = atk.household_stability(published)
    assert pairs > 20 and same < pairs / 2, (same, pairs)


def test_no_hidden_households_determined_across_millesimes(households, truth):
    """The same attack on occupation: hidden nb_menages of résidences and territories,
    every millésime at once, from the published data alone (see the test above)."""
    real, believed = _disclosures(households, truth)
    assert not real and not believed, _report(
        "hidden households determined", real + believed)


# --------------------------------------------------------------------------------------
# 2. Field groups with their own status
# --------------------------------------------------------------------------------------
def test_no_field_group_gives_the_other_away(published, placement, truth):
    """nb_quittances equals nb_logements on every published row: a row whose dwellings are
    hidden must not publish its rent records when they equal its dwellings (and the other
    way round). Allocations: a commune without any QPV must not hide its in/out-QPV split
    behind a published total (all its allocations are outside QPV)."""
    published_pairs = [(r["nb_logements"], r["nb_quittances"])
                       for c in ["parc_residences", *atk.PARC_SCALES.values()]
                       for r in published.rows[c]
                       if r["statut_secret"] == "P" and r["statut_quittance"] == "P"]
    assert published_pairs and all(n == q for n, q in published_pairs), \
        "the attacker's belief q = x does not hold on the published rows any more"
    found = []
    for scale, collection in [("residence", "parc_residences"), *atk.PARC_SCALES.items()]:
        for r in published.rows[collection]:
            m = r["millesime"]
            if scale == "residence":
                key = ("residence", r["residence_id"], m)
            else:
                key = ("territory", scale, r["code"], m)
            if r["statut_secret"] == "S" and r["statut_quittance"] == "P" and \
                    truth.value((*key, "x")) == r["nb_quittances"]:
                found.append(f"{collection} {r['id']}: dwellings hidden, nb_quittances "
                             f"published and equal to them (core)")
            if r["statut_quittance"] == "S" and r["statut_secret"] == "P" and \
                    truth.value((*key, "q")) == r["nb_logements"]:
                found.append(f"{collection} {r['id']}: rent records hidden, nb_logements "
                             f"published and equal to them (core)")
    for r in published.rows["attributions_communes"]:
        if r["statut_secret"] == "P" and r["statut_qpv"] == "S" \
                and not placement.qpv_of_commune.get(r["code"]):
            found.append(f"attributions_communes {r['id']}: no QPV in the commune, its "
                         f"nb_hors_qpv is its published nb_attributions")
    assert not found, _report("a published field group determines a hidden one", found)


# --------------------------------------------------------------------------------------
# 3. Sums of hidden cells
# --------------------------------------------------------------------------------------
def _remainder_problems(remainders) -> list[str]:
    found = []
    for r in remainders:
        if r.value < 0:
            found.append(f"{r.label}: negative remainder (inconsistent publication)")
        elif 0 < r.value < THRESHOLD:
            found.append(f"{r.label}: leaves {len(r.hidden_parts)} hidden part(s) summing "
                         f"to between 1 and {THRESHOLD - 1}")
        elif r.value and r.single_part:
            found.append(f"{r.label}: leaves a single hidden part "
                         f"({r.hidden_parts[0][0]}), determined")
        elif r.value == 0 and any(certain for _, certain in r.hidden_parts) \
                and "nb_logements" in r.label:
            found.append(f"{r.label}: leaves zero for hidden résidences (each has a dwelling)")
    return found


def test_no_small_sum_of_hidden_cells(published, placement):
    """For every layer, scale and millésime or window: a published total minus its
    published parts at any finer scale (résidences, IRIS, communes, QPV, in/out-QPV split)
    is 0 or at least 11, and never a single hidden cell."""
    remainders = [r for theme in atk.THEMES
                  for r in atk.residence_theme_remainders(published, placement, theme)]
    remainders += atk.attribution_remainders(published, placement)
    assert len(remainders) > 100, "too few remainders: the attack is not reaching the data"
    found = _remainder_problems(remainders)
    assert not found, _report("derivable sums of hidden cells", found)


def _allocation_disclosures(system: atk.AttackSystem, truth: Truth) -> list[str]:
    found = []
    for cell, derived in atk.exact_disclosures(system):
        if derived == 0 and cell.lower == 0:
            continue    # an empty part of a hidden split: what a published Z already says
        confirmed = _confirmed(truth, cell, derived)
        found.append(f"{cell.label}: determined across the windows"
                     + (", equal to the hidden value in core" if confirmed
                        else ", differs from core"))
    return found


def test_no_hidden_allocations_determined_across_windows(allocations, truth):
    """Every window at once, with the allocations of each year and place as non-negative
    unknowns (consecutive windows share two years): exact elimination determines no hidden
    allocation figure, of IRIS, QPV, communes, the MEL or their in/out-QPV split. This is the
    attack of one window against the next, and of a total against its hidden parts."""
    assert allocations.cells, "no hidden allocation figure: nothing to attack"
    found = _allocation_disclosures(allocations, truth)
    assert not found, _report("hidden allocation figures determined", found)


# --------------------------------------------------------------------------------------
# 4. Dominance: no allocations that could be pinned on one résidence
# --------------------------------------------------------------------------------------
def test_allocations_only_where_no_residence_dominates(published, placement):
    """Every published allocation figure (statut_secret P, and the statut_qpv P parts) lies
    on a territory where the map of each millésime of the window shows at least 2 résidences
    and no published résidence holds more than 85 % of the published dwellings."""
    found = atk.dominance_findings(published, placement)
    assert not found, _report("allocations that one résidence could carry", found)


# --------------------------------------------------------------------------------------
# 5. Counts outside the three themes
# --------------------------------------------------------------------------------------
def test_diagnostic_counts_follow_the_rules(published):
    """diagnostic_quartiers: no count in 1..10; households of the social/private stock
    hidden together and wherever the occupation of the same IRIS/QPV and millésime is
    hidden; no hidden count recoverable from a published rate and its base."""
    found = atk.diagnostic_findings(published)
    assert not found, _report("diagnostic_quartiers gives hidden counts away", found)


# --------------------------------------------------------------------------------------
# 6. Narrow intervals
# --------------------------------------------------------------------------------------
def _narrow(system: atk.AttackSystem) -> list[str]:
    found = []
    for cell, width in atk.narrow_intervals(system, THRESHOLD - 1):
        found.append(f"{cell.label}: feasible interval {width:.1f} wide")
    return found


def test_no_narrow_interval_on_hidden_dwellings(dwellings):
    """Linear programs (HiGHS) on the system of the millésime test, with non-negativity and
    hidden ≥ 1 where the attacker knows it: every hidden résidence figure and hidden
    territory total keeps a feasible interval at least 10 wide."""
    found = _narrow(dwellings)
    assert not found, _report("hidden dwellings bounded too tightly", found)


def test_no_narrow_interval_on_hidden_households(households, truth):
    """The same on occupation, counting only intervals that contain the hidden value (the
    unchanged belief is often wrong for households: an interval that misses the truth
    discloses nothing)."""
    found = []
    for cell, width in atk.narrow_intervals(households, THRESHOLD - 1):
        lo_hi = atk.interval(households, cell)
        if lo_hi[0] - 1e-6 <= truth.value(cell.truth_key) <= lo_hi[1] + 1e-6:
            found.append(f"{cell.label}: feasible interval {width:.1f} wide, hidden value "
                         f"inside (core)")
    assert not found, _report("hidden households bounded too tightly", found)


def test_no_narrow_interval_on_hidden_allocations(allocations):
    """The same linear programs on the allocations of every window (non-negative yearly
    allocations per place, hidden ≥ 1 except the parts of a hidden split)."""
    found = [f"{cell.label}: feasible interval {width:.1f} wide"
             for cell, width in atk.narrow_intervals(allocations, THRESHOLD - 1)
             if not (cell.lower == 0 and atk.interval(allocations, cell) == (0.0, 0.0))]
    assert not found, _report("hidden allocations bounded too tightly", found)


# --------------------------------------------------------------------------------------
# The attacker works: a weaker publication, simulated in memory, is caught
# --------------------------------------------------------------------------------------
def test_the_attackers_map_places_every_hidden_residence_right(published, placement, truth):
    """The point-in-polygon placement (with its boundary pieces) holds the true IRIS and QPV
    of every hidden résidence: the systems above are sound."""
    wrong = []
    for row in published.rows["parc_residences"]:
        key = (row["residence_id"], row["millesime"])
        _, iris, qpv, insee = truth.residence[key]
        if (iris, qpv) not in placement.pieces[key] or iris[:5] != insee:
            wrong.append(f"parc_residences {key[0]} {key[1]}")
    assert not wrong, _report("résidences the attacker places wrongly", wrong)


def _unhide(pub: atk.Publication, truth: Truth, rid: str, years) -> atk.Publication:
    weaker = pub.copy()
    for row in weaker.rows["parc_residences"]:
        if row["residence_id"] == rid and row["millesime"] in years:
            n, iris, qpv, insee = truth.residence[(rid, row["millesime"])]
            row.update(statut_secret="P", statut_quittance="P", nb_logements=n,
                       nb_quittances=truth.quittances.get((rid, row["millesime"]), 0),
                       code_iris=iris, code_qpv=qpv, code_insee=insee)
    return weaker


def _hidden_everywhere(pub: atk.Publication) -> list[str]:
    status = defaultdict(set)
    for row in pub.rows["parc_residences"]:
        status[row["residence_id"]].add(row["statut_secret"])
    return sorted(rid for rid, s in status.items() if s == {"S"})


def test_sanity_a_residence_shown_one_year_is_caught(published, truth):
    """Un-hide one hidden résidence in a single millésime (its true figures from core, in
    memory): the millésime attack, the interval attack and the status check all flag it."""
    years = published.millesimes["parc_residences"]
    rid = next(r for r in _hidden_everywhere(published)
               if truth.quittances.get((r, years[1]), 0) == truth.residence[(r, years[1])][0])
    weaker = _unhide(published, truth, rid, {years[1]})
    system = atk.build_dwellings_system(weaker, atk.place(weaker))
    real, _ = _disclosures(system, truth)
    assert any(rid in line for line in real), "the millésime attack missed an exposed résidence"
    narrow = [c.label for c, _ in atk.narrow_intervals(system, THRESHOLD - 1)]
    assert any(rid in label for label in narrow), "the interval attack missed it"
    with pytest.raises(AssertionError):
        test_no_residence_published_one_year_and_hidden_another_at_the_same_size(weaker, truth)


def test_sanity_differencing_within_a_millesime_is_caught(published, placement, truth):
    """Un-hide, in every millésime, one of the hidden résidences of a published territory
    that holds exactly two: the other is then the territory's remainder, and both the exact
    attack and the remainder check flag it."""
    years = published.millesimes["parc_residences"]
    m = years[-1]
    hidden = [r["residence_id"] for r in published.rows["parc_residences"]
              if r["millesime"] == m and r["statut_secret"] == "S"
              and placement.certain((r["residence_id"], m))]
    by_iris = defaultdict(list)
    for rid in hidden:
        by_iris[placement.pieces[(rid, m)][0][0]].append(rid)
    iris_published = {r["code"] for r in published.rows["parc_iris"]
                      if r["millesime"] == m and r["statut_secret"] == "P"}
    candidates = [(code, rids) for code, rids in sorted(by_iris.items())
                  if len(rids) == 2 and code in iris_published
                  and not any(rid for rid in rids if any(
                      (rid, y) not in placement.pieces for y in years))]
    assert candidates, "no published IRIS holds exactly two hidden résidences"
    code, (shown, other) = candidates[0]
    weaker = _unhide(published, truth, shown, set(years))
    weaker_map = atk.place(weaker)
    real, _ = _disclosures(atk.build_dwellings_system(weaker, weaker_map), truth)
    assert any(other in line for line in real), "the exact attack missed the differencing"
    remainders = atk.residence_theme_remainders(weaker, weaker_map, atk.THEMES[0])
    assert any(code in line for line in _remainder_problems(remainders)), \
        "the remainder check missed the differencing"


def test_sanity_dominance_and_diagnostic_checks_bite(published, placement):
    """A published allocation figure on an IRIS with one résidence, a household count of
    5 in diagnostic_quartiers: both checks flag them."""
    weaker = published.copy()
    m = weaker.millesimes["parc_residences"][-1]
    counts = defaultdict(int)
    for r in weaker.rows["parc_residences"]:
        if r["millesime"] == m:
            for piece in placement.pieces[(r["residence_id"], m)]:
                counts[piece[0]] += 1
    lonely = sorted(code for code, n in counts.items() if n == 1)
    row = next(r for r in weaker.rows["attributions_iris"]
               if r["code"] in lonely and m in atk.window_years(r["periode"]))
    row.update(statut_secret="P", nb_attributions=40)
    assert any(row["code"] in f for f in atk.dominance_findings(weaker, placement))
    diag = weaker.rows["diagnostic_quartiers"][0]
    diag["menages_parc_social"] = 5
    assert any(diag["code"] in f for f in atk.diagnostic_findings(weaker))


def test_sanity_allocations_differencing_is_caught(published, truth):
    """Un-hide (true value from core, in memory) one of exactly two hidden IRIS of a commune
    whose allocations are published: the window attack then determines the other one."""
    found = None
    for w in published.millesimes["attributions_communes"]:
        communes = {r["code"] for r in published.rows["attributions_communes"]
                    if r["millesime"] == w and r["statut_secret"] == "P"}
        hidden = defaultdict(list)
        for r in published.rows["attributions_iris"]:
            if r["millesime"] == w and r["statut_secret"] == "S" and r["code"][:5] in communes:
                hidden[r["code"][:5]].append(r["code"])
        pairs = [(c, sorted(v)) for c, v in sorted(hidden.items()) if len(v) == 2]
        if pairs:
            found = (w, *pairs[0])
            break
    assert found, "no published commune with exactly two hidden IRIS"
    w, commune, (shown, other) = found
    weaker = published.copy()
    for r in weaker.rows["attributions_iris"]:
        if r["millesime"] == w and r["code"] == shown:
            r.update(statut_secret="P", nb_attributions=truth.allocation_value(
                "iris", shown, r["periode"], "nb_attributions"))
    lines = _allocation_disclosures(atk.build_allocation_system(weaker), truth)
    assert any(other in line and "equal to the hidden value" in line for line in lines), \
        "the window attack missed a hidden IRIS left alone in its commune"
