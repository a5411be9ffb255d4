"""The map page's JS/CSS are shipped with the project and agree with the npm lock file;
no page template of the portal loads anything from a CDN; no tile server by default."""
from __future__ import annotations

import json
import re

import pytest

from carte import PYGEOAPI_TEMPLATES
from carte.vendor import FILES, LOCK_FILE, MANIFEST, VENDOR_DIR, WEB_DIR, locked_packages, sha256
from portail.pygeoapi_config import load_config
from portail.settings import REPO_ROOT

CARTE = REPO_ROOT / "carte"
# A script, style sheet, font or image fetched from another host.
OUTSIDE_ASSET = re.compile(
    r"""(?:src|href)\s*=\s*["']?(?:https?:)?//(?!\{\{)[^"'\s>]+\.(?:js|css|png|woff2?|ttf)"""
    r"""|url\(\s*["']?(?:https?:)?//|@import\s+["']?(?:https?:)?//"""
    r"""|unpkg\.com|cdn\.jsdelivr|cdnjs\.|fonts\.googleapis""", re.I)


def test_manifest_matches_the_lock_file():
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    locked = locked_packages(LOCK_FILE)
    assert set(manifest["packages"]) == set(FILES)
    for name, entry in manifest["packages"].items():
        assert entry["version"] == locked[name]["version"], name
        assert entry["integrity"] == locked[name]["integrity"], name
        assert set(entry["files"]) == set(FILES[name].values()), name
    package = json.loads((WEB_DIR / "package.json").read_text(encoding="utf-8"))
    for name, version in package["dependencies"].items():
        assert locked[name]["version"] == version, "exact versions only in web/package.json"


def test_vendored_files_are_those_of_the_manifest():
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    for entry in manifest["packages"].values():
        for target, digest in entry["files"].items():
            assert sha256(VENDOR_DIR / target) == digest, f"{target} differs: make assets"


def test_vendored_files_equal_the_installed_packages():
    """When `npm ci` has run in web/, the committed copies are byte for byte the packages'."""
    node_modules = WEB_DIR / "node_modules"
    if not (node_modules / "leaflet").is_dir():
        pytest.skip("web/node_modules absent (make assets installs it)")
    for package, files in FILES.items():
        for source, target in files.items():
            assert sha256(node_modules / package / source) == sha256(VENDOR_DIR / target), target


@pytest.mark.parametrize("folder", [CARTE / "templates", CARTE / "static", PYGEOAPI_TEMPLATES])
def test_no_template_or_script_loads_from_another_host(folder):
    checked = 0
    for path in folder.rglob("*"):
        if path.suffix not in (".html", ".js", ".css") or "vendor" in path.parts:
            continue
        checked += 1
        found = OUTSIDE_ASSET.search(path.read_text(encoding="utf-8"))
        assert not found, f"{path.relative_to(REPO_ROOT)} : {found.group(0)}"
    assert checked


def test_the_pattern_catches_a_cdn():
    assert OUTSIDE_ASSET.search('<script src="https://unpkg.com/leaflet@1.3.1/dist/leaflet.js">')
    assert OUTSIDE_ASSET.search('<link href="//example.org/x.css">')
    assert not OUTSIDE_ASSET.search('<script src="{{ config[\'server\'][\'url\'] }}/static/x.js">')


def test_pygeoapi_templates_override_every_page_that_loads_from_a_cdn():
    import pygeoapi
    from pathlib import Path
    stock = Path(pygeoapi.__file__).parent / "templates"
    # pages this portal serves (no STAC, EDR or tiles collection is configured)
    used = ["_base.html", "landing_page.html", "collections/collection.html",
            "collections/items/index.html", "collections/items/item.html",
            "openapi/swagger.html", "openapi/redoc.html"]
    for rel in used:
        if OUTSIDE_ASSET.search((stock / rel).read_text(encoding="utf-8")):
            assert (PYGEOAPI_TEMPLATES / rel).is_file(), rel


def test_default_config_has_no_outside_tile_server(monkeypatch):
    monkeypatch.delenv("PORTAIL_FOND_URL", raising=False)
    config = load_config(REPO_ROOT / "pygeoapi-config.yml")
    assert not config["server"]["map"]["url"]
    assert "templates" in config["server"]
    monkeypatch.setenv("PORTAIL_FOND_URL", "https://tuiles.intranet.example/{z}/{x}/{y}.png")
    config = load_config(REPO_ROOT / "pygeoapi-config.yml")
    assert config["server"]["map"]["url"] == "https://tuiles.intranet.example/{z}/{x}/{y}.png"
