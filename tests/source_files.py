"""Small source files built in the producers' exact public layouts, deterministically.

One builder per layout and vintage (docs/etl.md, « Dispositions reconnues »): the columns
in the published order, the published delimiter, quoting and encoding. The values are a
handful of rows chosen to exercise what the loaders must get right (code lists per
vintage, sentinels, leading zeros lost by a spreadsheet, rows outside the MEL in
departmental, regional and national files, title lines above a header…); each builder
returns the path and the tests check what lands in ``core``.

The column lists come from the references named in docs/etl.md; where a reference lists
only some columns (``…``), the others are the producer's names from its dictionary.
"""
from __future__ import annotations

import csv
import io
import zipfile
from functools import lru_cache
from pathlib import Path

import geopandas as gpd

REFERENCE = Path(__file__).parent.parent / "data" / "reference"


@lru_cache(maxsize=None)
def _communes() -> gpd.GeoDataFrame:
    return gpd.read_file(REFERENCE / "mel_communes.geojson").to_crs(2154).set_index("code_insee")


def point(code_insee: str, dx: float = 0.0, dy: float = 0.0) -> tuple[float, float]:
    """A Lambert-93 point inside a MEL commune (its representative point, shifted by a few metres)."""
    p = _communes().geometry[code_insee].representative_point()
    return round(p.x + dx, 1), round(p.y + dy, 1)


def lonlat(code_insee: str, dx: float = 0.0, dy: float = 0.0) -> tuple[float, float]:
    x, y = point(code_insee, dx, dy)
    p = gpd.GeoSeries(gpd.points_from_xy([x], [y]), crs=2154).to_crs(4326)[0]
    return round(p.x, 6), round(p.y, 6)


def write_csv(path: Path, header: list[str], rows: list[list], *, delimiter: str = ";",
              encoding: str = "utf-8", quote_all_text: bool = False, numeric: tuple[str, ...] = (),
              bom: bool = False, newline: str = "\n") -> Path:
    """Rows as the producer writes them: ``quote_all_text`` puts every non-numeric column
    between double quotes (DiDo exports), else nothing is quoted (INSEE, regional files)."""
    out = io.StringIO()
    if quote_all_text:
        quoted = [h not in numeric for h in header]
        out.write(delimiter.join(f'"{h}"' for h in header) + newline)
        for r in rows:
            out.write(delimiter.join(
                ("" if v is None else (f'"{v}"' if q and v != "" else str(v))) for v, q in zip(r, quoted))
                + newline)
    else:
        w = csv.writer(out, delimiter=delimiter, lineterminator=newline, quoting=csv.QUOTE_MINIMAL)
        w.writerow(header)
        for r in rows:
            w.writerow(["" if v is None else v for v in r])
    data = out.getvalue().encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def _fill(header: list[str], values: dict) -> list:
    return [values.get(h, "") for h in header]


# == RPLS =============================================================================================
# The full file sent to the MEL for its housing policy (PLH): landlord, repertory id, rent.
RPLS_COMPLET = ["IDENT_REP", "RS", "SIREN", "DEPCOM", "NUMVOIE", "INDREP", "TYPVOIE", "NOMVOIE", "PLG_IRIS",
                "QPV", "PLG_QPV", "TYPECONST", "NBPIECE", "SURFHAB", "CONSTRUCT", "FINAN", "CONV",
                "LOYERPRINC", "DPEENERGIE", "DPESERRE", "MODE", "DUREE_VACANCE", "BAIL", "X", "Y"]


def rpls_complet(path: Path) -> Path:
    """CP1252, ';', unquoted, decimal commas. Re-saved by a spreadsheet: IDENT_REP and the
    IRIS suffix lost their leading zeros. FINAN 12/14/49/50, a rent 9999, a house (I)."""
    rows = []
    specs = [  # (ident, depcom, iris, finan, typeconst, rent, num, street)
        ("123456", "59350", "101", "12", "C", "412,50", "3", "DES ÉCOLES"),
        ("123457", "59350", "101", "14", "C", "9999", "3", "DES ÉCOLES"),
        ("123458", "59350", "101", "49", "C", "388,00", "3", "DES ÉCOLES"),
        ("123459", "59009", "", "50", "I", "350,10", "8", "DU BOIS"),
        ("123460", "59009", "", "13", "I", "9999,00", "8", "DU BOIS"),
    ]
    for i, (ident, com, iris, fin, typ, rent, num, street) in enumerate(specs):
        x, y = point(com, 3 * i, 2 * i)
        rows.append(_fill(RPLS_COMPLET, {
            "IDENT_REP": ident, "RS": "LOGIS MÉTROPOLE TEST", "SIREN": "12345678", "DEPCOM": com,
            "NUMVOIE": num, "TYPVOIE": "RUE", "NOMVOIE": street, "PLG_IRIS": iris, "QPV": "2",
            "TYPECONST": typ, "NBPIECE": 3, "SURFHAB": "64,5", "CONSTRUCT": 1968 + i, "FINAN": fin,
            "CONV": "1", "LOYERPRINC": rent, "DPEENERGIE": "D", "DPESERRE": "E", "MODE": "1",
            "DUREE_VACANCE": "0", "BAIL": "01/2019", "X": str(x).replace(".", ","), "Y": str(y).replace(".", ",")}))
    return write_csv(path, RPLS_COMPLET, rows, encoding="cp1252")


