"""Public-transport stops from a GTFS feed (zip or folder), or the Ilévia quays layer (GeoJSON).

``stops.txt`` (comma, UTF-8: ``stop_id``, ``stop_name``, ``stop_lat``, ``stop_lon``,
``location_type``) gives the stops; the mode of each stop comes from the routes
that serve it (``routes.txt`` route_type 0 tram, 1 metro, 3 bus, through
``trips.txt`` and ``stop_times.txt``), the heaviest mode winning. Stations
(``location_type`` 1) and entrances are not stops and are skipped. The network runs
beyond the MEL (Ilévia serves Mouscron and Comines-Belgique): stops outside the territory
are skipped and counted, unless farther than 50 km (wrong coordinates: rejected). The
quays GeoJSON has no line attribute: its quays are metro/tram quays, stored as ``metro``.

The metro (route_type 1) and tram (0) lines go to ``core.ligne_tc``, one LineString per
route and direction (Lambert-93), in the same transaction as the stops: the longest shape
of the route's trips in that direction (``shapes.txt``) when the feed has one, otherwise
the stops of its trip with the most stops (``stop_times.txt`` in ``stop_sequence`` order).
A bad ``stop_times.txt`` or ``shapes.txt`` line refuses the whole feed (file, line, field).
"""
from __future__ import annotations

import csv
import io
import math
import re
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


LINE_MODES = ("metro", "tram")
INSERT_LINES = sql.SQL("""INSERT INTO core.ligne_tc (millesime, route_id, direction_id, mode, route_short_name,
        route_long_name, route_color, nb_arrets, trace, geom)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, ST_Transform(ST_GeomFromText(%s, 4326), 2154))""")


def _feed_files(path: Path) -> dict[str, bytes]:
    wanted = ("stops.txt", "routes.txt", "trips.txt", "stop_times.txt", "shapes.txt")
    if path.is_dir():
        return {n: (path / n).read_bytes() for n in wanted if (path / n).exists()}
    try:
        with zipfile.ZipFile(path) as z:
            names = {Path(n).name: n for n in z.namelist()}
            return {n: z.read(names[n]) for n in wanted if n in names}
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as exc:
        raise SourceFileError(path, [Rejection("archive", None, f"archive zip tronquée ou illisible ({exc})")],
                              hint="Téléchargez de nouveau le flux GTFS complet.") from None


def _rows(files: dict[str, bytes], name: str, errors: str = "strict"):
    """``(line number, row)`` of a feed file (line 1 is the header)."""
    reader = csv.DictReader(io.StringIO(files[name].decode("utf-8-sig", errors)))
    for row in reader:
        yield reader.line_num, {k.strip(): (v or "").strip() for k, v in row.items() if k}


def _require(files, name: str, columns: tuple[str, ...], problems: list[Rejection]) -> bool:
    header = next(csv.reader(io.StringIO(files[name].decode("utf-8-sig"))), [])
    missing = [c for c in columns if c not in {h.strip() for h in header}]
    for c in missing:
        problems.append(Rejection(f"{name}, ligne 1", c, "colonne absente"))
    return not missing


def _length(points: list[tuple[float, float]]) -> float:
    """Length in metres, near enough to compare shapes (equirectangular)."""
    total = 0.0
    for (x1, y1), (x2, y2) in zip(points, points[1:]):
        k = math.cos(math.radians((y1 + y2) / 2))
        total += math.hypot((x2 - x1) * k, y2 - y1) * 111_320
    return total


