"""Validate the portal's SLD 1.1 documents against the OGC XML schemas (SLD 1.1, SE 1.1,
Filter 1.1, GML 3.1.1), from a local copy of the schemas.

The OGC schemas are in no package of the registries this project installs from, so the
test suite cannot fetch them (tests/test_styles.py checks the SE element order and
tests/test_qgis_projet.py has QGIS read every SLD); this script is the schema check, run
by hand where a copy of schemas.opengis.net is at hand (its folder layout:
``<dir>/sld/1.1.0/StyledLayerDescriptor.xsd``, ``<dir>/se/1.1.0/…``, ``<dir>/filter/1.1.0/…``,
``<dir>/gml/3.1.1/…``, ``<dir>/xlink/1.0.0/xlinks.xsd``, and the W3C ``<dir>/w3c/1999/xlink.xsd``,
``<dir>/w3c/2001/xml.xsd``). No request leaves the machine: every schemas.opengis.net
and w3.org address is read from the folder, any other is refused.

    .venv/bin/python scripts/valider_sld.py --schemas /chemin/schemas.opengis.net
    .venv/bin/python scripts/valider_sld.py --schemas DIR --url http://127.0.0.1:5103 \\
        --user demo --password …          # the SLDs a running portal serves

Without ``--url``, the SLD of every dictionary layer is generated with sample class limits
(every kind of rule: classes, secret, sans objet, non renseigné, families, labels).
Exit code 1 if one document is invalid; each error says the layer, line and message.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path

from lxml import etree

OPENGIS = "http://schemas.opengis.net/"
W3C = {"http://www.w3.org/1999/xlink.xsd": "w3c/1999/xlink.xsd",
       "http://www.w3.org/2001/xml.xsd": "w3c/2001/xml.xsd"}


def local_copy(root: Path, into: Path) -> Path:
    """The schemas copied with every schemas.opengis.net / w3.org location rewritten to a
    relative path: libxml2 then loads each file once (an import by URL and an include by
    path of the same file would define its elements twice) and never the network."""
    for source in root.rglob("*.xsd"):
        target = into / source.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = source.read_text(encoding="utf-8")

        def relative(match: re.Match, target: Path = target) -> str:
            url = match.group(1)
            path = (url[len(OPENGIS):] if url.startswith(OPENGIS) else W3C.get(url))
            if path is None:
                return match.group(0)
            return 'schemaLocation="' + os.path.relpath(into / path, target.parent) + '"'
        target.write_text(re.sub(r'schemaLocation="(https?://[^"]+)"', relative, text),
                          encoding="utf-8")
    return into


def load_schema(root: Path) -> etree.XMLSchema:
    main = root / "sld" / "1.1.0" / "StyledLayerDescriptor.xsd"
    if not main.exists():
        raise SystemExit(f"{main} introuvable : --schemas doit désigner une copie de "
                         "schemas.opengis.net (sld/, se/, filter/, gml/, xlink/, w3c/)")
    copy = local_copy(root, Path(tempfile.mkdtemp(prefix="schemas-ogc-")))
    parser = etree.XMLParser(no_network=True)
    return etree.XMLSchema(etree.parse(str(copy / "sld" / "1.1.0" /
                                           "StyledLayerDescriptor.xsd"), parser))


def generated_documents() -> dict[str, bytes]:
    from data_dictionary.model import dictionary
    from styles.regles import build_style, needs_classes
    from styles.sld import sld
    limits = {"min": 0.0, "max": 1500.5, "breaks": [12.0, 40.0, 95.5, 300.0], "count": 80}
    return {name: sld(build_style(layer, limits if needs_classes(layer) else None))
            for name, layer in dictionary().layers.items()}


def served_documents(url: str, user: str, password: str) -> dict[str, bytes]:
    import requests
    session = requests.Session()
    session.auth = (user, password)
    base = url.rstrip("/")
    names = [c["id"] for c in session.get(f"{base}/collections",
                                          params={"f": "json"}).json()["collections"]]
    out = {}
    for name in names:
        answer = session.get(f"{base}/collections/{name}/styles/defaut", params={"f": "sld11"})
        if answer.status_code == 200:
            out[name] = answer.content
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schemas", type=Path, required=True)
    parser.add_argument("--url")
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args()
    schema = load_schema(args.schemas)
    documents = (served_documents(args.url, args.user, args.password) if args.url
                 else generated_documents())
    failed = 0
    for name, body in sorted(documents.items()):
        document = etree.fromstring(body)
        if schema.validate(document):
            print(f"{name:28s} valide")
            continue
        failed += 1
        for error in schema.error_log:
            print(f"{name:28s} ligne {error.line} : {error.message}")
    print(f"\n{len(documents) - failed} document(s) valide(s) sur {len(documents)} "
          "(SLD 1.1 / SE 1.1)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
