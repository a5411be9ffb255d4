"""The stable address of the descriptive sheet: ``GET /fiche/<scale>/<code>``.

Registered by ``processes.web.register`` (from ``portail.app``): behind the gate
like every other route. Query string:
``millesime=YYYY`` (default: the latest of each theme) and ``f=html|xlsx|pdf``.
The map page and the item pages link here.
"""
from __future__ import annotations

import html
import logging
from http import HTTPStatus
from urllib.parse import urlencode

from flask import Blueprint, Response, request

from processes.fiche import build_fiche
from processes.fiche_data import FicheError

LOGGER = logging.getLogger(__name__)
BLUEPRINT = Blueprint("portail_fiche", __name__)
EXTENSIONS = {"xlsx": "xlsx", "pdf": "pdf"}


def _error_page(exc: FicheError) -> Response:
    status = int(exc.http_status_code)
    body = ("<!DOCTYPE html><html lang=\"fr\"><head><meta charset=\"utf-8\">"
            f"<title>Fiche indisponible</title></head><body><h1>Fiche indisponible</h1>"
            f"<p>{html.escape(exc.message, quote=False)}</p></body></html>")
    return Response(body, status=status, mimetype="text/html")


@BLUEPRINT.get("/fiche/<scale>/<code>")
def fiche(scale: str, code: str):
    millesime = request.args.get("millesime")
    fmt = request.args.get("f", "html").strip().lower()
    query = {"millesime": millesime} if millesime else {}
    links = {"Tableur (XLSX)": "?" + urlencode({**query, "f": "xlsx"}),
             "PDF": "?" + urlencode({**query, "f": "pdf"})}
    try:
        mimetype, content = build_fiche(scale, code, millesime, fmt, links=links)
    except FicheError as exc:
        return _error_page(exc)
    except Exception:  # noqa: BLE001 - rendering (PDF, fonts): a French page, not a trace
        LOGGER.exception("fiche %s/%s failed", scale, code[:40])
        return _error_page(FicheError("la fiche n'a pas pu être produite ; réessayez plus "
                                      "tard ou signalez-le à l'administrateur du portail",
                                      HTTPStatus.INTERNAL_SERVER_ERROR))
    headers = {}
    if fmt in EXTENSIONS:
        # Scale, code and year were checked by build_fiche (ASCII patterns).
        safe = "".join(ch for ch in f"{scale}-{code}" if ch.isascii() and (ch.isalnum()
                                                                             or ch in "-_."))
        suffix = f"-{millesime.strip()}" if millesime else ""
        headers["Content-Disposition"] = \
            f'attachment; filename="fiche-{safe}{suffix}.{EXTENSIONS[fmt]}"'
    return Response(content, content_type=mimetype, headers=headers)
