"""The home page and the training pages (``register``): the portal's own identity.

- ``/`` asked by a browser (HTML preferred, or ``f=html``): what the portal offers and
  for whom, the convention's rules in plain words, the training materials and what each
  millésime loaded brought (the load ledger, through ``diffusion.millesimes_charges``:
  sources, years, dates and missing fields, never a figure of the data). A program
  asking ``/`` (JSON, OGC API clients such as QGIS) gets pygeoapi's landing page as before.
- ``/aide/``: the training page (the map and the secrecy codes, the sheets, the Excel
  exports, the QGIS project to download and open in three steps, QGIS with basic
  authentication step by step, the API with examples, the data dictionary);
  ``/aide/exemples/<name>``: the example scripts the tests run.
- French by default, English with ``?lang=en``. Public pages: no data.
"""
from __future__ import annotations

import logging
from pathlib import Path

import psycopg
from flask import Blueprint, abort, render_template, request, send_from_directory
from psycopg.rows import dict_row

from data_dictionary.model import dictionary
from portail.pools import DATABASE_UNAVAILABLE, service_pool
from portail.settings import SOURCE_MENTION, get_settings

LOGGER = logging.getLogger(__name__)

HERE = Path(__file__).parent
EXAMPLES_DIR = HERE / "aide"
EXAMPLES = {"curl.sh": "curl", "owslib_exemple.py": "Python (OWSLib)",
            "sf_exemple.R": "R (sf)", "gdal.sh": "GDAL (ogrinfo, ogr2ogr)"}
SCREENSHOTS_DIR = HERE / "static" / "aide"

BLUEPRINT = Blueprint("accueil", __name__, template_folder="templates")

SOURCES = {"rpls": "RPLS (répertoire des logements locatifs sociaux)",
           "loyers": "Étude MEL loyers et charges", "occupation": "Occupation du parc (bailleurs, URH)",
           "sne": "Attributions (SNE)", "attributions": "Attributions (SNE)"}


# What the training page says of the QGIS project (styles/web.py: /qgis/projet.qgz,
# /qgis/projet-{theme}.qgz): given by the composition root from ``styles`` at
# registration (carte sits below styles in the layers and does not import it).
QGIS_PROJECT = {"authcfg": "", "scales": {}, "in_every_project": (),
                "style_example": "parc_communes"}


def _lang() -> str:
    return "en" if request.args.get("lang") == "en" else "fr"


def wants_home_page() -> bool:
    """``/`` for a person (a browser) rather than for a program."""
    f = request.args.get("f")
    if f:
        return f == "html"
    return request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"


def millesime_changes() -> list[dict]:
    """The load ledger as the home page shows it, newest first (empty if unreadable)."""
    try:
        with service_pool().connection(timeout=3) as conn, \
                conn.cursor(row_factory=dict_row) as cur:
            return cur.execute("SELECT source, millesime, loaded_at, disposition, champs_absents,"
                               " fictif FROM diffusion.millesimes_charges "
                               "ORDER BY millesime DESC, source").fetchall()
    except DATABASE_UNAVAILABLE + (psycopg.Error,) as exc:
        LOGGER.warning("load ledger unavailable for the home page: %s", type(exc).__name__)
        return []


def home_page():
    changes = millesime_changes()
    by_year: dict[int, list[dict]] = {}
    for row in changes:
        row["source_label"] = SOURCES.get(row["source"], row["source"])
        by_year.setdefault(row["millesime"], []).append(row)
    body = render_template("accueil.html", lang=_lang(), en=_lang() == "en",
                           millesimes=sorted(by_year.items(), reverse=True),
                           url=get_settings().public_url, mention=SOURCE_MENTION)
    return body, 200, {"Cache-Control": "no-store", "Vary": "Accept, Cookie",
                       "Content-Language": _lang()}


def scale_text(denominator: int, lang: str) -> str:
    """« 1:87 000 » (no-break space) in French, « 1:87,000 » in English."""
    grouped = f"{denominator:,}"
    return "1:" + (grouped if lang == "en" else grouped.replace(",", "\u00a0"))


def project_downloads(lang: str) -> list[dict]:
    """One .qgz per theme of the dictionary (the territories and the context come with each)."""
    return [{"name": t.name, "title": t.title.en if lang == "en" else t.title.fr,
             "href": f"/qgis/projet-{t.name}.qgz"}
            for t in dictionary().themes if t.name not in QGIS_PROJECT["in_every_project"]]


@BLUEPRINT.get("/aide/")
def training():
    screenshots = sorted(p.name for p in SCREENSHOTS_DIR.glob("*.png")) \
        if SCREENSHOTS_DIR.is_dir() else []
    examples = [{"name": n, "label": label,
                 "text": (EXAMPLES_DIR / n).read_text(encoding="utf-8")}
                for n, label in EXAMPLES.items()]
    body = render_template("aide.html", lang=_lang(), en=_lang() == "en",
                           examples=examples, screenshots=screenshots,
                           url=get_settings().public_url, mention=SOURCE_MENTION,
                           projets=project_downloads(_lang()),
                           authcfg=QGIS_PROJECT["authcfg"],
                           style_example=QGIS_PROJECT["style_example"],
                           echelles={k: scale_text(v, _lang())
                                     for k, v in QGIS_PROJECT["scales"].items()})
    return body, 200, {"Cache-Control": "no-store", "Content-Language": _lang()}


@BLUEPRINT.get("/aide/exemples/<name>")
def example(name: str):
    if name not in EXAMPLES:
        abort(404)
    return send_from_directory(EXAMPLES_DIR, name, mimetype="text/plain", as_attachment=True)


def register(app, qgis_project: dict) -> None:
    """The home page (before pygeoapi's landing page, for browsers) and the training pages;
    ``qgis_project``: what the page says of the QGIS project (``styles.web.project_facts``)."""
    QGIS_PROJECT.update(qgis_project)
    app.register_blueprint(BLUEPRINT)

    @app.before_request
    def _home():
        if request.path == "/" and request.method in ("GET", "HEAD") and wants_home_page():
            return home_page()
        return None
