"""pygeoapi configuration and the OpenAPI document generated from it."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from portail.errors import UserError
from portail.pygeoapi_config import validate_config_file
from portail.settings import REPO_ROOT


def test_config_is_valid_for_pygeoapi():
    config = validate_config_file(REPO_ROOT / "pygeoapi-config.yml")
    assert "communes" in config["resources"]


def test_pygeoapi_own_validator_accepts_it():
    result = subprocess.run([str(Path(sys.executable).parent / "pygeoapi"), "config", "validate", "-c",
                             str(REPO_ROOT / "pygeoapi-config.yml")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Valid configuration" in result.stdout


def test_config_holds_no_secret():
    text = (REPO_ROOT / "pygeoapi-config.yml").read_text()
    assert "password" not in text.lower() and "postgresql://" not in text


def test_invalid_config_is_reported_with_its_place(tmp_path):
    config = yaml.safe_load((REPO_ROOT / "pygeoapi-config.yml").read_text())
    del config["server"]["url"]
    bad = tmp_path / "bad.yml"
    bad.write_text(yaml.safe_dump(config))
    with pytest.raises(UserError, match="server"):
        validate_config_file(bad)


def test_openapi_document_is_generated_at_start(live_server, settings):
    document = yaml.safe_load(settings.openapi_path.read_text())
    assert "/collections/communes/items" in document["paths"]
    assert document["servers"][0]["url"] == settings.public_url
