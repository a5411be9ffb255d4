"""Validation of pygeoapi-config.yml against pygeoapi's own JSON Schema."""
from __future__ import annotations

from pathlib import Path

from jsonschema.exceptions import ValidationError
from pygeoapi.config import validate_config
from pygeoapi.util import yaml_load

from portail.errors import UserError


def load_config(path: Path) -> dict:
    with open(path, encoding="utf-8") as fh:
        return yaml_load(fh)  # expands ${VAR:-default}


def validate_config_file(path: Path) -> dict:
    try:
        config = load_config(path)
        validate_config(config)
    except FileNotFoundError:
        raise UserError(f"Configuration introuvable : {path}") from None
    except ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(racine)"
        raise UserError(f"{path} : configuration invalide en {where} : {exc.message}") from None
    return config
