"""Every public layout of every source, loaded through the command line as a user would.

One small file per layout and vintage, built in the producer's exact layout
(tests/source_files.py), loaded with ``portail-lls etl load SOURCE FILE --millesime M``
into a database of its own; the values are then checked in ``core``: financing families
from the FINAN codes of the vintage, the rent sentinel 9999 read as missing, houses
counted, leading zeros put back, rows outside the MEL skipped and counted (report and
ledger), the layout named in the report and the ledger.
"""
from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql

import source_files as sf
from portail.cluster import LocalCluster
from portail.migrate import migrate
from portail.settings import get_settings, load_settings

REFERENCE = Path(__file__).parent.parent / "data" / "reference"


class Database(str):
    """The owner DSN of a test database (what the queries use), with ``url``: the
    ``DATABASE_URL`` the command line is given."""
    url: str


def make_database(settings, name: str) -> Database:
    admin = LocalCluster(settings.cluster_dir).admin_dsn("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = LocalCluster(settings.cluster_dir).admin_dsn(name)
    saved = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    try:
        conf = load_settings()
        migrate(conf, verbose=False)
        db = Database(conf.owner_dsn())
    finally:
        if saved is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = saved
    db.url = url
    return db


def drop_database(settings, name: str) -> None:
    admin = LocalCluster(settings.cluster_dir).admin_dsn("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def db(settings):
    """A migrated database of its own with the MEL's 95 communes (reference file)."""
    name = f"layouts_{os.getpid()}"
    database = make_database(settings, name)
    try:
        result = cli(database, "etl", "load", "communes", str(REFERENCE / "mel_communes.geojson"))
        assert result.exit_code == 0, result.output
        yield database
    finally:
        drop_database(settings, name)


@pytest.fixture
def empty_db(settings):
    """A migrated database without any commune (for the communes' own layouts)."""
    name = f"layouts_empty_{os.getpid()}"
    database = make_database(settings, name)
    try:
        yield database
    finally:
        drop_database(settings, name)


def cli(database: Database, *args):
    """``portail-lls …`` in this process, on ``database``."""
    from portail.cli import main
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(main, list(args), catch_exceptions=False, env={"DATABASE_URL": database.url})
    finally:
        get_settings.cache_clear()


def load(database: Database, source: str, path: Path, millesime: int, *extra) -> str:
    result = cli(database, "etl", "load", source, str(path), "--millesime", str(millesime), *extra)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.output


def refused(database: Database, source: str, path: Path, millesime: int, *extra) -> str:
    result = cli(database, "etl", "load", source, str(path), "--millesime", str(millesime), *extra)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    return result.output


def q(dsn: str, query: str, params=None):
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()


def ledger(dsn: str, source: str, millesime: int):
    return q(dsn, "SELECT disposition, rows_read, rows_loaded, rows_outside, rows_rejected, champs_absents "
                  "FROM core.load WHERE source = %s AND millesime = %s", [source, millesime])[0]


# == RPLS =================================================================================================
def test_rpls_full_plh_file_resaved_by_a_spreadsheet(db, tmp_path):
    out = load(db, "rpls", sf.rpls_complet(tmp_path / "RPLS_2024_MEL.csv"), 2024)
    assert "RPLS, fichier complet transmis aux collectivités (PLH) [rpls-complet]" in out
    rows = dict((r[0], r[1:]) for r in q(db, "SELECT logement_id, financement, finan_code, loyer_principal, "
                                             "type_construction, code_iris FROM core.logement WHERE millesime = 2024"))
    # identifiers of 10 digits and IRIS suffixes of 4: the leading zeros the spreadsheet dropped are back
    assert set(rows) == {"0000123456", "0000123457", "0000123458", "0000123459", "0000123460"}
    assert rows["0000123456"][0:2] == ("PLUS", "12")       # PLA ordinaire
    assert rows["0000123457"][0:2] == ("PLS", "14")        # PLS
    assert rows["0000123458"][0:2] == ("AUTRE", "49")      # other financing after 1977
    assert rows["0000123459"][0:2] == ("PLUS", "50")       # HBM (HLM before 1977)
    assert rows["0000123457"][2] is None and rows["0000123460"][2] is None   # 9999: no rent
    assert float(rows["0000123456"][2]) == 412.5
    assert rows["0000123456"][4] == "593500101"
    assert [r[3] for r in rows.values()].count("I") == 2
    (bailleur, siren), = q(db, "SELECT DISTINCT bailleur, siren_bailleur FROM core.residence WHERE millesime = 2024")
    assert bailleur == "LOGIS MÉTROPOLE TEST" and siren == "012345678"
    assert q(db, "SELECT DISTINCT statut, vacant_plus_3_mois, emmenagement_annee FROM core.logement "
                 "WHERE millesime = 2024") == [("occupe", False, False)]
    (houses,), = q(db, "SELECT sum(nb_individuels) FROM core.parc_par_residence WHERE millesime = 2024")
    assert houses == 2
    assert ledger(db, "rpls", 2024)[:5] == ("rpls-complet", 5, 5, 0, 0)


@pytest.mark.parametrize("with_xy,millesime,key", [(True, 2020, "rpls-regional-xy"), (False, 2017, "rpls-regional")])
def test_rpls_regional_open_data_files(db, tmp_path, with_xy, millesime, key):
    out = load(db, "rpls", sf.rpls_regional(tmp_path / f"RPLS_{millesime}_R32.csv", with_xy), millesime)
    assert f"[{key}]" in out
    assert "4 hors du territoire (ignorées)" in out
    rows = q(db, "SELECT financement, type_construction, dpe_energie, localisation, code_insee FROM core.logement "
                 "WHERE millesime = %s ORDER BY financement, code_insee", [millesime])
    assert [r[0] for r in rows] == ["PLAI", "PLS", "PLUS", "PLUS"]   # FINAN 10, 14, 12 and 52
    assert sum(r[1] == "I" for r in rows) == 1
    assert sum(r[2] is None for r in rows) == 1                     # DPE "-": no diagnosis
    assert {r[3] for r in rows} == ({"xy"} if with_xy else {"commune"})
    (bailleur,), = q(db, "SELECT DISTINCT bailleur FROM core.residence WHERE millesime = %s", [millesime])
    assert bailleur is None
    disposition, read, loaded, outside, rejected, absent = ledger(db, "rpls", millesime)
    assert (disposition, read, loaded, outside, rejected) == (key, 8, 4, 4, 0)
    assert {"bailleur", "loyer"} <= set(absent)
    if not with_xy:
        assert "placé(s) au centre de leur IRIS (0) ou de leur commune (4)" in out


@pytest.mark.parametrize("header,millesime,key", [(sf.RPLS_DIDO_2025, 2025, "rpls-dido-2025"),
                                                  (sf.RPLS_DIDO_2022, 2023, "rpls-dido-2022")])
def test_rpls_dido_exports(db, tmp_path, header, millesime, key):
    path = sf.rpls_dido(tmp_path / f"rpls_{millesime}.csv", header, inside=9, outside=4)
    assert path.read_bytes().startswith(b'"REG_CODE";"REG_LIBELLE"')
    out = load(db, "rpls", path, millesime)
    assert f"[{key}]" in out and "13 lignes lues, 9 chargées, 4 hors du territoire (ignorées), 0 rejetées" in out
    assert "champs absents de ce fichier (non renseignés) : identifiant du logement, bailleur" in out
    fams = dict(q(db, "SELECT finan_code, financement FROM core.logement WHERE millesime = %s", [millesime]))
    assert fams == {"12": "PLUS", "14": "PLS", "49": "AUTRE", "10": "PLAI", "13": "PLUS", "16": "PLI"}
    (houses, qpv_flag, no_rent, lines), = q(db, """
        SELECT count(*) FILTER (WHERE type_construction = 'I'), count(*) FILTER (WHERE en_qpv),
               count(*) FILTER (WHERE loyer_principal IS NULL), array_agg(logement_id ORDER BY logement_id)
        FROM core.logement WHERE millesime = %s""", [millesime])
    assert (houses, qpv_flag, no_rent) == (3, 1, 9)
    assert sorted(lines) == sorted(f"L{n}" for n in range(2, 11))   # no identifier: the line number
    # no occupation in the public file: status, vacancy and new leases « non renseigné », never 0
    assert q(db, "SELECT count(statut), count(vacant_plus_3_mois), count(emmenagement_annee) FROM core.logement "
                 "WHERE millesime = %s", [millesime]) == [(0, 0, 0)]
    # … and so in the counts the published views are built on: vacancy and turnover
    # unknown (NULL), not 0, for the résidences and for the whole MEL
    assert q(db, "SELECT count(*), count(nb_vacants), count(nb_vacants_3_mois), "
                 "count(nb_emmenagements) FROM core.parc_par_residence WHERE millesime = %s",
             [millesime])[0][1:] == (0, 0, 0)
    assert q(db, "SELECT nb_logements, nb_vacants, nb_emmenagements FROM core.parc_par_territoire "
                 "WHERE millesime = %s AND echelle = 'mel'", [millesime]) == [(9, None, None)]
    assert ledger(db, "rpls", millesime)[:5] == (key, 13, 9, 4, 0)


def test_rpls_dido_export_in_its_zip_archive(db, tmp_path):
    csv_path = sf.rpls_dido(tmp_path / "rpls_2022.csv", sf.RPLS_DIDO_2022, inside=3, outside=2)
    out = load(db, "rpls", sf.zipped(tmp_path / "rpls2022logement.zip", csv_path), 2022)
    assert "[rpls-dido-2022]" in out and "membre rpls_2022.csv" in out
    assert q(db, "SELECT count(*) FROM core.logement WHERE millesime = 2022") == [(3,)]


def test_rpls_unknown_finan_code_is_refused_with_the_accepted_codes(db, tmp_path):
    path = tmp_path / "rpls_2021.csv"
    rows = sf.dido_rows(sf.RPLS_DIDO_2025, inside=3, outside=0)
    rows[1][sf.RPLS_DIDO_2025.index("FINAN_CODE")] = "18"
    sf.write_csv(path, sf.RPLS_DIDO_2025, rows, quote_all_text=True, numeric=sf.DIDO_NUMERIC)
    out = refused(db, "rpls", path, 2021)
    assert "ligne 3, champ FINAN_CODE : code '18' inconnu pour FINAN" in out
    assert "codes acceptés : 10, 11, 12, 13, 14, 15, 16, 17, 49, 50, 51, 52, 53, 54, 55, 99" in out
    assert q(db, "SELECT count(*) FROM core.logement WHERE millesime = 2021") == [(0,)]


def test_rpls_unknown_layout_says_what_each_layout_needs(db, tmp_path):
    path = sf.write_csv(tmp_path / "autre.csv", ["COMMUNE", "FINANCEMENT", "PIECES"], [["59350", "13", "3"]])
    out = refused(db, "rpls", path, 2025)
    assert "disposition de fichier rpls non reconnue" in out
    assert "« RPLS, données détaillées au logement, export DiDo (depuis 2025) » (2025 et suivants) : " \
           "colonnes absentes DEPCOM, FINAN_CODE" in out


# == BPE ==================================================================================================
@pytest.mark.parametrize("key,millesime", [("bpe-2024", 2025), ("bpe-2024", 2024), ("bpe-2021", 2021),
                                           ("bpe-ensemble-xy", 2019)])
def test_bpe_layouts_and_one_quality_scale(db, tmp_path, key, millesime):
    out = load(db, "bpe", sf.bpe(tmp_path / f"BPE{millesime % 100}.csv", key, millesime), millesime)
    assert f"[{key}]" in out
    assert "6 lignes lues, 3 chargées, 2 hors du territoire (ignorées), 0 rejetées" in out
    assert "1 équipement(s) du territoire (non géolocalisés) sans coordonnées ignoré(s)" in out
    rows = dict(q(db, "SELECT typequ, qualite_xy FROM core.bpe_equipement WHERE millesime = %s", [millesime]))
    assert rows == {"D201": "Bonne", "C104": "Acceptable", "B203": "Mauvaise"}
    assert ledger(db, "bpe", millesime)[:5] == (key, 6, 3, 2, 0)


def test_bpe_unknown_quality_code_is_refused(db, tmp_path):
    path = sf.bpe(tmp_path / "BPE24.csv", "bpe-2024", 2024)
    path.write_text(path.read_text().replace(";A;", ";Z;", 1))
    out = refused(db, "bpe", path, 2024)
    assert "ligne 3, champ QUALITE_XY : code 'Z' inconnu pour QUALITE_XY (millésime 2024" in out
    assert "codes acceptés : B, A, M, _Z, _U" in out


# == FINESS ================================================================================================
@pytest.mark.parametrize("width,millesime,key", [(31, 2019, "finess-etalab-31"), (32, 2023, "finess-etalab-32")])
def test_finess_etalab_31_and_32_fields(db, tmp_path, width, millesime, key):
    out = load(db, "finess", sf.finess(tmp_path / f"etalab-cs1100507-stock-{millesime}0101-0400.csv", width), millesime)
    assert f"[{key}]" in out and "5 lignes lues, 3 chargées, 2 hors du territoire (ignorées), 0 rejetées" in out
    rows = dict(q(db, "SELECT nofinesset, code_insee FROM core.finess_etablissement WHERE millesime = %s",
                  [millesime]))
    assert rows == {"590000017": "59350", "590000025": "59512", "020000001": "59009"}
    assert ledger(db, "finess", millesime)[:5] == (key, 5, 3, 2, 0)


# == Filosofi ==============================================================================================
@pytest.mark.parametrize("kind,millesime,key", [
    ("gpkg-2019", 2019, "filosofi-2019"), ("csv-2019", 2019, "filosofi-2019"),
    ("gpkg-2017", 2017, "filosofi-2017"), ("csv-2015", 2015, "filosofi-2015"), ("shp-zip-2015", 2015, "filosofi-2015")])
def test_filosofi_layouts_vector_or_csv(db, tmp_path, kind, millesime, key):
    if kind == "gpkg-2019":
        path = sf.filosofi_vector(tmp_path / "carreaux_200m_met.gpkg", sf.FILOSOFI_2019, 2154)
    elif kind == "csv-2019":
        path = sf.filosofi_csv(tmp_path / "carreaux_200m_met.csv", sf.FILOSOFI_2019)
    elif kind == "gpkg-2017":
        path = sf.filosofi_vector(tmp_path / "Filosofi2017_carreaux_200m_met.gpkg", sf.FILOSOFI_2017, 2154)
    elif kind == "csv-2015":
        path = sf.filosofi_csv(tmp_path / "Filosofi2015_carreaux_200m_metropole.csv", sf.FILOSOFI_2015, ";", ",")
    else:
        shp_dir = tmp_path / "shp"
        shp_dir.mkdir()
        sf.filosofi_vector(shp_dir / "Filosofi2015_carreaux_200m_metropole.shp", sf.FILOSOFI_2015, 3035)
        path = tmp_path / "Filosofi2015_carreaux_200m_shp.zip"
        import zipfile
        with zipfile.ZipFile(path, "w") as z:
            for f in shp_dir.iterdir():
                z.write(f, f.name)
    out = load(db, "filosofi", path, millesime, "--force")
    assert f"[{key}]" in out, out
    assert "1 hors du territoire (ignorées)" in out and "4 chargées" in out, out
    rows = q(db, "SELECT idcar_200m, ind, log_soc, ind_0_17, ind_65_plus, round(ST_Area(geom)) FROM "
                 "core.filosofi_carreau WHERE millesime = %s ORDER BY ind", [millesime])
    assert [float(r[1]) for r in rows] == [120.5, 121.5, 122.5, 123.5]
    assert all(r[0].startswith("CRS3035RES200mN") and float(r[3]) == 25 and float(r[4]) == 15 for r in rows)
    assert all(39_000 < r[5] < 41_000 for r in rows)    # a 200 m square, in Lambert-93
    assert ledger(db, "filosofi", millesime)[0] == key


# == Territories ===========================================================================================
def test_iris_contours_3_geopackage_national(db, tmp_path):
    out = load(db, "iris", sf.iris_contours(tmp_path / "CONTOURS-IRIS_3-0.gpkg", 3), 2025)
    assert "[iris-contours-3]" in out and "2 chargées, 1 hors du territoire (ignorées), 0 rejetées" in out
    assert q(db, "SELECT code_iris, typ_iris, insee_com FROM core.iris ORDER BY 1") == [
        ("593500101", "H", "59350"), ("593500102", "H", "59350")]
    assert ledger(db, "iris", 2025)[:5] == ("iris-contours-3", 3, 2, 1, 0)


def test_iris_contours_2_shapefile_in_its_zip(db, tmp_path):
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    shp = sf.iris_contours(shp_dir / "CONTOURS-IRIS.shp", 2)
    out = load(db, "iris", sf.shapefile_zip(tmp_path / "CONTOURS-IRIS_2-1_SHP.zip", shp), 2022)
    assert "[iris-contours-2]" in out and "2 chargées, 1 hors du territoire (ignorées)" in out


def test_iris_table_without_contours_is_refused_with_a_hint(db, tmp_path):
    path = sf.write_csv(tmp_path / "reference_IRIS_geo2024.csv", ["CODE_IRIS", "LIB_IRIS", "TYP_IRIS", "DEPCOM"],
                        [["593500101", "Vauban 1", "H", "59350"]])
    out = refused(db, "iris", path, 2024)
    assert "fichier sans géométrie" in out and "chargez CONTOURS-IRIS de l'IGN" in out


@pytest.mark.parametrize("name,version,key", [("QP2024_France_Hexagonale_Outre_Mer_WGS84.geojson", 2024, "qpv-2024"),
                                              ("QP2024_France_hexagonale_LB93.shp", 2024, "qpv-2024"),
                                              ("QP_METROPOLEOUTREMER_WGS84_EPSG4326.geojson", 2015, "qpv-2015")])
def test_qpv_national_files(db, tmp_path, name, version, key):
    out = load(db, "qpv", sf.qpv(tmp_path / name, version), version, "--force")
    assert f"[{key}]" in out and "1 chargées, 1 hors du territoire (ignorées)" in out
    (code, communes), = q(db, "SELECT code_qpv, communes FROM core.qpv")
    assert code == ("QN05912M" if version == 2024 else "QP059012") and communes == ["59512"]


@pytest.mark.parametrize("kind,key", [("xlsx", "epci-insee-composition"), ("csv", "epci-insee-composition"),
                                      ("epcicom", "epci-dgcl-epcicom")])
def test_epci_insee_sheet_with_title_lines_and_dgcl_list(db, tmp_path, kind, key):
    if kind == "xlsx":
        path = sf.epci_insee_xlsx(tmp_path / "Intercommunalite_Metropole_au_01-01-2024.xlsx")
    elif kind == "csv":
        path = sf.epci_insee_csv(tmp_path / "Intercommunalite_Metropole_au_01-01-2024.csv")
    else:
        path = sf.epcicom(tmp_path / "epcicom2024.csv")
    out = load(db, "epci", path, 2024, "--force")
    assert f"[{key}]" in out and "4 lignes lues, 2 chargées, 2 hors du territoire (ignorées), 0 rejetées" in out
    if kind != "epcicom":
        assert "3 ligne(s) de titre au-dessus de l'en-tête ignorée(s)" in out
    assert q(db, "SELECT code_insee, siren_epci FROM core.epci_membership ORDER BY 1") == [
        ("59009", "200093201"), ("59350", "200093201")]


def test_epci_error_names_the_sheet_row(db, tmp_path):
    path = sf.epci_insee_xlsx(tmp_path / "epci.xlsx")
    import openpyxl
    wb = openpyxl.load_workbook(path)
    wb["Composition_communale"]["C5"] = "MEL"      # row 5: Lille's EPCI (title lines 1-3, header row 4)
    wb.save(path)
    out = refused(db, "epci", path, 2024)
    assert "ligne 5, champ EPCI : SIREN d'EPCI invalide MEL" in out


@pytest.mark.parametrize("version,key", [(3, "admin-express-3"), (4, "admin-express-4")])
def test_communes_admin_express_national(empty_db, tmp_path, version, key):
    path = sf.admin_express(tmp_path / ("ADMIN-EXPRESS-COG_3-2.zip" if version == 3 else "ADMIN-EXPRESS-COG-CARTO_4-0.gpkg"),
                            version)
    result = cli(empty_db, "etl", "load", "communes", str(path), "--millesime", "2025")
    assert result.exit_code == 0, result.output
    assert f"[{key}]" in result.output and "2 commune(s) hors de la MEL ignorée(s)" in result.output
    assert q(empty_db, "SELECT code_insee, nom, code_epci FROM core.commune ORDER BY 1") == [
        ("59009", "Villeneuve-d'Ascq", "200093201"), ("59350", "Lille", "200093201"), ("59512", "Roubaix", "200093201")]
    assert ledger(empty_db, "communes", 2025)[:5] == (key, 5, 3, 2, 0)


def test_geopackage_with_several_layers_and_none_named_as_expected_is_refused(empty_db, tmp_path):
    path = sf.admin_express(tmp_path / "admin.gpkg", 4)
    import geopandas as gpd
    gpd.read_file(path, layer="commune").to_file(tmp_path / "autre.gpkg", layer="communes_2025", driver="GPKG")
    gpd.read_file(path, layer="departement").to_file(tmp_path / "autre.gpkg", layer="departement", driver="GPKG",
                                                     append=True)
    result = cli(empty_db, "etl", "load", "communes", str(tmp_path / "autre.gpkg"))
    assert result.exit_code == 1
    assert "2 couches dans le fichier (communes_2025, departement) ; attendue : commune" in result.output


# == Schools, transport ===================================================================================
def test_schools_national_directory(db, tmp_path):
    out = load(db, "ecoles", sf.ecoles_national(
        tmp_path / "fr-en-adresse-et-geolocalisation-etablissements-premier-et-second-degre.csv"), 2024)
    assert "[ecoles-annuaire-geoloc]" in out and "3 lignes lues, 2 chargées, 1 hors du territoire (ignorées)" in out
    assert q(db, "SELECT uai, code_insee FROM core.etablissement_scolaire WHERE millesime = 2024 ORDER BY 1") == [
        ("0590001A", "59350"), ("0590002B", "59512")]


def test_gtfs_with_belgian_stops(db, tmp_path):
    out = load(db, "gtfs", sf.gtfs_ilevia(tmp_path / "ilevia-gtfs.zip"), 2024)
    assert "[gtfs]" in out and "5 lignes lues, 2 chargées, 2 hors du territoire (ignorées), 0 rejetées" in out
    assert dict(q(db, "SELECT stop_id, mode FROM core.arret_tc WHERE millesime = 2024")) == {"GAR1": "metro",
                                                                                           "RBX1": "bus"}



LINES = """SELECT route_id, direction_id, mode, route_short_name, route_long_name, route_color, nb_arrets,
                  trace, ST_NPoints(geom), round(ST_Length(geom)), ST_SRID(geom)
           FROM core.ligne_tc WHERE millesime = %s ORDER BY 1, 2"""


def test_gtfs_lines_from_the_stop_sequence(db, tmp_path):
    """Without shapes.txt: per route and direction the trip with the most stops, in
    stop_sequence order (M1B's lines are not in order in the file); no bus line."""
    out = load(db, "gtfs", sf.gtfs_lignes(tmp_path / "gtfs", shapes=False), 2021)
    assert "3 ligne(s) de métro ou de tramway" in out
    rows = q(db, LINES, [2021])
    assert [r[:9] for r in rows] == [
        ("M1", 0, "metro", "M1", "Quatre Cantons - CHU", "FFCC00", 4, "arrets", 4),
        ("M1", 1, "metro", "M1", "Quatre Cantons - CHU", "FFCC00", 4, "arrets", 4),
        ("R", 0, "tram", "R", "Lille - Roubaix", None, 3, "arrets", 3)]
    assert all(r[10] == 2154 for r in rows)
    # In order: M0 → M3 spans 1 800 m east (and 300 m north), one way or the other.
    assert 1800 <= rows[0][9] <= 1900 and rows[0][9] == rows[1][9]
    (start,), = q(db, """SELECT round(ST_Distance(ST_StartPoint(l.geom), a.geom)) FROM core.ligne_tc l,
                         core.arret_tc a WHERE l.millesime = 2021 AND a.millesime = 2021
                         AND l.route_id = 'M1' AND l.direction_id = 1 AND a.stop_id = 'M3'""")
    assert start == 0


def test_gtfs_lines_from_shapes(db, tmp_path):
    """With shapes.txt the metro follows its shape (through a point that is no stop); the
    tram, whose trips have no shape, its stops. A new load of the millésime replaces them."""
    load(db, "gtfs", sf.gtfs_lignes(tmp_path / "gtfs", shapes=True), 2022)
    rows = q(db, LINES, [2022])
    assert [(r[0], r[1], r[7], r[8]) for r in rows] == [
        ("M1", 0, "shapes", 3), ("M1", 1, "shapes", 3), ("R", 0, "arrets", 3)]
    assert rows[0][9] > 1900  # the curve is longer than the straight line
    load(db, "gtfs", sf.gtfs_lignes(tmp_path / "gtfs2", shapes=False), 2022)
    assert {r[7] for r in q(db, LINES, [2022])} == {"arrets"}


def test_gtfs_bad_stop_times_line_refuses_the_feed(db, tmp_path):
    before = q(db, "SELECT count(*) FROM core.arret_tc WHERE millesime = 2023")
    out = refused(db, "gtfs", sf.gtfs_lignes(tmp_path / "gtfs", shapes=False, bad_stop_times="deux"), 2023)
    assert "rien n'a été chargé" in out
    assert "stop_times.txt, ligne 5, champ stop_sequence : nombre entier attendu, lu 'deux'" in out
    assert q(db, "SELECT count(*) FROM core.arret_tc WHERE millesime = 2023") == before
    assert q(db, "SELECT count(*) FROM core.ligne_tc WHERE millesime = 2023") == [(0,)]

# == What the files look like as users get them ================================================================
def test_dido_export_with_a_bom_and_crlf_lines(db, tmp_path):
    path = sf.write_csv(tmp_path / "rpls_2016.csv", sf.RPLS_DIDO_2025, sf.dido_rows(sf.RPLS_DIDO_2025, 3, 1),
                        quote_all_text=True, numeric=sf.DIDO_NUMERIC, bom=True, newline="\r\n")
    out = load(db, "rpls", path, 2016)
    assert "[rpls-dido-2025]" in out and "4 lignes lues, 3 chargées, 1 hors du territoire (ignorées)" in out


def test_wrong_coordinates_inside_the_mel_are_still_rejected(db, tmp_path):
    """A dwelling of Lille (a commune of the MEL) with coordinates in Dunkerque: a rejection,
    not a row 'outside the territory'."""
    header = sf.RPLS_DIDO_2025
    rows = sf.dido_rows(header, 3, 1)
    rows[0][header.index("X")], rows[0][header.index("Y")] = 650000, 7100000
    path = sf.write_csv(tmp_path / "rpls_2018.csv", header, rows, quote_all_text=True, numeric=sf.DIDO_NUMERIC)
    out = refused(db, "rpls", path, 2018)
    assert "ligne 2, champ X/Y : point hors du territoire (650000, 7100000 en EPSG:2154)" in out
    out = load(db, "rpls", path, 2018, "--max-rejects", "0.5")
    assert "4 lignes lues, 2 chargées, 1 hors du territoire (ignorées), 1 rejetées" in out


def test_unknown_iris_is_named_in_the_warning(empty_db, tmp_path):
    assert cli(empty_db, "etl", "load", "communes", str(REFERENCE / "mel_communes.geojson")).exit_code == 0
    load(empty_db, "iris", sf.iris_contours(tmp_path / "CONTOURS-IRIS.gpkg", 3), 2025)
    out = load(empty_db, "rpls", sf.rpls_complet(tmp_path / "rpls.csv"), 2024)
    # PLG_IRIS 101 of Lille is 593500101 (loaded); the file gives none for Villeneuve-d'Ascq
    assert "IRIS None" not in out
    rows = q(empty_db, "SELECT DISTINCT code_iris FROM core.logement ORDER BY 1")
    assert ("593500101",) in rows
    path = tmp_path / "rpls_iris_inconnu.csv"
    path.write_bytes(sf.rpls_complet(tmp_path / "r2.csv").read_bytes().replace(b";101;", b";199;", 1))
    out = load(empty_db, "rpls", path, 2023)
    assert "ligne 2, champ PLG_IRIS : IRIS 593500199 inconnu, remplacé par celui de la position" in out


def test_docs_name_every_layout_and_code_list():
    """docs/etl.md names each layout (key and name) and each code list, with its source."""
    from etl import (attributions, bpe, codelists, communes, diagnostic, ecoles, filosofi, finess, gtfs, loyers,
                     occupation, qpv_indicateurs, rpls, territories)
    docs = (Path(__file__).parent.parent / "docs" / "etl.md").read_text(encoding="utf-8")
    layouts = (rpls.LAYOUTS + bpe.LAYOUTS + finess.LAYOUTS + filosofi.LAYOUTS + territories.IRIS_LAYOUTS
               + territories.QPV_LAYOUTS + territories.EPCI_LAYOUTS + communes.LAYOUTS + ecoles.LAYOUTS
               + gtfs.LAYOUTS + occupation.LAYOUTS + loyers.LAYOUTS + attributions.LAYOUTS + diagnostic.LAYOUTS
               + (qpv_indicateurs.LAYOUT,))
    assert len({lay.key for lay in layouts}) == len(layouts)
    for lay in layouts:
        assert f"`{lay.key}` — {lay.name}" in docs, lay.key
        assert lay.reference.split(" : ")[0] in docs, lay.key
    for code_list in codelists.all_lists():
        assert f"`{code_list.key}.yml`" in docs and code_list.source[:60] in docs, code_list.key


def test_code_lists_are_read_per_vintage_with_their_sentinels():
    from etl import codelists, rpls
    from etl import source as src
    finan = codelists.load("rpls_finan").parser(2020)
    assert [finan(c) for c in ("10", "11", "12", "13", "14", "15", "16", "17", "49", "50", "52", "55", "99")] == [
        "PLAI", "PLAI", "PLUS", "PLUS", "PLS", "AUTRE", "PLI", "AUTRE", "AUTRE", "PLUS", "PLUS", "AUTRE", "AUTRE"]
    assert finan(" pla-i ") == "PLAI" and finan("13.0") == "PLUS"
    quality = codelists.load("bpe_qualite_xy")
    assert quality.parser(2021)("Non géolocalisé") == quality.parser(2025)("_Z") == "Non géolocalisé"
    with pytest.raises(ValueError, match="codes acceptés : B, A, M, _Z, _U"):
        quality.parser(2025)("Excellente")
    rent = next(f for f in rpls.fields(2024) if f.name == "loyer").parse
    assert rent("9999") is None and rent("9999,00") is None and float(rent("412,50")) == 412.5
    assert codelists.load("plg_zonage").parser(2025)("HZ") is None
    assert src.padded(10)("123456") == "0000123456" and src.padded(10)("C0001") == "C0001"
    for code_list in codelists.all_lists():
        assert code_list.source and code_list.vintages


def test_a_ragged_line_in_a_quoted_export_is_pinpointed(db, tmp_path):
    """The COPY path refuses the file; the line reader then names the line (no traceback)."""
    path = sf.rpls_dido(tmp_path / "rpls_2019.csv", sf.RPLS_DIDO_2025, inside=4, outside=0)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] += ';"en trop"'
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = refused(db, "rpls", path, 2019)
    assert "ligne 3 : 74 champs au lieu de 73" in out


def test_lines_of_other_communes_are_never_checked(db, tmp_path):
    """A regional file read line by line (a blank line forbids the COPY path): a bad code on a
    line of Dunkerque is not a rejection, the line is outside the territory."""
    path = sf.rpls_regional(tmp_path / "RPLS_2021_R32.csv", True)
    lines = path.read_text(encoding="latin-1").splitlines()
    bad = next(i for i, l in enumerate(lines) if l.split(";")[1] == "59183")
    cells = lines[bad].split(";")
    cells[sf.RPLS_REGIONAL_XY.index("FINAN")] = "18"
    lines[bad] = ";".join(cells)
    path.write_text("\n".join(lines[:3] + [""] + lines[3:]) + "\n", encoding="latin-1")
    out = load(db, "rpls", path, 2021)
    assert "8 lignes lues, 4 chargées, 4 hors du territoire (ignorées), 0 rejetées" in out


def test_a_delivery_loaded_without_publishing_then_published_once(db, tmp_path):
    """`--sans-publier`: the file goes to core, partners keep the previous publication
    until `etl publish` (one secrecy pass for a yearly delivery of many files)."""
    published = "SELECT id, statut_secret, nb_logements FROM diffusion.parc_residence ORDER BY id"
    version = q(db, "SELECT data_version FROM diffusion.data_version")[0][0]
    before = q(db, published)
    path = sf.rpls_dido(tmp_path / "rpls_2024.csv", sf.RPLS_DIDO_2025, inside=5, outside=1)
    out = load(db, "rpls", path, 2024, "--sans-publier")
    assert "non publié" in out and "etl publish" in out
    assert q(db, "SELECT count(*) FROM core.logement WHERE millesime = 2024") == [(5,)]
    assert q(db, "SELECT data_version FROM diffusion.data_version")[0][0] == version
    assert q(db, published) == before
    result = cli(db, "etl", "publish")
    assert result.exit_code == 0, result.output
    assert q(db, "SELECT data_version FROM diffusion.data_version")[0][0] > version
    assert q(db, published) != before
    assert (q(db, "SELECT count(*) FROM diffusion.parc_residence WHERE millesime = 2024")
            == q(db, "SELECT count(*) FROM core.residence WHERE millesime = 2024"))
