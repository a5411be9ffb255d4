"""Public-transport stops from a GTFS feed (zip or folder), or the Ilévia quays layer (GeoJSON).

``stops.txt`` (comma, UTF-8: ``stop_id``, ``stop_name``, ``stop_lat``, ``stop_lon``,
``location_type``) gives the stops; the mode of each stop comes from the routes
that serve it (``routes.txt`` route_type 0 tram, 1 metro, 3 bus, through
``trips.txt`` and ``stop_times.txt``), the heaviest mode winning. Stations
(``location_type`` 1) and entrances are not stops and are skipped. The network runs
beyond the MEL (Ilévia serves Mouscron and Comines-Belgique): stops outside the territory
are skipped and counted, unless farther than 50 km (wrong coordinates: rejected). The
quays GeoJSON has no line attribute: its quays are metro/tram quays, stored as ``metro``.
"""
from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

from psycopg import sql

from etl import source as src
from etl.errors import Rejection, SourceFileError
from etl.geofile import read_geofile
from etl.layouts import Layout
from etl.loading import file_digest
from etl.tabular import load_table

LAYOUTS: tuple[Layout, ...] = (
    Layout("gtfs", "GTFS (zip ou dossier : stops.txt, routes.txt, trips.txt, stop_times.txt)",
           "Référence GTFS (gtfs.org) ; flux Ilévia publié par la MEL : arrêts belges (Mouscron, "
           "Comines-Belgique) hors du territoire (../shared/docs/source-formats.md).",
           signature=("stop_id", "stop_lat", "stop_lon"), columns={}, area="reseau",
           millesimes="toutes les versions", delimiters=(",",)),
    Layout("ilevia-quais-geojson", "Quais métro et tramway Ilévia (GeoJSON)",
           "data/reference/mel_ilevia_metro_tram_quais.geojson (PROVENANCE.md) : stop_id, stop_name, points CRS84.",
           signature=("stop_id", "stop_name"), columns={}, area="territoire", millesimes="—"),
)

ROUTE_MODES = {"0": "tram", "1": "metro", "3": "bus", "900": "tram", "400": "metro", "700": "bus"}
RANK = {"metro": 3, "tram": 2, "bus": 1, "autre": 0}
SPEC = src.CsvSpec(source="gtfs", delimiter=",", key=("stop_id",), fields=(
    src.Field("stop_id", ("stop_id",)), src.Field("stop_name", ("stop_name",)),
    src.Field("location_type", ("location_type",), required=False, nullable=True),
    src.Field("mode", ("mode",), required=False, nullable=True),
    src.Field("y", ("stop_lat",), src.floating, "float8"), src.Field("x", ("stop_lon",), src.floating, "float8")))
INSERT = sql.SQL("""INSERT INTO core.arret_tc (millesime, stop_id, stop_name, mode, code_insee, geom)
    SELECT %s, stop_id, stop_name, coalesce(mode, 'bus'), code_insee, geom FROM gtfs_stage""")


def _feed_files(path: Path) -> dict[str, bytes]:
    wanted = ("stops.txt", "routes.txt", "trips.txt", "stop_times.txt")
    if path.is_dir():
        return {n: (path / n).read_bytes() for n in wanted if (path / n).exists()}
    try:
        with zipfile.ZipFile(path) as z:
            names = {Path(n).name: n for n in z.namelist()}
            return {n: z.read(names[n]) for n in wanted if n in names}
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as exc:
        raise SourceFileError(path, [Rejection("archive", None, f"archive zip tronquée ou illisible ({exc})")],
                              hint="Téléchargez de nouveau le flux GTFS complet.") from None


def _modes(files: dict[str, bytes]) -> dict[str, str]:
    if not all(n in files for n in ("routes.txt", "trips.txt", "stop_times.txt")):
        return {}
    def rows(name):
        return csv.DictReader(io.StringIO(files[name].decode("utf-8-sig")))
    route_mode = {r["route_id"]: ROUTE_MODES.get(r["route_type"].strip(), "autre") for r in rows("routes.txt")}
    trip_mode = {t["trip_id"]: route_mode.get(t["route_id"], "autre") for t in rows("trips.txt")}
    out: dict[str, str] = {}
    for st in rows("stop_times.txt"):
        m = trip_mode.get(st["trip_id"], "autre")
        if RANK[m] > RANK.get(out.get(st["stop_id"]), -1):
            out[st["stop_id"]] = m
    return out


def load_gtfs(owner_dsn: str, path: Path, millesime: int, encoding=None, source_crs=None, **kw):
    path = Path(path)
    if not path.exists():
        raise SourceFileError(path, "fichier introuvable")
    if path.suffix.lower() in (".geojson", ".json"):
        gdf = read_geofile(path, source_crs).to_crs(epsg=4326)
        text = "stop_id,stop_name,location_type,mode,stop_lat,stop_lon\n" + "\n".join(
            f"{r.stop_id},\"{r.stop_name}\",0,metro,{r.geometry.y},{r.geometry.x}" for r in gdf.itertuples())
    else:
        files = _feed_files(path)
        if "stops.txt" not in files:
            raise SourceFileError(path, [Rejection("archive", "stops.txt", "fichier stops.txt absent du flux GTFS")])
        modes = _modes(files)
        data, _ = src.decode(path / "stops.txt" if path.is_dir() else path, files["stops.txt"], encoding)
        rdr = csv.DictReader(io.StringIO(data))
        if "mode" not in (rdr.fieldnames or []):
            out = io.StringIO()
            w = csv.DictWriter(out, fieldnames=list(rdr.fieldnames or []) + ["mode"], lineterminator="\n")
            w.writeheader()
            for r in rdr:
                r["mode"] = modes.get(r.get("stop_id"), "bus" if not modes else "autre")
                w.writerow(r)
            data = out.getvalue()
        text = data
    result = src.read_csv(path, SPEC, text_data=text)
    result.layout = LAYOUTS[1] if path.suffix.lower() in (".geojson", ".json") else LAYOUTS[0]
    # Stations, entrances, nodes: not places where one boards.
    boarding = [r for r in result.rows if (r[3] or "0") in ("0", "4")]
    if len(boarding) < len(result.rows):
        result.notes.append(f"{len(result.rows) - len(boarding)} station(s), entrée(s) ou nœud(s) "
                            "(location_type 1, 2, 3) ignoré(s) : seuls les points d'arrêt sont chargés")
    result.rows = boarding
    return load_table(owner_dsn, SPEC, path, millesime, "core.arret_tc", INSERT, result=result,
                      point=True, source_crs="EPSG:4326", digest=file_digest(path),
                      fill=("code_insee",), **kw)
