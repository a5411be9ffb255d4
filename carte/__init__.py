"""The portal's map page (``/carte``) and the offline templates of pygeoapi's HTML pages.

- ``carte.web``: the Flask blueprint (page, indicator catalogue, simplified layers);
- ``carte.catalog``: themes, indicators and scales read from the data dictionary;
- ``carte.layers``: GeoJSON of the published views, simplified per zoom, bounded per view;
- ``carte.vendor``: the JS/CSS assets copied from the npm packages of ``web/package-lock.json``.
"""

from pathlib import Path

# pygeoapi's HTML templates, overridden so that no page loads anything from a CDN.
PYGEOAPI_TEMPLATES = Path(__file__).resolve().parent / "pygeoapi_templates"
