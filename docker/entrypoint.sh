#!/bin/sh
# Start-up sequence of the portal, in a container and outside one (the tests run
# this very script against their throwaway cluster):
#   1. secrets: every VAR listed below may be given as VAR_FILE (a Docker secret);
#      PGPASSWORD is the migrating account's password when DATABASE_URL has none;
#   2. wait for the database (bounded by DB_WAIT_SECONDS) and apply the migrations
#      (`portail-lls db migrate` holds an advisory lock: replicas may start together);
#   3. exec gunicorn in the foreground (`portail-lls server start --foreground`):
#      it becomes this process, receives SIGTERM from `docker stop` and logs to stderr.
#      Workers and threads come from WEB_WORKERS / WEB_THREADS (portail/settings.py).
#
# Usage: entrypoint.sh [web]          migrate, then serve (default)
#        entrypoint.sh worker         migrate, then run export jobs (`portail-lls worker`;
#                                     any number of replicas, SIGTERM ends after the job)
#        entrypoint.sh migrate        migrate only (one-off job before an upgrade)
#        entrypoint.sh COMMAND ARGS…  anything else, e.g. `portail-lls users review`
set -eu

PORTAIL_LLS="${PORTAIL_LLS:-portail-lls}"

# -- 1. secrets from files ------------------------------------------------------------------
# (OWNER_/SERVICE_/GATE_DB_PASSWORD_FILE are read by portail/settings.py itself, so that
# `docker compose exec app portail-lls …` finds them too.)
for var in DATABASE_URL OWNER_DATABASE_URL SERVICE_DATABASE_URL GATE_DATABASE_URL PGPASSWORD; do
    eval "file=\${${var}_FILE:-}"
    eval "value=\${${var}:-}"
    if [ -n "$file" ]; then
        if [ -n "$value" ]; then
            echo "entrypoint: ${var} et ${var}_FILE sont tous deux définis : gardez-en un seul." >&2
            exit 1
        fi
        if [ ! -r "$file" ]; then
            echo "entrypoint: ${var}_FILE=${file} : fichier illisible." >&2
            exit 1
        fi
        # The secret's value never goes to a log line: only its variable name is printed.
        value="$(cat "$file")"
        export "${var}=${value}"
        unset "${var}_FILE"
    fi
done
unset file value

# -- 2. database: wait, then migrate --------------------------------------------------------
migrate() {
    deadline=$(( $(date +%s) + ${DB_WAIT_SECONDS:-60} ))
    attempt=1
    # A refused connection and a failed migration both exit 1 with a message; retrying
    # a failed migration is harmless (each file is one transaction) and bounded.
    until "$PORTAIL_LLS" db migrate; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            echo "entrypoint: migrations impossibles après ${DB_WAIT_SECONDS:-60} s, abandon." >&2
            exit 1
        fi
        echo "entrypoint: base pas prête (essai ${attempt}), nouvel essai dans 2 s…" >&2
        attempt=$((attempt + 1))
        sleep 2
    done
}

command="${1:-web}"
case "$command" in
    web)
        migrate
        # The web processes never connect as the migrating account: drop its password.
        unset PGPASSWORD
        exec "$PORTAIL_LLS" server start --foreground
        ;;
    worker)
        migrate
        unset PGPASSWORD
        exec "$PORTAIL_LLS" worker
        ;;
    migrate)
        migrate
        ;;
    *)
        exec "$@"
        ;;
esac
