"""The register's rules: e-mail addresses, organisations, roles, import, yearly review."""
from __future__ import annotations

import csv
import os
import stat
from datetime import date, timedelta

import psycopg
import pytest
from click.testing import CliRunner
from hypothesis import given, settings as hsettings, strategies as st

from auth import register
from auth.rules import GENERIC_LOCAL_PARTS, WEBMAIL_DOMAINS, check_email, email_problem
from portail.errors import UserError

# -- e-mail rules (pure) -----------------------------------------------------------------
names = st.from_regex(r"[a-z]{2,12}", fullmatch=True)


@given(first=names, last=names, domain=st.sampled_from(["lillemetropole.fr", "ville-roubaix.fr",
                                                         "vilogia.fr", "nord.gouv.fr"]))
def test_nominative_professional_addresses_are_accepted(first, last, domain):
    if first in GENERIC_LOCAL_PARTS:
        return
    assert email_problem(f"{first}.{last}@{domain}") is None
    assert check_email(f"{first}.{last}@{domain}") == f"{first}.{last}@{domain}"


@given(generic=st.sampled_from(sorted(GENERIC_LOCAL_PARTS)),
       suffix=st.sampled_from(["", "2", ".mairie", "-habitat", "_lille", "+portail"]),
       upper=st.booleans())
def test_generic_local_parts_are_refused_without_an_exception(generic, suffix, upper):
    local = generic + suffix
    email = f"{local.upper() if upper else local}@ville-lille.fr"
    assert email_problem(email) is not None
    with pytest.raises(UserError, match="générique"):
        check_email(email)
    # … and accepted once the administrator records the reason.
    assert check_email(email, exception_reason="boîte partagée du service SIG, validée par le DGS")


@given(local=st.sampled_from(["marie.dupont", "jean-pierre.martin"]),
       domain=st.sampled_from(sorted(WEBMAIL_DOMAINS)))
def test_webmail_addresses_are_refused_without_an_exception(local, domain):
    with pytest.raises(UserError, match="messagerie personnelle"):
        check_email(f"{local}@{domain}")
    assert check_email(f"{local}@{domain}", exception_reason="agent sans messagerie pro")


def test_accented_generic_box_is_still_generic():
    assert "générique" in email_problem("Secrétariat.DGS@mairie-hem.fr")


@pytest.mark.parametrize("bad", ["", "marie", "marie@", "@ville.fr", "marie dupont@ville.fr",
                                 "marie@ville"])
def test_malformed_addresses_are_refused_even_with_an_exception(bad):
    with pytest.raises(UserError, match="invalide"):
        check_email(bad, exception_reason="peu importe")


# -- organisations and accounts (database) ----------------------------------------------------
@pytest.fixture
def conn(settings):
    """An owner connection whose work is rolled back at the end of the test."""
    with psycopg.connect(settings.owner_dsn()) as conn:
        with conn.transaction(force_rollback=True):
            yield conn


SIGNED = date(2024, 3, 14)


def _org(conn, name="Ville de Roubaix", kind="commune", **kw):
    return register.add_organisation(conn, name, kind, kw.pop("signed_on", SIGNED),
                                     kw.pop("deliberation", "DEL-2024-031"), **kw)


def test_an_organisation_needs_its_convention(conn):
    with pytest.raises(UserError, match="délibération"):
        register.add_organisation(conn, "Ville de Hem", "commune", SIGNED, "  ")
    with pytest.raises(UserError, match="inconnu"):
        register.add_organisation(conn, "Ville de Hem", "mairie", SIGNED, "DEL-1")
    with pytest.raises(UserError, match="mission"):
        register.add_organisation(conn, "Bureau Études", "tiers", SIGNED, "CONV-7")
    with pytest.raises(UserError, match="Seuls les tiers"):
        _org(conn, ends_on=date(2026, 1, 1))
    _org(conn)
    with pytest.raises(UserError, match="existe déjà"):
        _org(conn)
    # The database refuses a third party without an end date even past the Python checks.
    with pytest.raises(psycopg.errors.CheckViolation), conn.transaction():
        conn.execute("INSERT INTO register.organisation (name, kind, convention_signed_on, "
                     "deliberation_ref) VALUES ('X', 'tiers', '2024-01-01', 'C')")


