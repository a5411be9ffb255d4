"""The welcome pack of a new account: a letter (PDF) with the login, the commitments of
article 6 of the convention, the source mention, and the data dictionary attached (the
convention: the dictionary is given to every new account).

Never the password: the administrator hands it over apart (shown once by the console or
the CLI). Printed by WeasyPrint on the server, nothing fetched from anywhere.
"""
from __future__ import annotations

import functools
import io
from datetime import date
from html import escape

from auth.register import ROLES
from data_dictionary import render as dictionary_render
from portail.settings import SOURCE_MENTION

# Article 6 of the convention, as signed (shared/docs/convention-acces-portail.md).
COMMITMENTS = (
    "se former à l'usage du portail cartographique via les supports mis à disposition en "
    "page d'accueil ;",
    "respecter les conditions d'utilisation et de sécurisation des données ;",
    "ne pas communiquer ni utiliser les données du portail à d'autres fins, notamment "
    "commerciales, qu'à celles définies par la convention ;",
    "s'astreindre au secret professionnel et à une obligation de confidentialité ;",
    "se connecter et n'utiliser les données du portail que dans un cadre professionnel et "
    "pour les finalités décrites par la convention ;",
    "ne pas céder son login et mot de passe à une autre personne ;",
    "prendre toutes mesures, notamment de sécurité matérielle, pour assurer la conservation "
    "des données traitées tout au long de la durée de la convention ;",
    "s'interdire de communiquer tout ou partie des informations à des tiers dans leur forme "
    "brute ;",
    f"mentionner sur tout document comportant des éléments issus de l'exploitation de cette "
    f"base la mention : {SOURCE_MENTION} ;",
    "signaler à l'administrateur du portail son départ afin de désactiver le compte.",
)


def _d(value) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def welcome_letter_html(account: dict, public_url: str) -> str:
    e = lambda v: escape(str(v or ""))  # noqa: E731
    items = "".join(f"<li>{escape(c)}</li>" for c in COMMITMENTS)
    end = (f"<p>Votre accès prend fin avec la mission de votre organisation, le "
           f"<strong>{_d(account.get('assignment_ends_on'))}</strong>.</p>"
           if account.get("assignment_ends_on") else "")
    convention = (f"convention signée le {_d(account.get('convention_signed_on'))}, délibération "
                  f"{e(account.get('deliberation_ref'))}"
                  if account.get("convention_signed_on") else "")
    return f"""<!doctype html><html lang="fr"><head><meta charset="utf-8">
<title>Bienvenue sur le portail du logement locatif social de la MEL</title>
<style>
 @page {{ size: A4; margin: 2cm; }}
 body {{ font-family: "DejaVu Sans", sans-serif; font-size: 10.5pt; line-height: 1.45; }}
 h1 {{ font-size: 15pt; color: #00305e; }}
 .identite td {{ padding: 2pt 8pt 2pt 0; }}
 .mention {{ border: 1pt solid #00305e; padding: 6pt; }}
</style></head><body>
<p>Métropole Européenne de Lille — administrateur du portail<br>Le {_d(date.today())}</p>
<p>À {e(account.get('full_name'))}<br>{e(account.get('organisation'))}</p>
<h1>Bienvenue sur le portail cartographique des logements locatifs sociaux</h1>
<p>Un compte personnel vous est ouvert, au titre de la convention d'accès de votre
organisation ({convention}).</p>
<table class="identite">
 <tr><td>Adresse du portail</td><td><strong>{e(public_url)}</strong></td></tr>
 <tr><td>Identifiant</td><td><strong id="identifiant">{e(account.get('login'))}</strong></td></tr>
 <tr><td>Rôle</td><td>{e(ROLES.get(account.get('role'), account.get('role')))}</td></tr>
 <tr><td>Adresse e-mail</td><td>{e(account.get('email'))}</td></tr>
</table>
<p>Votre mot de passe vous est remis séparément par l'administrateur ; il est personnel et
doit être changé chaque année (rubrique « Mon compte »).</p>
{end}
<h2>Vos engagements (article 6 de la convention)</h2>
<p>Tout utilisateur s'engage à :</p>
<ul>{items}</ul>
<p>Le non-respect de ces dispositions est considéré comme une faute de nature à conduire la
MEL à désactiver l'accès de l'utilisateur du portail.</p>
<h2>Mention de la source</h2>
<p class="mention">{escape(SOURCE_MENTION)}</p>
<h2>Pour commencer</h2>
<p>La page d'accueil du portail présente les supports de formation (lecture de la carte et
du secret statistique, fiches, exports, QGIS, API). Le dictionnaire des données est joint à
ce document (pièce jointe du PDF : dictionnaire-portail-lls.pdf).</p>
</body></html>"""


@functools.lru_cache(maxsize=2)
def _dictionary_pdf(public_url: str) -> bytes:
    """Printing the dictionary takes seconds: once per process."""
    return dictionary_render.to_pdf(base=public_url)


def welcome_letter_pdf(account: dict, public_url: str) -> bytes:
    """The letter as PDF, with the data dictionary (PDF) attached to it."""
    from weasyprint import HTML, Attachment

    def no_fetch(url, *args, **kwargs):
        raise ValueError(f"ressource externe refusée : {url[:80]}")

    dictionary = _dictionary_pdf(public_url)
    attachment = Attachment(file_obj=io.BytesIO(dictionary), name="dictionnaire-portail-lls.pdf",
                            description="Dictionnaire des données du portail")
    return HTML(string=welcome_letter_html(account, public_url),
                url_fetcher=no_fetch).write_pdf(attachments=[attachment])