# Regional open-data files (~2016-2021): ';', ISO-8859-1, unquoted, decimal commas.
RPLS_REGIONAL = ["DROIT", "DEPCOM", "CODEPOSTAL", "LIBCOM", "NUMVOIE", "INDREP", "TYPVOIE", "NOMVOIE",
                 "NUMAPPT", "NUMBOITE", "ESC", "COULOIR", "ETAGE", "COMPLIDENT", "ENTREE", "BAT", "IMMEU",
                 "COMPLGEO", "LIEUDIT", "QPV", "TYPECONST", "NBPIECE", "SURFHAB", "CONSTRUCT", "LOCAT",
                 "PATRIMOINE", "ORIGINE", "FINAN", "FINANAUTRE", "CONV", "NUMCONV", "DATCONV", "NEWLOGT",
                 "CUS", "DPEDATE", "DPEENERGIE", "DPESERRE", "SRU_EXPIR", "SRU_ALINEA", "CODSEGPATRIM",
                 "LIBSEGPATRIM"]
RPLS_REGIONAL_XY = RPLS_REGIONAL + ["X", "Y", "PLG_IRIS"]
# Communes of the region outside the MEL (Dunkerque, Valenciennes, Arras, Amiens).
OUTSIDE_REGION = (("59183", "DUNKERQUE", 650000, 7100000), ("59606", "VALENCIENNES", 735000, 7030000),
                  ("62041", "ARRAS", 685000, 7016000), ("80021", "AMIENS", 649000, 6978000))


def _regional_rows(header: list[str], with_xy: bool) -> list[list]:
    rows = []
    inside = [("59350", "59000", "LILLE", "10", "C", "12"), ("59350", "59000", "LILLE", "12", "I", "12"),
              ("59512", "59100", "ROUBAIX", "52", "C", "14"), ("59512", "59100", "ROUBAIX", "14", "C", "16")]
    for i, (com, cp, lib, fin, typ, num) in enumerate(inside):
        x, y = point(com, 4 * i, 0)
        values = {"DROIT": "1", "DEPCOM": com, "CODEPOSTAL": cp, "LIBCOM": lib, "NUMVOIE": num,
                  "TYPVOIE": "BD", "NOMVOIE": "DE L'YSER" if com == "59350" else "GAMBETTA", "QPV": "2",
                  "TYPECONST": typ, "NBPIECE": 2 + i % 3, "SURFHAB": f"{51 + i},5", "CONSTRUCT": 1975 + i,
                  "LOCAT": 1976 + i, "PATRIMOINE": 1976 + i, "ORIGINE": "1", "FINAN": fin, "CONV": "1",
                  "DPEDATE": "01/1900", "DPEENERGIE": "-" if i == 0 else "C", "DPESERRE": "-" if i == 0 else "D",
                  "X": str(x).replace(".", ","), "Y": str(y).replace(".", ","), "PLG_IRIS": "0000"}
        rows.append(_fill(header, values))
    for i, (com, lib, x, y) in enumerate(OUTSIDE_REGION):
        rows.append(_fill(header, {"DROIT": "1", "DEPCOM": com, "LIBCOM": lib, "NUMVOIE": str(i + 1),
                                   "TYPVOIE": "RUE", "NOMVOIE": "DE LA GARE", "QPV": "2", "TYPECONST": "C",
                                   "NBPIECE": 3, "SURFHAB": "60,0", "CONSTRUCT": 1980, "FINAN": "13",
                                   "CONV": "1", "DPEENERGIE": "E", "DPESERRE": "E", "X": x, "Y": y,
                                   "PLG_IRIS": "0101"}))
    return rows


def rpls_regional(path: Path, with_xy: bool) -> Path:
    header = RPLS_REGIONAL_XY if with_xy else RPLS_REGIONAL
    return write_csv(path, header, _regional_rows(header, with_xy), encoding="latin-1")


# DiDo export of the SDES, millésime 2025-01: 73 columns, ';', strings quoted, UTF-8.
RPLS_DIDO_2025 = ["REG_CODE", "REG_LIBELLE", "LIBREG", "DEP_CODE", "DEP_LIBELLE", "LIBDEP", "EPCI_CODE",
                  "EPCI_LIBELLE", "LIBEPCI", "DEPCOM", "CODEPOSTAL", "LIBCOM", "NUMVOIE", "INDREP", "TYPVOIE",
                  "NOMVOIE", "ETAGE", "COMPLGEO", "LIEUDIT", "QPV_CODE", "QPV_LIBELLE", "DROIT_CODE",
                  "DROIT_LIBELLE", "TYPECONST_CODE", "TYPECONST_LIBELLE", "NBPIECE", "SURFHAB", "CONSTRUCT",
                  "LOCAT", "PATRIMOINE", "ORIGINE", "FINAN_CODE", "FINAN_LIBELLE", "FINANAUTRE", "CONV",
                  "NUMCONV", "DATCONV", "NEWLOGT_CODE", "NEWLOGT_LIBELLE", "CUS", "DPEDATE", "DPEENERGIE",
                  "DPESERRE", "SRU_EXPIR", "SRU_ALINEA", "CODSEGPATRIM", "LIBSEGPATRIM", "PMR_CODE",
                  "PMR_LIBELLE", "PLG_VOIE", "EPSG", "X", "Y", "PLG_QP24", "PLG_QP15", "PLG_IRIS2024_CODE",
                  "PLG_IRIS2024_LIBELLE", "PLG_ZUS", "PLG_QVA", "QUALITE_VOIE", "QUALITE_NUMERO", "QUALITE_XY",
                  "DISTANCE_PRECISION", "QUALITE_QP24", "QUALITE_QP15", "QUALITE_IRIS", "QUALITE_ZUS",
                  "QUALITE_QVA", "COMAQP", "COMAZUS", "UU2020", "AAV2020", "ZE2020"]
