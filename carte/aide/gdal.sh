#!/bin/sh
# Une couche du portail copiée dans un GeoPackage avec GDAL (ogr2ogr, pilote OAPIF).
# PORTAIL_URL : l'adresse du portail ; PORTAIL_LOGIN, PORTAIL_PASSWORD : votre compte.
set -eu
export GDAL_HTTP_USERPWD="$PORTAIL_LOGIN:$PORTAIL_PASSWORD"
ogrinfo -so "OAPIF:$PORTAIL_URL/collections/parc_communes" parc_communes
ogr2ogr -f GPKG parc_communes.gpkg "OAPIF:$PORTAIL_URL/collections/parc_communes"
echo "parc_communes.gpkg écrit"
