#!/usr/bin/env bash
# Make sure PostgreSQL >= 15 and PostGIS >= 3 are installed for the local cluster.
# On Debian/Ubuntu as root, installs them with apt; otherwise prints the exact command.
set -euo pipefail
MIN_MAJOR=15

if [ -n "${DATABASE_URL:-}" ]; then
  echo "DATABASE_URL est défini : PostgreSQL/PostGIS locaux non requis."
  exit 0
fi

server_major() {  # highest server version installed in Debian's layout, or PG_BIN
  if [ -n "${PG_BIN:-}" ] && [ -x "$PG_BIN/pg_ctl" ]; then
    "$PG_BIN/pg_ctl" --version | awk '{print $NF}' | cut -d. -f1; return
  fi
  ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sed -E 's#.*/postgresql/([0-9]+)/.*#\1#' | sort -n | tail -1
}

has_postgis() { ls "/usr/share/postgresql/$1/extension/postgis.control" >/dev/null 2>&1; }

major=$(server_major || true)
if [ -n "$major" ] && [ "$major" -ge "$MIN_MAJOR" ] && has_postgis "$major"; then
  exit 0
fi

if [ -n "$major" ] && [ "$major" -ge "$MIN_MAJOR" ]; then
  packages="postgresql-$major-postgis-3"
else
  packages="postgresql postgresql-postgis"
fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installation de PostgreSQL/PostGIS : apt-get install -y $packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $packages >/dev/null
  major=$(server_major || true)
  if [ -z "$major" ] || [ "$major" -lt "$MIN_MAJOR" ]; then
    echo "Erreur : PostgreSQL ${major:-absent} installé ; la version $MIN_MAJOR ou plus est requise." >&2
    echo "→ Ajoutez le dépôt apt.postgresql.org, ou utilisez DATABASE_URL=postgresql://… vers un PostGIS existant." >&2
    exit 1
  fi
  has_postgis "$major" || { echo "Erreur : PostGIS absent après installation." >&2; exit 1; }
  echo "PostgreSQL $major et PostGIS installés."
  exit 0
fi

echo "Erreur : PostgreSQL >= $MIN_MAJOR avec PostGIS >= 3 est requis pour le cluster local." >&2
if command -v apt-get >/dev/null 2>&1; then
  echo "→ Installez-les : sudo apt-get install -y $packages" >&2
else
  echo "→ Installez PostgreSQL >= $MIN_MAJOR et PostGIS 3 avec le gestionnaire de paquets du système" >&2
  echo "  (Fedora : sudo dnf install postgresql-server postgis ; macOS : brew install postgresql postgis)," >&2
  echo "  et indiquez PG_BIN=/chemin/vers/bin si les binaires ne sont pas dans le PATH." >&2
fi
echo "→ Ou utilisez une base existante : DATABASE_URL=postgresql://user:motdepasse@hote/base make demo" >&2
exit 1
