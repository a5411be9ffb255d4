"""QGIS, with a Basic authentication configuration (authcfg), loads a layer through the gate.

QGIS runs with the system Python only, headless; each credential case runs in
its own process (Qt caches credentials per process), which ends with os._exit.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

SYSTEM_PYTHON = "/usr/bin/python3"

PROBE = r'''
import json, os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
url, login, password, workdir = sys.argv[1:5]
os.environ["QGIS_AUTH_DB_DIR_PATH"] = workdir
from qgis.core import QgsApplication, QgsAuthMethodConfig, QgsVectorLayer
app = QgsApplication([], False, workdir)
app.initQgis()
manager = QgsApplication.authManager()
assert manager.setMasterPassword("master password of the probe", True)
config = QgsAuthMethodConfig()
config.setName("portail-lls")
config.setMethod("Basic")
config.setConfig("username", login)
config.setConfig("password", password)
stored = manager.storeAuthenticationConfig(config)
ok = stored[0] if isinstance(stored, tuple) else stored
config = stored[1] if isinstance(stored, tuple) else config
layer = QgsVectorLayer(f"url='{url}' typename='communes' authcfg={config.id()}",
                       "communes", "OAPIF")
result = {"stored": bool(ok), "authcfg": config.id(), "valid": layer.isValid()}
if layer.isValid():
    features = list(layer.getFeatures())
    result.update(count=len(features), fields=[f.name() for f in layer.fields()],
                  names=sorted(f["nom"] for f in features)[:3])
print("RESULT " + json.dumps(result), flush=True)
os._exit(0)
'''


def run_probe(tmp_path: Path, url: str, login: str, password: str) -> dict:
    script = tmp_path / "probe.py"
    script.write_text(PROBE, encoding="utf-8")
    workdir = tmp_path / f"qgis-{login}"
    workdir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["QT_QPA_PLATFORM"] = "offscreen"
    done = subprocess.run([SYSTEM_PYTHON, str(script), url, login, password, str(workdir)],
                          capture_output=True, text=True, timeout=180, env=env,
                          cwd=str(tmp_path))
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, f"QGIS probe failed ({done.returncode}): {done.stderr[-2000:]}"
    return json.loads(lines[-1][len("RESULT "):])


@pytest.fixture(scope="module")
def qgis_available():
    if not Path(SYSTEM_PYTHON).exists() or subprocess.run(
            [SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True).returncode != 0:
        pytest.fail("QGIS (python3-qgis) is missing: run `make clients`.")


@pytest.fixture
def forget_failures(owner_conn, account):
    """The wrong-password case counts failures from 127.0.0.1: do not leave them to others."""
    yield
    owner_conn.execute("DELETE FROM register.login_throttle WHERE key IN ('127.0.0.1', %s)",
                       [account[0]])


def test_qgis_loads_a_layer_with_an_authcfg_basic_config(qgis_available, live_server, account,
                                                         tmp_path):
    result = run_probe(tmp_path, live_server, *account)
    assert result["stored"] and result["authcfg"]
    assert result["valid"], result
    assert result["count"] == 95
    assert "nom" in result["fields"] and "code_insee" in result["fields"]


def test_qgis_with_a_wrong_password_gets_no_layer(qgis_available, live_server, account, tmp_path,
                                                  forget_failures):
    result = run_probe(tmp_path, live_server, account[0], "not the password at all")
    assert result["stored"]
    assert not result["valid"], result