def test_no_account_without_a_signed_organisation(conn):
    with pytest.raises(UserError, match="Organisation inconnue"):
        register.add_user(conn, "marie.dupont", full_name="Marie Dupont",
                          email="marie.dupont@ville-roubaix.fr", organisation_name="Nulle part")
    with pytest.raises(psycopg.errors.CheckViolation), conn.transaction():
        conn.execute("INSERT INTO register.account (login, password_hash, email) "
                     "VALUES ('x.y', '$argon2id$v=19$m=1,t=1,p=1$YQ$YQ', 'x.y@a.fr')")


def test_third_party_roles_follow_the_organisation(conn):
    _org(conn)
    _org(conn, "Bureau Habitat Conseil", "tiers", ends_on=date.today() + timedelta(days=90))
    with pytest.raises(UserError, match="incompatible"):
        register.add_user(conn, "paul.durand", full_name="Paul Durand",
                          email="paul.durand@bhc-conseil.fr",
                          organisation_name="Bureau Habitat Conseil", role="partner")
    with pytest.raises(UserError, match="incompatible"):
        register.add_user(conn, "lea.petit", full_name="Léa Petit", email="lea.petit@roubaix.fr",
                          organisation_name="Ville de Roubaix", role="third_party")
    with pytest.raises(UserError, match="MEL"):
        register.add_user(conn, "lea.petit", full_name="Léa Petit", email="lea.petit@roubaix.fr",
                          organisation_name="Ville de Roubaix", role="admin")
    password = register.add_user(conn, "paul.durand", full_name="Paul Durand",
                                 email="paul.durand@bhc-conseil.fr",
                                 organisation_name="bureau habitat conseil", role="tiers")
    assert len(password) >= 20
    row = conn.execute("SELECT role, password_hash FROM register.account WHERE login = %s",
                       ["paul.durand"]).fetchone()
    assert row[0] == "third_party" and row[1].startswith("$argon2id$") and password not in row[1]


def test_one_address_one_account(conn):
    _org(conn)
    register.add_user(conn, "marie.dupont", full_name="Marie Dupont",
                      email="marie.dupont@ville-roubaix.fr", organisation_name="Ville de Roubaix")
    with pytest.raises(UserError, match="déjà utilisé"):
        register.add_user(conn, "marie.dupont2", full_name="Marie Dupont",
                          email="Marie.Dupont@VILLE-ROUBAIX.fr", organisation_name="Ville de Roubaix")


def test_import_of_the_annexed_list_reports_refused_lines(conn, tmp_path):
    _org(conn)
    _org(conn, "Vilogia", "bailleur")
    path = tmp_path / "annexe.csv"
    path.write_text(
        "Nom;E-mail;Organisation;Rôle\n"
        "Marie Dupont;marie.dupont@ville-roubaix.fr;Ville de Roubaix;partenaire\n"
        "Accueil;accueil@ville-roubaix.fr;Ville de Roubaix;partenaire\n"
        "Jean Martin;jean.martin@gmail.com;Vilogia;partenaire\n"
        "Ali Ben;ali.ben@vilogia.fr;Bailleur inconnu;partenaire\n"
        "Zoé Roux;zoe.roux@vilogia.fr;Vilogia;\n"
        "Marie Dupont bis;marie.dupont@ville-roubaix.fr;Ville de Roubaix;partenaire\n"
        "Anne Roy;anne.roy@vilogia.fr;Vilogia;chef\n"
        ";;;\n", encoding="utf-8")
    report = register.import_users(conn, path)
    assert [c["login"] for c in report.created] == ["marie.dupont", "zoe.roux"]
    refused = {line: reason for line, _, reason in report.refused}
    assert set(refused) == {3, 4, 5, 7, 8}
    assert "générique" in refused[3] and "messagerie personnelle" in refused[4]
    assert "Organisation inconnue" in refused[5] and "déjà utilisé" in refused[7]
    assert "Rôle inconnu" in refused[8]
    out = tmp_path / "mots-de-passe.csv"
    register.write_password_file(out, report.created)
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    rows = list(csv.DictReader(out.open(encoding="utf-8"), delimiter=";"))
    assert [r["identifiant"] for r in rows] == ["marie.dupont", "zoe.roux"]
    assert all(len(r["mot_de_passe"]) >= 20 for r in rows)


def _backdate(conn, login, **columns):
    for column, days in columns.items():
        assert column in ("created_at", "last_login_at", "password_changed_at")
        conn.execute(psycopg.sql.SQL("UPDATE register.account SET {} = now() - make_interval("
                                     "days => %s) WHERE login = %s")
                     .format(psycopg.sql.Identifier(column)), [days, login])


