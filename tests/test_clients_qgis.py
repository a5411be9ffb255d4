"""QGIS (python3-qgis, headless) loads every collection as an OAPIF layer with basic auth.

QGIS runs with the system Python only, in its own process per credential case
(Qt caches credentials within a process), against the live gunicorn server.
"""
from __future__ import annotations

import json
import os
import subprocess
import textwrap

import pytest

from data_dictionary.model import dictionary

QGIS_PYTHON = "/usr/bin/python3"

SCRIPT = textwrap.dedent("""
    import json, os, sys
    from qgis.core import (QgsApplication, QgsAuthMethodConfig, QgsFeatureRequest,
                           QgsRectangle, QgsVectorLayer)
    url, name, login, password, mode, bbox = sys.argv[1:7]
    app = QgsApplication([], False)
    app.initQgis()
    if mode == "authcfg":
        manager = QgsApplication.authManager()
        manager.setMasterPassword("test-master-password", True)
        config = QgsAuthMethodConfig("Basic")
        config.setName("portail")
        config.setConfig("username", login)
        config.setConfig("password", password)
        manager.storeAuthenticationConfig(config)
        uri = f"url='{url}' typename='{name}' authcfg={config.id()}"
    elif mode == "uri":
        uri = f"url='{url}' typename='{name}' username='{login}' password='{password}'"
    else:
        uri = f"url='{url}' typename='{name}'"
    layer = QgsVectorLayer(uri, name, "OAPIF")
    out = {"valid": layer.isValid()}
    if layer.isValid():
        out["count"] = layer.featureCount()
        out["fields"] = [f.name() for f in layer.fields()]
        key = next((k for k in ("id", "code_insee") if k in out["fields"]), None)
        out["ids"] = sorted(str(f[key]) if key else str(f.id()) for f in layer.getFeatures())
        x1, y1, x2, y2 = map(float, bbox.split(","))
        request = QgsFeatureRequest().setFilterRect(QgsRectangle(x1, y1, x2, y2))
        out["bbox_count"] = sum(1 for _ in layer.getFeatures(request))
    print("RESULT" + json.dumps(out), flush=True)
    os._exit(0)
""")


def run_qgis(tmp_path, url, name, login, password, mode, bbox):
    script = tmp_path / "qgis_client.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path),
           "QGIS_AUTH_DB_DIR_PATH": str(tmp_path)}
    env.pop("PYTHONPATH", None)
    done = subprocess.run([QGIS_PYTHON, str(script), url, name, login, password, mode, bbox],
                          capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path)
    line = next((l for l in done.stdout.splitlines() if l.startswith("RESULT")), None)
    assert line, (done.returncode, done.stdout[-1000:], done.stderr[-2000:])
    return json.loads(line[len("RESULT"):])


BBOX = (3.0, 50.6, 3.1, 50.65)


@pytest.mark.parametrize("mode", ["uri", "authcfg"])
@pytest.mark.parametrize("name", sorted(dictionary().layers))
def test_qgis_loads_each_collection(tmp_path, http, live_server, account, mode, name):
    expected = http.get(f"{live_server}/collections/{name}/items",
                        params={"f": "json", "resulttype": "hits"}).json()["numberMatched"]
    in_bbox = http.get(f"{live_server}/collections/{name}/items",
                       params={"f": "json", "limit": 1000,
                               "bbox": ",".join(map(str, BBOX))}).json()["numberMatched"]
    result = run_qgis(tmp_path, live_server, name, *account, mode, ",".join(map(str, BBOX)))
    assert result["valid"], result
    assert result["count"] == expected
    layer = dictionary().layers[name]
    assert set(layer.fields) <= set(result["fields"])
    assert len(result["ids"]) == expected and len(set(result["ids"])) == expected
    assert expected > 0, "every collection has rows in the test data"
    assert result["bbox_count"] == in_bbox and in_bbox <= expected
    if name == "communes":
        assert 0 < in_bbox < expected


def test_qgis_without_credentials_gets_no_layer(tmp_path, live_server):
    result = run_qgis(tmp_path, live_server, "communes", "", "", "none", "0,0,1,1")
    assert not result["valid"] or result.get("count", 0) <= 0
