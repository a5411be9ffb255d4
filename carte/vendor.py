"""The JavaScript/CSS assets shipped with the portal, copied from npm packages.

Nothing is loaded from a CDN: the files the pages need are copied from
``web/node_modules`` (installed by ``npm ci`` from ``web/package-lock.json``)
into ``carte/static/vendor`` and committed, with a manifest that records each
package's version, its lock-file integrity and the SHA-256 of every copied file.
``make assets`` refreshes them; ``tests/test_carte_assets.py`` checks that the
committed files, the manifest and the lock file agree.

    python -m carte.vendor          # copy from web/node_modules, rewrite the manifest
"""
from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
VENDOR_DIR = PACKAGE_DIR / "static" / "vendor"
MANIFEST = VENDOR_DIR / "manifest.json"
WEB_DIR = PACKAGE_DIR.parent / "web"
LOCK_FILE = WEB_DIR / "package-lock.json"

# package -> {file in the npm package: file under static/vendor}
FILES = {
    "leaflet": {
        "dist/leaflet.js": "leaflet/leaflet.js",
        "dist/leaflet.css": "leaflet/leaflet.css",
        "dist/images/layers.png": "leaflet/images/layers.png",
        "dist/images/layers-2x.png": "leaflet/images/layers-2x.png",
        "dist/images/marker-icon.png": "leaflet/images/marker-icon.png",
        "dist/images/marker-icon-2x.png": "leaflet/images/marker-icon-2x.png",
        "dist/images/marker-shadow.png": "leaflet/images/marker-shadow.png",
        "LICENSE": "leaflet/LICENSE",
    },
    "bootstrap": {
        "dist/css/bootstrap.min.css": "bootstrap/bootstrap.min.css",
        "LICENSE": "bootstrap/LICENSE",
    },
    # Accessibility checks of the map page in the tests (tests/test_carte_ecrans.py): a
    # development dependency, not loaded by any page.
    "axe-core": {
        "axe.min.js": "axe-core/axe.min.js",
        "LICENSE": "axe-core/LICENSE",
    },
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def locked_packages(lock_file: Path = LOCK_FILE) -> dict[str, dict]:
    """``{name: {"version", "integrity"}}`` of the packages in the npm lock file."""
    lock = json.loads(lock_file.read_text(encoding="utf-8"))
    out = {}
    for key, entry in lock.get("packages", {}).items():
        if key.startswith("node_modules/"):
            out[key.removeprefix("node_modules/")] = {"version": entry["version"],
                                                      "integrity": entry.get("integrity")}
    return out


def copy_from_node_modules(node_modules: Path = WEB_DIR / "node_modules") -> dict:
    """Copy the shipped files and write the manifest; returns the manifest."""
    locked = locked_packages()
    manifest = {"lock_file": "web/package-lock.json", "packages": {}}
    for package, files in FILES.items():
        root = node_modules / package
        installed = json.loads((root / "package.json").read_text(encoding="utf-8"))["version"]
        if installed != locked[package]["version"]:
            raise SystemExit(f"{package} {installed} installé, {locked[package]['version']} "
                             "dans le fichier de verrouillage : lancez npm ci dans web/")
        entry = {**locked[package], "files": {}}
        for source, target in files.items():
            dest = VENDOR_DIR / target
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(root / source, dest)
            entry["files"][target] = sha256(dest)
        manifest["packages"][package] = entry
    MANIFEST.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return manifest


def main() -> int:
    manifest = copy_from_node_modules()
    for name, entry in manifest["packages"].items():
        print(f"{name} {entry['version']} : {len(entry['files'])} fichiers copiés dans "
              f"{VENDOR_DIR.relative_to(PACKAGE_DIR.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
