"""The QGIS screenshots of the training page (/aide/#qgis), taken from the real QGIS, headless
(system Python, offscreen): the OGC API - Features connection to the portal with its Basic
authentication configuration, then a layer of the portal loaded through it and drawn.
Saved in carte/static/aide/ with PORTAIL_CAPTURES=1 (the demo data: fictitious figures, and
no password shown); a plain run takes them in a temporary folder."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from carte.accueil import SCREENSHOTS_DIR

SYSTEM_PYTHON = "/usr/bin/python3"

SHOTS = r'''
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
url, login, password, workdir, out = sys.argv[1:6]
os.environ["QGIS_AUTH_DB_DIR_PATH"] = workdir
from qgis.core import (QgsApplication, QgsAuthMethodConfig, QgsMapRendererParallelJob,
                       QgsMapSettings, QgsVectorLayer)
from qgis.gui import QgsAuthSettingsWidget, QgsNewHttpConnection
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor
from qgis.PyQt.QtWidgets import QComboBox, QLineEdit
app = QgsApplication([], True, workdir)
app.initQgis()
manager = QgsApplication.authManager()
assert manager.setMasterPassword("master password of the screenshots", True)
config = QgsAuthMethodConfig()
config.setName("Portail LLS")
config.setMethod("Basic")
config.setConfig("username", login)
config.setConfig("password", password)
stored = manager.storeAuthenticationConfig(config)
config = stored[1] if isinstance(stored, tuple) else config

dialog = QgsNewHttpConnection(None, QgsNewHttpConnection.ConnectionWfs, "wfs", "",
                              QgsNewHttpConnection.FlagShowHttpSettings)
edits = {e.objectName(): e for e in dialog.findChildren(QLineEdit)}
edits["txtName"].setText("Portail LLS MEL")
edits["txtUrl"].setText(url)
combos = {c.objectName(): c for c in dialog.findChildren(QComboBox)}
version = combos["cmbVersion"]
version.setCurrentIndex(version.findText("OGC API - Features"))
for widget in dialog.findChildren(QgsAuthSettingsWidget):
    widget.setConfigId(config.id())
select = combos["cmbConfigSelect"]
select.setCurrentIndex(next(i for i in range(select.count())
                            if select.itemText(i).startswith("Portail LLS")))
assert select.currentText().startswith("Portail LLS"), select.currentText()
dialog.resize(720, 640)
dialog.show()
app.processEvents()
assert dialog.grab().save(os.path.join(out, "qgis-connexion.png"))

layer = QgsVectorLayer(f"url='{url}' typename='parc_communes' authcfg={config.id()}",
                       "parc_communes", "OAPIF")
assert layer.isValid(), "layer not loaded"
settings = QgsMapSettings()
settings.setLayers([layer])
settings.setBackgroundColor(QColor("white"))
settings.setOutputSize(QSize(720, 520))
settings.setExtent(layer.extent())
job = QgsMapRendererParallelJob(settings)
job.start()
job.waitForFinished()
assert job.renderedImage().save(os.path.join(out, "qgis-couche.png"))
print("SHOTS OK", flush=True)
os._exit(0)
'''


@pytest.mark.skipif(not Path(SYSTEM_PYTHON).exists(), reason="no system Python for QGIS")
def test_qgis_screenshots(live_server, account, tmp_path):
    script = tmp_path / "shots.py"
    script.write_text(SHOTS, encoding="utf-8")
    workdir = tmp_path / "qgis"
    workdir.mkdir()
    # PORTAIL_CAPTURES=1 refreshes the training page's pictures; else a temporary folder.
    out = SCREENSHOTS_DIR if os.environ.get("PORTAIL_CAPTURES") == "1" else tmp_path / "captures"
    out.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["QT_QPA_PLATFORM"] = "offscreen"
    done = subprocess.run([SYSTEM_PYTHON, str(script), live_server, account[0], account[1],
                           str(workdir), str(out)], capture_output=True,
                          text=True, timeout=300, env=env, cwd=str(tmp_path))
    if "No module named 'qgis'" in done.stderr:
        pytest.skip("QGIS absent (make clients)")
    assert "SHOTS OK" in done.stdout, done.stderr[-2000:]
    for name in ("qgis-connexion.png", "qgis-couche.png"):
        assert (out / name).stat().st_size > 1000
