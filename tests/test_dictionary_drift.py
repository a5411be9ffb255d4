"""Dictionary <-> pygeoapi-config.yml <-> database views: any drift fails here."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from data_dictionary.model import FIELD_TYPES, dictionary, load_dictionary
from data_dictionary.pygeoapi import generate_config, render_config
from portail.errors import UserError
from portail.settings import REPO_ROOT


def test_committed_config_is_the_generated_one():
    committed = (REPO_ROOT / "pygeoapi-config.yml").read_text(encoding="utf-8")
    assert committed == render_config(), \
        "pygeoapi-config.yml differs from the dictionary: run `portail-lls config generate`"


def test_config_generate_check_verb(tmp_path):
    cli = str(Path(sys.executable).parent / "portail-lls")
    ok = subprocess.run([cli, "config", "generate", "--check"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    stale = tmp_path / "config.yml"
    stale.write_text(render_config().replace("Communes de la MEL", "Communes"), encoding="utf-8")
    bad = subprocess.run([cli, "config", "generate", "--check", "--output", str(stale)],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "n'est plus à jour" in bad.stderr
    fixed = subprocess.run([cli, "config", "generate", "--output", str(stale)],
                           capture_output=True, text=True)
    assert fixed.returncode == 0, fixed.stderr
    assert stale.read_text(encoding="utf-8") == render_config()


def test_every_collection_comes_from_a_layer():
    config = generate_config()
    collections = {name: r for name, r in config["resources"].items()
                   if r["type"] == "collection"}
    assert set(collections) == set(dictionary().layers)
    for name, resource in collections.items():
        layer = dictionary().layers[name]
        provider = resource["providers"][0]
        assert provider["data"]["view"] == layer.view
        assert provider["id_field"] == layer.id_field
        assert "Source : Portail cartographique" in resource["description"]["fr"]


def _view_columns(conn, view):
    return {name: (typ, srid) for name, typ, srid in conn.execute(
        """SELECT a.attname, format_type(a.atttypid, a.atttypmod),
                  coalesce(postgis_typmod_srid(a.atttypmod), 0)
           FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'diffusion' AND c.relname = %s AND a.attnum > 0
             AND NOT a.attisdropped""", [view]).fetchall()}


def test_dictionary_matches_the_published_views(owner_conn):
    for layer in dictionary().layers.values():
        columns = _view_columns(owner_conn, layer.view)
        assert columns, f"la vue diffusion.{layer.view} de la couche {layer.name} n'existe pas"
        geometry = {n for n, (t, _) in columns.items() if t.startswith("geometry")}
        attributes = {n: t.split("(")[0] for n, (t, _) in columns.items() if n not in geometry}
        assert set(attributes) == set(layer.fields), (
            f"{layer.name}: champs de la vue sans entrée au dictionnaire "
            f"{set(attributes) - set(layer.fields)}, entrées sans colonne "
            f"{set(layer.fields) - set(attributes)}")
        for name, f in layer.fields.items():
            assert attributes[name] in FIELD_TYPES[f.type], (layer.name, name, attributes[name])
        assert "geom" in geometry and columns["geom"][1] == 2154
        assert layer.geometry.lower() in columns["geom"][0].lower()


def test_every_published_view_is_in_the_dictionary(owner_conn):
    published = {r[0] for r in owner_conn.execute(
        "SELECT matviewname FROM pg_matviews WHERE schemaname = 'diffusion' "
        "UNION SELECT viewname FROM pg_views WHERE schemaname = 'diffusion'").fetchall()}
    # Not layers: the publication's version, and the load ledger's summary for the home
    # page (carte/accueil.py).
    published -= {"data_version", "millesimes_charges"}
    declared = {layer.view for layer in dictionary().layers.values()}
    assert published == declared, f"vues publiées hors dictionnaire : {published - declared}"


def _theme(tmp_path, text):
    (tmp_path / "territoires.yml").write_text(text, encoding="utf-8")
    return tmp_path


def test_dictionary_errors_are_listed_with_their_place(tmp_path):
    source = (REPO_ROOT / "data_dictionary" / "themes" / "territoires.yml").read_text()
    broken = (source.replace("type: integer", "type: entier", 1)
                    .replace("update_rhythm: annuel", "update_rhythm: parfois")
                    .replace("time_field: millesime_cog", "time_field: annee"))
    with pytest.raises(UserError) as err:
        load_dictionary(_theme(tmp_path, broken))
    message = err.value.message
    assert "territoires.yml" in message and "population_municipale.type" in message
    assert "update_rhythm" in message and "time_field" in message


def test_missing_english_label_is_refused(tmp_path):
    source = (REPO_ROOT / "data_dictionary" / "themes" / "territoires.yml").read_text()
    broken = source.replace("label: {fr: Nom, en: Name}", "label: {fr: Nom}")
    with pytest.raises(UserError, match="nom.label"):
        load_dictionary(_theme(tmp_path, broken))


def test_every_theme_of_the_convention_is_described():
    themes = {t.name for t in dictionary().themes}
    assert {"parc", "occupation", "attributions", "contexte", "territoires"} <= themes
    for theme in dictionary().themes:
        assert theme.sources
        for source in theme.sources.values():
            assert source.update_rhythm and source.file
    assert "residence" not in next(t for t in dictionary().themes
                                   if t.name == "attributions").scales.consultation
