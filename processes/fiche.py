"""The ``fiche`` process: the descriptive sheet of one territory (HTML, XLSX, PDF).

Declared in pygeoapi's config (``processes.fiche``, from
``data_dictionary/pygeoapi-base.yml``); the same sheet is served at the stable
address ``GET /fiche/<scale>/<code>`` (``processes.fiche_web``). Reads only the
published views, through the service role's shared pool.
"""
from __future__ import annotations

import logging
from datetime import date
from http import HTTPStatus

from pygeoapi.process.base import BaseProcessor, ProcessorExecuteError

from data_dictionary.model import dictionary
from diffusion.errors import Unavailable
from diffusion.store import connection
from portail.settings import SOURCE_MENTION
from processes.fiche_data import FicheError, read_fiche
from processes.fiche_render import MIMETYPES, to_html, to_pdf, to_xlsx

LOGGER = logging.getLogger(__name__)
FORMATS = ("html", "xlsx", "pdf")

PROCESS_METADATA = {
    "version": "1.0.0",
    "id": "fiche",
    "title": {"fr": "Fiche descriptive d'un territoire", "en": "Descriptive sheet of a territory"},
    "description": {
        "fr": ("Fiche d'une commune, d'un IRIS, d'un QPV ou d'une résidence : indicateurs clés "
               "du parc, de l'occupation et des attributions, comparés à sa commune et à "
               "l'ensemble de la MEL (chiffres publiés à ces échelles) ; pour une résidence, "
               "les arrêts de transport les plus proches et les équipements alentour. Les "
               "chiffres masqués par le secret statistique sont signalés « secret », jamais "
               f"remplacés par 0. HTML, XLSX ou PDF. Aussi à l'adresse /fiche/<échelle>/<code>. "
               f"{SOURCE_MENTION}."),
        "en": ("Descriptive sheet of a commune, IRIS, QPV or residence: key indicators of the "
               "three themes compared with its commune and the MEL; HTML, XLSX or PDF."),
    },
    "jobControlOptions": ["sync-execute"],
    "keywords": ["fiche", "territoire", "logement social"],
    "inputs": {
        "scale": {
            "title": "Échelle", "description": "commune, iris, qpv ou residence.",
            "schema": {"type": "string", "enum": ["commune", "iris", "qpv", "residence"]},
            "minOccurs": 1, "maxOccurs": 1,
        },
        "code": {
            "title": "Code", "description": ("Code INSEE de la commune, code IRIS, code QPV ou "
                                             "identifiant de la résidence."),
            "schema": {"type": "string"}, "minOccurs": 1, "maxOccurs": 1,
        },
        "millesime": {
            "title": "Millésime", "description": "Une année ; par défaut le dernier millésime "
                                                 "chargé de chaque thème.",
            "schema": {"type": "integer"}, "minOccurs": 0, "maxOccurs": 1,
        },
        "format": {
            "title": "Format", "description": "html (par défaut), xlsx ou pdf.",
            "schema": {"type": "string", "enum": list(FORMATS), "default": "html"},
            "minOccurs": 0, "maxOccurs": 1,
        },
    },
    "outputs": {
        "fiche": {
            "title": "Fiche",
            "schema": {"type": "string", "contentMediaType": MIMETYPES["html"]},
        },
    },
    "example": {"inputs": {"scale": "commune", "code": "59350", "format": "html"}},
}


def check_format(value) -> str:
    fmt = str(value or "html").strip().lower()
    if fmt not in FORMATS:
        raise FicheError(f"format {str(value)[:20]!r} non pris en charge (html, xlsx ou pdf)")
    return fmt


def build_fiche(scale, code, millesime=None, fmt="html", links=None,
                today: date | None = None) -> tuple[str, bytes]:
    """(media type, content) of the sheet; FicheError (400/404) for bad input."""
    fmt = check_format(fmt)
    try:
        with connection() as conn:
            fiche = read_fiche(conn, dictionary(), scale, code, millesime,
                               today or date.today())
    except FicheError:
        raise
    except Unavailable:
        LOGGER.exception("fiche: database unavailable")
        raise FicheError("base de données indisponible, réessayez plus tard",
                         HTTPStatus.SERVICE_UNAVAILABLE) from None
    if fmt == "xlsx":
        return MIMETYPES["xlsx"], to_xlsx(fiche)
    if fmt == "pdf":
        return MIMETYPES["pdf"], to_pdf(fiche)
    return MIMETYPES["html"], to_html(fiche, links).encode("utf-8")


class FicheProcessor(BaseProcessor):
    """The descriptive sheet of one territory."""

    def __init__(self, processor_def: dict):
        super().__init__(processor_def, PROCESS_METADATA)

    def execute(self, data: dict, outputs=None):
        if not isinstance(data, dict):
            raise FicheError("les entrées du processus doivent être un objet JSON")
        unknown = sorted(set(data) - {"scale", "code", "millesime", "format"})
        if unknown:
            raise FicheError(f"entrée inconnue : {unknown[0][:40]!r} (entrées possibles : "
                             "scale, code, millesime, format)")
        try:
            return build_fiche(data.get("scale"), data.get("code"), data.get("millesime"),
                               data.get("format"))
        except ProcessorExecuteError:
            raise
        except Exception:  # noqa: BLE001 - nothing from the database reaches the user
            LOGGER.exception("fiche failed")
            raise FicheError("la fiche n'a pas pu être construite (voir le journal du "
                             "serveur)", HTTPStatus.INTERNAL_SERVER_ERROR) from None

    def __repr__(self):
        return f"<FicheProcessor> {self.name}"
