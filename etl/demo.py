"""A realistic, deterministic and FICTITIOUS demo dataset, written in the producers' formats.

Over the REAL 95 communes of the MEL, the real collèges/lycées and the real
Ilévia metro/tram quays (``data/reference``), the generator draws from one
seed: IRIS (real rule: communes of 10,000+ inhabitants cut into IRIS of about
2,000 inhabitants, others one IRIS ``code_insee||'0000'``), 26 QPV in the
communes that have them, about 5,000 résidences and 130,000 dwellings (many
résidences under 11 dwellings, large estates in QPV) for several millésimes,
occupation and rent counts, four years of attributions (about 10,000 a year),
BPE equipment, FINESS establishments, bus stops and Filosofi 200 m cells.
Every file is written in its published format, then loaded with the ordinary
loaders. ``scale`` shrinks everything for tests. Nothing here describes real people
or real landlords: the folder carries ``LISEZMOI-DONNEES-FICTIVES.txt`` and
``metadata.json``, and every load is marked ``fictif`` in the ledger.
"""
from __future__ import annotations

import json
import shutil
import time
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import MultiPolygon, Point, box

from etl.loading import current_year
from portail.settings import REPO_ROOT

REFERENCE = REPO_ROOT / "data" / "reference"
DEMO_SEED = 2026
LANDLORDS = [(f"BAILLEUR FICTIF {i:02d}", f"9{i:02d}000{i:03d}") for i in range(1, 16)]
STREETS = ["DE LA REPUBLIQUE", "JEAN JAURES", "DU GENERAL DE GAULLE", "VICTOR HUGO", "DES ROSES",
           "PASTEUR", "DU MOULIN", "DE LA GARE", "DES TILLEULS", "GAMBETTA", "DE LILLE", "DE PARIS",
           "SALENGRO", "DES PEUPLIERS", "CARNOT", "DU BECQUEREL", "DES FLANDRES", "DE LA PAIX",
           "VOLTAIRE", "DES ÉCOLES", "ÉMILE ZOLA", "DU CHÂTEAU", "DES AULNES", "DE L'ÉGLISE"]
STREET_TYPES = ["RUE", "AV", "BD", "ALL", "PL", "RES", "CHE"]
# 26 QPV in the communes that have them (Contrat de ville 2015 orders of magnitude).
QPV_PER_COMMUNE = {"59350": 7, "59512": 5, "59599": 4, "59650": 2, "59410": 1, "59360": 1,
                   "59299": 1, "59648": 1, "59009": 1, "59017": 1, "59163": 1, "59279": 1}
BPE_TYPES = {  # TYPEQU: weight (A services, B commerces, C enseignement, D santé, E transports, F sport-culture, G tourisme)
    "A101": 1, "A203": 3, "A206": 4, "A401": 6, "A501": 8, "A504": 10, "B101": 2, "B104": 3,
    "B201": 6, "B203": 8, "B204": 4, "C101": 5, "C104": 5, "C201": 2, "D201": 10, "D221": 6,
    "D232": 4, "D301": 4, "D502": 2, "E107": 2, "F101": 3, "F113": 3, "F303": 1, "F307": 2,
    "G102": 1}
FINESS_CATS = [("500", "EHPAD", "4401"), ("355", "Centre Hospitalier (C.H.)", "1102"),
               ("124", "Centre de Santé", "2202"), ("620", "Pharmacie d'Officine", "3401"),
               ("183", "Institut Médico-Educatif (I.M.E.)", "4101"), ("214", "Centre Hébergement & Réinsertion Sociale (C.H.R.S.)", "4602"),
               ("165", "Maison de santé (L.6223-3)", "2202"), ("446", "Service d'Aide à Domicile", "4403")]
FICTITIOUS = ("DONNÉES FICTIVES générées par `portail-lls etl demo` (graine {seed}) sur les communes, "
              "collèges/lycées et quais de métro/tram RÉELS de la MEL. Elles ne décrivent aucun logement, "
              "ménage, bailleur ni attribution réels. Ne pas diffuser comme données réelles.")


def default_millesimes() -> list[int]:
    y = current_year()
    return [y - 3, y - 2, y - 1]


