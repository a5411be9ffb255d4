"""The readers: the SQL twin of every parser accepts and converts exactly like the Python one,
the COPY fast path and the line-by-line reader load the same rows, encodings and delimiters."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from psycopg import sql

from etl import source as src
from etl.rawcopy import field_sql
from etl.rpls import SPEC, load_rpls

CORPUS = Path(__file__).parent / "corpus"
REFERENCE = Path(__file__).parent.parent / "data" / "reference"

TWINNED = [f for f in SPEC.fields]
values = st.one_of(
    st.sampled_from(["1", "0", "2", "13", "50", "PLAI", "pls", " 3 ", "3.0", "-2", "1e3", "12,5", "1 250,75",
                     "abc", "", " ", "A", "g", "H", "NC", "-", "1972", "1799", "2101", "01/2019", "2019-05",
                     "59350", "5935", "2A004", "59X50", "oui", "Non", "vrai", "C", "i", "E", "7", ".5", "5.",
                     "+4", "0012", "9999", "9999,00", "9999.0", "HZ", "csz", "EPSG:2154", "2975", "individuel",
                     "Étudiant", "PLA-I", "13.0", "HLM/O", "123456", "12345678901", "101", "593500101", "9"]),
    st.text(alphabet="0123456789,.- AaBbCcGgHhNnOoIiEe/", max_size=8))


@pytest.fixture(scope="module")
def conn(settings):
    with psycopg.connect(settings.owner_dsn(), autocommit=True) as c:
        yield c


def _python(f, raw):
    v = raw.strip()
    if not v:
        return "empty", None
    try:
        return "ok", f.parse(raw)
    except ValueError:
        return "bad", None


def _sql(conn, f, raw):
    bad, value, _ = field_sql(f, "c")
    q = sql.SQL("SELECT nullif(btrim(r.c), '') IS NULL, {bad}, CASE WHEN NOT {bad} THEN ({value})::text END "
                "FROM (SELECT %s::text AS c) r").format(bad=bad, value=value)
    empty, is_bad, text_value = conn.execute(q, [raw]).fetchone()
    if empty:
        return "empty", None
    return ("bad" if is_bad else "ok"), text_value


def _same(py, txt, f):
    if py is None:
        return txt is None
    if isinstance(py, bool):
        return txt in ("true", "false") and (txt == "true") == py
    if isinstance(py, (Decimal, float, int)) and not isinstance(py, bool):
        return txt is not None and abs(float(txt) - float(py)) < 1e-9
    return str(py) == txt


@pytest.mark.parametrize("f", TWINNED, ids=[f.name for f in TWINNED])
@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=values)
def test_sql_twin_agrees_with_python_parser(conn, f, raw):
    py_state, py_value = _python(f, raw)
    sql_state, sql_value = _sql(conn, f, raw)
    assert py_state == sql_state, (f.name, raw)
    if py_state == "ok":
        assert _same(py_value, sql_value, f), (f.name, raw, py_value, sql_value)


@pytest.fixture
def territory(fresh_database):
    from etl.communes import load_communes
    load_communes(fresh_database.owner_dsn(), REFERENCE / "mel_communes.geojson", 2026)
    return fresh_database.owner_dsn()


def test_fast_path_and_line_reader_load_the_same_rows(territory, tmp_path):
    from etl.rpls import read_rpls
    fast = CORPUS / "rpls_valide.csv"
    assert read_rpls(fast, None)["fast"]
    # Quoted strings (the DiDo exports) stay on the COPY path; a blank line forces the line reader;
    # a quoted field over two lines is found after the COPY, which then gives way to the line reader.
    quoted = tmp_path / "rpls_guillemets.csv"
    quoted.write_text(fast.read_text().replace("DES ÉCOLES", '"DES ÉCOLES"'))
    assert read_rpls(quoted, None)["fast"]
    blank = tmp_path / "rpls_ligne_vide.csv"
    lines = fast.read_text().splitlines()
    blank.write_text("\n".join(lines[:2] + [""] + lines[2:]) + "\n")
    assert not read_rpls(blank, None)["fast"]
    multiline = tmp_path / "rpls_champ_sur_deux_lignes.csv"
    multiline.write_text("\n".join([lines[0] + ";COMMENTAIRE"] + [l + ';"une note\nsur deux lignes"'
                                                                    for l in lines[1:]]) + "\n")
    snapshot = ("SELECT logement_id, residence_id, code_insee, code_iris, nb_pieces, surface_hab, "
                "annee_construction, financement, conventionne, loyer_principal, dpe_energie, statut "
                "FROM core.logement WHERE millesime = %s ORDER BY 1")
    load_rpls(territory, fast, 2022)
    load_rpls(territory, quoted, 2023)
    load_rpls(territory, blank, 2024)
    load_rpls(territory, multiline, 2025)
    with psycopg.connect(territory) as c:
        reference = c.execute(snapshot, [2022]).fetchall()
        assert len(reference) == 3
        for m in (2023, 2024, 2025):
            assert c.execute(snapshot, [m]).fetchall() == reference, m


def test_delimiter_detected_when_the_format_allows_any(tmp_path):
    spec = src.CsvSpec("t", (src.Field("code_insee", ("code_insee",), src.code_insee),
                             src.Field("nom", ("nom",))), delimiter=None)
    for d in (",", ";", "\t"):
        f = tmp_path / "f.csv"
        f.write_text(f"code_insee{d}nom\n59350{d}Lille\n")
        assert src.read_csv(f, spec).rows == [(2, "59350", "Lille")]
