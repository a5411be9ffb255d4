"""The sources the data team loads: name -> loader and the options it takes."""
from __future__ import annotations

from importlib import import_module

# name: (module, function, help, takes encoding, takes crs)
SOURCES = {
    "iris": ("etl.territories", "load_iris", "Contours IRIS (IGN CONTOURS-IRIS : GeoPackage, Shapefile, GeoJSON)", False, True),
    "qpv": ("etl.territories", "load_qpv", "Contours des QPV (fichier national)", False, True),
    "epci": ("etl.territories", "load_epci", "Appartenance des communes aux EPCI (CSV)", True, False),
    "rpls": ("etl.rpls", "load_rpls", "RPLS, fichier détail au logement (CSV point-virgule)", True, True),
    "occupation": ("etl.occupation", "load_occupation", "Occupation par résidence (bailleurs / URH)", True, False),
    "loyers": ("etl.loyers", "load_loyers", "Loyers + charges par résidence (étude MEL)", True, False),
    "attributions": ("etl.attributions", "load_attributions", "Attributions (extrait SNE) par cellule et année", True, False),
    "qpv_indicateurs": ("etl.qpv_indicateurs", "load_qpv_indicateurs", "Indicateurs de cadrage des QPV (CSV)", True, False),
    "diagnostic": ("etl.diagnostic", "load_diagnostic", "Diagnostic MEL de l'occupation par IRIS / QPV", True, False),
    "filosofi": ("etl.filosofi", "load_filosofi", "Filosofi, carreaux de 200 m (GeoPackage)", False, True),
    "bpe": ("etl.bpe", "load_bpe", "Base permanente des équipements (INSEE, géolocalisée)", True, True),
    "ecoles": ("etl.ecoles", "load_ecoles", "Collèges et lycées (GeoJSON académie ou CSV education.gouv)", True, True),
    "finess": ("etl.finess", "load_finess", "FINESS, extraction Etalab", True, True),
    "gtfs": ("etl.gtfs", "load_gtfs", "Arrêts de transport (GTFS zip ou dossier, ou quais GeoJSON)", True, True),
}


def loader(name: str):
    module, func, *_ = SOURCES[name]
    return getattr(import_module(module), func)
