#!/bin/sh
# Les communes de la MEL et leur parc social, en GeoJSON (OGC API Features), avec curl.
# PORTAIL_URL : l'adresse du portail ; PORTAIL_LOGIN, PORTAIL_PASSWORD : votre compte.
set -eu
curl --fail --silent --show-error --user "$PORTAIL_LOGIN:$PORTAIL_PASSWORD" \
     "$PORTAIL_URL/collections/parc_communes/items?f=json&limit=5" \
     --output parc_communes.geojson
echo "parc_communes.geojson écrit"
