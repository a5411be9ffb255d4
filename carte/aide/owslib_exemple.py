"""Les collections du portail et cinq communes avec OWSLib (pip install OWSLib).

PORTAIL_URL : l'adresse du portail ; PORTAIL_LOGIN, PORTAIL_PASSWORD : votre compte.
"""
import os

from owslib.ogcapi.features import Features
from owslib.util import Authentication

portail = Features(os.environ["PORTAIL_URL"],
                   auth=Authentication(os.environ["PORTAIL_LOGIN"], os.environ["PORTAIL_PASSWORD"]))
print(len(portail.collections()["collections"]), "collections")
communes = portail.collection_items("parc_communes", limit=5)
for commune in communes["features"]:
    print(commune["id"], commune["properties"].get("nom"))
