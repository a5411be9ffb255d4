"""The channels show the published views, nothing else: map endpoint, sheets, exports.

Run by their own code (``portail.secret_channels``, as ``portail-lls audit secret``
does) over the session's published demo data, the database the channels' pools use.
"""
from __future__ import annotations

import json

from portail.secret_channels import audit_channels


def test_every_channel_shows_only_the_published_views(settings, demo_data):
    """Map endpoint, sheets and exports, run by their own code: the views' figures only."""
    assert [str(o) for o in audit_channels(settings.service_dsn())] == []


def test_the_channel_audit_sees_a_channel_that_fills_a_blank(settings, demo_data, monkeypatch):
    import carte.layers
    real = carte.layers.layer_geojson

    def zero_for_blank(request):
        answer = json.loads(real(request))
        for feature in answer["features"]:
            props = feature["properties"]
            if props.get("statut_secret") == "S" and "nb_logements" in props:
                props["nb_logements"] = 0
        return json.dumps(answer).encode()

    monkeypatch.setattr(carte.layers, "layer_geojson", zero_for_blank)
    offences = audit_channels(settings.service_dsn())
    assert any(o.channel == "carte" and "nb_logements" in o.what for o in offences)