class Territory:
    """The real communes in Lambert-93 and point sampling inside polygons."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        g = gpd.read_file(REFERENCE / "mel_communes.geojson").to_crs(epsg=2154)
        g = g.sort_values("code_insee").reset_index(drop=True)
        self.communes = g
        self.geom = dict(zip(g.code_insee, g.geometry))
        self.pop = dict(zip(g.code_insee, g.population_municipale.astype(int)))
        self.names = dict(zip(g.code_insee, g.nom))

    def points_in(self, poly, n: int) -> np.ndarray:
        """n points uniformly inside ``poly`` (rejection sampling, vectorised)."""
        if n <= 0:
            return np.empty((0, 2))
        minx, miny, maxx, maxy = poly.bounds
        shapely.prepare(poly)
        out = []
        got = 0
        while got < n:
            k = max(64, int((n - got) * 2.5 * (maxx - minx) * (maxy - miny) / max(poly.area, 1)))
            xs = self.rng.uniform(minx, maxx, k)
            ys = self.rng.uniform(miny, maxy, k)
            inside = shapely.contains_xy(poly, xs, ys)
            pts = np.column_stack([xs[inside], ys[inside]])
            out.append(pts)
            got += len(pts)
        return np.concatenate(out)[:n]


# -- territories -------------------------------------------------------------------------------
def make_iris(t: Territory) -> gpd.GeoDataFrame:
    rows = []
    for code in t.communes.code_insee:
        poly, pop = t.geom[code], t.pop[code]
        if pop < 10_000:
            rows.append((code, t.names[code], code + "0000", t.names[code], "Z", _mp(poly)))
            continue
        n = max(2, round(pop / 2000))
        seeds = t.points_in(poly, n)
        cells = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=poly.envelope.buffer(1000))
        parts = [c.intersection(poly) for c in cells.geoms]
        parts = [p for p in parts if not p.is_empty and p.area > 1]
        for i, p in enumerate(sorted(parts, key=lambda p: (-p.centroid.y, p.centroid.x)), start=1):
            num = f"{(i - 1) // 99 + 1:02d}{(i - 1) % 99 + 1:02d}"
            rows.append((code, t.names[code], code + num, f"{t.names[code]} {i}", "H", _mp(p)))
    return gpd.GeoDataFrame(rows, columns=["INSEE_COM", "NOM_COM", "CODE_IRIS", "NOM_IRIS", "TYP_IRIS",
                                           "geometry"], crs=2154).assign(
        IRIS=lambda d: d.CODE_IRIS.str[5:])


def make_qpv(t: Territory, scale: float) -> gpd.GeoDataFrame:
    rows, n = [], 0
    for code, count in QPV_PER_COMMUNE.items():
        poly = t.geom[code]
        centres = t.points_in(poly.buffer(-300) if poly.buffer(-300).area > 0 else poly, count)
        for c in centres:
            n += 1
            radius = t.rng.uniform(250, 550)
            blob = shapely.union_all([Point(c[0] + t.rng.normal(0, radius / 2), c[1] + t.rng.normal(0, radius / 2))
                                      .buffer(radius * t.rng.uniform(0.5, 0.9)) for _ in range(4)])
            shape = blob.intersection(poly)
            for other in rows:
                shape = shape.difference(other[3])
            if shape.area < 20_000:
                continue
            rows.append((f"QP059{n:03d}", f"Quartier fictif {t.names[code]} {n}", code, _mp(shape)))
    g = gpd.GeoDataFrame(rows, columns=["code_qp", "nom_qp", "commune_qp", "geometry"], crs=2154)
    return g


def _mp(geom) -> MultiPolygon:
    from etl.geofile import as_multipolygon
    return as_multipolygon(shapely.make_valid(geom))


# -- parc ----------------------------------------------------------------------------------------------
def make_residences(t: Territory, iris: gpd.GeoDataFrame, qpv: gpd.GeoDataFrame, scale: float,
                    last_year: int | None = None) -> pd.DataFrame:
    """Résidences with their size, place and construction year; some delivered recently, so
    that each millésime (stock at 1 January) has new ones."""
    rng = t.rng
    n_res = max(60, int(5000 * scale))
    target = int(130_000 * scale)
    codes = t.communes.code_insee.to_numpy()
    weight = np.array([t.pop[c] ** 1.15 for c in codes], dtype=float)
    weight[np.isin(codes, list(QPV_PER_COMMUNE))] *= 1.6
    commune_of = rng.choice(codes, size=n_res, p=weight / weight.sum())
    # Sizes: about 45 % under 11 dwellings, then a long tail; the largest go to the QPV.
    kind = rng.choice(3, size=n_res, p=[0.45, 0.40, 0.15])
    size = np.where(kind == 0, rng.integers(1, 11, n_res),
                    np.where(kind == 1, rng.integers(11, 60, n_res), rng.integers(60, 400, n_res)))
    size = np.maximum(1, np.round(size * target / size.sum() * 1.0)).astype(int)
    size[kind == 0] = np.minimum(size[kind == 0], 10)
    big_first = np.argsort(-size, kind="stable")
    in_qpv = np.zeros(n_res, dtype=object)
    xs, ys = np.zeros(n_res), np.zeros(n_res)
    qpv_by_commune = {c: list(qpv[qpv.commune_qp == c].itertuples()) for c in QPV_PER_COMMUNE}
    budget = {c: len(v) * 14 for c, v in qpv_by_commune.items()}   # estates per commune in its QPV
    for i in big_first:
        c = commune_of[i]
        if size[i] >= 40 and budget.get(c, 0) > 0 and qpv_by_commune.get(c):
            q = qpv_by_commune[c][budget[c] % len(qpv_by_commune[c])]
            budget[c] -= 1
            x, y = t.points_in(q.geometry, 1)[0]
            in_qpv[i] = q.code_qp
        else:
            x, y = t.points_in(t.geom[c], 1)[0]
            in_qpv[i] = None
        xs[i], ys[i] = x, y
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(xs, ys), crs=2154)
    iris_of = gpd.sjoin(pts, iris[["CODE_IRIS", "geometry"]], how="left", predicate="within")
    iris_of = iris_of[~iris_of.index.duplicated()].CODE_IRIS.to_numpy()
    qpv_of = gpd.sjoin(pts, qpv[["code_qp", "geometry"]], how="left", predicate="within")
    qpv_of = qpv_of[~qpv_of.index.duplicated()].code_qp.to_numpy()
    landlord = rng.integers(0, len(LANDLORDS), n_res)
    last_year = last_year or current_year() - 1
    built = np.where(pd.notna(qpv_of), rng.integers(1955, 1980, n_res), rng.integers(1950, last_year, n_res))
    return pd.DataFrame({
        "res": np.arange(n_res), "code_insee": commune_of, "x": xs, "y": ys, "size": size,
        "code_iris": [c if isinstance(c, str) else k + "0000" for c, k in zip(iris_of, commune_of)],
        "code_qpv": [q if isinstance(q, str) else None for q in qpv_of],
        "landlord": landlord, "built": built,
        # one address per résidence (bijective for up to 42,000 résidences)
        "numvoie": np.arange(n_res) % 250 + 1, "street": (np.arange(n_res) // 250) % len(STREETS),
        "stype": (np.arange(n_res) // (250 * len(STREETS))) % len(STREET_TYPES),
        "collectif": np.where(size >= 5, "C", "I"),
    })


def residences_of_year(res: pd.DataFrame, m: int, base: int, rng: np.random.Generator) -> pd.DataFrame:
    """Résidences present at millésime m: new ones appear over time, a few estates are demolished."""
    delivered = res.built <= m - 1
    year_rng = np.random.default_rng(res.res.to_numpy() + 7919)  # same draw whatever the year
    demolished_in = np.where((res.code_qpv.notna()) & (year_rng.random(len(res)) < 0.02),
                             base + 1, 9999)
    keep = delivered & (demolished_in > m)
    return res[keep]


def make_dwellings(res: pd.DataFrame, m: int, seed: int) -> pd.DataFrame:
    """One row per dwelling; fixed attributes drawn from the résidence, yearly ones from the year."""
    n = res["size"].to_numpy()
    idx = np.repeat(np.arange(len(res)), n)
    r = res.iloc[idx].reset_index(drop=True)
    k = np.concatenate([np.arange(s) for s in n])
    # Stable per-dwelling draws (the same every millésime): a hash of (seed, résidence, rank).
    h = (r.res.to_numpy().astype(np.int64) * 1_000_003 + k * 7_919 + seed * 104_729) % 2_147_483_647
    u = lambda salt: ((h * (2 * salt + 1) * 48_271 + salt * 16_807) % 2_147_483_647) / 2_147_483_647
    yr = np.random.default_rng([seed, m])
    pieces = np.clip(np.searchsorted(np.cumsum([0.08, 0.2, 0.34, 0.26, 0.09, 0.03]), u(1)) + 1, 1, 6)
    surface = np.round(14 + pieces * 17 + (u(2) - 0.5) * 14, 1)
    in_qpv = r.code_qpv.notna().to_numpy()
    fin = np.where(u(3) < 0.12, "10", np.where(u(3) < 0.84, "13", np.where(u(3) < 0.96, "14", "16")))
    fin = np.where(r.built.to_numpy() < 1977, "50", fin)
    rent_m2 = np.where(fin == "10", 5.2, np.where(fin == "14", 8.4, np.where(fin == "16", 10.5, 6.1)))
    rent = np.round(surface * rent_m2 * (1 + 0.018 * (m - 2020)) * (0.9 + 0.2 * u(4)), 2)
    dpe = np.array(list("ABCDEFG"))[np.clip((u(5) * 4 + (2020 - r.built.to_numpy()) / 25).astype(int), 0, 6)]
    ges = np.array(list("ABCDEFG"))[np.clip((u(6) * 4 + (2020 - r.built.to_numpy()) / 30).astype(int), 0, 6)]
    vac_p = np.where(in_qpv, 0.055, 0.028)
    draw = yr.random(len(r))
    mode = np.where(draw < vac_p, "2", np.where(draw < vac_p + 0.004, "3", "1"))
    duree = np.where(mode == "2", yr.integers(1, 14, len(r)), 0)
    lease_year = np.where(yr.random(len(r)) < 0.085, m - 1, m - 2 - yr.integers(0, 20, len(r)))
    lease_year = np.maximum(lease_year, np.maximum(r.built.to_numpy(), 1990))
    return pd.DataFrame({
        "IDENT_REP": [f"F{a:06d}{b:03d}" for a, b in zip(r.res, k)],
        "RS": [LANDLORDS[i][0] for i in r.landlord], "SIREN": [LANDLORDS[i][1] for i in r.landlord],
        "DEPCOM": r.code_insee.to_numpy(), "NUMVOIE": r.numvoie.to_numpy(), "INDREP": "",
        "TYPVOIE": [STREET_TYPES[i] for i in r.stype], "NOMVOIE": [STREETS[i] for i in r.street],
        "PLG_IRIS": r.code_iris.str[5:].to_numpy(), "QPV": np.where(in_qpv, "1", "2"),
        "PLG_QPV": r.code_qpv.fillna("").to_numpy(), "TYPECONST": r.collectif.to_numpy(),
        "NBPIECE": pieces, "SURFHAB": [f"{s:.1f}".replace(".", ",") for s in surface],
        "CONSTRUCT": r.built.to_numpy(), "FINAN": fin, "CONV": "1",
        "LOYERPRINC": [f"{v:.2f}".replace(".", ",") for v in rent], "DPEENERGIE": dpe, "DPESERRE": ges,
        "MODE": mode, "DUREE_VACANCE": duree, "BAIL": [f"01/{y}" for y in lease_year],
        "X": np.round(r.x.to_numpy() + (u(7) - 0.5) * 16, 1), "Y": np.round(r.y.to_numpy() + (u(8) - 0.5) * 16, 1),
        # kept for the other generated files, not written
        "_res": r.res.to_numpy(), "_surface": surface, "_rent": rent, "_pieces": pieces,
    })


RPLS_COLUMNS = ["IDENT_REP", "RS", "SIREN", "DEPCOM", "NUMVOIE", "INDREP", "TYPVOIE", "NOMVOIE", "PLG_IRIS",
                "QPV", "PLG_QPV", "TYPECONST", "NBPIECE", "SURFHAB", "CONSTRUCT", "FINAN", "CONV",
                "LOYERPRINC", "DPEENERGIE", "DPESERRE", "MODE", "DUREE_VACANCE", "BAIL", "X", "Y"]


def write_semicolon(path: Path, df: pd.DataFrame, columns: list[str], encoding: str = "utf-8") -> None:
    df.to_csv(path, sep=";", columns=columns, index=False, encoding=encoding, lineterminator="\n")


# -- occupation, rents, attributions ---------------------------------------------------------------------
def _split(rng, total: np.ndarray, probs) -> np.ndarray:
    """Multinomial split of each total: columns sum exactly to ``total``."""
    p = np.asarray(probs, dtype=float)
    if p.ndim == 1:
        return rng.multinomial(total, p / p.sum())
    return np.array([rng.multinomial(t, row / row.sum()) for t, row in zip(total, p)])


def make_occupation(rng, res: pd.DataFrame, dw: pd.DataFrame, rid: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    g = dw.assign(vac=dw.MODE != "1").groupby("_res")
    nb = g.size()
    vac = g.vac.sum()
    r = res.set_index("res").loc[nb.index]
    q = r.code_qpv.notna().to_numpy()
    menages = (nb - vac).to_numpy()
    comp = _split(rng, menages, np.where(q[:, None], [0.38, 0.24, 0.27, 0.11], [0.45, 0.27, 0.22, 0.06]))
    mono = rng.binomial(menages, np.where(q, 0.24, 0.16))
    ress = _split(rng, menages, np.where(q[:, None], [0.28, 0.44, 0.21, 0.04, 0.03], [0.16, 0.40, 0.31, 0.10, 0.03]))
    age = _split(rng, menages, [0.11, 0.64, 0.25])
    emp = _split(rng, menages, np.where(q[:, None], [0.38, 0.22, 0.40], [0.52, 0.12, 0.36]))
    apl = rng.binomial(menages, np.where(q, 0.58, 0.42))
    emm = rng.binomial(nb.to_numpy(), 0.085)
    occ = pd.DataFrame({"ID_RESIDENCE": [rid[i] for i in nb.index], "NB_LOGEMENTS": nb.to_numpy(),
                        "NB_LOGEMENTS_VACANTS": vac.to_numpy(), "NB_EMMENAGEMENTS": emm, "NB_MENAGES": menages})
    for name, arr in (("MENAGES_1_PERS", comp[:, 0]), ("MENAGES_2_PERS", comp[:, 1]), ("MENAGES_3_4_PERS", comp[:, 2]),
                      ("MENAGES_5_PERS_PLUS", comp[:, 3]), ("MENAGES_MONOPARENTAUX", mono),
                      ("MENAGES_RESS_INF_20", ress[:, 0]), ("MENAGES_RESS_20_60", ress[:, 1]),
                      ("MENAGES_RESS_60_100", ress[:, 2]), ("MENAGES_RESS_SUP_100", ress[:, 3]),
                      ("MENAGES_RESS_INCONNUES", ress[:, 4]), ("TITULAIRES_MOINS_30", age[:, 0]),
                      ("TITULAIRES_30_64", age[:, 1]), ("TITULAIRES_65_PLUS", age[:, 2]),
                      ("TITULAIRES_EMPLOI", emp[:, 0]), ("TITULAIRES_CHOMAGE", emp[:, 1]),
                      ("TITULAIRES_INACTIFS", emp[:, 2]), ("MENAGES_APL", apl)):
        occ[name] = arr
    charges = np.round(dw._surface * rng.uniform(1.2, 2.6, len(dw)), 2)
    total = dw._rent + charges
    band = np.digitize(total, [400, 550, 700])
    lg = pd.DataFrame({"_res": dw._res, "s": dw._surface, "l": dw._rent, "c": charges,
                       **{f"b{i}": (band == i).astype(int) for i in range(4)}}).groupby("_res").sum()
    loy = pd.DataFrame({"ID_RESIDENCE": [rid[i] for i in lg.index], "NB_LOGEMENTS_RENSEIGNES": lg[[f"b{i}" for i in range(4)]].sum(axis=1),
                        "SURFACE_TOTALE": lg.s.round(1), "LOYER_TOTAL": lg.l.round(2), "CHARGES_TOTAL": lg.c.round(2),
                        "NB_QUITTANCE_INF_400": lg.b0, "NB_QUITTANCE_400_550": lg.b1,
                        "NB_QUITTANCE_550_700": lg.b2, "NB_QUITTANCE_SUP_700": lg.b3})
    return occ, loy


def make_attributions(rng, res: pd.DataFrame, year: int, scale: float) -> pd.DataFrame:
    n = max(200, int(10_000 * scale * rng.uniform(0.95, 1.05)))
    w = res["size"].to_numpy(dtype=float)
    pick = rng.choice(len(res), size=n, p=w / w.sum())
    r = res.iloc[pick]
    q = r.code_qpv.notna().to_numpy()
    quart = np.array([rng.choice(5, p=[0.34, 0.27, 0.22, 0.12, 0.05] if x else [0.20, 0.27, 0.27, 0.21, 0.05]) for x in q])
    prio = rng.choice(3, size=n, p=[0.06, 0.34, 0.60])
    taille = rng.choice(5, size=n, p=[0.38, 0.24, 0.17, 0.12, 0.09])
    typo = np.clip(taille + rng.choice([-1, 0, 1], size=n, p=[0.2, 0.55, 0.25]), 0, 4)
    df = pd.DataFrame({"ANNEE": year, "DEPCOM": r.code_insee.to_numpy(), "IRIS": r.code_iris.to_numpy(),
                       "QPV": r.code_qpv.fillna("").to_numpy(), "NB_ATTRIBUTIONS": 1})
    for prefix, arr, names in (("q", quart, ["NB_Q1", "NB_Q2", "NB_Q3", "NB_Q4", "NB_Q_INCONNU"]),
                               ("p", prio, ["NB_DALO", "NB_PRIORITAIRE_HORS_DALO", "NB_NON_PRIORITAIRE"]),
                               ("t", taille, ["NB_TAILLE_1", "NB_TAILLE_2", "NB_TAILLE_3", "NB_TAILLE_4", "NB_TAILLE_5_PLUS"]),
                               ("y", typo, ["NB_T1", "NB_T2", "NB_T3", "NB_T4", "NB_T5_PLUS"])):
        for i, name in enumerate(names):
            df[name] = (arr == i).astype(int)
    return df.groupby(["ANNEE", "DEPCOM", "IRIS", "QPV"], as_index=False).sum()


# -- context ---------------------------------------------------------------------------------------------------
def _weighted_points(t: Territory, n: int) -> tuple[np.ndarray, np.ndarray]:
    codes = t.communes.code_insee.to_numpy()
    w = np.array([t.pop[c] for c in codes], dtype=float)
    per = t.rng.multinomial(n, w / w.sum())
    pts, com = [], []
    for c, k in zip(codes, per):
        if k:
            pts.append(t.points_in(t.geom[c], k))
            com += [c] * k
    return np.concatenate(pts), np.array(com)


def make_bpe(t: Territory, scale: float, year: int) -> pd.DataFrame:
    n = max(300, int(30_000 * scale))
    pts, com = _weighted_points(t, n)
    types = list(BPE_TYPES)
    w = np.array(list(BPE_TYPES.values()), dtype=float)
    typ = t.rng.choice(types, size=n, p=w / w.sum())
    qual = t.rng.choice(["Bonne", "Acceptable", "Mauvaise"], size=n, p=[0.9, 0.08, 0.02])
    return pd.DataFrame({"AN": year, "DEPCOM": com, "DOM": [x[0] for x in typ], "SDOM": [x[:2] for x in typ],
                         "TYPEQU": typ, "LAMBERT_X": np.round(pts[:, 0], 1), "LAMBERT_Y": np.round(pts[:, 1], 1),
                         "QUALITE_XY": qual})


def write_finess(path: Path, t: Territory, scale: float) -> None:
    n = max(40, int(1800 * scale))
    pts, com = _weighted_points(t, n)
    lines = ["finess;etalab;95;2025-01-01"]
    for i, ((x, y), c) in enumerate(zip(pts, com), start=1):
        cat, lib, agr = FINESS_CATS[int(t.rng.integers(0, len(FINESS_CATS)))]
        fin = f"59{i:07d}"
        rs = f"ETABLISSEMENT FICTIF {i}"
        f = ["structureet", fin, f"59{i + 5000000:07d}", rs, rs, "", "", str(int(t.rng.integers(1, 200))),
             "R", "DES HÔPITAUX", "", "", c[2:], "59", "NORD", f"{c} {t.names[c].upper()}", "", "", cat, lib,
             agr, "", "", "", "", "", "", "", "2001-01-01", "2001-01-01", "2024-06-01", ""]
        lines.append(";".join(f))
    for i, (x, y) in enumerate(pts, start=1):
        lines.append(f"geolocalisation;59{i:07d};{x:.1f};{y:.1f};1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93;2024-06-01")
    path.write_bytes(("\n".join(lines) + "\n").encode("cp1252"))


# The demo's metro and tram lines: fictitious groupings of the real quays (the reference
# file has no line attribute), two metro and two tram lines, each with its colour.
DEMO_LINES = (("M1", "1", "FFCC00"), ("M2", "1", "E2001A"), ("R", "0", "009A44"), ("T", "0", "0066B3"))


def demo_lines(quays: gpd.GeoDataFrame, seed: int = 18) -> list[tuple[str, str, str, list[list[str]]]]:
    """``(name, route_type, colour, [quay ids per station, in line order])`` per line.

    The stations (quays grouped by name) are split into as many groups as lines by a
    seeded k-means on their Lambert-93 positions; the two northern groups (Roubaix,
    Tourcoing) are the tram lines. Within a group the line starts at the station farthest
    west along the group's principal axis, goes each time to the nearest station not yet
    served, then is straightened (2-opt: two legs that cross are swapped) so that it runs
    from one end of the group to the other without zigzagging."""
    q = quays.to_crs(2154)
    q = q.assign(x=q.geometry.x, y=q.geometry.y).sort_values("stop_id")
    st = q.groupby("stop_name").agg(x=("x", "mean"), y=("y", "mean"), quais=("stop_id", list))
    st = st.sort_index()
    pts = st[["x", "y"]].to_numpy()
    k = len(DEMO_LINES)
    rng = np.random.default_rng(seed)
    centres = pts[rng.choice(len(pts), k, replace=False)]
    for _ in range(100):
        label = np.argmin(((pts[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
        new = np.array([pts[label == j].mean(0) if (label == j).any() else centres[j] for j in range(k)])
        if np.allclose(new, centres):
            break
        centres = new
    groups = sorted(range(k), key=lambda j: centres[j][1])  # south to north
    out = []
    for (name, route_type, colour), j in zip(DEMO_LINES, groups):
        members = np.flatnonzero(label == j)
        centred = pts[members] - pts[members].mean(0)
        axis = np.linalg.svd(centred, full_matrices=False)[2][0] if len(members) > 1 else np.array([1.0, 0.0])
        if axis[0] < 0:  # west to east, whatever the sign the SVD gives
            axis = -axis
        order = members[_path(pts[members], int(np.argmin(centred @ axis)))]
        out.append((name, route_type, colour, [st["quais"].iloc[i] for i in order]))
    return out


def _path(pts: np.ndarray, start: int) -> np.ndarray:
    """An open path through every point from ``start``: nearest neighbour, then 2-opt."""
    d = np.hypot(*(pts[:, None, :] - pts[None]).transpose(2, 0, 1))
    order, left = [start], set(range(len(pts))) - {start}
    while left:
        nxt = min(left, key=lambda j: (d[order[-1], j], j))
        order.append(nxt)
        left.remove(nxt)
    improved = True
    while improved:
        improved = False
        for i in range(1, len(order) - 1):
            for j in range(i + 1, len(order)):
                a, b = order[i - 1], order[i]
                c, e = order[j], order[j + 1] if j + 1 < len(order) else None
                before = d[a, b] + (d[c, e] if e is not None else 0.0)
                after = d[a, c] + (d[b, e] if e is not None else 0.0)
                if after < before - 1e-6:
                    order[i:j + 1] = order[i:j + 1][::-1]
                    improved = True
    return np.array(order)


def write_gtfs(path: Path, t: Territory, scale: float) -> None:
    quays = gpd.read_file(REFERENCE / "mel_ilevia_metro_tram_quais.geojson")
    n_bus = max(50, int(2500 * scale))
    pts, _ = _weighted_points(t, n_bus)
    bus = gpd.GeoSeries(gpd.points_from_xy(pts[:, 0], pts[:, 1]), crs=2154).to_crs(4326)
    stops = ["stop_id,stop_name,stop_lat,stop_lon,location_type,parent_station"]
    stops += [f"{r.stop_id},\"{r.stop_name}\",{r.geometry.y:.6f},{r.geometry.x:.6f},0," for r in quays.itertuples()]
    stops += [f"BUS{i:05d},\"Arrêt fictif {i}\",{p.y:.6f},{p.x:.6f},0," for i, p in enumerate(bus, start=1)]
    names = dict(zip(quays["stop_id"], quays["stop_name"]))
    routes = ["route_id,agency_id,route_short_name,route_long_name,route_type,route_color"]
    trips = ["route_id,service_id,trip_id,direction_id"]
    st = ["trip_id,arrival_time,departure_time,stop_id,stop_sequence"]
    for name, route_type, colour, stations in demo_lines(quays):
        ends = f"{names[stations[0][0]]} – {names[stations[-1][0]]}"
        routes.append(f"{name},ILEVIA,{name},\"Ligne fictive {name} (quais réels) : {ends}\",{route_type},{colour}")
        # One way through each station's first quay, back through its last; the other quays
        # of a station (several lines' quays in reality) on a shorter trip, so every quay is served.
        runs = [("0", [s[0] for s in stations]), ("1", [s[-1] for s in reversed(stations)]),
                ("0", [q for s in stations for q in s[1:-1]])]
        for n, (direction, quay_ids) in enumerate(runs):
            if not quay_ids:
                continue
            trip = f"T_{name}_{n}"
            trips.append(f"{name},S,{trip},{direction}")
            st += [f"{trip},06:00:00,06:00:00,{q},{i}" for i, q in enumerate(quay_ids, start=1)]
    routes.append("BUS,ILEVIA,B,Bus fictifs,3,")
    trips.append("BUS,S,T_BUS,0")
    st += [f"T_BUS,06:00:00,06:00:00,BUS{i:05d},{i}" for i in range(1, len(bus) + 1)]
    agency = "agency_id,agency_name,agency_url,agency_timezone\nILEVIA,Ilévia (quais réels, lignes et bus fictifs),https://www.ilevia.fr,Europe/Paris\n"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("agency.txt", agency)
        z.writestr("stops.txt", "\n".join(stops) + "\n")
        z.writestr("routes.txt", "\n".join(routes) + "\n")
        z.writestr("trips.txt", "\n".join(trips) + "\n")
        z.writestr("stop_times.txt", "\n".join(st) + "\n")


def make_filosofi(t: Territory, res: pd.DataFrame, scale: float) -> gpd.GeoDataFrame:
    """200 m cells (INSEE grid, EPSG:3035) over the inhabited territory."""
    per = gpd.GeoDataFrame(geometry=[shapely.union_all(list(t.geom.values()))], crs=2154).to_crs(3035).geometry[0]
    minx, miny, maxx, maxy = (np.array(per.bounds) // 200) * 200
    step = 200 if scale >= 0.5 else 1000  # coarse sampling of cells for small test sets
    xs, ys = np.meshgrid(np.arange(minx, maxx + 200, step), np.arange(miny, maxy + 200, step))
    xs, ys = xs.ravel(), ys.ravel()
    inside = shapely.contains_xy(per, xs + 100, ys + 100)
    xs, ys = xs[inside], ys[inside]
    keep = t.rng.random(len(xs)) < 0.72
    xs, ys = xs[keep], ys[keep]
    n = len(xs)
    ind = np.round(t.rng.gamma(1.3, 55, n)) + 11
    men = np.round(ind / t.rng.uniform(2.0, 2.6, n))
    pauv = np.round(men * t.rng.beta(2, 7, n))
    log_soc = np.round(men * t.rng.beta(1.2, 4, n))
    g = gpd.GeoDataFrame({
        "Idcar_200m": [f"CRS3035RES200mN{int(y)}E{int(x)}" for x, y in zip(xs, ys)],
        "Ind": ind, "Men": men, "Men_pauv": pauv, "Men_1ind": np.round(men * 0.38), "Men_5ind": np.round(men * 0.07),
        "Men_prop": np.round(men * 0.5), "Men_fmp": np.round(men * 0.1),
        "Ind_snv": np.round(ind * t.rng.normal(21500, 4000, n).clip(9000)), "Log_soc": log_soc,
        "Ind_0_3": np.round(ind * 0.05), "Ind_4_5": np.round(ind * 0.025), "Ind_6_10": np.round(ind * 0.06),
        "Ind_11_17": np.round(ind * 0.085), "Ind_65_79": np.round(ind * 0.12), "Ind_80p": np.round(ind * 0.05)},
        geometry=[box(x, y, x + 200, y + 200) for x, y in zip(xs, ys)], crs=3035)
    return g


def make_qpv_indicators(t: Territory, qpv: gpd.GeoDataFrame) -> pd.DataFrame:
    n = len(qpv)
    men = t.rng.integers(800, 6000, n)
    pauv = np.round(men * t.rng.uniform(0.35, 0.55, n)).astype(int)
    actifs = np.round(men * 1.1).astype(int)
    cho = np.round(actifs * t.rng.uniform(0.18, 0.32, n)).astype(int)
    habitants = np.round(men * 2.2).astype(int)
    cmu = np.round(habitants * t.rng.uniform(0.25, 0.4, n)).astype(int)
    return pd.DataFrame({"CODGEO": qpv.code_qp, "LIBGEO": qpv.nom_qp,
                         "TX_PAUVRETE": np.round(100 * pauv / men, 1), "TX_PAUVRETE_NUM": pauv, "TX_PAUVRETE_DEN": men,
                         "TX_CHOMAGE": np.round(100 * cho / actifs, 1), "TX_CHOMAGE_NUM": cho, "TX_CHOMAGE_DEN": actifs,
                         "PART_CSS": np.round(100 * cmu / habitants, 1), "PART_CSS_NUM": cmu,
                         "PART_CSS_DEN": habitants})


def make_diagnostic(t: Territory, iris: gpd.GeoDataFrame, qpv: gpd.GeoDataFrame, res_year: pd.DataFrame) -> pd.DataFrame:
    rows = []
    social = res_year.groupby("code_iris")["size"].sum()
    social_q = res_year.groupby("code_qpv")["size"].sum()
    for level, codes, soc in (("IRIS", iris.CODE_IRIS, social), ("QPV", qpv.code_qp, social_q)):
        n = len(codes)
        rng = t.rng
        pop = rng.integers(1500, 3000, n) if level == "IRIS" else rng.integers(3000, 12000, n)
        men = np.round(pop / rng.uniform(2.0, 2.5, n)).astype(int)
        ps = np.minimum(np.array([int(soc.get(c, 0) * 0.95) for c in codes]), men)
        pp = men - ps
        fragile = 0.25 + 0.5 * ps / np.maximum(men, 1)
        pauv = np.round(men * rng.beta(2, 8, n) * (1 + fragile)).astype(int).clip(0, men)
        mono = np.round(men * rng.uniform(0.06, 0.14, n) * (1 + fragile)).astype(int).clip(0, men)
        act = np.round(pop * rng.uniform(0.42, 0.5, n)).astype(int)
        cho = np.round(act * rng.uniform(0.06, 0.14, n) * (1 + fragile)).astype(int).clip(0, act)
        p15 = np.round(pop * 0.82).astype(int)
        sd = np.round(p15 * rng.uniform(0.12, 0.25, n) * (1 + fragile)).astype(int).clip(0, p15)
        caf = np.round(men * rng.uniform(0.35, 0.55, n)).astype(int)
        cafb = np.round(caf * rng.uniform(0.2, 0.4, n) * (1 + fragile)).astype(int).clip(0, caf)
        rows.append(pd.DataFrame({"NIVEAU": level, "CODE": codes.to_numpy(), "POPULATION": pop, "NB_MENAGES": men,
                                  "MENAGES_PARC_SOCIAL": ps, "MENAGES_PARC_PRIVE": pp, "MENAGES_PAUVRES": pauv,
                                  "MENAGES_MONOPARENTAUX": mono, "ACTIFS": act, "CHOMEURS": cho,
                                  "POP_15_PLUS": p15, "SANS_DIPLOME": sd, "ALLOCATAIRES_CAF": caf,
                                  "ALLOCATAIRES_CAF_BAS_REVENUS": cafb}))
    return pd.concat(rows, ignore_index=True)


# -- the whole dataset -----------------------------------------------------------------------------------------------
def generate(out: Path, seed: int = 1, scale: float = 1.0, millesimes: list[int] | None = None) -> dict:
    """Write every file of the dataset under ``out``; return the plan of loads (source, file, millésime)."""
    from etl.rpls import residence_key
    millesimes = sorted(millesimes or default_millesimes())
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    t = Territory(rng)
    geo_year = millesimes[-1]
    plan: list[tuple[str, Path, int]] = []

    iris = make_iris(t)
    iris.to_file(out / "CONTOURS-IRIS.gpkg", layer="contours_iris", driver="GPKG", engine="pyogrio")
    qpv = make_qpv(t, scale)
    qpv.to_crs(4326).to_file(out / "QP_METROPOLE_WGS84.geojson", driver="GeoJSON", engine="pyogrio")
    shutil.copy(REFERENCE / "mel_communes_epci_2026.csv", out / "epci_communes.csv")
    shutil.copy(REFERENCE / "mel_colleges_lycees_2021.geojson", out / "colleges_lycees.geojson")
    plan += [("epci", out / "epci_communes.csv", geo_year), ("iris", out / "CONTOURS-IRIS.gpkg", geo_year),
             ("qpv", out / "QP_METROPOLE_WGS84.geojson", geo_year),
             ("ecoles", out / "colleges_lycees.geojson", geo_year)]
    write_gtfs(out / "gtfs_ilevia.zip", t, scale)
    write_semicolon(out / f"bpe_{geo_year}_xy.csv", make_bpe(t, scale, geo_year),
                    ["AN", "DEPCOM", "DOM", "SDOM", "TYPEQU", "LAMBERT_X", "LAMBERT_Y", "QUALITE_XY"])
    write_finess(out / "etalab-cs1100507-stock.csv", t, scale)
    plan += [("gtfs", out / "gtfs_ilevia.zip", geo_year), ("bpe", out / f"bpe_{geo_year}_xy.csv", geo_year),
             ("finess", out / "etalab-cs1100507-stock.csv", geo_year)]
    res = make_residences(t, iris, qpv, scale, last_year=millesimes[-1])
    filo = make_filosofi(t, res, scale)
    filo.to_file(out / "Filosofi_carreaux_200m.gpkg", layer="carreaux_200m", driver="GPKG", engine="pyogrio")
    plan.append(("filosofi", out / "Filosofi_carreaux_200m.gpkg", millesimes[0]))

    for m in millesimes:
        ry = residences_of_year(res, m, millesimes[0], rng)
        dw = make_dwellings(ry, m, seed)
        rid = {r.res: residence_key(LANDLORDS[r.landlord][0], LANDLORDS[r.landlord][1], r.code_insee, None,
                                    f"{r.numvoie} {STREET_TYPES[r.stype]} {STREETS[r.street]}")
               for r in ry.itertuples()}
        write_semicolon(out / f"RPLS_{m}_MEL_detail.csv", dw, RPLS_COLUMNS, encoding="cp1252")
        occ, loy = make_occupation(np.random.default_rng([seed, m, 3]), ry, dw, rid)
        write_semicolon(out / f"occupation_{m}.csv", occ, list(occ.columns))
        write_semicolon(out / f"loyers_charges_{m}.csv", loy, list(loy.columns))
        write_semicolon(out / f"qpv_indicateurs_{m}.csv", make_qpv_indicators(t, qpv), None)
        write_semicolon(out / f"diagnostic_quartiers_{m}.csv", make_diagnostic(t, iris, qpv, ry), None)
        plan += [("rpls", out / f"RPLS_{m}_MEL_detail.csv", m), ("occupation", out / f"occupation_{m}.csv", m),
                 ("loyers", out / f"loyers_charges_{m}.csv", m),
                 ("qpv_indicateurs", out / f"qpv_indicateurs_{m}.csv", m),
                 ("diagnostic", out / f"diagnostic_quartiers_{m}.csv", m)]
    last = residences_of_year(res, millesimes[-1], millesimes[0], rng)
    for year in range(millesimes[-1] - 3, millesimes[-1] + 1):
        att = make_attributions(np.random.default_rng([seed, year, 5]), last, year, scale)
        write_semicolon(out / f"sne_attributions_{year}.csv", att, list(att.columns))
        plan.append(("attributions", out / f"sne_attributions_{year}.csv", year))

    meta = {"titre": "Jeu de démonstration du portail LLS de la MEL", "fictif": True, "graine": seed,
            "echelle": scale, "millesimes": millesimes, "avertissement": FICTITIOUS.format(seed=seed),
            "donnees_reelles": {"communes": "data/reference/mel_communes.geojson",
                                "colleges_lycees": "data/reference/mel_colleges_lycees_2021.geojson",
                                "quais_metro_tram": "data/reference/mel_ilevia_metro_tram_quais.geojson",
                                "epci": "data/reference/mel_communes_epci_2026.csv"},
            "fichiers": [{"source": s, "fichier": p.name, "millesime": m} for s, p, m in plan]}
    (out / "metadata.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
    (out / "LISEZMOI-DONNEES-FICTIVES.txt").write_text(FICTITIOUS.format(seed=seed) + "\n", encoding="utf-8")
    return {"plan": plan, "meta": meta}


def build_demo(owner_dsn: str, out: Path, seed: int = 1, scale: float = 1.0,
               millesimes: list[int] | None = None, load: bool = True, echo=print) -> list:
    """Generate the files, then load them in dependency order; returns the load summaries."""
    from etl.registry import loader
    started = time.monotonic()
    gen = generate(out, seed, scale, millesimes)
    echo(f"Fichiers FICTIFS générés dans {out} en {time.monotonic() - started:.1f} s "
         f"(graine {seed}, échelle {scale}).")
    if not load:
        return []
    from etl.publish import deferred_publication
    _ensure_communes(owner_dsn, echo)
    summaries = []
    with deferred_publication(owner_dsn):   # one publication (secrecy, views) for the batch
        for source, path, m in gen["plan"]:
            s = loader(source)(owner_dsn, path, m, fictif=True)
            summaries.append(s)
            echo(s.text())
        echo("Publication (secret statistique, vues publiées) …")
    echo(f"Jeu de démonstration chargé et publié en {time.monotonic() - started:.1f} s.")
    return summaries


def _ensure_communes(owner_dsn: str, echo) -> None:
    from portail.db import connect
    with connect(owner_dsn) as conn:
        n = conn.execute("SELECT count(*) FROM core.commune").fetchone()[0]
    if n == 0:
        from etl.communes import load_communes
        s = load_communes(owner_dsn, REFERENCE / "mel_communes.geojson", 2026)
        echo(f"{s.rows_loaded} communes de référence chargées.")


def demo_loaded(owner_dsn: str) -> int | None:
    """The data version if the demo dataset is loaded (every source of its plan), else None."""
    from portail.db import connect
    with connect(owner_dsn) as conn:
        n_rpls, n_sources = conn.execute(
            "SELECT count(*) FILTER (WHERE source = 'rpls'), count(DISTINCT source) "
            "FROM core.load WHERE fictif").fetchone()
        if n_rpls < 3 or n_sources < 14:
            return None
        return conn.execute("SELECT data_version FROM diffusion.data_version").fetchone()[0]
