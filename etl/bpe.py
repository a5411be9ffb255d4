"""INSEE BPE (base permanente des équipements), the geolocated national file.

Every public layout since 2014 (see :data:`LAYOUTS`), detected from the header: the
« ensemble géolocalisé » files up to 2020 and their 2021 form (``bpe21_ensemble_xy.csv``,
``QUALITE_XY`` in words), then ``BPE24.csv``/``BPE25.csv`` (a per-row ``EPSG``,
``LONGITUDE``/``LATITUDE``, ``QUALITE_XY`` as codes B/A/M/_Z/_U). The quality is mapped to
one scale through the code list of the vintage (``etl/codes/bpe_qualite_xy.yml``). The
domain is the first letter of ``TYPEQU``. The file covers France: rows of other communes
are skipped and counted; rows without coordinates cannot be placed and are counted too.
Equipment has no stable identifier across vintages: the line number stands for it.
"""
from __future__ import annotations

import re
from pathlib import Path

from psycopg import sql

from etl import codelists
from etl import source as src
from etl.layouts import Layout
from etl.loading import territory_codes
from etl.tabular import drop_unplaced, keep_territory, load_table


def typequ(value: str) -> str:
    v = value.strip().upper()
    if not re.fullmatch(r"[A-G][0-9]{3}", v):
        raise ValueError(f"TYPEQU invalide {value!r} (lettre A-G et 3 chiffres)")
    return v


def fields(millesime: int) -> tuple[src.Field, ...]:
    return (
        src.Field("equipement_id", (), required=False, nullable=True),
        src.Field("typequ", (), typequ),
        src.Field("code_insee", (), src.code_insee),
        src.Field("qualite_xy", (), codelists.load("bpe_qualite_xy").parser(millesime), nullable=True),
        src.Field("x", (), src.floating, "float8", nullable=True),
        src.Field("y", (), src.floating, "float8", nullable=True),
        src.Field("epsg", (), codelists.load("epsg").parser(millesime), "integer", nullable=True),
    )


BPE_2024_COLUMNS = (
    "AN", "NOMRS", "CNOMRS", "NUMVOIE", "INDREP", "TYPVOIE", "LIBVOIE", "CADR", "CODPOS", "DEPCOM", "DEP",
    "REG", "LIBCOM", "DOM", "SDOM", "TYPEQU", "SIRET", "STATUT_DIFFUSION", "CANTINE", "INTERNAT", "RPI",
    "EP", "CL_PGE", "SECT", "ACCES_AIRE_PRATIQUE", "ACCES_LIBRE", "ACCES_SANITAIRE", "ACCES_VESTIAIRE",
    "CAPACITE_D_ACCUEIL", "PRES_DOUCHE", "PRES_SANITAIRE", "SAISONNIER", "COUVERT", "ECLAIRE", "CATEGORIE",
    "MULTIPLEXE", "STRUCTURE_EXERCICE", "SPECIALITE", "ACCUEIL", "ITINERANCE", "MODE_GESTION", "SSTYPHEB",
    "TYPE", "IMPLANTATION_STATION", "CAPACITE", "INDIC_CAPA", "NBEQUIDENT", "INDIC_NBEQUIDENT", "NBSALLES",
    "INDIC_NBSALLES", "NBLIEUX", "INDIC_NBLIEUX", "NB_PDC", "INDIC_NB_PDC", "NB_PDC_PA", "INDIC_NB_PDC_PA",
    "NB_PDC_ACCELEREE", "INDIC_NB_PDC_ACCELEREE", "NB_PDC_LENTE", "INDIC_NB_PDC_LENTE", "NB_PDC_RAPIDE",
    "INDIC_NB_PDC_RAPIDE", "NB_PDC_ULTRARAPIDE", "INDIC_NB_PDC_ULTRARAPIDE", "NB_JOURS_OUVERT",
    "INDIC_NB_JOURS_OUVERT", "LAMBERT_X", "LAMBERT_Y", "LONGITUDE", "LATITUDE", "QUALITE_XY", "EPSG",
    "QUALITE_GEOLOC", "TR_DIST_PRECISION", "DCIRIS", "QUALI_IRIS", "IRISEE", "QP2024", "QUALI_QP2024", "QVA",
    "QUALI_QVA", "ZUS", "QUALI_ZUS", "EPCI", "UU2020", "BV2022", "AAV2020", "DENS3", "DENS7")
