"""The shape of the code: layers (import-linter), one seam with pygeoapi, one composition root.

Unit tests: no database, no server.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("portail", "diffusion", "providers", "auth", "etl", "data_dictionary",
            "processes", "carte")
# pygeoapi's internals (request handlers, app module, OpenAPI generator, l10n,
# formatters): only the seam may import them. Its plugin base classes and errors
# (pygeoapi.provider.base, pygeoapi.process.*, pygeoapi.plugin, pygeoapi.util,
# pygeoapi.config) are its public extension points.
INTERNALS = ("pygeoapi.api", "pygeoapi.flask_app", "pygeoapi.openapi", "pygeoapi.l10n",
             "pygeoapi.formatter", "pygeoapi.linked_data", "pygeoapi.starlette_app",
             "pygeoapi.django_app")
SEAM = REPO / "portail" / "pygeoapi_seam.py"


def _modules():
    for package in PACKAGES:
        yield from sorted((REPO / package).rglob("*.py"))


def _imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def test_layers_hold():
    """pyproject.toml's contracts: nothing low imports anything above it (no cycles)."""
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint), "--config", "pyproject.toml", "--no-cache"],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_only_the_seam_touches_pygeoapi_internals():
    offenders = [f"{path.relative_to(REPO)} imports {name}"
                 for path in _modules() if path != SEAM
                 for name in _imports(path) if name.startswith(INTERNALS)]
    assert offenders == []


def test_no_request_rewriting_or_module_peeking_outside_the_seam():
    """What providers/web.py used to do (rewrite request.args and the request body,
    read pygeoapi's module state): nowhere now, and not in the seam either."""
    patterns = ("request.args =", "_cached_data", 'sys.modules.get("pygeoapi',
                "sys.modules['pygeoapi", "flask_httpauth_user")
    found = [f"{path.relative_to(REPO)}: {p}" for path in _modules()
             for p in patterns if p in path.read_text(encoding="utf-8")]
    assert found == []


def test_one_composition_root():
    """Only portail.app builds the Flask app and registers blueprints; gunicorn runs it."""
    builders = [path.relative_to(REPO) for path in _modules()
                if "Flask(" in path.read_text(encoding="utf-8")]
    assert [str(p) for p in builders] == ["portail/app.py"]
    server = (REPO / "portail" / "server.py").read_text(encoding="utf-8")
    assert '"portail.app:create_app()"' in server
    registering = sorted(str(path.relative_to(REPO)) for path in _modules()
                         if "register_blueprint(" in path.read_text(encoding="utf-8"))
    # each part registers its own blueprint from its register(); the seam registers pygeoapi's
    assert registering == ["auth/admin.py", "auth/web.py", "carte/accueil.py", "carte/web.py",
                           "data_dictionary/web.py", "portail/pygeoapi_seam.py",
                           "processes/web.py"]