def test_yearly_review_on_backdated_accounts(conn, tmp_path):
    _org(conn)
    _org(conn, "Bureau Passé", "tiers", signed_on=date(2023, 1, 5),
         ends_on=date.today() - timedelta(days=1))
    _org(conn, "Bureau Actuel", "tiers", ends_on=date.today() + timedelta(days=30))
    people = {"actif": "Ville de Roubaix", "dormant": "Ville de Roubaix",
              "vieux.mdp": "Ville de Roubaix", "bientot.mdp": "Ville de Roubaix",
              "parti": "Ville de Roubaix", "tiers.fini": "Bureau Passé",
              "tiers.encours": "Bureau Actuel"}
    for login, org in people.items():
        register.add_user(conn, login, full_name=login.title(), email=f"{login}@exemple-pro.fr",
                          organisation_name=org,
                          role="third_party" if org.startswith("Bureau") else "partner")
    for login in people:
        _backdate(conn, login, created_at=800, password_changed_at=100, last_login_at=10)
    _backdate(conn, "dormant", last_login_at=370)
    _backdate(conn, "vieux.mdp", password_changed_at=380)
    _backdate(conn, "bientot.mdp", password_changed_at=350)
    register.disable_user(conn, "parti", "départ de l'agent")

    def ours(rows):   # other tests' accounts live in the same register
        return [r for r in rows if r["login"] in people]

    plan = register.review(conn)
    plan = register.Review(ours(plan.to_disable), ours(plan.to_renew))
    assert {r["login"]: r["refusal"] for r in plan.to_disable} == {
        "dormant": "unused", "tiers.fini": "assignment_ended"}
    assert {r["login"] for r in plan.to_renew} == {"vieux.mdp", "bientot.mdp"}
    # The review lists; it changes nothing until applied.
    before = dict(conn.execute("SELECT login, password_hash FROM register.account").fetchall())
    assert conn.execute("SELECT count(*) FROM register.account WHERE disabled_at IS NOT NULL "
                        "AND login = ANY(%s)", [list(people)]).fetchone()[0] == 1
    renewed = register.apply_review(conn, plan)
    status = {r["login"]: r["status"] for r in ours(register.find_users(conn))}
    assert status == {"actif": "actif", "dormant": "désactivé", "vieux.mdp": "actif",
                      "bientot.mdp": "actif", "parti": "désactivé", "tiers.fini": "désactivé",
                      "tiers.encours": "actif"}
    after = dict(conn.execute("SELECT login, password_hash FROM register.account").fetchall())
    assert {r["login"] for r in renewed} == {"vieux.mdp", "bientot.mdp"}
    assert {login for login in after if after[login] != before[login]} == {"vieux.mdp",
                                                                            "bientot.mdp"}
    reasons = dict(conn.execute("SELECT login, disabled_reason FROM register.account "
                                "WHERE disabled_at IS NOT NULL").fetchall())
    assert "inutilisé" in reasons["dormant"] and "mission" in reasons["tiers.fini"]
    again = register.review(conn)
    assert ours(again.to_disable) == [] and ours(again.to_renew) == []


def test_disabled_account_is_enabled_only_by_the_administrator(conn):
    _org(conn)
    register.add_user(conn, "marie.dupont", full_name="Marie Dupont",
                      email="marie.dupont@ville-roubaix.fr", organisation_name="Ville de Roubaix")
    _backdate(conn, "marie.dupont", created_at=500, last_login_at=400)
    register.disable_user(conn, "marie.dupont", "inutilisé")
    with pytest.raises(UserError, match="déjà désactivé"):
        register.disable_user(conn, "marie.dupont", "encore")
    register.enable_user(conn, "marie.dupont")
    # Re-enabling restarts the "unused for a year" clock.
    status = register.find_users(conn, text="marie")[0]
    assert status["status"] == "actif"


