"""OWSLib lists collections, reads items and queryables with authentication."""
from __future__ import annotations

import pytest
from owslib.ogcapi.features import Features
from owslib.util import Authentication

from data_dictionary.model import dictionary


@pytest.fixture
def features(live_server, account):
    return Features(live_server, auth=Authentication(*account))


def test_owslib_lists_collections(features):
    names = {c["id"] for c in features.collections()["collections"]}
    assert set(dictionary().layers) <= names


@pytest.mark.parametrize("name", sorted(dictionary().layers))
def test_owslib_reads_items_and_queryables(features, name):
    items = features.collection_items(name, limit=10)
    assert items["numberMatched"] >= 1   # the MEL layers have one row per millésime
    assert items["numberReturned"] == min(10, items["numberMatched"]) == len(items["features"])
    assert items["features"][0]["properties"]
    queryables = features.collection_queryables(name)
    assert set(dictionary().layers[name].fields) <= set(queryables["properties"])
    filtered = features.collection_items(name, limit=100, nom="Lille") if name == "communes" else None
    if filtered is not None:
        assert [f["id"] for f in filtered["features"]] == ["59350"]


def test_owslib_without_account_is_refused(live_server):
    with pytest.raises(Exception) as err:
        Features(live_server).collections()
    assert "401" in str(err.value) or "Unauthorized" in str(err.value)