RPLS_DIDO_2022 = [{"DEPCOM": "DEPCOM_CODE", "LIBCOM": "DEPCOM_LIBELLE", "PLG_IRIS2024_CODE": "PLG_IRIS2022_CODE",
                   "PLG_IRIS2024_LIBELLE": "PLG_IRIS2022_LIBELLE"}.get(h, h) for h in RPLS_DIDO_2025]
DIDO_NUMERIC = ("NBPIECE", "SURFHAB", "CONSTRUCT", "LOCAT", "PATRIMOINE", "EPSG", "X", "Y",
                "DISTANCE_PRECISION")
FINAN_LABELS = {"10": "PLA d'intégration", "12": "PLA ordinaire", "13": "PLUS", "14": "PLS", "49": "Autre financement",
                "50": "HBM", "52": "HLM/O", "16": "PLI"}


def dido_rows(header: list[str], inside: int = 6, outside: int = 4, start: int = 0) -> list[list]:
    """MEL dwellings (FINAN 12/14/49/10/13/16 in turn, every third an individual house,
    one in a QPV) and dwellings of other communes of France (skipped: national export)."""
    com_col = "DEPCOM" if "DEPCOM" in header else "DEPCOM_CODE"
    lib_col = "LIBCOM" if "LIBCOM" in header else "DEPCOM_LIBELLE"
    iris_col = next(h for h in header if h.startswith("PLG_IRIS") and h.endswith("_CODE"))
    rows = []
    finans = ["12", "14", "49", "10", "13", "16"]
    coms = [("59350", "Lille", "59000"), ("59009", "Villeneuve-d'Ascq", "59650"), ("59512", "Roubaix", "59100")]
    for i in range(start, start + inside):
        com, lib, cp = coms[i % 3]
        x, y = point(com, (i % 50) * 2.0, (i // 50) * 2.0)
        fin = finans[i % len(finans)]
        house = i % 3 == 2
        rows.append(_fill(header, {
            "REG_CODE": "32", "REG_LIBELLE": "Hauts-de-France", "LIBREG": "Hauts-de-France", "DEP_CODE": "59",
            "DEP_LIBELLE": "Nord", "LIBDEP": "Nord", "EPCI_CODE": "200093201",
            "EPCI_LIBELLE": "Métropole Européenne de Lille", "LIBEPCI": "Métropole Européenne de Lille",
            com_col: com, "CODEPOSTAL": cp, lib_col: lib, "NUMVOIE": str(10 + i // 4), "TYPVOIE": "RUE",
            "NOMVOIE": "DU GÉNÉRAL DE GAULLE", "QPV_CODE": "1" if i == start else "2",
            "QPV_LIBELLE": "Logement situé en QPV" if i == start else "Logement situé hors QPV",
            "DROIT_CODE": "1", "DROIT_LIBELLE": "Pleine propriété", "TYPECONST_CODE": "I" if house else "C",
            "TYPECONST_LIBELLE": "individuel" if house else "collectif", "NBPIECE": 1 + i % 5,
            "SURFHAB": f"{40 + i % 50}.5", "CONSTRUCT": 1960 + i % 60, "LOCAT": 1961 + i % 60,
            "PATRIMOINE": 1961 + i % 60, "ORIGINE": "1", "FINAN_CODE": fin, "FINAN_LIBELLE": FINAN_LABELS[fin],
            "CONV": "1", "DPEDATE": "2021-06", "DPEENERGIE": "CDEFGAB"[i % 7], "DPESERRE": "DEFGABC"[i % 7],
            "PMR_CODE": "2", "PMR_LIBELLE": "Non", "EPSG": "2154", "X": x, "Y": y,
            "PLG_QP24": "CSZ" if com == "59009" else "HZ", "PLG_QP15": "HZ",
            iris_col: "", "QUALITE_XY": "11", "UU2020": "59702", "AAV2020": "009"}))
    others = [("59183", "Dunkerque", "59140", 650000, 7100000, "2154"),
              ("62041", "Arras", "62000", 685000, 7016000, "2154"),
              ("13055", "Marseille", "13001", 892000, 6247000, "2154"),
              ("97411", "Saint-Denis", "97400", 338000, 7690000, "2975")]
    for j in range(outside):
        com, lib, cp, x, y, epsg = others[j % len(others)]
        rows.append(_fill(header, {
            "REG_CODE": "32", "DEP_CODE": com[:2], com_col: com, "CODEPOSTAL": cp, lib_col: lib,
            "NUMVOIE": str(j + 1), "TYPVOIE": "AV", "NOMVOIE": "DE LA RÉPUBLIQUE", "QPV_CODE": "2",
            "TYPECONST_CODE": "C", "NBPIECE": 3, "SURFHAB": "65.0", "CONSTRUCT": 1990, "FINAN_CODE": "13",
            "FINAN_LIBELLE": "PLUS", "CONV": "1", "DPEENERGIE": "D", "DPESERRE": "D", "EPSG": epsg,
            "X": x + j, "Y": y, "PLG_QP24": "HZ"}))
    return rows


def rpls_dido(path: Path, header: list[str], inside: int = 6, outside: int = 4) -> Path:
    return write_csv(path, header, dido_rows(header, inside, outside), quote_all_text=True,
                     numeric=DIDO_NUMERIC)


def zipped(path: Path, member: Path, arcname: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(member, arcname or member.name)
    return path


# == BPE =============================================================================================
BPE_ENSEMBLE_XY = ["REG", "DEP", "DEPCOM", "DCIRIS", "AN", "TYPEQU", "LAMBERT_X", "LAMBERT_Y", "QUALITE_XY"]
BPE_2021 = ["AAV2020", "AN", "BV2012", "DEP", "DEPCOM", "DOM", "EPCI", "DCIRIS", "LAMBERT_X", "LAMBERT_Y", "QP",
            "QUALITE_QP", "QUALITE_XY", "REG", "SDOM", "TYPEQU", "UU2020", "ZUS"]


def _bpe_rows(header: list[str], year: int, qualities: tuple[str, str, str], unplaced: str) -> list[list]:
    """Three MEL equipments (a doctor, a school, a bakery), one of the MEL without coordinates,
    two elsewhere in France (Paris, and Mayotte without coordinates)."""
    good, fair, bad = qualities
    rows = []
    for i, (com, typ, qual) in enumerate((("59350", "D201", good), ("59512", "C104", fair), ("59009", "B203", bad))):
        x, y = point(com, 11 * i, 7)
        rows.append(_fill(header, {"AN": year, "REG": "32", "DEP": "59", "DEPCOM": com, "DCIRIS": com + "0000",
                                   "TYPEQU": typ, "DOM": typ[0], "SDOM": typ[:2], "LAMBERT_X": x, "LAMBERT_Y": y,
                                   "LONGITUDE": lonlat(com, 11 * i, 7)[0], "LATITUDE": lonlat(com, 11 * i, 7)[1],
                                   "QUALITE_XY": qual, "EPSG": "2154", "QUALITE_GEOLOC": "11", "EPCI": "200093201",
                                   "AAV2020": "009", "UU2020": "59702", "BV2012": "59350", "BV2022": "59350",
                                   "QP": "CSZ", "NOMRS": "ÉQUIPEMENT TEST", "LIBCOM": "Lille"}))
    rows.append(_fill(header, {"AN": year, "REG": "32", "DEP": "59", "DEPCOM": "59017", "TYPEQU": "A504",
                               "QUALITE_XY": unplaced, "EPSG": "2154"}))
    rows.append(_fill(header, {"AN": year, "REG": "11", "DEP": "75", "DEPCOM": "75056", "TYPEQU": "D201",
                               "LAMBERT_X": 652000, "LAMBERT_Y": 6862000, "QUALITE_XY": good, "EPSG": "2154"}))
    rows.append(_fill(header, {"AN": year, "REG": "06", "DEP": "976", "DEPCOM": "97611", "TYPEQU": "F101",
                               "QUALITE_XY": unplaced, "EPSG": "4471"}))
    return rows


def bpe(path: Path, layout: str, year: int) -> Path:
    from etl.bpe import BPE_2024_COLUMNS
    if layout == "bpe-2024":
        header = list(BPE_2024_COLUMNS)
        return write_csv(path, header, _bpe_rows(header, year, ("B", "A", "M"), "_Z"))
    header = BPE_2021 if layout == "bpe-2021" else BPE_ENSEMBLE_XY
    return write_csv(path, header, _bpe_rows(header, year, ("Bonne", "Acceptable", "Mauvaise"), "Non géolocalisé"))


# == FINESS ===========================================================================================
def finess(path: Path, fields: int, date: str = "2023-01-01") -> Path:
    """Etalab extraction: a ``finess;etalab;…`` line, then structureet lines of ``fields`` (31 in
    2019, 32 since 2022) and geolocalisation lines; ';', ISO-8859-1. Three establishments in the
    MEL (one with a 8-digit number: a spreadsheet dropped its leading zero), two elsewhere."""
    lines = [f"finess;etalab;{fields};{date}"]
    estabs = [("590000017", "350", "59", "CENTRE HOSPITALIER TEST", "355", "Centre Hospitalier (C.H.)", "1102"),
              ("590000025", "512", "59", "EHPAD DES ÉRABLES", "500", "Etablissement d'hébergement pour personnes âgées dépendantes", "4401"),
              ("20000001", "009", "59", "PHARMACIE DU BOIS", "620", "Pharmacie d'Officine", "3101"),
              ("750000011", "056", "75", "HÔPITAL DE PARIS", "101", "Centre Hospitalier Régional (C.H.R.)", "1101"),
              ("2A0000012", "004", "2A", "CLINIQUE D'AJACCIO", "365", "Centre de santé", "2202")]
    coords = []
    for fin, com, dep, rs, cat, lib, agr in estabs:
        f = ["structureet", fin, fin[:2] + "0000999", rs, rs, "", "", "12", "R", "DE LA SANTÉ", "", "", com, dep,
             "NORD" if dep == "59" else "AUTRE", f"{dep}{com} VILLE", "0320000000", "", cat, lib, agr, "", "", "",
             "", "", "", "", "2001-01-01", "2001-01-01", "2023-06-01"]
        if fields == 32:
            f.append("")
        lines.append(";".join(f))
        if dep == "59":
            x, y = point(dep + com, 5, 5)
        else:
            x, y = (652000.0, 6862000.0) if dep == "75" else (1177000.0, 6110000.0)
        coords.append((fin, x, y))
    for fin, x, y in coords:
        lines.append(f"geolocalisation;{fin};{x};{y};1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93;2023-06-01")
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    return path


# == Filosofi, 200 m grid ============================================================================
FILOSOFI_2019 = ["idcar_200m", "idcar_1km", "idcar_nat", "i_est_200", "i_est_1km", "lcog_geo", "ind", "men",
                 "men_pauv", "men_1ind", "men_5ind", "men_prop", "men_fmp", "ind_snv", "men_surf", "men_coll",
                 "men_mais", "log_av45", "log_45_70", "log_70_90", "log_ap90", "log_inc", "log_soc", "ind_0_3",
                 "ind_4_5", "ind_6_10", "ind_11_17", "ind_18_24", "ind_25_39", "ind_40_54", "ind_55_64",
                 "ind_65_79", "ind_80p", "ind_inc"]
FILOSOFI_2017 = [c[0].upper() + c[1:] for c in FILOSOFI_2019]
FILOSOFI_2015 = ["IdINSPIRE", "Id_carr1km", "I_est_cr", "Id_carr_n", "Groupe", "Depcom", "I_pauv", "Id_car2", "Ind",
                 "Men", "Men_pauv", "Men_1ind", "Men_5ind", "Men_prop", "Men_fmp", "Ind_snv", "Men_surf", "Men_coll",
                 "Men_mais", "Log_av45", "Log_45_70", "Log_70_90", "Log_ap90", "Log_inc", "Log_soc", "Ind_0_3",
                 "Ind_4_5", "Ind_6_10", "Ind_11_17", "Ind_18_24", "Ind_25_39", "Ind_40_54", "Ind_55_64", "Ind_65_79",
                 "Ind_80p", "Ind_inc"]


def filosofi_cells() -> list[tuple[str, float, float, dict]]:
    """Four 200 m cells over Lille and Roubaix and one in Paris (EPSG:3035 identifiers)."""
    out = []
    for k, (com, dx) in enumerate((("59350", 0), ("59350", 200), ("59512", 0), ("59512", 200))):
        lon, lat = lonlat(com)
        p = gpd.GeoSeries(gpd.points_from_xy([lon], [lat]), crs=4326).to_crs(3035)[0]
        e, n = int(p.x // 200 * 200) + dx, int(p.y // 200 * 200)
        out.append((f"CRS3035RES200mN{n}E{e}", e, n, {"ind": 120.5 + k, "men": 50.0 + k, "men_pauv": 12.0,
                                                        "ind_snv": 2500000.0, "log_soc": 20.0 + k}))
    out.append(("CRS3035RES200mN2890000E3760000", 3760000, 2890000,
                {"ind": 300.0, "men": 150.0, "men_pauv": 20.0, "ind_snv": 7000000.0, "log_soc": 10.0}))
    return out


def _filosofi_values(header: list[str], ident: str, e: int, n: int, v: dict) -> dict:
    lower = {h.lower(): h for h in header}
    out = {h: "0" for h in header}
    out.update({lower["ind"]: v["ind"], lower["men"]: v["men"], lower["men_pauv"]: v["men_pauv"],
                lower["ind_snv"]: v["ind_snv"], lower["log_soc"]: v["log_soc"], lower["men_1ind"]: 10.0,
                lower["ind_0_3"]: 5.0, lower["ind_4_5"]: 3.0, lower["ind_6_10"]: 8.0, lower["ind_11_17"]: 9.0,
                lower["ind_65_79"]: 11.0, lower["ind_80p"]: 4.0})
    out[header[0]] = ident
    return out


def filosofi_vector(path: Path, header: list[str], crs: int) -> Path:
    from shapely.geometry import box
    recs, geoms = [], []
    for ident, e, n, v in filosofi_cells():
        recs.append(_filosofi_values(header, ident, e, n, v))
        geoms.append(box(e, n, e + 200, n + 200))
    frame = gpd.GeoDataFrame(recs, columns=header, geometry=geoms, crs=3035).to_crs(crs)
    for h in header[6:] if header is not FILOSOFI_2015 else header[8:]:
        frame[h] = frame[h].astype(float)
    frame.to_file(path, engine="pyogrio")
    return path


def filosofi_csv(path: Path, header: list[str], delimiter: str = ",", decimal: str = ".") -> Path:
    rows = []
    for ident, e, n, v in filosofi_cells():
        vals = _filosofi_values(header, ident, e, n, v)
        rows.append([str(vals[h]).replace(".", decimal) if isinstance(vals[h], float) else vals[h] for h in header])
    return write_csv(path, header, rows, delimiter=delimiter)


# == Territories ======================================================================================
def _boxes_in(code_insee: str, n: int, size: float = 400.0):
    from shapely.geometry import box
    x, y = point(code_insee)
    return [box(x + k * size, y, x + (k + 1) * size, y + size) for k in range(n)]


def iris_contours(path: Path, version: int) -> Path:
    """CONTOURS-IRIS: two IRIS of Lille and one of Paris (a national file). 2.x: Shapefile with
    INSEE_COM…TYP_IRIS; 3.0: GeoPackage (layer contours_iris) with code_insee…type_iris."""
    from shapely.geometry import MultiPolygon, box
    geoms = [MultiPolygon([g]) for g in _boxes_in("59350", 2)] + [MultiPolygon([box(651000, 6861000, 652000, 6862000)])]
    recs = [("59350", "Lille", "0101", "593500101", "Vauban 1", "H"),
            ("59350", "Lille", "0102", "593500102", "Vauban 2", "H"),
            ("75056", "Paris", "0101", "751010101", "Saint-Germain-l'Auxerrois 1", "A")]
    names = (["INSEE_COM", "NOM_COM", "IRIS", "CODE_IRIS", "NOM_IRIS", "TYP_IRIS"] if version == 2 else
             ["code_insee", "nom_commune", "iris", "code_iris", "nom_iris", "type_iris"])
    g = gpd.GeoDataFrame([dict(zip(names, r)) for r in recs], geometry=geoms, crs=2154)
    if version == 2:
        g.to_file(path, engine="pyogrio")
    else:
        g.to_file(path, engine="pyogrio", layer="contours_iris", driver="GPKG")
    return path


def shapefile_zip(path: Path, shp: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(shp.parent.glob(shp.stem + ".*")):
            z.write(f, f"CONTOURS-IRIS_2-1__SHP__FRA_2022-01-01/CONTOURS-IRIS/{f.name}")
    return path


def qpv(path: Path, version: int) -> Path:
    """National QPV file: one QPV of Roubaix, one of Marseille. 2024: code_qp, lib_qp,
    insee_com, lib_com, insee_dep, insee_reg (GeoJSON WGS 84 or Shapefile LB93); 2015:
    CODE_QP, NOM_QP, COMMUNE_QP."""
    from shapely.geometry import box
    geoms = [_boxes_in("59512", 1, 600)[0], box(892000, 6247000, 893000, 6248000)]
    if version == 2024:
        recs = [{"code_qp": "QN05912M", "lib_qp": "Alma - Gare", "insee_com": "59512", "lib_com": "Roubaix",
                 "insee_dep": "59", "insee_reg": "32"},
                {"code_qp": "QN01305M", "lib_qp": "Centre Nord", "insee_com": "13055", "lib_com": "Marseille",
                 "insee_dep": "13", "insee_reg": "93"}]
    else:
        recs = [{"CODE_QP": "QP059012", "NOM_QP": "Alma - Gare", "COMMUNE_QP": "59512"},
                {"CODE_QP": "QP013055", "NOM_QP": "Centre Nord", "COMMUNE_QP": "13055"}]
    g = gpd.GeoDataFrame(recs, geometry=geoms, crs=2154)
    if path.suffix == ".geojson":
        g = g.to_crs(4326)
    g.to_file(path, engine="pyogrio")
    return path


EPCI_INSEE = ["CODGEO", "LIBGEO", "EPCI", "LIBEPCI", "DEP", "REG"]
EPCI_ROWS = [("59350", "Lille", "200093201", "Métropole Européenne de Lille", "59", "32"),
             ("59009", "Villeneuve-d'Ascq", "200093201", "Métropole Européenne de Lille", "59", "32"),
             ("59183", "Dunkerque", "245900428", "CU de Dunkerque", "59", "32"),
             ("01001", "L'Abergement-Clémenciat", "200069193", "CC de la Dombes", "01", "84")]
EPCI_TITLES = ["Composition communale des EPCI au 1er janvier 2024",
               "Source : Insee, Base des établissements publics de coopération intercommunale (EPCI) au 01/01/2024",
               ""]


def epci_insee_xlsx(path: Path) -> Path:
    """The INSEE workbook: a notice sheet, then Composition_communale with title lines above the
    header; the commune code of the Ain stored as a number by the workbook (1001)."""
    import openpyxl
    wb = openpyxl.Workbook()
    notice = wb.active
    notice.title = "Documentation"
    notice.append(["Intercommunalités au 1er janvier 2024"])
    ws = wb.create_sheet("Composition_communale")
    for t in EPCI_TITLES:
        ws.append([t])
    ws.append(EPCI_INSEE)
    for r in EPCI_ROWS:
        ws.append([int(r[0]) if r[0].isdigit() else r[0], *r[1:]])
    wb.save(path)
    return path


def epci_insee_csv(path: Path) -> Path:
    """The same sheet saved as CSV by a spreadsheet (';', CP1252), title lines kept, leading zero lost."""
    out = io.StringIO()
    w = csv.writer(out, delimiter=";", lineterminator="\r\n")
    for t in EPCI_TITLES:
        w.writerow([t])
    w.writerow(EPCI_INSEE)
    for r in EPCI_ROWS:
        w.writerow([r[0].lstrip("0"), *r[1:]])
    path.write_bytes(out.getvalue().encode("cp1252"))
    return path


EPCICOM = ["dept", "siren", "raison_sociale", "nature_juridique", "mode_financ", "nb_membres", "total_pop_tot",
           "total_pop_mun", "dep_com", "insee", "siren_membre", "nom_membre", "ptot_2024", "pmun_2024"]


def epcicom(path: Path) -> Path:
    """DGCL list of EPCI and their members: ';', ISO-8859-1."""
    rows = []
    for code, name, siren, epci_name, dep, _ in EPCI_ROWS:
        rows.append([dep, siren, epci_name, "METRO" if siren == "200093201" else "CC", "FPU", 95, 1180000, 1160000,
                     dep, code, f"21{code}000"[:9], name, 1000, 990])
    return write_csv(path, EPCICOM, rows, encoding="latin-1")


def admin_express(path: Path, version: int) -> Path:
    """ADMIN EXPRESS: three MEL communes and two of the Nord outside the MEL (national file).
    3.x: COMMUNE.shp (INSEE_COM, NOM, …, SIREN_EPCI, POPULATION) in its ZIP; 4.0: a GeoPackage
    whose first layer is departement, the communes in layer commune (geometry « geometrie »)."""
    from shapely.geometry import MultiPolygon, box
    c = _communes()
    mel = [("59350", "Lille", 236710), ("59009", "Villeneuve-d'Ascq", 62342), ("59512", "Roubaix", 98089)]
    rows, geoms = [], []
    for code, name, pop in mel:
        g = c.geometry[code]
        geoms.append(g if g.geom_type == "MultiPolygon" else MultiPolygon([g]))
        rows.append((code, name, "200093201", pop))
    for code, name, siren, (x, y) in (("59183", "Dunkerque", "245900428", (650000, 7100000)),
                                      ("59606", "Valenciennes", "200067205", (735000, 7030000))):
        geoms.append(MultiPolygon([box(x, y, x + 3000, y + 3000)]))
        rows.append((code, name, siren, 40000))
    if version == 3:
        names = ["INSEE_COM", "NOM", "SIREN_EPCI", "POPULATION"]
        g = gpd.GeoDataFrame([dict(zip(names, r)) for r in rows], geometry=geoms, crs=2154)
        g["NOM_M"] = g["NOM"].str.upper()
        g["INSEE_DEP"], g["INSEE_REG"] = "59", "32"
        g = g[["NOM", "NOM_M", "INSEE_COM", "STATUT" if False else "INSEE_DEP", "INSEE_REG", "SIREN_EPCI",
               "POPULATION", "geometry"]]
        shp_dir = path.parent / "ADMIN-EXPRESS-COG_3-2"
        shp_dir.mkdir(exist_ok=True)
        g.to_file(shp_dir / "COMMUNE.shp", engine="pyogrio")
        gpd.GeoDataFrame({"INSEE_DEP": ["59"], "NOM": ["Nord"]},
                         geometry=[box(600000, 6950000, 780000, 7120000)], crs=2154).to_file(
            shp_dir / "DEPARTEMENT.shp", engine="pyogrio")
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for f in sorted(shp_dir.iterdir()):
                z.write(f, f"ADMIN-EXPRESS-COG_3-2__SHP_LAMB93_FXX_2024-02-22/ADMIN-EXPRESS-COG/1_DONNEES_LIVRAISON/{f.name}")
        return path
    dep = gpd.GeoDataFrame({"code_insee": ["59"], "nom_officiel": ["Nord"]},
                           geometry=[box(600000, 6950000, 780000, 7120000)], crs=2154).rename_geometry("geometrie")
    dep.to_file(path, layer="departement", engine="pyogrio", driver="GPKG")
    names = ["code_insee", "nom_officiel", "codes_siren_des_epci", "population"]
    com = gpd.GeoDataFrame([dict(zip(names, r)) for r in rows], geometry=geoms, crs=2154).rename_geometry("geometrie")
    com["nom_officiel_en_majuscules"] = com["nom_officiel"].str.upper()
    com.to_file(path, layer="commune", engine="pyogrio", driver="GPKG", append=True)
    return path


# == Schools, GTFS ====================================================================================
ECOLES_NATIONAL = ["numero_uai", "appellation_officielle", "denomination_principale", "patronyme_uai",
                   "secteur_public_prive_libe", "adresse_uai", "lieu_dit_uai", "boite_postale_uai", "code_postal_uai",
                   "localite_acheminement_uai", "libelle_commune", "coordonnee_x", "coordonnee_y", "epsg",
                   "latitude", "longitude", "appariement", "localisation", "nature_uai", "nature_uai_libe",
                   "etat_etablissement", "etat_etablissement_libe", "code_departement", "code_region",
                   "code_academie", "code_commune", "libelle_departement", "libelle_region", "libelle_academie",
                   "position", "secteur_prive_code_type_contrat", "secteur_prive_libelle_type_contrat",
                   "code_ministere", "libelle_ministere", "date_ouverture"]


def ecoles_national(path: Path) -> Path:
    """The national directory: two schools of the MEL, one in Grenoble; ';', UTF-8."""
    rows = []
    for uai, name, nature, com, lib in (("0590001A", "COLLEGE JEAN MACE", "COLLEGE", "59350", "Lille"),
                                        ("0590002B", "LYCEE GENERAL TEST", "LYCEE D ENSEIGNEMENT GENERAL", "59512",
                                         "Roubaix"),
                                        ("0380001C", "COLLEGE DE GRENOBLE", "COLLEGE", "38185", "Grenoble")):
        if com.startswith("59"):
            x, y = point(com, 20, 20)
            lon, lat = lonlat(com, 20, 20)
        else:
            x, y, lon, lat = 914000.0, 6458000.0, 5.7245, 45.1885
        rows.append(_fill(ECOLES_NATIONAL, {
            "numero_uai": uai, "appellation_officielle": name, "denomination_principale": nature,
            "secteur_public_prive_libe": "Public", "code_postal_uai": "59000", "libelle_commune": lib,
            "coordonnee_x": x, "coordonnee_y": y, "epsg": "EPSG:2154", "latitude": lat, "longitude": lon,
            "nature_uai": "340", "nature_uai_libe": nature, "etat_etablissement": "1",
            "etat_etablissement_libe": "OUVERT", "code_departement": com[:2], "code_commune": com,
            "position": f"{lat}, {lon}"}))
    return write_csv(path, ECOLES_NATIONAL, rows)


def gtfs_ilevia(path: Path) -> Path:
    """A GTFS feed like Ilévia's: metro and bus stops in the MEL, a station (location_type 1),
    and bus stops in Belgium (Mouscron, Comines-Belgique) outside the MEL."""
    lille = lonlat("59350")
    roubaix = lonlat("59512", 30, 30)
    stops = ["stop_id,stop_code,stop_name,stop_desc,stop_lat,stop_lon,zone_id,stop_url,location_type,parent_station,"
             "wheelchair_boarding",
             f"GAR,,Gare Lille Flandres,,{lille[1]},{lille[0]},,,1,,1",
             f"GAR1,,Gare Lille Flandres,,{lille[1]},{lille[0]},,,0,GAR,1",
             f"RBX1,,Roubaix Grand Place,,{roubaix[1]},{roubaix[0]},,,0,,1",
             "MOU1,,Mouscron Gare,,50.7445,3.2133,,,0,,0",
             "COM1,,Comines-Belgique Centre,,50.7697,3.0016,,,0,,0"]
    routes = ("route_id,agency_id,route_short_name,route_long_name,route_desc,route_type,route_color\n"
              "M1,ILEVIA,M1,4 Cantons - CHU,,1,FFCC00\nB1,ILEVIA,CIT,Citadine,,3,00AAFF\n"
              "X1,ILEVIA,MWR,Mouscron - Wattrelos - Roubaix,,3,00AAFF\n")
    trips = "route_id,service_id,trip_id\nM1,S,T1\nB1,S,T2\nX1,S,T3\n"
    times = ("trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
             "T1,06:00:00,06:00:00,GAR1,1\nT2,06:00:00,06:00:00,RBX1,1\n"
             "T3,06:00:00,06:00:00,MOU1,1\nT3,06:10:00,06:10:00,COM1,2\nT3,06:20:00,06:20:00,RBX1,3\n")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("agency.txt", "agency_id,agency_name,agency_url,agency_timezone\nILEVIA,Ilévia,https://www.ilevia.fr,Europe/Paris\n")
        z.writestr("stops.txt", "\ufeff" + "\n".join(stops) + "\n")
        z.writestr("routes.txt", routes)
        z.writestr("trips.txt", trips)
        z.writestr("stop_times.txt", times)
    return path


def gtfs_lignes(path: Path, *, shapes: bool, bad_stop_times: str | None = None) -> Path:
    """A small GTFS folder with one metro line (M1, two directions, a short and a long trip
    per direction), one tram line (R, no colour) and a bus line (not a line of the map).
    ``shapes`` adds shapes.txt for the metro (a curve through a point that is no stop);
    ``bad_stop_times`` replaces the sequence of the fourth stop_times line."""
    path.mkdir(parents=True, exist_ok=True)
    pts = {f"M{i}": lonlat("59350", 600 * i, 100 * i) for i in range(4)}
    pts.update({f"R{i}": lonlat("59512", 0, 500 * i) for i in range(3)})
    pts["B0"] = lonlat("59350", -300, -300)
    stops = ["stop_id,stop_name,stop_lat,stop_lon,location_type"]
    stops += [f"{k},Arrêt {k},{lat},{lon},0" for k, (lon, lat) in pts.items()]
    routes = ("route_id,agency_id,route_short_name,route_long_name,route_type,route_color\n"
              "M1,IL,M1,Quatre Cantons - CHU,1,ffcc00\nR,IL,R,Lille - Roubaix,0,\nB,IL,B,Bus,3,00AAFF\n")
    trips = ["route_id,service_id,trip_id,direction_id,shape_id"]
    trips += ["M1,S,M1A,0,SH0", "M1,S,M1B,0,SH0", "M1,S,M1C,1,SH1", "R,S,RA,0,", "B,S,BA,0,"]
    times = ["trip_id,arrival_time,departure_time,stop_id,stop_sequence"]
    times += [f"M1A,06:00:00,06:00:00,M{i},{i + 1}" for i in (0, 1)]
    times += [f"M1B,06:00:00,06:00:00,M{i},{10 * i + 5}" for i in (3, 0, 2, 1)]  # unordered
    times += [f"M1C,06:00:00,06:00:00,M{3 - i},{i}" for i in range(4)]
    times += [f"RA,06:00:00,06:00:00,R{i},{i}" for i in range(3)]
    times += ["BA,06:00:00,06:00:00,B0,1"]
    if bad_stop_times is not None:
        fields = times[4].split(",")
        fields[4] = bad_stop_times
        times[4] = ",".join(fields)
    (path / "stops.txt").write_text("\n".join(stops) + "\n", encoding="utf-8")
    (path / "routes.txt").write_text(routes, encoding="utf-8")
    (path / "trips.txt").write_text("\n".join(trips) + "\n", encoding="utf-8")
    (path / "stop_times.txt").write_text("\n".join(times) + "\n", encoding="utf-8")
    if shapes:
        rows = ["shape_id,shape_pt_lat,shape_pt_lon,shape_pt_sequence"]
        curve = [pts["M0"], lonlat("59350", 900, 900), pts["M3"]]
        rows += [f"SH0,{lat},{lon},{i}" for i, (lon, lat) in enumerate(curve)]
        rows += [f"SH1,{lat},{lon},{i}" for i, (lon, lat) in enumerate(reversed(curve))]
        (path / "shapes.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path
