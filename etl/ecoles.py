"""Schools: the académie's collèges/lycées layer (GeoJSON) or the data.education.gouv.fr CSV.

CSV format (``fr-en-adresse-et-geolocalisation-etablissements-premier-et-second-degre``):
semicolon, ``numero_uai``, ``appellation_officielle``, ``nature_uai_libe``,
``secteur_public_prive_libe``, ``code_commune``, ``coordonnee_x``/``coordonnee_y``
(Lambert-93) or ``latitude``/``longitude``. GeoJSON: ``uai``, ``nom``, ``nature``,
``code_insee``, ``classement_rep``, points in CRS84.
"""
from __future__ import annotations

from pathlib import Path

from psycopg import sql

from etl import source as src
from etl.geofile import read_geofile
from etl.tabular import load_table


def uai(value: str) -> str:
    v = value.strip().upper()
    if len(v) != 8 or not v[:7].isdigit() or not v[7].isalpha():
        raise ValueError(f"UAI invalide {value!r}")
    return v


SPEC = src.CsvSpec(source="ecoles", key=("uai",), fields=(
    src.Field("uai", ("numero_uai", "uai"), uai),
    src.Field("nom", ("appellation_officielle", "denomination_principale", "nom")),
    src.Field("nature", ("nature_uai_libe", "nature")),
    src.Field("secteur", ("secteur_public_prive_libe", "secteur"), required=False, nullable=True),
    src.Field("classement_rep", ("classement_rep", "appartenance_education_prioritaire"), required=False, nullable=True),
    src.Field("code_insee", ("code_commune", "code_insee"), src.code_insee, nullable=True),
    src.Field("x", ("coordonnee_x", "longitude", "x"), src.floating, "float8"),
    src.Field("y", ("coordonnee_y", "latitude", "y"), src.floating, "float8")))
INSERT = sql.SQL("""INSERT INTO core.etablissement_scolaire (millesime, uai, nom, nature, secteur,
    classement_rep, code_insee, geom)
    SELECT %s, uai, nom, nature, secteur, classement_rep, code_insee, geom FROM ecoles_stage""")


def load_ecoles(owner_dsn: str, path: Path, millesime: int, encoding=None, source_crs=None, **kw):
    path = Path(path)
    result = None
    if path.suffix.lower() in (".geojson", ".json", ".gpkg", ".shp"):
        gdf = read_geofile(path, source_crs).to_crs(epsg=4326)
        lines = ["uai;nom;nature;secteur;classement_rep;code_insee;longitude;latitude"]
        for rec in gdf.itertuples(index=False):
            g = rec.geometry
            lines.append(";".join(str(v if v is not None else "") for v in (
                rec.uai, rec.nom, rec.nature, getattr(rec, "secteur", "Public"), getattr(rec, "classement_rep", ""),
                rec.code_insee, g.x if g is not None else "", g.y if g is not None else "")))
        result = src.read_csv(path, SPEC, text_data="\n".join(lines))
        source_crs = "EPSG:4326"
    return load_table(owner_dsn, SPEC, path, millesime, "core.etablissement_scolaire", INSERT,
                      encoding=encoding, result=result, point=True, source_crs=source_crs, **kw)
