"""FINESS health and social establishments, Etalab extraction (``etalab-cs1100507-stock``).

The file as published: semicolon, Latin-1, a first line ``finess;etalab;…`` and
no header; ``structureet`` lines (nofinesset, nofinessej, rs, …, commune (3 digits),
departement, …, categetab, libcategetab, categagretab…) and ``geolocalisation`` lines
(nofinesset, coordxet, coordyet, sourcecoordet, datemaj) in Lambert-93 for metropolitan
France. Two layouts (:data:`LAYOUTS`), told apart by the number of fields of the
``structureet`` lines: 31 up to 2021, 32 since (``numuai`` added). The file covers France:
establishments of other communes are skipped and counted.
"""
from __future__ import annotations

from pathlib import Path

from psycopg import sql

from etl import source as src
from etl.errors import Rejection, SourceFileError
from etl.layouts import Layout
from etl.tabular import load_table

STRUCTURE_FIELDS = ("structureet", "nofinesset", "nofinessej", "rs", "rslongue", "complrs",
                    "compldistrib", "numvoie", "typvoie", "voie", "compvoie", "lieuditbp", "commune",
                    "departement", "libdepartement", "ligneacheminement", "telephone", "telecopie",
                    "categetab", "libcategetab", "categagretab", "libcategagretab", "siret", "codeape",
                    "codemft", "libmft", "codesph", "libsph", "dateouv", "dateautor", "datemaj", "numuai")
LAYOUTS: tuple[Layout, ...] = (
    Layout("finess-etalab-32", "FINESS, extraction Etalab des établissements (32 champs, depuis 2022)",
           "Etalab, etalab-cs1100507-stock-AAAAMMJJ-HHMM.csv : première ligne finess;etalab;…, lignes "
           "structureet de 32 champs (numuai en dernier) et geolocalisation, « ; », ISO-8859-1 "
           "(../shared/docs/source-formats.md).",
           signature=(), columns={f: (f,) for f in STRUCTURE_FIELDS}, area="national",
           millesimes="2022 et suivants", encodings=("cp1252", "latin-1")),
    Layout("finess-etalab-31", "FINESS, extraction Etalab des établissements (31 champs, jusqu'en 2021)",
           "Même extraction, lignes structureet de 31 champs, sans numuai (fichiers 2019).",
           signature=(), columns={f: (f,) for f in STRUCTURE_FIELDS[:-1]}, area="national",
           millesimes="2014 à 2021", encodings=("cp1252", "latin-1")),
)
LAYOUT_BY_WIDTH = {len(lay.columns): lay for lay in LAYOUTS}
SPEC = src.CsvSpec(source="finess", key=("nofinesset",), fields=(
    src.Field("nofinesset", ("nofinesset",)), src.Field("raison_sociale", ("rs",)),
    src.Field("categetab", ("categetab",)), src.Field("libcategetab", ("libcategetab",), nullable=True),
    src.Field("categagretab", ("categagretab",), nullable=True),
    src.Field("code_insee", ("code_insee",), src.code_insee),
    src.Field("x", ("coordxet",), src.floating, "float8"), src.Field("y", ("coordyet",), src.floating, "float8")))
INSERT = sql.SQL("""INSERT INTO core.finess_etablissement (millesime, nofinesset, raison_sociale, categetab,
    libcategetab, categagretab, code_insee, geom)
    SELECT %s, nofinesset, raison_sociale, categetab, libcategetab, categagretab, code_insee, geom FROM finess_stage""")


def read_finess(path: Path, encoding: str | None, communes: set[str]) -> src.ReadResult:
    from etl.files import is_zip, pick_member
    path = Path(path)
    if not path.exists():
        raise SourceFileError(path, "fichier introuvable")
    if is_zip(path):
        import zipfile
        with zipfile.ZipFile(path) as z:
            raw = z.read(pick_member(path, z.namelist(), (".csv", ".txt"), (r"cs1100507", r"finess")))
    else:
        raw = path.read_bytes()
    if not raw.strip():
        raise SourceFileError(path, [Rejection("ligne 1", None, "fichier vide")])
    data, used = src.decode(path, raw, encoding)
    lines = data.splitlines()
    if not lines[0].lower().startswith("finess;"):
        raise SourceFileError(path, [Rejection("ligne 1", None, "première ligne « finess;etalab;… » attendue "
                                               "(extraction Etalab du FINESS)")])
    import csv
    first = next((cells for cells in csv.reader(lines[1:200], delimiter=";") if cells and cells[0] == "structureet"),
                 None)
    if first is None or len(first) not in LAYOUT_BY_WIDTH:
        widths = " ou ".join(str(w) for w in sorted(LAYOUT_BY_WIDTH))
        raise SourceFileError(path, [Rejection("ligne 2", None, "disposition FINESS non reconnue : lignes structureet "
                                               f"de {len(first) if first else 0} champs (attendu : {widths})")])
    layout = LAYOUT_BY_WIDTH[len(first)]
    names = list(layout.columns)
    structures, geo = {}, {}
    result = src.ReadResult(path, names, {f.name: f.sources[0] for f in SPEC.fields}, encoding=used)
    result.columns["x"], result.columns["y"] = "coordxet", "coordyet"
    result.layout = layout
    for n, cells in enumerate(csv.reader(lines[1:], delimiter=";"), start=2):
        if not cells:
            continue
        kind = cells[0]
        if kind == "structureet":
            result.rows_read += 1
            if len(cells) != len(names):
                result.rejections.append(Rejection(f"ligne {n}", None,
                                                   f"{len(cells)} champs au lieu de {len(names)} "
                                                   f"(disposition « {layout.name} »)"))
                continue
            rec = dict(zip(names, cells))
            dep, com = rec["departement"].strip(), rec["commune"].strip()
            code = (dep.zfill(2) if dep.isdigit() else dep) + (com.zfill(3) if com.isdigit() else com)
            if code not in communes:
                result.rows_outside += 1
                continue
            structures[rec["nofinesset"].strip()] = (n, rec, code)
        elif kind == "geolocalisation" and len(cells) >= 4:
            geo[cells[1].strip()] = (n, cells[2], cells[3])
        elif kind not in ("structureet", "geolocalisation"):
            result.rejections.append(Rejection(f"ligne {n}", None, f"type de ligne inconnu {kind!r}"))
    for fin, (n, rec, code) in structures.items():
        if fin not in geo:
            result.rejections.append(Rejection(f"ligne {n}", "nofinesset", f"établissement {fin} sans ligne de géolocalisation"))
            continue
        try:
            x, y = src.floating(geo[fin][1]), src.floating(geo[fin][2])
        except ValueError as exc:
            result.rejections.append(Rejection(f"ligne {geo[fin][0]}", "coordxet", str(exc)))
            continue
        result.rows.append((n, src.padded(9)(fin), rec["rs"].strip(), rec["categetab"].strip(),
                            rec["libcategetab"].strip() or None, rec["categagretab"].strip() or None, code, x, y))
    if result.rows_read == 0:
        raise SourceFileError(path, [Rejection("ligne 2", None, "aucune ligne structureet")])
    return result


def load_finess(owner_dsn: str, path: Path, millesime: int, encoding=None, **kw):
    from etl.bpe import _territory_codes
    result = read_finess(path, encoding, _territory_codes(owner_dsn))
    return load_table(owner_dsn, SPEC, path, millesime, "core.finess_etablissement", INSERT, result=result,
                      point=True, source_crs=kw.pop("source_crs", None) or "EPSG:2154", fill=(), **kw)
