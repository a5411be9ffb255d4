"""Loaded millésimes of a published view and the default-millésime rule.

A view may hold several millésimes (one load each); a reader that names none
gets the **latest loaded**. The list is read by an index skip scan (a recursive
CTE: one index probe per millésime, not a ``DISTINCT`` over the whole view) and
cached per (view, data version): a publication is seen at the next request.
"""
from __future__ import annotations

import re

from psycopg import sql

from diffusion import cache
from diffusion.catalogue import SCHEMA
from diffusion.errors import InvalidQuery
from diffusion.store import data_version

_YEAR = r"(\d{4})(?:-\d{2}(?:-\d{2}(?:[T ][0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?)?)?"
DATETIME_INSTANT = re.compile(rf"^{_YEAR}$")


def loaded(conn, view: str, column: str = "millesime", version: int | None = None) -> list[int]:
    """The millésimes of ``view`` (ascending), cached per data version."""
    if version is None:
        version = data_version(conn)
    key = (view, column, version)
    found = cache.MILLESIMES.get(key)
    if found is None:
        stmt = sql.SQL(
            "WITH RECURSIVE m(v) AS (SELECT min({c}) FROM {t} UNION ALL "
            "SELECT (SELECT min({c}) FROM {t} WHERE {c} > m.v) FROM m WHERE m.v IS NOT NULL) "
            "SELECT v FROM m WHERE v IS NOT NULL").format(
                c=sql.Identifier(column), t=sql.Identifier(SCHEMA, view))
        found = [int(r[0]) for r in conn.execute(stmt).fetchall()]
        cache.MILLESIMES.put(key, found)
    return list(found)


def default(loaded_millesimes: list[int]) -> int | None:
    """The millésime served when none is asked for: the latest loaded (None: nothing loaded)."""
    return loaded_millesimes[-1] if loaded_millesimes else None


def within(loaded_millesimes: list[int], low: int | None, high: int | None) -> list[int]:
    """The loaded millésimes between ``low`` and ``high`` (None: open bound)."""
    return [m for m in loaded_millesimes
            if (low is None or m >= low) and (high is None or m <= high)]


def available_text(loaded_millesimes: list[int]) -> str:
    """« 2023, 2024, 2025 » for the messages that list what is loaded."""
    return ", ".join(map(str, loaded_millesimes))


def parse_datetime(value: str) -> tuple[int | None, int | None]:
    """OGC ``datetime`` -> (first, last) millésime; an instant gives one year.

    Accepted: a year, a date (``2026-05-01``, with a time or not), an interval of
    them (``2020/2026``, ``../2026``, ``2024/..``). Anything else: ``InvalidQuery``.
    """
    value = value.strip()
    if "/" in value:
        parts = value.split("/")
        if len(parts) != 2:
            raise InvalidQuery("datetime : intervalle « début/fin » attendu")
        bounds = []
        for part in parts:
            part = part.strip()
            if part in ("", ".."):
                bounds.append(None)
                continue
            match = DATETIME_INSTANT.match(part)
            if not match:
                raise InvalidQuery(f"datetime : date {part[:40]!r} illisible (AAAA ou AAAA-MM-JJ)")
            bounds.append(int(match.group(1)))
        if bounds[0] is not None and bounds[1] is not None and bounds[0] > bounds[1]:
            raise InvalidQuery("datetime : début après la fin")
        return bounds[0], bounds[1]
    match = DATETIME_INSTANT.match(value)
    if not match:
        raise InvalidQuery(f"datetime : date {value[:40]!r} illisible (AAAA ou AAAA-MM-JJ)")
    year = int(match.group(1))
    return year, year
