"""Database bootstrap and versioned plain-SQL migrations.

``migrate()`` is idempotent: it makes sure the database, the three project
roles and PostGIS exist, then applies the files of ``sql/migrations`` not yet
recorded in ``portail_meta.schema_migration``, in name order, each in its own
transaction and as the owner role (so the owner owns every object). A file
already applied must not change: its checksum is checked.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from importlib import resources

import psycopg
from psycopg import sql

from portail.db import connect
from portail.errors import UserError
from portail.settings import (DATABASE_NAME, GATE_ROLE, OWNER_ROLE, ROLES, SERVICE_ROLE,
                              Settings, role_password)

# Serialises concurrent `migrate` runs (several replicas starting together).
MIGRATION_LOCK_KEY = 7_531_002


@dataclass(frozen=True)
class Migration:
    version: str
    sql_text: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql_text.encode()).hexdigest()


def available_migrations() -> list[Migration]:
    folder = resources.files("portail") / "sql" / "migrations"
    files = sorted(f for f in folder.iterdir() if f.name.endswith(".sql"))
    return [Migration(f.name.removesuffix(".sql"), f.read_text(encoding="utf-8")) for f in files]


def _ensure_database(settings: Settings) -> None:
    if not settings.uses_local_cluster:
        return  # DATABASE_URL names an existing database
    from portail.cluster import LocalCluster
    dsn = LocalCluster(settings.cluster_dir).admin_dsn("postgres")
    with connect(dsn, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                              [DATABASE_NAME]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0")
                         .format(sql.Identifier(DATABASE_NAME)))


def _ensure_roles(conn: psycopg.Connection, settings: Settings) -> None:
    env_managed = {OWNER_ROLE: "OWNER_DATABASE_URL", SERVICE_ROLE: "SERVICE_DATABASE_URL",
                   GATE_ROLE: "GATE_DATABASE_URL"}
    for role in ROLES:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
        if os.environ.get(env_managed[role]):
            if not exists:
                raise UserError(f"Le rôle {role} n'existe pas alors que "
                                f"{env_managed[role]} est fourni.",
                                hint="Créez-le, ou retirez la variable pour que "
                                     "`db migrate` le crée.")
            continue
        # A utility statement takes no parameters: the password goes as a Literal.
        password = sql.Literal(role_password(settings, role))
        verb = "ALTER" if exists else "CREATE"
        conn.execute(sql.SQL("{} ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                             "PASSWORD {}").format(sql.SQL(verb), sql.Identifier(role), password))
    # The service and the gate never write data; bound their queries.
    for role in (SERVICE_ROLE, GATE_ROLE):
        conn.execute(sql.SQL("ALTER ROLE {} SET statement_timeout = '30s'")
                     .format(sql.Identifier(role)))
    conn.execute(sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on")
                 .format(sql.Identifier(SERVICE_ROLE)))
    is_super = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
                            ).fetchone()[0]
    if not is_super:  # the migrating account must be able to SET ROLE to the owner
        conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(OWNER_ROLE)))


def _ensure_database_grants(conn: psycopg.Connection) -> None:
    db = sql.Identifier(conn.info.dbname)
    conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db))
    conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}, {}, {}").format(
        db, *(sql.Identifier(r) for r in ROLES)))
    # The loader stages files in temporary tables; nobody else needs them.
    conn.execute(sql.SQL("GRANT TEMPORARY, CREATE ON DATABASE {} TO {}").format(
        db, sql.Identifier(OWNER_ROLE)))
    conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")


def migrate(settings: Settings, verbose: bool = True) -> list[str]:
    """Bring the database to the latest schema; return the versions applied."""
    _ensure_database(settings)
    applied_now: list[str] = []
    with connect(settings.admin_dsn(), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
        try:
            _ensure_roles(conn, settings)
            try:
                conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            except psycopg.errors.FeatureNotSupported as exc:
                raise UserError(f"PostGIS n'est pas disponible sur ce serveur : {exc}".strip(),
                                hint="Installez PostGIS ≥ 3 (Debian : postgresql-NN-postgis-3).") from None
            _ensure_database_grants(conn)
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS portail_meta AUTHORIZATION {}")
                         .format(sql.Identifier(OWNER_ROLE)))
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(OWNER_ROLE)))
            conn.execute("""CREATE TABLE IF NOT EXISTS portail_meta.schema_migration (
                                version text PRIMARY KEY,
                                checksum text NOT NULL,
                                applied_at timestamptz NOT NULL DEFAULT now())""")
            done = dict(conn.execute(
                "SELECT version, checksum FROM portail_meta.schema_migration").fetchall())
            for mig in available_migrations():
                if mig.version in done:
                    if done[mig.version] != mig.checksum:
                        raise UserError(
                            f"La migration {mig.version} a été modifiée après son application.",
                            hint="Une migration appliquée ne change plus : écrivez-en une nouvelle.")
                    continue
                try:
                    with conn.transaction():
                        conn.execute(mig.sql_text)
                        conn.execute("INSERT INTO portail_meta.schema_migration "
                                     "(version, checksum) VALUES (%s, %s)",
                                     [mig.version, mig.checksum])
                except psycopg.Error as exc:
                    raise UserError(f"La migration {mig.version} a échoué (rien n'en est appliqué) : "
                                    f"{str(exc).strip()}",
                                    hint="Corrigez le fichier SQL puis relancez `portail-lls db migrate`.") from None
                applied_now.append(mig.version)
                if verbose:
                    print(f"  migration appliquée : {mig.version}")
            conn.execute("RESET ROLE")
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_KEY])
    return applied_now
