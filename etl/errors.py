"""Errors of a source file: which file, where in it, which field, and why."""
from __future__ import annotations

from dataclasses import dataclass

from portail.errors import UserError


@dataclass(frozen=True)
class Rejection:
    location: str       # "ligne 12", "entité 4"
    field: str | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.location}, champ {self.field}" if self.field else self.location
        return f"{where} : {self.reason}"


class SourceFileError(UserError):
    """The file cannot be loaded; nothing was written."""

    def __init__(self, path, problems: list[Rejection] | str, hint: str | None = None):
        self.path = str(path)
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        shown = "\n".join(f"  - {p}" for p in self.problems[:20])
        more = len(self.problems) - 20
        if more > 0:
            shown += f"\n  … et {more} autres"
        super().__init__(f"{self.path} : fichier refusé, rien n'a été chargé.\n{shown}", hint)
