"""The ``export`` process: published layers of the dictionary as an Excel (or CSV) table.

Declared in pygeoapi's config (``processes.export``, from
``data_dictionary/pygeoapi-base.yml``). The processor definition may carry
``max_rows`` (the stated size limit, rows over all layers) and ``dictionary``
(a folder of theme files; default: the dictionary shipped with the code).
"""
from __future__ import annotations

import io
import logging
import os
import shutil
import tempfile
from datetime import date
from functools import lru_cache
from pathlib import Path

import psycopg
from psycopg_pool import PoolTimeout
from pygeoapi.process.base import BaseProcessor, ProcessorExecuteError

from data_dictionary.model import Dictionary, dictionary, load_dictionary
from portail.settings import SOURCE_MENTION
from processes.errors import ExportFailure, ExportInputError
from processes.geopackage import MIMETYPE as MIMETYPE_GPKG, write_gpkg
from processes.request import parse_request
from processes.selection import LayerSelection, select_all
from processes.workbook import MIMETYPES, millesime_text, write_csv, write_xlsx
from providers.pool import service_pool

LOGGER = logging.getLogger(__name__)
MAX_ROWS = 200_000
FETCH_ROWS = 2000

PROCESS_METADATA = {
    "version": "1.0.0",
    "id": "export",
    "title": {"fr": "Export de tableaux (Excel, CSV, GeoPackage)",
              "en": "Table export (Excel, CSV, GeoPackage)"},
    "description": {
        "fr": ("Exporte une ou plusieurs couches publiées (thème × échelle, parmi les couches "
               "exportables du dictionnaire de données) sur un territoire (codes de communes, "
               "d'IRIS ou de QPV, emprise, ou toute la MEL) et un ou plusieurs millésimes. "
               "Les lignes publiées sont sélectionnées, jamais additionnées ; les cases "
               "masquées par le secret statistique restent vides. XLSX : une feuille par "
               f"couche, le dictionnaire et la légende des statuts. {SOURCE_MENTION}."),
        "en": ("Exports published layers of the data dictionary over a territory and "
               "millésimes as an Excel workbook (or CSV for one layer)."),
    },
    "jobControlOptions": ["sync-execute"],
    "keywords": ["export", "Excel", "XLSX", "CSV", "logement social"],
    "inputs": {
        "layers": {
            "title": "Couches", "description": "Noms des collections à exporter (au moins une).",
            "schema": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "minOccurs": 1, "maxOccurs": 1,
        },
        "territory": {
            "title": "Territoire",
            "description": ("« MEL » (par défaut), ou un objet avec une seule clé : communes, "
                            "iris ou qpv (liste de codes), ou bbox [lon min, lat min, lon max, "
                            "lat max] en WGS 84."),
            "schema": {"oneOf": [{"type": "string", "enum": ["MEL"]},
                                 {"type": "object", "minProperties": 1, "maxProperties": 1}]},
            "minOccurs": 0, "maxOccurs": 1,
        },
        "millesime": {
            "title": "Millésime(s)",
            "description": "Une année ou une liste d'années ; par défaut le dernier millésime chargé.",
            "schema": {"oneOf": [{"type": "integer"},
                                 {"type": "array", "items": {"type": "integer"}}]},
            "minOccurs": 0, "maxOccurs": 1,
        },
        "format": {
            "title": "Format",
            "description": ("xlsx (par défaut), csv (une seule couche) ou gpkg (GeoPackage : "
                            "une couche par couche exportée, géométrie en Lambert-93)."),
            "schema": {"type": "string", "enum": ["xlsx", "csv", "gpkg"], "default": "xlsx"},
            "minOccurs": 0, "maxOccurs": 1,
        },
    },
    "outputs": {
        "export": {
            "title": "Fichier exporté",
            "schema": {"type": "string", "contentMediaType": MIMETYPES["xlsx"],
                       "contentEncoding": "binary"},
        },
    },
    "example": {"inputs": {"layers": ["communes"], "territory": {"communes": ["59350"]},
                           "format": "xlsx"}},
}


@lru_cache(maxsize=4)
def _dictionary_at(folder: str) -> Dictionary:
    return load_dictionary(Path(folder))


class ExportProcessor(BaseProcessor):
    """Published rows of dictionary layers, as XLSX (default) or CSV."""

    def __init__(self, processor_def: dict):
        super().__init__(processor_def, PROCESS_METADATA)
        self.max_rows = int(processor_def.get("max_rows") or MAX_ROWS)
        self.dictionary_dir = processor_def.get("dictionary")

    def dictionary(self) -> Dictionary:
        return _dictionary_at(str(self.dictionary_dir)) if self.dictionary_dir else dictionary()

    def execute(self, data: dict, outputs=None):
        try:
            return self._export(data, date.today())
        except ProcessorExecuteError:
            raise
        except (PoolTimeout, psycopg.OperationalError):
            LOGGER.exception("export: database unavailable")
            raise ExportFailure("base de données indisponible, réessayez plus tard") from None
        except Exception:  # noqa: BLE001 - nothing from the database reaches the user
            LOGGER.exception("export failed")
            raise ExportFailure() from None

    def _export(self, data: dict, today: date):
        request = parse_request(data, self.dictionary())
        if request.format == "csv" and len(request.layers) > 1:
            raise ExportInputError("format csv : une seule couche par fichier ; "
                                   "choisissez xlsx pour exporter plusieurs couches")
        with service_pool().connection() as conn:
            selections = select_all(conn, request, self.max_rows)

            def rows_of(sel: LayerSelection):
                stmt, params = sel.select()
                with conn.transaction(), conn.cursor(name="export_rows") as cur:
                    cur.itersize = FETCH_ROWS
                    yield from cur.execute(stmt, params)

            if request.format == "gpkg":
                return MIMETYPE_GPKG, _gpkg_bytes(conn, request, selections, today)
            if request.format == "csv":
                text = io.StringIO()
                text.write("\ufeff")   # BOM: French spreadsheets read UTF-8 correctly
                write_csv(text, request, selections[0], rows_of, today)
                return MIMETYPES["csv"], text.getvalue().encode("utf-8")
            fd, tmp = tempfile.mkstemp(prefix="portail-export-", suffix=".xlsx")
            os.close(fd)
            try:
                write_xlsx(Path(tmp), request, selections, rows_of, today)
                return MIMETYPES["xlsx"], Path(tmp).read_bytes()
            finally:
                os.unlink(tmp)

    def __repr__(self):
        return f"<ExportProcessor> {self.name}"


def _gpkg_bytes(conn, request, selections: list[LayerSelection], today: date) -> bytes:
    """GeoPackage: one layer per exported layer, written to a temporary file."""
    folder = tempfile.mkdtemp(prefix="portail-export-")
    path = Path(folder) / "export.gpkg"
    try:
        write_gpkg(path, selections, conn, millesime_text(selections), today)
        return path.read_bytes()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
