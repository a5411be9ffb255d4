"""Errors meant for a person: what went wrong and what to do, never a traceback."""
from __future__ import annotations


class UserError(Exception):
    """A failure the user can act on; the CLI prints it and exits 1."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message + (f"\n→ {self.hint}" if self.hint else "")
