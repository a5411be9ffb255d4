"""Attributions: cells per year; breakdowns sum to the total; unknown codes rejected."""
from __future__ import annotations

import psycopg
import pytest

from etl.errors import SourceFileError
from etl_fixtures import *  # noqa: F401,F403
from etl_fixtures import core_checksum


def test_cells_are_unique_and_qpv_cells_inside_their_commune(demo_small):
    with psycopg.connect(demo_small["dsn"]) as conn:
        bad = conn.execute("""SELECT count(*) FROM core.attribution a JOIN core.qpv q USING (code_qpv)
                              WHERE NOT a.code_insee = ANY (q.communes)""").fetchone()[0]
        inside = conn.execute("SELECT sum(nb_attributions) FILTER (WHERE code_qpv IS NOT NULL)::float "
                              "/ sum(nb_attributions) FROM core.attribution").fetchone()[0]
    assert bad == 0 and 0.05 < inside < 0.8


@pytest.mark.parametrize("column,value,reason", [
    ("NB_Q1", "+1", "≠ NB_ATTRIBUTIONS"),
    ("IRIS", "593509999", "inconnu"),
    ("ANNEE", "2030", "postérieure au millésime"),
])
def test_bad_cell_rejected_with_line_and_field(demo_small, tmp_path, column, value, reason):
    dsn = demo_small["dsn"]
    lines = next(demo_small["dir"].glob("sne_attributions_2025.csv")).read_text().splitlines()
    header = lines[0].split(";")
    cells = lines[5].split(";")
    i = header.index(column)
    cells[i] = str(int(cells[i]) + 1) if value == "+1" else value
    lines[5] = ";".join(cells)
    f = tmp_path / "sne.csv"
    f.write_text("\n".join(lines) + "\n")
    before = core_checksum(dsn)
    from etl.attributions import load_attributions
    with pytest.raises(SourceFileError) as err:
        load_attributions(dsn, f, 2025)
    problem = err.value.problems[0]
    assert problem.location == "ligne 6" and reason in problem.reason
    assert core_checksum(dsn) == before
