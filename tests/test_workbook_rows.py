"""The XLSX data rows written by ``processes.workbook`` read back exactly (no database)."""
from __future__ import annotations

from datetime import date

import openpyxl
from hypothesis import given, settings, strategies as st
from psycopg import sql

from data_dictionary.model import dictionary
from processes.request import ExportRequest, Territory
from processes.selection import LayerSelection
from processes.workbook import HEADER_ROW, write_xlsx

LAYER = dictionary().layers["communes"]
COLUMNS = ("code_insee", "nom", "population_municipale", "millesime_cog")


def roundtrip(tmp_path, rows):
    sel = LayerSelection(LAYER, COLUMNS, sql.SQL("TRUE"), (), (2026,), len(rows))
    request = ExportRequest((LAYER,), Territory("mel"), (), "xlsx")
    path = tmp_path / "t.xlsx"
    write_xlsx(path, request, [sel], lambda s: iter(rows), date(2026, 1, 2))
    ws = openpyxl.load_workbook(path)["communes"]
    return [[c.value for c in r] for r in ws.iter_rows(min_row=HEADER_ROW + 2)], ws


def test_tricky_strings_and_numbers(tmp_path):
    rows = [("59350", "  Lille & <Roubaix> \"x\" ", 236_234, 2026),
            ("59512", None, None, 2026),
            ("59599", "Tourcoing\u00a0é", 0, 2026)]
    got, ws = roundtrip(tmp_path, rows)
    assert got == [list(r) for r in rows]
    assert ws.auto_filter.ref == f"A{HEADER_ROW + 1}:D{HEADER_ROW + 1 + len(rows)}"
    assert ws["C5"].number_format == "#,##0"


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=20),
    st.one_of(st.none(), st.integers(-10**12, 10**12))), max_size=15))
def test_any_text_and_integer_reads_back(tmp_path_factory, values):
    rows = [("59350", text, number, 2026) for text, number in values]
    got, _ = roundtrip(tmp_path_factory.mktemp("w"), rows)
    expected = [["59350", text or None, number, 2026] for text, number in values]
    assert got == expected
