"""Errors of the read model; each channel turns them into its own answer."""
from __future__ import annotations


class ReadError(Exception):
    """Base class: a French message that may be shown to the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidQuery(ReadError):
    """What the request asks cannot be read (unknown property, CRS or millésime): a 400."""


class Unavailable(ReadError):
    """The database does not answer now (down, pool exhausted): a 503, never a 500."""


class NotPublished(ReadError):
    """A view the code expects is not in the database (server defect, not user input)."""