def test_only_an_account_the_gate_lets_in_may_change_its_password(conn):
    """The gate role's function: an expired, unused, disabled account or a third party
    whose assignment ended cannot renew its password (a session opened before the end);
    a stale password (over a year) can, that is when the change is asked."""
    _org(conn)
    _org(conn, "Bureau Passé", "tiers", signed_on=date(2023, 1, 5),
         ends_on=date.today() - timedelta(days=1))
    cases = {"en.regle": None, "perime": "expired", "dormant": "unused",
             "vieux.mdp": "password_stale", "parti": "disabled", "tiers.fini": "assignment_ended"}
    for login in cases:
        register.add_user(conn, login, full_name=login.title(), email=f"{login}@exemple-pro.fr",
                          organisation_name="Bureau Passé" if login == "tiers.fini"
                          else "Ville de Roubaix",
                          role="third_party" if login == "tiers.fini" else "partner")
    conn.execute("UPDATE register.account SET expires_at = now() - interval '1 day' "
                 "WHERE login = 'perime'")
    _backdate(conn, "dormant", created_at=800, last_login_at=400)
    _backdate(conn, "vieux.mdp", password_changed_at=400)
    register.disable_user(conn, "parti", "départ de l'agent")
    from auth.accounts import hash_password
    new_hash = hash_password("un tout nouveau mot de passe")
    for login, refusal in cases.items():
        assert conn.execute("SELECT refusal FROM register.account_status WHERE login = %s",
                            [login]).fetchone()[0] == refusal, login
        current = conn.execute("SELECT password_hash FROM register.account WHERE login = %s",
                               [login]).fetchone()[0]
        changed = conn.execute("SELECT register.gate_change_password(%s, %s, %s)",
                               [login, current, new_hash]).fetchone()[0]
        assert bool(changed) == (refusal in (None, "password_stale")), login
        after = conn.execute("SELECT password_hash FROM register.account WHERE login = %s",
                             [login]).fetchone()[0]
        assert (after == new_hash) == bool(changed), login


# -- the CLI ------------------------------------------------------------------------------------
@pytest.fixture
def cli(settings):
    from portail.cli import main

    def run(*args, input=None):
        result = CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)
        return result
    return run


def test_cli_adds_organisation_and_user_and_shows_password_once(cli, owner_conn):
    r = cli("orgs", "add", "Ville de Wattrelos", "--type", "commune", "--signee-le", "2024-06-01",
            "--deliberation", "DEL-2024-77")
    assert r.exit_code == 0, r.output
    r = cli("users", "add", "contact.wattrelos", "--nom", "Accueil", "--email",
            "contact@ville-wattrelos.fr", "--organisation", "Ville de Wattrelos")
    assert r.exit_code == 1 and "générique" in r.output and "Traceback" not in r.output
    r = cli("users", "add", "hugo.leroy", "--nom", "Hugo Leroy", "--email",
            "hugo.leroy@ville-wattrelos.fr", "--organisation", "Ville de Wattrelos")
    assert r.exit_code == 0, r.output
    password = r.output.split("une seule fois) : ")[1].strip()
    assert len(password) >= 20
    listing = cli("users", "search", "leroy").output
    assert "hugo.leroy" in listing and password not in listing
    r = cli("users", "disable", "hugo.leroy", "--motif", "départ")
    assert r.exit_code == 0
    assert "désactivé" in cli("users", "list", "--statut", "désactivé").output
    r = cli("users", "enable", "hugo.leroy", "--nouveau-mot-de-passe")
    assert r.exit_code == 0 and "une seule fois" in r.output
    assert "Ville de Wattrelos [commune]" in cli("orgs", "list").output
    owner_conn.execute("DELETE FROM register.account WHERE login = 'hugo.leroy'")
    owner_conn.execute("DELETE FROM register.organisation WHERE name = 'Ville de Wattrelos'")


def test_cli_review_lists_then_applies_with_confirmation(cli, owner_conn, tmp_path):
    r = cli("orgs", "add", "Ville de Loos", "--type", "commune", "--signee-le", "2023-02-01",
            "--deliberation", "DEL-2023-4")
    assert r.exit_code == 0, r.output
    r = cli("users", "add", "ines.morel", "--nom", "Inès Morel", "--email",
            "ines.morel@ville-loos.fr", "--organisation", "Ville de Loos")
    owner_conn.execute("UPDATE register.account SET password_changed_at = now() - interval "
                       "'400 days' WHERE login = 'ines.morel'")
    try:
        listing = cli("users", "review").output
        assert "ines.morel" in listing and "Rien n'a été modifié" in listing
        out = tmp_path / "revue.csv"
        refused = cli("users", "review", "--apply", "--mots-de-passe", str(out), input="n\n")
        assert refused.exit_code == 1 and not out.exists()
        applied = cli("users", "review", "--apply", "--mots-de-passe", str(out), input="y\n")
        assert applied.exit_code == 0, applied.output
        assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
        assert "ines.morel" in out.read_text()
        assert "ines.morel" not in cli("users", "review").output
    finally:
        owner_conn.execute("DELETE FROM register.account WHERE login = 'ines.morel'")
        owner_conn.execute("DELETE FROM register.organisation WHERE name = 'Ville de Loos'")
