"""Every route of the generated OpenAPI document needs an account, except the public list;
the document declares the basic-auth security scheme."""
from __future__ import annotations

import re

import pytest
import requests
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from auth.gate import PUBLIC_PATHS, is_public

# Values for the path parameters of pygeoapi's routes; anything else gets "x".
SAMPLES = {"collectionId": "communes", "featureId": "59350", "jobId": "x", "processId": "x",
           "tileMatrixSetId": "WebMercatorQuad", "instanceId": "x", "locationId": "x"}
METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def document(live_server, account):
    r = requests.get(f"{live_server}/openapi", params={"f": "json"}, auth=account)
    assert r.status_code == 200
    return r.json()


def test_document_declares_basic_auth(document):
    scheme = document["components"]["securitySchemes"]["basicAuth"]
    assert scheme["type"] == "http" and scheme["scheme"] == "basic"
    assert document["security"] == [{"basicAuth": []}]


def test_public_operations_are_marked_public_and_others_answer_401(document):
    for path, item in document["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            operation = item[method]
            if is_public(path):
                assert operation["security"] == [], path
            else:
                assert "security" not in operation, path   # the document-wide requirement
                assert "401" in operation["responses"], path


def test_every_route_of_the_document_needs_an_account(document, live_server):
    walked = 0
    for path, item in document["paths"].items():
        url = live_server + re.sub(r"\{(\w+)\}", lambda m: SAMPLES.get(m.group(1), "x"), path)
        for method in METHODS:
            if method not in item:
                continue
            r = requests.request(method.upper(), url, params={"f": "json"}, json={}, timeout=30)
            walked += 1
            if is_public(path):
                assert r.status_code != 401, (method, path)
            else:
                assert r.status_code == 401, (method, path, r.status_code)
                assert r.headers["WWW-Authenticate"].startswith('Basic realm="'), path
                assert r.headers["Cache-Control"] == "private, no-store"
                assert "features" not in r.text and "communes" not in r.text
    assert walked >= 10   # the document is not empty: the walk did walk
    assert set(document["paths"]) & PUBLIC_PATHS == {"/"}


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(segments=st.lists(st.from_regex(r"[A-Za-z0-9._~-]{1,12}", fullmatch=True),
                         min_size=1, max_size=4))
def test_any_other_path_needs_an_account(live_server, segments):
    path = "/" + "/".join(segments)
    if is_public(path) or ".." in segments or "." in segments:
        return
    r = requests.get(live_server + path, timeout=30)
    assert r.status_code == 401, path