def _network(path: Path, files: dict[str, bytes]) -> tuple[dict[str, str], list[tuple]]:
    """The mode of each stop (the heaviest mode of the routes serving it) and the metro
    and tram lines: ``(route_id, direction_id, mode, short, long, colour, stops, trace,
    WKT in lon/lat)``. Raises ``SourceFileError`` naming file, line and field."""
    if not all(n in files for n in ("routes.txt", "trips.txt", "stop_times.txt")):
        return {}, []
    problems: list[Rejection] = []
    if not (_require(files, "routes.txt", ("route_id", "route_type"), problems)
            & _require(files, "trips.txt", ("route_id", "trip_id"), problems)
            & _require(files, "stop_times.txt", ("trip_id", "stop_id", "stop_sequence"), problems)):
        raise SourceFileError(path, problems)
    routes: dict[str, tuple] = {}
    for n, r in _rows(files, "routes.txt"):
        colour = r.get("route_color", "").upper()
        if colour and not re.fullmatch(r"[0-9A-F]{6}", colour):
            problems.append(Rejection(f"routes.txt, ligne {n}", "route_color",
                                      f"six chiffres hexadécimaux attendus, lu {colour[:20]!r}"))
        routes[r["route_id"]] = (ROUTE_MODES.get(r["route_type"], "autre"), r.get("route_short_name") or None,
                                 r.get("route_long_name") or None, colour or None)
    trips: dict[str, tuple] = {}
    for n, t in _rows(files, "trips.txt"):
        if t["route_id"] not in routes:
            problems.append(Rejection(f"trips.txt, ligne {n}", "route_id",
                                      f"ligne {t['route_id'][:40]!r} absente de routes.txt"))
            continue
        direction = t.get("direction_id") or "0"
        if direction not in ("0", "1"):
            problems.append(Rejection(f"trips.txt, ligne {n}", "direction_id",
                                      f"0 ou 1 attendu, lu {direction[:20]!r}"))
            continue
        trips[t["trip_id"]] = (t["route_id"], int(direction), t.get("shape_id") or None)
    stops: dict[str, tuple[float, float]] = {}
    for _, r in _rows(files, "stops.txt", "replace"):  # its encoding is checked below
        try:
            stops[r.get("stop_id", "")] = (float(r.get("stop_lon", "")), float(r.get("stop_lat", "")))
        except ValueError:
            stops[r.get("stop_id", "")] = None  # refused with its line by the stops' reader
    modes: dict[str, str] = {}
    sequences: dict[str, list[tuple[int, str]]] = {}
    for n, st in _rows(files, "stop_times.txt"):
        where = f"stop_times.txt, ligne {n}"
        trip = trips.get(st["trip_id"])
        if trip is None:
            problems.append(Rejection(where, "trip_id", f"course {st['trip_id'][:40]!r} absente de trips.txt"))
            continue
        if st["stop_id"] not in stops:
            problems.append(Rejection(where, "stop_id", f"arrêt {st['stop_id'][:40]!r} absent de stops.txt"))
            continue
        try:
            seq = int(st["stop_sequence"])
        except ValueError:
            problems.append(Rejection(where, "stop_sequence",
                                      f"nombre entier attendu, lu {st['stop_sequence'][:20]!r}"))
            continue
        m = routes[trip[0]][0]
        if RANK[m] > RANK.get(modes.get(st["stop_id"]), -1):
            modes[st["stop_id"]] = m
        if m in LINE_MODES:
            sequences.setdefault(st["trip_id"], []).append((seq, st["stop_id"]))
        if len(problems) > 200:
            break
    shapes: dict[str, list[tuple[int, float, float]]] = {}
    wanted = {trips[t][2] for t in sequences if trips[t][2]}
    if "shapes.txt" in files and wanted and _require(
            files, "shapes.txt", ("shape_id", "shape_pt_lat", "shape_pt_lon", "shape_pt_sequence"), problems):
        for n, p in _rows(files, "shapes.txt"):
            if p["shape_id"] not in wanted:
                continue
            try:
                point = (int(p["shape_pt_sequence"]), float(p["shape_pt_lon"]), float(p["shape_pt_lat"]))
            except ValueError:
                field = next(f for f, conv in (("shape_pt_sequence", int), ("shape_pt_lon", float),
                                               ("shape_pt_lat", float)) if not _parses(p[f], conv))
                problems.append(Rejection(f"shapes.txt, ligne {n}", field, f"nombre attendu, lu {p[field][:20]!r}"))
                continue
            shapes.setdefault(p["shape_id"], []).append(point)
    if problems:
        raise SourceFileError(path, problems, hint="Corrigez le flux GTFS (ou téléchargez-le de nouveau).")
    best: dict[tuple[str, int], tuple] = {}
    for trip_id in sorted(sequences):
        route_id, direction, shape_id = trips[trip_id]
        ordered = [stop for _, stop in sorted(sequences[trip_id])]
        points = [stops[s] for s in ordered if stops[s] is not None]
        if shape_id and len(shapes.get(shape_id, ())) >= 2:
            line = [(x, y) for _, x, y in sorted(shapes[shape_id])]
            rank = (1, _length(line), len(ordered))
            trace = "shapes"
        else:
            line, rank, trace = points, (0, len(ordered), _length(points)), "arrets"
        key = (route_id, direction)
        if len(line) >= 2 and (key not in best or rank > best[key][0]):
            best[key] = (rank, line, trace, len(ordered))
    lines = []
    for (route_id, direction), (_, line, trace, n_stops) in sorted(best.items()):
        mode, short, long_name, colour = routes[route_id]
        wkt = "LINESTRING(" + ", ".join(f"{x:.7f} {y:.7f}" for x, y in line) + ")"
        lines.append((route_id, direction, mode, short, long_name, colour, n_stops, trace, wkt))
    return modes, lines


def _parses(value: str, conv) -> bool:
    try:
        conv(value)
        return True
    except ValueError:
        return False


def load_gtfs(owner_dsn: str, path: Path, millesime: int, encoding=None, source_crs=None, **kw):
    path = Path(path)
    if not path.exists():
        raise SourceFileError(path, "fichier introuvable")
    lines: list[tuple] = []
    if path.suffix.lower() in (".geojson", ".json"):
        gdf = read_geofile(path, source_crs).to_crs(epsg=4326)
        text = "stop_id,stop_name,location_type,mode,stop_lat,stop_lon\n" + "\n".join(
            f"{r.stop_id},\"{r.stop_name}\",0,metro,{r.geometry.y},{r.geometry.x}" for r in gdf.itertuples())
    else:
        files = _feed_files(path)
        if "stops.txt" not in files:
            raise SourceFileError(path, [Rejection("archive", "stops.txt", "fichier stops.txt absent du flux GTFS")])
        modes, lines = _network(path, files)
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

    def store_lines(conn):
        # Replaced with the stops: a quays file (no lines) leaves none for the millésime.
        conn.execute("DELETE FROM core.ligne_tc WHERE millesime = %s", [millesime])
        with conn.cursor() as cur:
            cur.executemany(INSERT_LINES, [(millesime, *line) for line in lines])

    if lines:
        result.notes.append(f"{len(lines)} ligne(s) de métro ou de tramway (par sens) : "
                            f"{sum(1 for ln in lines if ln[7] == 'shapes')} d'après shapes.txt, "
                            f"{sum(1 for ln in lines if ln[7] == 'arrets')} d'après la suite des arrêts")
    return load_table(owner_dsn, SPEC, path, millesime, "core.arret_tc", INSERT, result=result,
                      point=True, source_crs="EPSG:4326", digest=file_digest(path),
                      fill=("code_insee",), after=store_lines, **kw)
