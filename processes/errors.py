"""Errors of the processes, mapped to HTTP statuses by pygeoapi.

pygeoapi 0.21 (``DummyManager`` and the synchronous handler of
``BaseManager``) catches every exception raised by ``execute`` and answers
400 with ``{"code": "InvalidParameterValue", "description": "Error executing
process: <message>"}``: the French message below is what the user reads. An
unexpected failure is logged and replaced by a neutral message, so that
nothing from the database (values, SQL) reaches a response.
"""
from __future__ import annotations

from http import HTTPStatus

from pygeoapi.process.base import ProcessorExecuteError


class ExportInputError(ProcessorExecuteError):
    """A bad input of the export: 400 with a French message."""
    ogc_exception_code = "InvalidParameterValue"
    http_status_code = HTTPStatus.BAD_REQUEST

    def __init__(self, message: str):
        super().__init__(message, user_msg=message)


class ExportFailure(ProcessorExecuteError):
    """The export failed on the server side (database down, bug)."""
    http_status_code = HTTPStatus.INTERNAL_SERVER_ERROR

    def __init__(self, message: str = "l'export a échoué côté serveur (voir le journal du serveur)"):
        super().__init__(message, user_msg=message)
