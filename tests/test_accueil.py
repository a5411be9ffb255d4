"""The home page and the training pages over HTTP (carte/accueil.py): public, the portal's
identity in French with an English switch, the convention's rules, the training links and
the millésimes loaded; pygeoapi's landing page unchanged for programs; the API examples of
the training page run against the real portal; the dictionary as PDF; the QGIS project
section of the training page (three steps, each linked project downloaded for real)."""
from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import requests

from carte.accueil import EXAMPLES, EXAMPLES_DIR
from styles.web import project_facts

FACTS = project_facts()
QGIS_AUTHCFG, QGIS_SCALES = FACTS["authcfg"], FACTS["scales"]
IN_EVERY_PROJECT, STYLE_EXAMPLE = FACTS["in_every_project"], FACTS["style_example"]

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_home_page_for_browsers_says_what_and_for_whom(live_server):
    page = requests.get(f"{live_server}/", headers=HTML)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    text = page.text
    assert "Portail cartographique des logements locatifs sociaux" in text
    for words in ("Pour qui", "Secret statistique", "Pas de rediffusion brute",
                  "Source : Portail cartographique des logements locatifs sociaux de la "
                  "Métropole Européenne de Lille", "/aide/#qgis", "/aide/#api",
                  "/aide/#dictionnaire", "Ce qui a changé à chaque millésime"):
        assert words in text, words
    assert 'id="journal-millesimes"' in text   # the demo data's loads
    assert "pygeoapi" not in text.lower()
    assert "features" not in text
    english = requests.get(f"{live_server}/", params={"lang": "en"}, headers=HTML)
    assert "For whom" in english.text and "No raw redistribution" in english.text
    assert english.headers["Content-Language"] == "en"


def test_programs_still_get_pygeoapi_landing_page(live_server):
    for kwargs in ({"params": {"f": "json"}}, {"headers": {"Accept": "application/json"}}, {}):
        landing = requests.get(f"{live_server}/", **kwargs)
        assert landing.status_code == 200, kwargs
        rels = {link["rel"] for link in landing.json()["links"]}
        assert "conformance" in " ".join(rels) or "data" in rels


def test_training_page_is_public_and_lists_the_examples(live_server):
    page = requests.get(f"{live_server}/aide/")
    assert page.status_code == 200
    for anchor in ("carte", "fiches", "exports", "qgis", "api", "dictionnaire"):
        assert f'id="{anchor}"' in page.text
    assert "Authentification basique" in page.text and live_server in page.text
    for name in EXAMPLES:
        example = requests.get(f"{live_server}/aide/exemples/{name}")
        assert example.status_code == 200
        assert example.text == (EXAMPLES_DIR / name).read_text(encoding="utf-8")
    assert requests.get(f"{live_server}/aide/exemples/..%2Fweb.py").status_code == 404
    assert "QGIS" in requests.get(f"{live_server}/aide/", params={"lang": "en"}).text


def test_dictionary_as_pdf_needs_an_account(live_server, http):
    assert requests.get(f"{live_server}/dictionnaire.pdf").status_code == 401
    pdf = http.get(f"{live_server}/dictionnaire.pdf", timeout=120)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")


def _run(command, live_server, account, tmp_path):
    env = {**os.environ, "PORTAIL_URL": live_server, "PORTAIL_LOGIN": account[0],
           "PORTAIL_PASSWORD": account[1]}
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)


def test_curl_example_runs(live_server, account, tmp_path):
    done = _run(["sh", str(EXAMPLES_DIR / "curl.sh")], live_server, account, tmp_path)
    assert done.returncode == 0, done.stderr
    assert '"features"' in (tmp_path / "parc_communes.geojson").read_text(encoding="utf-8")


