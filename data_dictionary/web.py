"""The dictionary served by the portal: ``/dictionnaire`` (HTML), ``.md``, ``.xlsx``, ``.pdf``.

Register with ``app.register_blueprint(data_dictionary.web.BLUEPRINT)``. The
pages describe fields, not data; they stay behind the gate like every other
route (the dictionary is handed to account holders).
"""
from __future__ import annotations

import functools

from flask import Blueprint, Response

from data_dictionary import render

BLUEPRINT = Blueprint("data_dictionary", __name__)


def _base() -> str:
    from portail.settings import get_settings
    return get_settings().public_url


@BLUEPRINT.get("/dictionnaire")
def dictionary_html():
    return Response(render.to_html(base=_base()), mimetype="text/html")


@BLUEPRINT.get("/dictionnaire.md")
def dictionary_markdown():
    return Response(render.to_markdown(), mimetype="text/markdown",
                    headers={"Content-Disposition":
                             'attachment; filename="dictionnaire-portail-lls.md"'})


@BLUEPRINT.get("/dictionnaire.xlsx")
def dictionary_xlsx():
    return Response(render.to_xlsx(),
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition":
                             'attachment; filename="dictionnaire-portail-lls.xlsx"'})


@functools.lru_cache(maxsize=2)
def _pdf(base: str) -> bytes:
    """Printing takes seconds: once per worker (the dictionary changes with a release)."""
    return render.to_pdf(base=base)


@BLUEPRINT.get("/dictionnaire.pdf")
def dictionary_pdf():
    return Response(_pdf(_base()), mimetype="application/pdf",
                    headers={"Content-Disposition":
                             'attachment; filename="dictionnaire-portail-lls.pdf"'})


def register(app) -> None:
    """The dictionary pages, on the portal's app (``portail.app``)."""
    app.register_blueprint(BLUEPRINT)
