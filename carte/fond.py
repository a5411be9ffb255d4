"""The map's background: by default built from the portal's own published data (works on a
closed network: no tile server is called), or tiles when ``PORTAIL_FOND_URL`` says so.

``PORTAIL_FOND_URL`` (read in ``portail.settings``) is one setting with three kinds of
value: empty (the default: the portal's own background), ``plan-ign`` or ``osm`` (the
national Plan IGN or OpenStreetMap tiles, with their attribution), or an XYZ template of an
internal tile server (``https://tuiles.exemple/{z}/{x}/{y}.png``, with
``PORTAIL_FOND_ATTRIBUTION``).
"""
from __future__ import annotations

KNOWN_TILES = {
    "plan-ign": {
        "url": "https://data.geopf.fr/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
               "&LAYER=GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2&STYLE=normal&TILEMATRIXSET=PM"
               "&FORMAT=image/png&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}",
        "attribution": "© IGN – Plan IGN",
        "max_zoom": 19,
    },
    "osm": {
        "url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "attribution": "© les contributeurs d'OpenStreetMap",
        "max_zoom": 19,
    },
}


def background(setting: str, attribution: str = "") -> dict:
    """What the page draws under the data: ``{"kind": "portail"}`` or tiles with their
    attribution (an internal server's own attribution, or the known one)."""
    value = (setting or "").strip()
    if not value:
        return {"kind": "portail", "url": "", "attribution": ""}
    known = KNOWN_TILES.get(value.lower())
    if known is not None:
        return {"kind": "tuiles", "name": value.lower(), "url": known["url"],
                "attribution": attribution or known["attribution"], "max_zoom": known["max_zoom"]}
    return {"kind": "tuiles", "name": "interne", "url": value, "attribution": attribution,
            "max_zoom": 19}
