#!/usr/bin/env bash
# Real clients used by the test suite: QGIS (python3-qgis, headless), GDAL (ogr2ogr),
# Chromium (headless browser checks of the pages, driven by Playwright) and LibreOffice
# (opens the exported workbooks, as a real spreadsheet program would), poppler (PDF checks),
# R with sf (the training page's R example, run by tests/test_accueil.py).
# On Debian/Ubuntu as root, installs them with apt; otherwise prints the exact command.
set -euo pipefail
packages="python3-qgis qgis-providers gdal-bin chromium chromium-driver libreoffice-calc-nogui poppler-utils r-cran-sf"

have() {
  /usr/bin/python3 -c "import qgis.core" >/dev/null 2>&1 && command -v ogr2ogr >/dev/null 2>&1 \
    && command -v chromium >/dev/null 2>&1 && command -v soffice >/dev/null 2>&1 \
    && command -v pdftoppm >/dev/null 2>&1 && command -v Rscript >/dev/null 2>&1
}
have && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installation des clients de test (QGIS, GDAL, Chromium, LibreOffice) : apt-get install -y $packages (environ 2 minutes)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $packages >/dev/null
  have && exit 0
  echo "Erreur : QGIS, GDAL, Chromium ou LibreOffice toujours introuvable après installation." >&2
  exit 1
fi
echo "Erreur : les tests clients ont besoin de QGIS (python3-qgis), GDAL (ogr2ogr), Chromium et LibreOffice." >&2
echo "→ sudo apt-get install -y $packages" >&2
exit 1