def test_owslib_example_runs(live_server, account, tmp_path):
    done = _run([sys.executable, str(EXAMPLES_DIR / "owslib_exemple.py")], live_server,
                account, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "collections" in done.stdout and "59" in done.stdout


@pytest.mark.skipif(not shutil.which("ogr2ogr"), reason="GDAL absent")
def test_gdal_example_runs(live_server, account, tmp_path):
    done = _run(["sh", str(EXAMPLES_DIR / "gdal.sh")], live_server, account, tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "parc_communes.gpkg").stat().st_size > 0


@pytest.mark.skipif(not shutil.which("Rscript"), reason="R absent (apt-get install r-cran-sf)")
def test_r_sf_example_runs(live_server, account, tmp_path):
    done = _run(["Rscript", str(EXAMPLES_DIR / "sf_exemple.R")], live_server, account, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "95" in done.stdout


# -- the QGIS project (/aide/#projet-qgis) ---------------------------------------------------
PROJECT_SHOTS = ("qgis-projet-authentification.png", "qgis-projet-couches.png",
                 "qgis-projet-carte.png")


def _qgz_links(html: str) -> list[str]:
    return re.findall(r'href="(/qgis/projet[^"]*\.qgz)"', html)


def test_what_the_training_page_says_comes_from_styles():
    from data_dictionary.model import dictionary
    from styles.projet import AUTHCFG_ID
    from styles.regles import COMMUNE_MIN, RESIDENCE_MAX
    assert QGIS_AUTHCFG == AUTHCFG_ID
    assert QGIS_SCALES == {"communes": COMMUNE_MIN, "residences": RESIDENCE_MAX}
    assert STYLE_EXAMPLE in dictionary().layers
    names = [t.name for t in dictionary().themes]
    assert set(IN_EVERY_PROJECT) <= set(names)
    assert {"parc", "occupation", "attributions"} <= set(names) - set(IN_EVERY_PROJECT)


def test_training_page_opens_the_qgis_project_in_three_steps(live_server, http):
    page = requests.get(f"{live_server}/aide/")
    assert page.status_code == 200
    text = page.text
    assert 'href="#projet-qgis"' in text and 'id="projet-qgis"' in text
    assert "Ouvrir le projet QGIS" in text
    for step, title in ((1, "Télécharger le projet"),
                        (2, f"Créer une fois la configuration d’authentification « {QGIS_AUTHCFG} »"),
                        (3, "Ouvrir le projet")):
        assert f'id="projet-qgis-etape-{step}">Étape {step} — {title}</h3>' in text, step
    # step 2: the exact clicks, the identifier, where the password stays
    for words in ("Préférences › Options…", "<em>Authentification</em>",
                  "Ajouter une nouvelle configuration d’authentification", "« Portail LLS »",
                  "<em>Authentification basique</em>", "cadenas à côté d’<em>Id</em>",
                  f"<code>{QGIS_AUTHCFG}</code>", "base d’authentification chiffrée de QGIS",
                  "jamais dans le projet"):
        assert words in text, words
    # step 3: opening, what is seen, the OGC API Styles for one layer
    for words in ("<em>Projet › Ouvrir…</em>", "Double-cliquez", "par thème, puis par échelle",
                  "1:87\u00a0000", "1:11\u00a0000", "Hachuré gris = secret", "jamais un zéro",
                  "Propriétés › Métadonnées", "Source : Portail cartographique",
                  "Propriétés de la couche › Style › Charger le style…",
                  f'href="/collections/{STYLE_EXAMPLE}/styles/defaut?f=qml"',
                  f'href="/collections/{STYLE_EXAMPLE}/styles/defaut?f=sld11"',
                  f'href="/collections/{STYLE_EXAMPLE}/styles"',
                  f'href="/collections/{STYLE_EXAMPLE}/styles/defaut/metadata"'):
        assert words in text, words
    # the two QGIS sections link to each other, and the manual one is still there
    assert 'id="qgis"' in text and 'href="#qgis"' in text
    manual = text[text.index('id="qgis"'):]
    assert 'href="#projet-qgis"' in manual and "Authentification basique" in manual
    # step 1: every project, each downloaded for real with the account, 401 without
    links = _qgz_links(text)
    assert links[0] == "/qgis/projet.qgz"
    assert {"/qgis/projet-parc.qgz", "/qgis/projet-occupation.qgz",
            "/qgis/projet-attributions.qgz"} <= set(links)
    assert not any(f"projet-{name}.qgz" in link for link in links for name in IN_EVERY_PROJECT)
    assert "— Parc locatif social, avec les territoires de référence et le contexte urbain" in text
    account_password = http.auth[1]
    for link in links:
        assert requests.get(f"{live_server}{link}", timeout=60).status_code == 401, link
        answer = http.get(f"{live_server}{link}", timeout=300)
        assert answer.status_code == 200, link
        assert answer.headers["Content-Type"].startswith("application/vnd.qgis.qgz"), link
        assert answer.content.startswith(b"PK"), link
        with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
            [member] = archive.namelist()
            assert member.endswith(".qgs"), link
            project = archive.read(member).decode("utf-8")
        assert f"authcfg={QGIS_AUTHCFG}" in project and account_password not in project, link
    # the style links of the page answer with the account
    for link, media in ((f"/collections/{STYLE_EXAMPLE}/styles/defaut?f=qml",
                         "application/vnd.qgis.qml"),
                        (f"/collections/{STYLE_EXAMPLE}/styles/defaut?f=sld11",
                         "application/vnd.ogc.sld+xml"),
                        (f"/collections/{STYLE_EXAMPLE}/styles", "application/json"),
                        (f"/collections/{STYLE_EXAMPLE}/styles/defaut/metadata",
                         "application/json")):
        assert requests.get(f"{live_server}{link}", timeout=60).status_code == 401, link
        answer = http.get(f"{live_server}{link}", timeout=300)
        assert answer.status_code == 200 and answer.headers["Content-Type"].startswith(media), \
            link


def test_training_page_qgis_project_in_english(live_server):
    page = requests.get(f"{live_server}/aide/", params={"lang": "en"})
    assert page.status_code == 200 and page.headers["Content-Language"] == "en"
    text = page.text
    for words in ('href="#projet-qgis">Opening the QGIS project</a>',
                  'id="projet-qgis">Opening the QGIS project</h2>',
                  "Step 1 — Download the project",
                  f"Step 2 — Create the « {QGIS_AUTHCFG} » authentication configuration, once",
                  "Step 3 — Open the project", "Settings › Options…",
                  "Add new authentication configuration", "<em>Basic authentication</em>",
                  "padlock next to <em>Id</em>", "encrypted authentication database",
                  "never in the project", "<em>Project › Open…</em>", "1:87,000", "1:11,000",
                  "Hatched grey = secret", "Layer Properties › Style › Load Style…",
                  "— Social housing stock, with the reference territories", 'href="#qgis"'):
        assert words in text, words
    for french in ("Étape 1", "Télécharger le projet", "Préférences › Options",
                   "base d’authentification chiffrée"):
        assert french not in text, french
    assert _qgz_links(text) == _qgz_links(requests.get(f"{live_server}/aide/").text)


def test_training_page_shows_the_project_screenshots_only_when_present(live_server):
    """The pictures are taken by the QGIS tests: each one shown when its file exists."""
    from carte.accueil import SCREENSHOTS_DIR
    for params in ({}, {"lang": "en"}):
        text = requests.get(f"{live_server}/aide/", params=params).text
        for name in PROJECT_SHOTS:
            assert (f'src="/static/carte/aide/{name}"' in text) == \
                (SCREENSHOTS_DIR / name).is_file(), name
    # and with the three pictures present, each with its alternative text
    import jinja2
    root = Path(__file__).resolve().parent.parent
    env = jinja2.Environment(loader=jinja2.FileSystemLoader([root / "carte" / "templates",
                                                             root / "auth" / "templates"]),
                             autoescape=True)
    env.globals["url_for"] = lambda endpoint, **kw: f"/static/{kw.get('filename', '')}"
    from carte.accueil import QGIS_PROJECT, project_downloads, scale_text
    QGIS_PROJECT.update(FACTS)
    for lang in ("fr", "en"):
        html = env.get_template("aide.html").render(
            lang=lang, en=lang == "en", examples=[], screenshots=list(PROJECT_SHOTS),
            url=live_server, mention="Source : …", projets=project_downloads(lang),
            authcfg=QGIS_AUTHCFG, style_example=STYLE_EXAMPLE,
            echelles={k: scale_text(v, lang) for k, v in QGIS_SCALES.items()})
        steps = [html.index(f'id="projet-qgis-etape-{n}"') for n in (1, 2, 3)]
        alts = {}
        for name in PROJECT_SHOTS:
            match = re.search(rf'<img src="/static/carte/aide/{re.escape(name)}" alt="([^"]+)"',
                              html)
            assert match, (lang, name)
            alts[name] = (match.group(1), match.start())
        assert steps[1] < alts[PROJECT_SHOTS[0]][1] < steps[2] < alts[PROJECT_SHOTS[1]][1] \
            < alts[PROJECT_SHOTS[2]][1] < html.index('id="projet-qgis-styles"')
        assert f"Portail LLS » {'whose id is' if lang == 'en' else 'd’identifiant'} " \
               f"{QGIS_AUTHCFG}" in alts[PROJECT_SHOTS[0]][0]


def test_home_page_links_to_the_qgis_project(live_server):
    text = requests.get(f"{live_server}/", headers=HTML).text
    assert '<a href="/qgis/projet.qgz" id="lien-projet-qgis">Télécharger le projet QGIS</a>' in text
    assert 'href="/aide/#projet-qgis"' in text and 'href="/aide/#qgis"' in text
    english = requests.get(f"{live_server}/", params={"lang": "en"}, headers=HTML).text
    assert '<a href="/qgis/projet.qgz" id="lien-projet-qgis">Download the QGIS project</a>' \
        in english
    assert 'href="/aide/?lang=en#projet-qgis"' in english
    assert "Télécharger le projet QGIS" not in english
