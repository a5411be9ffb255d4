# Two commands from a fresh clone: `make demo` (run the portal), `make test` (whole suite).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test install postgis clients stop bench clean assets

demo: install postgis
	$(BIN)/portail-lls demo

test: install postgis clients
	@# The map's npm packages, so that the test comparing the vendored copies with them runs
	@# (optional: the portal itself never needs Node).
	@if command -v npm >/dev/null 2>&1; then (cd web && npm ci --no-audit --no-fund --silent) \
	  || echo "npm ci a échoué : la comparaison avec web/node_modules sera sautée."; fi
	$(BIN)/python -m pytest $(PYTEST_ARGS)

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

# The map page's JS/CSS: npm ci from web/package-lock.json, copied into carte/static/vendor
# (committed, with a manifest of their SHA-256); run after changing web/package.json.
assets: install
	cd web && npm ci --no-audit --no-fund
	$(BIN)/python -m carte.vendor

# PostgreSQL >= 15 + PostGIS >= 3 for the project-managed cluster (skipped with DATABASE_URL).
postgis:
	@scripts/ensure-postgis.sh

# QGIS and GDAL, the real clients the tests drive.
clients:
	@scripts/ensure-clients.sh

stop:
	-$(BIN)/portail-lls server stop
	-$(BIN)/portail-lls db stop

clean: stop
	rm -rf $(VENV) build *.egg-info
