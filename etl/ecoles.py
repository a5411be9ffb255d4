"""Schools: the national directory of the Éducation nationale (CSV), or the académie's
collèges/lycées layer (GeoJSON).

CSV (``fr-en-adresse-et-geolocalisation-etablissements-premier-et-second-degre``):
semicolon, ``numero_uai``, ``appellation_officielle``, ``nature_uai_libe``,
``secteur_public_prive_libe``, ``code_commune``, ``coordonnee_x``/``coordonnee_y`` in the
system of the row's ``epsg`` (Lambert-93 in metropolitan France), ``latitude``/``longitude``.
The file covers France: schools of other communes are skipped and counted. GeoJSON:
``uai``, ``nom``, ``nature``, ``code_insee``, ``classement_rep``, points in CRS84.
"""
from __future__ import annotations

from pathlib import Path

from psycopg import sql

from etl import codelists
from etl import source as src
from etl.geofile import read_geofile
from etl.layouts import Layout
from etl.loading import territory_codes
from etl.tabular import drop_unplaced, keep_territory, load_table


def uai(value: str) -> str:
    v = value.strip().upper()
    if len(v) == 7 and v[:6].isdigit() and v[6].isalpha():   # a spreadsheet dropped the leading zero
        v = "0" + v
    if len(v) != 8 or not v[:7].isdigit() or not v[7].isalpha():
        raise ValueError(f"UAI invalide {value!r}")
    return v


def fields(millesime: int) -> tuple[src.Field, ...]:
    return (
        src.Field("uai", (), uai),
        src.Field("nom", ()),
        src.Field("nature", ()),
        src.Field("secteur", (), nullable=True),
        src.Field("classement_rep", (), nullable=True),
        src.Field("code_insee", (), src.code_insee, nullable=True),
        src.Field("x", (), src.floating, "float8", nullable=True),
        src.Field("y", (), src.floating, "float8", nullable=True),
        src.Field("epsg", (), codelists.load("epsg").parser(millesime), "integer", nullable=True))


LAYOUTS: tuple[Layout, ...] = (
    Layout("ecoles-annuaire-geoloc", "Éducation nationale, adresse et géolocalisation des établissements (CSV national)",
           "data.education.gouv.fr, fr-en-adresse-et-geolocalisation-etablissements-premier-et-second-degre.csv : "
           "national, « ; », coordonnee_x/coordonnee_y (Lambert-93 en métropole, système de la colonne epsg), "
           "pas de colonne REP (../shared/docs/source-formats.md).",
           signature=("numero_uai", "appellation_officielle", "coordonnee_x"),
           columns={"uai": ("numero_uai",), "nom": ("appellation_officielle", "denomination_principale"),
                    "nature": ("nature_uai_libe",), "secteur": ("secteur_public_prive_libe",),
                    "classement_rep": ("appartenance_education_prioritaire", "classement_rep"),
                    "code_insee": ("code_commune",), "x": ("coordonnee_x",), "y": ("coordonnee_y",),
                    "epsg": ("epsg",)},
           required=("uai", "nom", "nature", "x", "y"), area="national", millesimes="2014 et suivants"),
    Layout("ecoles-annuaire-wgs84", "Éducation nationale, annuaire en latitude/longitude (CSV)",
           "Variante acceptée par le portail avant la détection des dispositions : le même jeu exporté de "
           "data.education.gouv.fr sans coordonnee_x/coordonnee_y, avec latitude/longitude (WGS 84).",
           signature=("numero_uai", "appellation_officielle", "latitude"),
           columns={"uai": ("numero_uai",), "nom": ("appellation_officielle", "denomination_principale"),
                    "nature": ("nature_uai_libe",), "secteur": ("secteur_public_prive_libe",),
                    "classement_rep": ("appartenance_education_prioritaire", "classement_rep"),
                    "code_insee": ("code_commune",), "x": ("longitude",), "y": ("latitude",)},
           required=("uai", "nom", "nature", "x", "y"), area="national", millesimes="2014 et suivants"),
    Layout("ecoles-academie-geojson", "Académie de Lille, collèges et lycées (GeoJSON)",
           "Couche des collèges et lycées de l'académie (data/reference/mel_colleges_lycees_2021.geojson, "
           "PROVENANCE.md) : uai, nom, nature, secteur, code_insee, classement_rep, points en CRS84.",
           signature=("uai", "nom", "longitude"),
           columns={"uai": ("uai",), "nom": ("nom",), "nature": ("nature",), "secteur": ("secteur",),
                    "classement_rep": ("classement_rep",), "code_insee": ("code_insee",), "x": ("longitude",),
                    "y": ("latitude",)},
           required=("uai", "nom", "nature", "x", "y"), area="territoire", millesimes="2021"),
)
SPEC = src.CsvSpec(source="ecoles", key=("uai",), fields=fields(2025))
INSERT = sql.SQL("""INSERT INTO core.etablissement_scolaire (millesime, uai, nom, nature, secteur,
    classement_rep, code_insee, geom)
    SELECT %s, uai, nom, nature, secteur, classement_rep, code_insee, geom FROM ecoles_stage""")


def load_ecoles(owner_dsn: str, path: Path, millesime: int, encoding=None, source_crs=None, **kw):
    path = Path(path)
    spec = src.CsvSpec(source="ecoles", key=("uai",), fields=fields(millesime))
    table = None
    if path.suffix.lower() in (".geojson", ".json", ".gpkg", ".shp"):
        from etl.files import TableText
        gdf = read_geofile(path, source_crs).to_crs(epsg=4326)
        lines = ["uai;nom;nature;secteur;classement_rep;code_insee;longitude;latitude"]
        for rec in gdf.itertuples(index=False):
            g = rec.geometry
            lines.append(";".join(str(v if v is not None else "") for v in (
                rec.uai, rec.nom, rec.nature, getattr(rec, "secteur", "Public"), getattr(rec, "classement_rep", ""),
                rec.code_insee, g.x if g is not None else "", g.y if g is not None else "")))
        table = TableText("\n".join(lines), "utf-8")
        source_crs = "EPSG:4326"
    result = src.read_layout(path, spec, LAYOUTS, encoding, table=table,
                             prefer=(r"etablissements", r"ecole", r"uai"), territory=territory_codes(owner_dsn))
    keep_territory(owner_dsn, spec, result)
    drop_unplaced(spec, result, "établissement(s) du territoire")
    return load_table(owner_dsn, spec, path, millesime, "core.etablissement_scolaire", INSERT,
                      encoding=encoding, result=result, point=True, source_crs=source_crs, **kw)