COMMON = {"typequ": ("TYPEQU",), "code_insee": ("DEPCOM", "CODGEO"), "qualite_xy": ("QUALITE_XY",),
          "x": ("LAMBERT_X",), "y": ("LAMBERT_Y",), "equipement_id": ("ID_EQUIPEMENT", "IDENT", "ID")}
LAYOUTS: tuple[Layout, ...] = (
    Layout("bpe-2024", "BPE, fichier national géolocalisé (BPE24, BPE25)",
           "INSEE, BPE24.csv / BPE25.csv (zip) : « ; », LAMBERT_X/LAMBERT_Y dans le système de la ligne "
           "(EPSG), LONGITUDE/LATITUDE, QUALITE_XY en codes (B, A, M, _Z, _U), QUALITE_GEOLOC 11…33 "
           "(../shared/docs/source-formats.md ; liste des colonnes lue par du code public sur BPE24.parquet).",
           signature=("TYPEQU", "DEPCOM", "LAMBERT_X", "EPSG"),
           columns={**COMMON, "epsg": ("EPSG",)}, required=("typequ", "code_insee", "x", "y"),
           area="national", millesimes="2024 et suivants", encodings=("utf-8", "cp1252")),
    Layout("bpe-2021", "BPE, ensemble des équipements géolocalisés (2021)",
           "INSEE, bpe21_ensemble_xy.csv : « ; », AAV2020;AN;BV2012;DEP;DEPCOM;DOM;EPCI;DCIRIS;LAMBERT_X;"
           "LAMBERT_Y;QP;…;QUALITE_XY;…;TYPEQU;…, QUALITE_XY en mots (../shared/docs/source-formats.md).",
           signature=("TYPEQU", "DEPCOM", "LAMBERT_X", "AAV2020"),
           columns=COMMON, required=("typequ", "code_insee", "x", "y"),
           area="national", millesimes="2021 à 2023", encodings=("utf-8", "cp1252")),
    Layout("bpe-ensemble-xy", "BPE, ensemble des équipements géolocalisés (jusqu'en 2020)",
           "INSEE, bpeAA_ensemble_xy.csv : « ; », REG;DEP;DEPCOM;DCIRIS;AN;TYPEQU;LAMBERT_X;LAMBERT_Y;QUALITE_XY "
           "(QUALITE_XY en mots : Bonne, Acceptable, Mauvaise, Non géolocalisé).",
           signature=("TYPEQU", "DEPCOM", "LAMBERT_X"),
           columns=COMMON, required=("typequ", "code_insee", "x", "y"),
           area="national", millesimes="2014 à 2020", encodings=("utf-8", "cp1252")),
)
SPEC = src.CsvSpec(source="bpe", fields=fields(2025))

INSERT = sql.SQL("""
    INSERT INTO core.bpe_equipement (millesime, equipement_id, typequ, domaine, code_insee, qualite_xy, geom)
    SELECT %s, coalesce(equipement_id, 'L' || _line), typequ, left(typequ, 1), code_insee, qualite_xy, geom
    FROM bpe_stage""")


def load_bpe(owner_dsn: str, path: Path, millesime: int, **kw):
    spec = src.CsvSpec(source="bpe", fields=fields(millesime))
    result = src.read_layout(path, spec, LAYOUTS, kw.pop("encoding", None), prefer=(r"bpe",),
                             territory=territory_codes(owner_dsn))
    # The national file: keep the territory's communes (counted); rows without coordinates
    # cannot be placed (counted).
    keep_territory(owner_dsn, spec, result)
    drop_unplaced(spec, result, "équipement(s) du territoire (non géolocalisés)")
    return load_table(owner_dsn, spec, path, millesime, "core.bpe_equipement", INSERT,
                      point=True, fill=(), result=result, **kw)


def _territory_codes(owner_dsn: str) -> set[str]:
    return territory_codes(owner_dsn)
