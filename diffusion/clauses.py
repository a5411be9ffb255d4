"""The CRS the portal serves, and the bbox and geometry-output clauses on a published view.

Every view stores its geometry in EPSG:2154 (``geom``) and most keep a lon/lat
copy (``geom_4326``). A box is tested against the view's geometry column in the
box's own CRS when there is one (no reprojection at all), otherwise against the
storage geometry with the box reprojected **in PostGIS**: nothing is reprojected
in Python per request (pyproj builds a transformer in about 3 ms).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from psycopg import sql

from diffusion.catalogue import LONLAT_SRID, STORAGE_SRID, ViewLayout
from diffusion.errors import InvalidQuery

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
# CRS URI -> (SRID, latitude first). EPSG:4326 is latitude first (OGC API Features Part 2).
SERVED_CRS = {
    CRS84: (4326, False),
    "http://www.opengis.net/def/crs/OGC/1.3/CRS84h": (4326, False),
    "http://www.opengis.net/def/crs/EPSG/0/4326": (4326, True),
    "http://www.opengis.net/def/crs/EPSG/0/2154": (2154, False),
    "http://www.opengis.net/def/crs/EPSG/0/3857": (3857, False),
}


def crs_srid(uri: str | None, what: str) -> tuple[int, bool]:
    """(SRID, latitude first) of a CRS URI of the request; None is CRS84."""
    if uri is None:
        return 4326, False
    try:
        return SERVED_CRS[uri]
    except KeyError:
        raise InvalidQuery(f"{what} non pris en charge : {str(uri)[:200]}") from None


@dataclass(frozen=True)
class Envelope:
    """An axis-aligned box in x/y order (lon/lat for SRID 4326) and its SRID."""
    minx: float
    miny: float
    maxx: float
    maxy: float
    srid: int = LONLAT_SRID

    @classmethod
    def from_values(cls, values, srid: int = LONLAT_SRID, swap: bool = False) -> "Envelope":
        """From 4 (or 6, with heights) numbers as a request gives them; ``swap`` for
        a latitude-first CRS."""
        try:
            numbers = [float(v) for v in values]
        except (TypeError, ValueError):
            raise InvalidQuery("bbox : quatre nombres attendus") from None
        if len(numbers) == 6:
            numbers = numbers[:2] + numbers[3:5]
        if len(numbers) != 4:
            raise InvalidQuery("bbox : quatre nombres attendus")
        if not all(math.isfinite(v) for v in numbers):
            raise InvalidQuery("bbox : nombres invalides")
        minx, miny, maxx, maxy = numbers
        if swap:
            minx, miny, maxx, maxy = miny, minx, maxy, maxx
        return cls(minx, miny, maxx, maxy, srid)

    def values(self) -> list[float]:
        return [self.minx, self.miny, self.maxx, self.maxy]


def bbox_clause(layout: ViewLayout, box: Envelope,
                exact: bool = True) -> tuple[sql.Composable, list]:
    """Rows of ``layout`` whose geometry meets ``box``: (clause, parameters).

    ``exact``: the geometry intersects the box (index test, then ``ST_Intersects``);
    otherwise the bounding boxes only overlap (``&&``, what a map needs to draw).
    """
    envelope = sql.SQL("ST_MakeEnvelope(%s, %s, %s, %s, {})").format(sql.Literal(box.srid))
    if box.srid in layout.geometry_columns:
        column = sql.Identifier(layout.geometry_columns[box.srid])
    else:
        column = sql.Identifier(layout.storage_geometry)
        envelope = sql.SQL("ST_Transform({}, {})").format(envelope, sql.Literal(STORAGE_SRID))
    if not exact:
        return sql.SQL("{} && {}").format(column, envelope), box.values()
    return (sql.SQL("{c} && {e} AND ST_Intersects({c}, {e})").format(c=column, e=envelope),
            box.values() * 2)


def geometry_json(layout: ViewLayout, srid: int, swap: bool) -> sql.Composable:
    """The view's geometry as GeoJSON text in ``srid`` (reprojected in PostGIS if the
    view keeps no copy in it), latitude first when ``swap``."""
    if srid in layout.geometry_columns:
        geom = sql.Identifier(layout.geometry_columns[srid])
    else:
        geom = sql.SQL("ST_Transform({}, {})").format(
            sql.Identifier(layout.storage_geometry), sql.Literal(srid))
    if swap:
        geom = sql.SQL("ST_FlipCoordinates({})").format(geom)
    digits = 7 if srid == 4326 else 2
    return sql.SQL("ST_AsGeoJSON({}, {})").format(geom, sql.Literal(digits))
