"""FINESS health and social establishments, Etalab extraction (``etalab-cs1100507-stock``).

The file as published: semicolon, Latin-1, a first line ``finess;etalab;…`` and
no header; ``structureet`` lines (32 fields: nofinesset, nofinessej, rs, …,
departement, commune (3 digits), …, categetab, libcategetab, categagretab…) and
``geolocalisation`` lines (nofinesset, coordxet, coordyet, sourcecoordet, datemaj)
in Lambert-93 for metropolitan France. Establishments of other communes are ignored.
"""
from __future__ import annotations

from pathlib import Path

from psycopg import sql

from etl import source as src
from etl.errors import Rejection, SourceFileError
from etl.tabular import load_table

STRUCTURE_FIELDS = ("structureet", "nofinesset", "nofinessej", "rs", "rslongue", "complrs",
                    "compldistrib", "numvoie", "typvoie", "voie", "compvoie", "lieuditbp", "commune",
                    "departement", "libdepartement", "ligneacheminement", "telephone", "telecopie",
                    "categetab", "libcategetab", "categagretab", "libcategagretab", "siret", "codeape",
                    "codemft", "libmft", "codesph", "libsph", "dateouv", "dateautor", "datemaj", "numuai")
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
    raw = Path(path).read_bytes() if Path(path).exists() else None
    if raw is None:
        raise SourceFileError(path, "fichier introuvable")
    if not raw.strip():
        raise SourceFileError(path, [Rejection("ligne 1", None, "fichier vide")])
    data, used = src.decode(path, raw, encoding or "cp1252")
    lines = data.splitlines()
    if not lines[0].lower().startswith("finess;"):
        raise SourceFileError(path, [Rejection("ligne 1", None, "première ligne « finess;etalab;… » attendue "
                                               "(extraction Etalab du FINESS)")])
    import csv
    structures, geo = {}, {}
    result = src.ReadResult(Path(path), list(STRUCTURE_FIELDS), {f.name: f.sources[0] for f in SPEC.fields},
                            encoding=used)
    result.columns["x"], result.columns["y"] = "coordxet", "coordyet"
    for n, cells in enumerate(csv.reader(lines[1:], delimiter=";"), start=2):
        if not cells:
            continue
        kind = cells[0]
        if kind == "structureet":
            result.rows_read += 1
            if len(cells) != len(STRUCTURE_FIELDS):
                result.rejections.append(Rejection(f"ligne {n}", None,
                                                   f"{len(cells)} champs au lieu de {len(STRUCTURE_FIELDS)}"))
                continue
            rec = dict(zip(STRUCTURE_FIELDS, cells))
            code = rec["departement"].strip() + rec["commune"].strip()
            if code not in communes:
                continue
            structures[rec["nofinesset"]] = (n, rec, code)
        elif kind == "geolocalisation" and len(cells) >= 4:
            geo[cells[1]] = (n, cells[2], cells[3])
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
        result.rows.append((n, fin, rec["rs"].strip(), rec["categetab"].strip(), rec["libcategetab"].strip() or None,
                            rec["categagretab"].strip() or None, code, x, y))
    if result.rows_read == 0:
        raise SourceFileError(path, [Rejection("ligne 2", None, "aucune ligne structureet")])
    return result


def load_finess(owner_dsn: str, path: Path, millesime: int, encoding=None, **kw):
    from etl.bpe import _territory_codes
    result = read_finess(path, encoding, _territory_codes(owner_dsn))
    result.rows_read = max(len(result.rows) + len(result.rejections), 1)
    return load_table(owner_dsn, SPEC, path, millesime, "core.finess_etablissement", INSERT, result=result,
                      point=True, source_crs=kw.pop("source_crs", None) or "EPSG:2154", fill=(), **kw)
