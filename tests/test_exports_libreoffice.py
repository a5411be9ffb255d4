"""A real spreadsheet program opens our files: LibreOffice headless converts an export
and a fiche (XLSX) to PDF, and the PDF text carries the source mention."""
from __future__ import annotations

import shutil
import subprocess

import pytest

SOFFICE = shutil.which("soffice")
pytestmark = pytest.mark.skipif(SOFFICE is None or shutil.which("pdftotext") is None,
                                reason="LibreOffice/poppler absent: run scripts/ensure-clients.sh")


def test_libreoffice_converts_an_export_and_a_fiche(http, live_server, tmp_path):
    export = http.post(f"{live_server}/processes/export/execution",
                       json={"inputs": {"layers": ["parc_communes", "communes"],
                                        "territory": {"communes": ["59350", "59512"]}}})
    assert export.status_code == 200, export.text
    fiche = http.get(f"{live_server}/fiche/commune/59350", params={"f": "xlsx"})
    assert fiche.status_code == 200, fiche.text
    (tmp_path / "export.xlsx").write_bytes(export.content)
    (tmp_path / "fiche.xlsx").write_bytes(fiche.content)
    profile = tmp_path / "lo-profile"
    done = subprocess.run(
        [SOFFICE, f"-env:UserInstallation=file://{profile}", "--headless", "--norestore",
         "--convert-to", "pdf", "--outdir", str(tmp_path / "pdf"),
         str(tmp_path / "export.xlsx"), str(tmp_path / "fiche.xlsx")],
        capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    for name, expected in (("export", "Code INSEE"), ("fiche", "Logements sociaux")):
        pdf = tmp_path / "pdf" / f"{name}.pdf"
        assert pdf.exists() and pdf.stat().st_size > 1000, (name, done.stdout, done.stderr)
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                              text=True, check=True).stdout
        flat = " ".join(text.split())
        assert "Source : Portail cartographique des logements locatifs" in flat, name
        assert expected in flat, name
