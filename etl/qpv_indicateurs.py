"""QPV framing indicators (INSEE, CAF, CNAM, State): one semicolon CSV per producer.

Wide format as published: ``CODGEO`` (QPV code), ``LIBGEO``, then one column per
indicator. A column named ``X_NUM``/``X_DEN`` is stored as the numerator /
denominator of indicator ``X``. Stored long, per millésime.
"""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from psycopg import sql

from etl import source as src
from etl.errors import Rejection, SourceFileError
from etl.layouts import Layout
from etl.tabular import load_table, unknown_code

SPEC = src.CsvSpec(source="qpv_indicateurs", key=("code_qpv", "indicateur"), fields=(
    src.Field("code_qpv", ("CODGEO",)), src.Field("indicateur", ("INDICATEUR",)),
    src.Field("valeur", ("VALEUR",), src.decimal, "numeric", nullable=True),
    src.Field("numerateur", ("NUMERATEUR",), src.decimal, "numeric", nullable=True),
    src.Field("denominateur", ("DENOMINATEUR",), src.decimal, "numeric", nullable=True)))


LAYOUT = Layout("qpv-indicateurs-large", "Indicateurs de cadrage des QPV, une colonne par indicateur",
                "Fichiers des producteurs (INSEE, CAF, CNAM, État) au format large : CODGEO (code du QPV), LIBGEO, "
                "puis une colonne par indicateur, X_NUM / X_DEN pour numérateur et dénominateur (docs/etl.md).",
                signature=("CODGEO",), columns={"code_qpv": ("CODGEO",)}, area="territoire",
                millesimes="format des producteurs")


def load_qpv_indicateurs(owner_dsn: str, path: Path, millesime: int, encoding=None, producteur="INSEE", **kw):
    from etl.files import open_tabular
    path = Path(path)
    table = open_tabular(path, encoding, lambda h: h.strip().upper() in ("CODGEO", "LIBGEO"))
    data = table.data
    rdr = csv.reader(io.StringIO(data), delimiter=";")
    header = [h.strip() for h in next(rdr)]
    if "CODGEO" not in header:
        other = "," if "CODGEO" in data.split("\n", 1)[0].split(",") else None
        raise SourceFileError(path, [Rejection("ligne 1 (en-tête)", "CODGEO",
                                               "séparateur virgule au lieu de point-virgule" if other
                                               else "colonne absente")])
    ind_cols = [h for h in header if h not in ("CODGEO", "LIBGEO")]
    names = sorted({re.sub(r"_(NUM|DEN)$", "", h) for h in ind_cols})
    out = ["CODGEO;INDICATEUR;VALEUR;NUMERATEUR;DENOMINATEUR"]
    lines = [0]
    for cells in rdr:
        if not cells:
            continue
        rec = dict(zip(header, cells))
        for n in names:
            out.append(";".join((rec.get("CODGEO", ""), n, rec.get(n, ""), rec.get(n + "_NUM", ""),
                                 rec.get(n + "_DEN", ""))))
            lines.append(rdr.line_num + table.line_offset)
    result = src.read_csv(path, SPEC, text_data="\n".join(out))
    result.rows = [(lines[r[0] - 1],) + r[1:] for r in result.rows]  # back to the file's lines
    result.rejections = [Rejection(f"ligne {lines[int(x.location.split()[-1]) - 1]}", x.field, x.reason)
                         if x.location.startswith("ligne") else x for x in result.rejections]
    result.rows_read = max(len(lines) - 1, 1)
    insert = sql.SQL("INSERT INTO core.qpv_indicateur SELECT %s, code_qpv, indicateur, valeur, numerateur,"
                     " denominateur, {} FROM qpv_indicateurs_stage").format(sql.Literal(producteur))
    result.layout = LAYOUT
    result.notes += [f"lu : {table.origin}"] if table.origin else []
    return load_table(owner_dsn, SPEC, path, millesime, "core.qpv_indicateur", insert, result=result,
                      checks=lambda conn, res: unknown_code(conn, "qpv_indicateurs_stage", "code_qpv", "CODGEO",
                                                            "core.qpv", "code_qpv"), **kw)
