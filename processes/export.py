"""The ``export`` process: published layers of the dictionary as an Excel (or CSV) table.

Declared in pygeoapi's config (``processes.export``, from
``data_dictionary/pygeoapi-base.yml``). The processor definition may carry
``max_rows`` (the stated size limit, rows over all layers) and ``dictionary``
(a folder of theme files; default: the dictionary shipped with the code).
"""
from __future__ import annotations

import io
import logging
import shutil
import tempfile
from datetime import date
from functools import lru_cache
from pathlib import Path

from pygeoapi.process.base import BaseProcessor, ProcessorExecuteError

from data_dictionary.model import Dictionary, dictionary, load_dictionary
from diffusion.errors import Unavailable
from diffusion.store import connection
from portail.settings import SOURCE_MENTION
from processes.errors import ExportFailure, ExportInputError
from processes.geopackage import MIMETYPE as MIMETYPE_GPKG, write_gpkg
from processes.request import parse_request
from processes.selection import LayerSelection, select_all
from processes.workbook import MIMETYPES, millesime_text, write_csv, write_xlsx

LOGGER = logging.getLogger(__name__)
MAX_ROWS = 200_000
FETCH_ROWS = 2000
PROGRESS_ROWS = 20_000   # a running job reports its progress at each layer and every N rows

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
    # async-execute: `Prefer: respond-async` queues a job (processes/jobs), run by a worker.
    "jobControlOptions": ["sync-execute", "async-execute"],
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

    # Set by the job worker: called with (percent, message) at each layer; it may
    # raise to stop an export whose job was deleted.
    on_progress = None

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
        except Unavailable:
            LOGGER.exception("export: database unavailable")
            failure = ExportFailure("base de données indisponible, réessayez plus tard")
            failure.retryable = True   # a job worker puts the job back in the queue
            raise failure from None
        except Exception:  # noqa: BLE001 - nothing from the database reaches the user
            LOGGER.exception("export failed")
            raise ExportFailure() from None

    def check_inputs(self, data: dict):
        """The checks that need no database: run before a job is queued (400 at once)."""
        request = parse_request(data, self.dictionary())
        if request.format == "csv" and len(request.layers) > 1:
            raise ExportInputError("format csv : une seule couche par fichier ; "
                                   "choisissez xlsx pour exporter plusieurs couches")
        return request

    def _progress(self, percent: float, message: str) -> None:
        if self.on_progress is not None:
            self.on_progress(int(percent), message)

    def _export(self, data: dict, today: date):
        request = self.check_inputs(data)
        with connection() as conn:
            selections = select_all(conn, request, self.max_rows)
            total = max(1, sum(s.rows for s in selections))
            done = 0

            def rows_of(sel: LayerSelection):
                nonlocal done
                where = f"couche {selections.index(sel) + 1}/{len(selections)} : {sel.layer.name}"
                self._progress(5 + 90 * done / total, where)
                stmt, params = sel.select()
                with conn.transaction(), conn.cursor(name="export_rows") as cur:
                    cur.itersize = FETCH_ROWS
                    for n, row in enumerate(cur.execute(stmt, params), start=1):
                        yield row
                        if n % PROGRESS_ROWS == 0:
                            self._progress(5 + 90 * (done + n) / total, where)
                done += sel.rows

            if request.format == "gpkg":
                return MIMETYPE_GPKG, _gpkg_bytes(conn, selections, today)
            if request.format == "csv":
                text = io.StringIO()
                text.write("\ufeff")   # BOM: French spreadsheets read UTF-8 correctly
                write_csv(text, request, selections[0], rows_of, today)
                return MIMETYPES["csv"], text.getvalue().encode("utf-8")
            # One folder per export for the workbook and xlsxwriter's row spools,
            # removed even when the export stops half-way (cancelled job, lost database).
            folder = Path(tempfile.mkdtemp(prefix="portail-export-"))
            try:
                write_xlsx(folder / "export.xlsx", request, selections, rows_of, today)
                return MIMETYPES["xlsx"], (folder / "export.xlsx").read_bytes()
            finally:
                shutil.rmtree(folder, ignore_errors=True)

    def __repr__(self):
        return f"<ExportProcessor> {self.name}"


def _gpkg_bytes(conn, selections: list[LayerSelection], today: date) -> bytes:
    """GeoPackage: one layer per exported layer, written to a temporary file."""
    folder = tempfile.mkdtemp(prefix="portail-export-")
    path = Path(folder) / "export.gpkg"
    try:
        write_gpkg(path, selections, conn, millesime_text(selections), today)
        return path.read_bytes()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
