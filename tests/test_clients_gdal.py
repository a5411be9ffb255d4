"""GDAL: ogr2ogr exports every collection to a GeoPackage with GDAL_HTTP_USERPWD."""
from __future__ import annotations

import os
import subprocess

import pyogrio
import pytest

from data_dictionary.model import dictionary


@pytest.mark.parametrize("name", sorted(dictionary().layers))
def test_ogr2ogr_exports_to_geopackage(tmp_path, http, live_server, account, name):
    expected = http.get(f"{live_server}/collections/{name}/items",
                        params={"f": "json", "resulttype": "hits"}).json()["numberMatched"]
    target = tmp_path / f"{name}.gpkg"
    env = {**os.environ, "GDAL_HTTP_USERPWD": f"{account[0]}:{account[1]}"}
    done = subprocess.run(["ogr2ogr", "-f", "GPKG", str(target),
                           f"OAPIF:{live_server}/collections/{name}", "-nln", name],
                          capture_output=True, text=True, timeout=180, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    frame = pyogrio.read_dataframe(target, layer=name)
    assert len(frame) == expected
    assert set(dictionary().layers[name].fields) <= set(frame.columns)
    assert frame.geometry.notna().all()


def test_ogrinfo_without_credentials_fails(live_server):
    env = {k: v for k, v in os.environ.items() if k != "GDAL_HTTP_USERPWD"}
    done = subprocess.run(["ogrinfo", "-so", f"OAPIF:{live_server}/collections/communes"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode != 0
