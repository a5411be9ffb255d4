"""The home page and the training pages over HTTP (carte/accueil.py): public, the portal's
identity in French with an English switch, the convention's rules, the training links and
the millésimes loaded; pygeoapi's landing page unchanged for programs; the API examples of
the training page run against the real portal; the dictionary as PDF."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import requests

from carte.accueil import EXAMPLES, EXAMPLES_DIR

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
