"""French first, English on demand, for the login, « Mon compte » and console pages.

The same switch as the home and training pages (``carte/accueil.py``): ``?lang=en`` in the
address, French otherwise; no cookie. A form's ``action`` and the redirects after it keep
``lang=en`` (``keep``), so an English page stays English after a POST. ``t(fr, en)`` picks
the text of the language asked; the register's codes (roles, kinds of organisation,
refusals) have their English names here, keyed by code, never by French text.
"""
from __future__ import annotations

from urllib.parse import urlencode

from flask import request
from markupsafe import Markup

ROLES_EN = {"partner": "partner", "third_party": "third party", "admin": "administrator"}
KINDS_EN = {
    "mel": "Métropole Européenne de Lille",
    "commune": "commune",
    "bailleur": "social landlord",
    "etat": "State (DDTM)",
    "departement": "Département",
    "urh": "regional union of HLM",
    "action_logement": "Action Logement",
    "tiers": "third party (study office, operator, association) under convention",
}
STATUSES_EN = {"actif": "active", "désactivé": "disabled", "à désactiver": "to disable",
               "mot de passe à renouveler": "password to renew"}


def lang() -> str:
    try:
        return "en" if request.args.get("lang") == "en" else "fr"
    except RuntimeError:        # outside a request (a template rendered by a command)
        return "fr"


def english() -> bool:
    return lang() == "en"


def t(fr: str, en: str) -> str:
    return en if english() else fr


def keep(path: str) -> str:
    """``path`` with ``lang=en`` added when the page asked is English."""
    if not english() or "lang=en" in path:
        return path
    return path + ("&" if "?" in path else "?") + "lang=en"


def switch_url() -> str | None:
    """The same page in the other language, or None when it cannot be asked by GET (the
    answer to a POST whose address only takes POST)."""
    rule = request.url_rule
    if request.method != "GET" and (rule is None or "GET" not in rule.methods):
        return None
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    if not english():
        args.append(("lang", "en"))
    return request.path + (("?" + urlencode(args)) if args else "")


def _t_literal(fr: str, en: str) -> Markup:
    """``t`` for the templates, whose two texts are literals of the template (written as
    the rest of its HTML, apostrophes unescaped): never a value from a request."""
    return Markup(t(fr, en))


def template_values() -> dict:
    """What every page of ``portail_base.html`` may use (``lang``, ``en``, ``t``, ``keep``)."""
    return {"lang": lang(), "en": english(), "t": _t_literal, "keep": keep,
            "lang_switch": switch_url()}
