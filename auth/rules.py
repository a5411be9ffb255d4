"""The convention's rules on accounts that are not SQL: e-mail addresses, refusal messages.

The time rules (unused for a year, yearly password, end of a third party's
assignment, expiry) are computed in one place, the ``register.account_status``
view, used by the gate at login and by the yearly review alike.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime

from portail.errors import UserError

# Local parts that name a service or a mailbox, not a person (article 5:
# "les adresses email génériques n'étant pas acceptées, sauf exception").
GENERIC_LOCAL_PARTS = frozenset({
    "accueil", "admin", "administrateur", "administration", "agence", "assistance", "bonjour",
    "bureau", "cabinet", "communication", "compta", "comptabilite", "contact", "contacts",
    "courrier", "courriel", "dg", "dgs", "direction", "equipe", "etudes", "gestion", "hello",
    "info", "infos", "information", "informations", "mail", "mairie", "marches", "noreply",
    "no-reply", "office", "postmaster", "reception", "rh", "secretariat", "service",
    "services", "sig", "standard", "support", "urbanisme", "webmaster",
})

# Personal webmail: an address there is not a professional one.
WEBMAIL_DOMAINS = frozenset({
    "aol.com", "aol.fr", "bbox.fr", "club-internet.fr", "free.fr", "gmail.com", "gmx.com",
    "gmx.fr", "googlemail.com", "hotmail.com", "hotmail.fr", "icloud.com", "laposte.net",
    "live.com", "live.fr", "mac.com", "mail.com", "me.com", "msn.com", "neuf.fr",
    "numericable.fr", "orange.fr", "outlook.com", "outlook.fr", "proton.me", "protonmail.com",
    "sfr.fr", "wanadoo.fr", "yahoo.com", "yahoo.fr", "yandex.com", "yandex.ru", "ymail.com",
})

EMAIL_RE = re.compile(r"^[\w.%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
_SEPARATORS = re.compile(r"[._+-]+")


def _fold(text: str) -> str:
    """Lower case without accents: "Secrétariat" and "secretariat" are the same box."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def email_problem(email: str) -> str | None:
    """Why this address is not a nominative professional one; None when it is."""
    if not EMAIL_RE.match(email or ""):
        return "adresse e-mail invalide"
    local, domain = _fold(email).rsplit("@", 1)
    if domain in WEBMAIL_DOMAINS or domain.split(".", 1)[0] in {"gmail", "hotmail", "yahoo",
                                                                 "outlook", "live"}:
        return f"messagerie personnelle ({domain}) : une adresse professionnelle est requise"
    # "contact", "contact2", "contact.mairie", "no-reply.portail": the leading words name a box.
    words = [w.rstrip("0123456789") for w in _SEPARATORS.split(local)]
    leading = ("-".join(words[:i]) for i in range(1, len(words) + 1))
    if not any(words) or any(w in GENERIC_LOCAL_PARTS for w in leading):
        return f"adresse générique ({local}@) : une adresse nominative est requise"
    return None


def check_email(email: str, exception_reason: str | None = None) -> str:
    """The address, normalised; refuses a generic or webmail one without a recorded exception."""
    email = (email or "").strip()
    if not EMAIL_RE.match(email):
        raise UserError(f"{email!r} refusée : adresse e-mail invalide.")
    problem = email_problem(email)
    if problem and not (exception_reason and exception_reason.strip()):
        raise UserError(f"{email!r} refusée : {problem}.",
                        hint="Demandez une adresse nominative, ou enregistrez une exception "
                             "motivée (--exception \"raison\").")
    local, domain = email.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


CONTACT = "Contactez l'administrateur du portail (MEL)."


def _d(value: date | datetime | None) -> str:
    return value.strftime("%d/%m/%Y") if value else "?"


def refusal_message(refusal: str, row: dict) -> str:
    """What to tell a user whose password was right but who may not enter."""
    if refusal == "disabled":
        reason = f" ({row['disabled_reason']})" if row.get("disabled_reason") else ""
        return (f"Compte désactivé le {_d(row.get('disabled_at'))}{reason}. Seul l'administrateur "
                f"du portail peut le réactiver. {CONTACT}")
    if refusal == "unused":
        return ("Compte inutilisé depuis plus d'un an : il vient d'être désactivé, comme le prévoit "
                f"la convention. {CONTACT}")
    if refusal == "password_stale":
        return (f"Mot de passe de plus d'un an (changé le {_d(row.get('password_changed_at'))}) : "
                "il doit être renouvelé chaque année. Connectez-vous au portail dans un "
                "navigateur (page « Connexion ») pour le changer, puis reprenez-le dans QGIS "
                f"et vos scripts ; ou : {CONTACT[0].lower()}{CONTACT[1:]}")
    if refusal == "assignment_ended":
        return (f"La mission de {row.get('organisation')} s'est terminée le "
                f"{_d(row.get('assignment_ends_on'))} : l'accès des tiers s'arrête à la fin de "
                f"leur mission. {CONTACT}")
    if refusal == "expired":
        return f"Compte expiré le {_d(row.get('expires_at'))}. {CONTACT}"
    return f"Accès refusé. {CONTACT}"


CONTACT_EN = "Contact the portal's administrator (MEL)."
# The same refusals for the web pages in English (``?lang=en``), keyed by the refusal's
# code; HTTP basic and the JSON answers keep the French ``refusal_message``.
REFUSALS_EN = {
    "disabled": "Account disabled on {disabled_at}{reason}. Only the portal's administrator "
                "can enable it again. " + CONTACT_EN,
    "unused": "Account unused for over a year: it has just been disabled, as the convention "
              "provides. " + CONTACT_EN,
    "password_stale": "Password over a year old (changed on {password_changed_at}): it must be "
                      "renewed every year. Log in to the portal in a browser (« Log in » page) to "
                      "change it, then update it in QGIS and your scripts; or: "
                      + CONTACT_EN[0].lower() + CONTACT_EN[1:],
    "assignment_ended": "The assignment of {organisation} ended on {assignment_ends_on}: third "
                        "parties' access stops at the end of their assignment. " + CONTACT_EN,
    "expired": "Account expired on {expires_at}. " + CONTACT_EN,
}


def refusal_message_en(refusal: str, row: dict) -> str:
    """``refusal_message`` in English, for the web pages asked with ``?lang=en``."""
    text = REFUSALS_EN.get(refusal, "Access refused. " + CONTACT_EN)
    return text.format(
        disabled_at=_d(row.get("disabled_at")),
        reason=f" ({row['disabled_reason']})" if row.get("disabled_reason") else "",
        password_changed_at=_d(row.get("password_changed_at")),
        organisation=row.get("organisation"), assignment_ends_on=_d(row.get("assignment_ends_on")),
        expires_at=_d(row.get("expires_at")))
