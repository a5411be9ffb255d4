"""The secrecy rules' parameters, read from their one place: ``core.parametre_secret``."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SecretRules:
    seuil: int = 11                 # no figure under this many dwellings, households, allocations
    fenetre: int = 3                # allocations only summed over this many years
    residences_min: int = 2         # allocations of a territory: at least this many résidences…
    part_max: float = 85.0          # …none holding more than this share (%) of its dwellings

    @classmethod
    def read(cls, conn) -> "SecretRules":
        seuil, fenetre, res_min, part_max = conn.execute(
            "SELECT seuil, fenetre_attributions, attributions_residences_min, "
            "attributions_part_max FROM core.parametre_secret").fetchone()
        return cls(int(seuil), int(fenetre), int(res_min), float(part_max))
