"""Database bootstrap, versioned plain-SQL migrations, and the repeatable views.

``migrate()`` is idempotent: it makes sure the database, the three project
roles and PostGIS exist, then

1. applies the files of ``sql/migrations`` not yet recorded in
   ``portail_meta.schema_migration``, in name order, each in its own transaction
   and as the owner role (so the owner owns every object). A file already applied
   must not change: its checksum is checked. Migrations hold what has a history:
   schemas, tables, roles and grants, data changes;
2. re-applies the **views** of ``sql/views`` whose text changed since they were
   last applied (``portail_meta.repeatable_view``), or that are missing from the
   database, and every view built on them: one file per view (``core.x.sql`` or
   ``diffusion.x.sql``, named after the object it creates, with its indexes), in
   dependency order (a file depends on the views whose names it mentions). They
   are dropped (dependents first, never ``CASCADE``: an object the files do not
   know about that depends on them stops the run with its name) and created again,
   in one transaction. A view's definition changes in place, in its file; a
   migration that alters a table under a view drops the view, and this step
   builds it again.

A rebuilt materialised view holds the rows of its definition over the data and
the secrecy statuses of the last publication; ``portail-lls etl publish``
recomputes the statuses and audits the views (``db migrate`` says so when views
were rebuilt over published data).
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class View:
    """A repeatable view file: ``name`` is ``schema.view``, the object it creates."""
    name: str
    sql_text: str
    depends_on: frozenset = field(default_factory=frozenset)

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql_text.encode()).hexdigest()


def available_migrations() -> list[Migration]:
    folder = resources.files("portail") / "sql" / "migrations"
    files = sorted(f for f in folder.iterdir() if f.name.endswith(".sql"))
    return [Migration(f.name.removesuffix(".sql"), f.read_text(encoding="utf-8")) for f in files]


def available_views() -> list[View]:
    """The view files in dependency order (a view after every view its text names)."""
    folder = resources.files("portail") / "sql" / "views"
    texts = {f.name.removesuffix(".sql"): f.read_text(encoding="utf-8")
             for f in folder.iterdir() if f.name.endswith(".sql")}
    views = {}
    for name, text in texts.items():
        body = "\n".join(line.split("--", 1)[0] for line in text.splitlines())
        deps = frozenset(other for other in texts if other != name
                         and re.search(rf"(?<![\w.]){re.escape(other)}(?!\w)", body))
        views[name] = View(name, text, deps)
    ordered: list[View] = []
    state: dict[str, str] = {}

    def visit(name: str, path: tuple) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            raise UserError(f"Vues en dépendance circulaire : {' → '.join(path + (name,))}")
        state[name] = "visiting"
        for dep in sorted(views[name].depends_on):
            visit(dep, path + (name,))
        state[name] = "done"
        ordered.append(views[name])

    for name in sorted(views):
        visit(name, ())
    return ordered


def _relkind(conn: psycopg.Connection, name: str) -> str | None:
    row = conn.execute("SELECT c.relkind FROM pg_class c JOIN pg_namespace n "
                       "ON n.oid = c.relnamespace WHERE n.nspname || '.' || c.relname = %s",
                       [name]).fetchone()
    return row[0] if row else None


def apply_views(conn: psycopg.Connection, verbose: bool = True) -> list[str]:
    """Rebuild the views whose file changed or that are missing, and their dependents.

    Runs as the owner, in one transaction; returns the names rebuilt (in order)."""
    views = available_views()
    recorded = dict(conn.execute("SELECT name, checksum FROM portail_meta.repeatable_view"
                                 ).fetchall())
    stale = {v.name for v in views
             if recorded.get(v.name) != v.checksum or _relkind(conn, v.name) is None}
    for v in views:                      # dependency order: dependents follow their bases
        if v.depends_on & stale:
            stale.add(v.name)
    rebuild = [v for v in views if v.name in stale]
    if not rebuild:
        return []
    try:
        with conn.transaction():
            for v in reversed(rebuild):  # dependents first
                kind = _relkind(conn, v.name)
                if kind is not None:
                    verb = "MATERIALIZED VIEW" if kind == "m" else "VIEW"
                    conn.execute(sql.SQL("DROP {} {}").format(
                        sql.SQL(verb), sql.Identifier(*v.name.split("."))))
            for v in rebuild:
                conn.execute(v.sql_text)
                conn.execute("INSERT INTO portail_meta.repeatable_view (name, checksum) "
                             "VALUES (%s, %s) ON CONFLICT (name) DO UPDATE SET "
                             "checksum = excluded.checksum, applied_at = now()",
                             [v.name, v.checksum])
            conn.execute("DELETE FROM portail_meta.repeatable_view WHERE NOT name = ANY(%s)",
                         [[v.name for v in views]])
    except psycopg.Error as exc:
        raise UserError(f"Les vues n'ont pas pu être reconstruites (rien n'en est appliqué) : "
                        f"{str(exc).strip()}",
                        hint="Corrigez le fichier de portail/sql/views (ou l'objet qui dépend "
                             "d'une vue), puis relancez `portail-lls db migrate`.") from None
    if verbose:
        print(f"  vues reconstruites : {', '.join(v.name for v in rebuild)}")
        published = conn.execute("SELECT count(*) FROM core.publication").fetchone()[0]
        if published and any(v.name.startswith("diffusion.") for v in rebuild):
            print("  → des données sont publiées : lancez `portail-lls etl publish` pour "
                  "recalculer le secret et auditer les vues reconstruites.")
    return [v.name for v in rebuild]


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
            conn.execute("""CREATE TABLE IF NOT EXISTS portail_meta.repeatable_view (
                                name text PRIMARY KEY,
                                checksum text NOT NULL,
                                applied_at timestamptz NOT NULL DEFAULT now())""")
            rebuilt = apply_views(conn, verbose=verbose)
            applied_now += [f"vue {name}" for name in rebuilt]
            conn.execute("RESET ROLE")
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_KEY])
    return applied_now
