"""The one place where the portal's settings are read.

Everything comes from the environment (12-factor), with defaults that make
``make demo`` work on a fresh clone. Role passwords of the project-managed
cluster live in ``<state_dir>/secrets.json`` (mode 0600), never in the tree.
"""
from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from psycopg.conninfo import conninfo_to_dict, make_conninfo

REPO_ROOT = Path(__file__).resolve().parent.parent

# Database roles (cluster-wide names, created by `db migrate`).
OWNER_ROLE = "lls_owner"      # loads and owns every table and view
SERVICE_ROLE = "lls_service"  # pygeoapi: reads the diffusion schema only
GATE_ROLE = "lls_gate"        # the login gate: reads the account register only
ROLES = (OWNER_ROLE, SERVICE_ROLE, GATE_ROLE)

DATABASE_NAME = "portail"

SOURCE_MENTION = ("Source : Portail cartographique des logements locatifs "
                  "sociaux de la Métropole Européenne de Lille")


def _default_state_dir() -> Path:
    if os.geteuid() == 0:
        # /root is not enterable by the postgres user that runs the cluster.
        return Path("/var/lib/portail-lls")
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "portail-lls"


@dataclass(frozen=True)
class Settings:
    state_dir: Path
    database_url: str | None      # an existing PostGIS (admin/owner DSN); None: local cluster
    host: str
    port: int
    public_url: str
    pygeoapi_config: Path
    web_workers: int
    web_threads: int              # gunicorn threads per worker (1: sync workers)
    pool_min: int
    pool_max: int
    realm: str
    # Background of the map page and of pygeoapi's HTML maps: an XYZ tile URL template
    # (e.g. an internal tile server); empty = no tiles, territory outlines on a plain
    # background, which works on a closed network.
    tiles_url: str = ""
    tiles_attribution: str = ""
    # Address geocoder of the map's search box (Base Adresse Nationale API, or an internal
    # copy of it): empty = none, the search answers from the published views only.
    geocoder_url: str = ""
    # Export jobs (processes/jobs): caps, retention, lease of a running job.
    jobs_max_per_user: int = 2     # jobs of one user running at once; the rest wait
    jobs_max_running: int = 4      # jobs running at once over all workers
    jobs_max_queued_per_user: int = 20   # accepted + running per user; beyond: 429
    jobs_result_hours: int = 72    # results (and finished jobs) kept, then purged
    jobs_lease_seconds: int = 60   # a running job not heartbeaten for this long is lost
    jobs_max_attempts: int = 2     # a lost job is retried once, then marked failed
    jobs_poll_seconds: float = 2.0  # worker wake-up when no notification arrives
    # -- operations (issue 9) ------------------------------------------------------
    read_database_url: str | None = None   # a read replica for the published views
    pool_timeout: float = 5.0              # seconds a request waits for a connection
    log_format: str = "json"               # "json" (one object a line) or "text"
    log_level: str = "INFO"
    trusted_proxies: tuple[str, ...] = ()  # networks whose X-Forwarded-For is believed
    metrics_networks: tuple[str, ...] = ("127.0.0.1/32", "::1/128")  # who may read /metrics
    metrics_dir: Path | None = None        # prometheus_client multiprocess folder
    request_timeout: int = 60              # gunicorn --timeout (seconds)
    limit_request_line: int = 8190         # gunicorn: longest request line (bytes)
    limit_request_fields: int = 60         # gunicorn: most header fields
    limit_request_field_size: int = 8190   # gunicorn: longest header field (bytes)
    max_body_bytes: int = 1024 * 1024      # largest request body the app reads (413 beyond)

    @property
    def cluster_dir(self) -> Path:
        return self.state_dir / "pgcluster"

    @property
    def openapi_path(self) -> Path:
        return self.state_dir / "openapi.yml"

    @property
    def secrets_path(self) -> Path:
        return self.state_dir / "secrets.json"

    @property
    def server_pidfile(self) -> Path:
        return self.state_dir / "gunicorn.pid"

    @property
    def server_logfile(self) -> Path:
        return self.state_dir / "gunicorn.log"

    @property
    def worker_pidfile(self) -> Path:
        return self.state_dir / "worker.pid"

    @property
    def worker_logfile(self) -> Path:
        return self.state_dir / "worker.log"

    @property
    def metrics_path(self) -> Path:
        return self.metrics_dir or self.state_dir / "metrics"

    @property
    def uses_local_cluster(self) -> bool:
        return self.database_url is None

    # -- connection strings -------------------------------------------------
    def admin_dsn(self) -> str:
        """Superuser (local cluster) or the DATABASE_URL account: migrations."""
        if self.database_url:
            return self.database_url
        from portail import cluster  # local import: cluster needs settings
        return cluster.LocalCluster(self.cluster_dir).admin_dsn(DATABASE_NAME)

    def role_dsn(self, role: str) -> str:
        """DSN of one of the project roles, over TCP with its password.

        ``OWNER_DATABASE_URL``, ``SERVICE_DATABASE_URL`` and
        ``GATE_DATABASE_URL`` override it (production, docker).
        """
        env_name = {OWNER_ROLE: "OWNER_DATABASE_URL",
                    SERVICE_ROLE: "SERVICE_DATABASE_URL",
                    GATE_ROLE: "GATE_DATABASE_URL"}[role]
        if os.environ.get(env_name):
            return os.environ[env_name]
        params = conninfo_to_dict(self.admin_dsn())
        if not self.database_url:
            params["host"] = "127.0.0.1"
        params.update(user=role, password=role_password(self, role),
                      application_name=f"portail-lls:{role}")
        return make_conninfo(**params)

    def owner_dsn(self) -> str:
        return self.role_dsn(OWNER_ROLE)

    def service_dsn(self) -> str:
        return self.role_dsn(SERVICE_ROLE)

    def service_read_dsn(self) -> str:
        """Where the service role reads the published views: the read replica
        (``READ_DATABASE_URL``) if one is given, else the primary.

        ``READ_DATABASE_URL`` is a full DSN of the replica; when it carries no
        user, the service role and its password are used on it (the replica is a
        physical copy: same roles, same passwords).
        """
        if not self.read_database_url:
            return self.service_dsn()
        params = conninfo_to_dict(self.read_database_url)
        if not params.get("user"):
            params.update(user=SERVICE_ROLE, password=role_password(self, SERVICE_ROLE))
        params.setdefault("application_name", f"portail-lls:{SERVICE_ROLE}:replica")
        return make_conninfo(**params)

    def gate_dsn(self) -> str:
        return self.role_dsn(GATE_ROLE)


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} : un nombre entier est attendu.") from None


def _float_env(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} : un nombre est attendu.") from None


def _list_env(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    items = tuple(x.strip() for x in raw.replace(";", ",").split(",") if x.strip())
    import ipaddress
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise SystemExit(f"{name} : « {item} » n'est ni une adresse IP ni un réseau "
                             "(ex. 10.0.0.0/8).") from None
    return items


def _choice_env(name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = (os.environ.get(name) or default).strip()
    if raw.lower() not in {c.lower() for c in choices}:
        raise SystemExit(f"{name}={raw!r} : valeurs possibles {', '.join(choices)}.")
    return raw.upper() if name == "LOG_LEVEL" else raw.lower()


def load_settings() -> Settings:
    state_dir = Path(os.environ.get("PORTAIL_STATE_DIR") or _default_state_dir())
    host = os.environ.get("HOST") or "127.0.0.1"
    port = _int_env("PORT", 5000)
    return Settings(
        state_dir=state_dir,
        database_url=os.environ.get("DATABASE_URL") or None,
        host=host,
        port=port,
        public_url=(os.environ.get("PORTAIL_URL") or f"http://{host}:{port}").rstrip("/"),
        pygeoapi_config=Path(os.environ.get("PYGEOAPI_CONFIG")
                             or REPO_ROOT / "pygeoapi-config.yml"),
        web_workers=_int_env("WEB_WORKERS", 2),
        web_threads=_int_env("WEB_THREADS", 1),
        pool_min=_int_env("DB_POOL_MIN", 1),
        pool_max=_int_env("DB_POOL_MAX", 4),
        realm=os.environ.get("AUTH_REALM") or "Portail logement social MEL",
        tiles_url=os.environ.get("PORTAIL_FOND_URL") or "",
        tiles_attribution=os.environ.get("PORTAIL_FOND_ATTRIBUTION") or "",
        geocoder_url=(os.environ.get("PORTAIL_GEOCODEUR_URL") or "").rstrip("/"),
        jobs_max_per_user=_int_env("JOBS_MAX_PER_USER", 2),
        jobs_max_running=_int_env("JOBS_MAX_RUNNING", 4),
        jobs_max_queued_per_user=_int_env("JOBS_MAX_QUEUED_PER_USER", 20),
        jobs_result_hours=_int_env("JOBS_RESULT_HOURS", 72),
        jobs_lease_seconds=_int_env("JOBS_LEASE_SECONDS", 60),
        jobs_max_attempts=_int_env("JOBS_MAX_ATTEMPTS", 2),
        jobs_poll_seconds=_float_env("JOBS_POLL_SECONDS", 2.0),
        read_database_url=_secret_env("READ_DATABASE_URL"),
        pool_timeout=_float_env("DB_POOL_TIMEOUT", 5.0),
        log_format=_choice_env("LOG_FORMAT", "json", ("json", "text")),
        log_level=_choice_env("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
        trusted_proxies=_list_env("TRUSTED_PROXIES", ()),
        metrics_networks=_list_env("METRICS_ALLOWED_NETWORKS", ("127.0.0.1/32", "::1/128")),
        metrics_dir=Path(os.environ["METRICS_DIR"]) if os.environ.get("METRICS_DIR") else None,
        request_timeout=_int_env("REQUEST_TIMEOUT", 60),
        limit_request_line=_int_env("LIMIT_REQUEST_LINE", 8190),
        limit_request_fields=_int_env("LIMIT_REQUEST_FIELDS", 60),
        limit_request_field_size=_int_env("LIMIT_REQUEST_FIELD_SIZE", 8190),
        max_body_bytes=_int_env("MAX_BODY_BYTES", 1024 * 1024),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings of this process (read once; tests call ``load_settings``)."""
    return load_settings()


# -- role passwords -----------------------------------------------------------
def _read_secrets(settings: Settings) -> dict:
    try:
        return json.loads(settings.secrets_path.read_text())
    except FileNotFoundError:
        return {}


# Role passwords given by the operator (containers: several replicas must agree on
# them, so none may generate its own), as NAME or as NAME_FILE (a Docker secret).
ROLE_PASSWORD_ENV = {OWNER_ROLE: "OWNER_DB_PASSWORD", SERVICE_ROLE: "SERVICE_DB_PASSWORD",
                     GATE_ROLE: "GATE_DB_PASSWORD"}


def _secret_env(name: str) -> str | None:
    """A secret from the environment: ``NAME``, or the content of the file ``NAME_FILE``."""
    if os.environ.get(name):
        return os.environ[name]
    path = os.environ.get(f"{name}_FILE")
    if not path:
        return None
    try:
        return Path(path).read_text(encoding="utf-8").rstrip("\r\n") or None
    except OSError as exc:
        raise SystemExit(f"{name}_FILE={path} : fichier illisible ({exc.strerror}).") from None


def role_password(settings: Settings, role: str) -> str:
    """Password of a project role: from the environment if given, else generated
    on first use and kept in ``<state_dir>/secrets.json`` (0600)."""
    given = _secret_env(ROLE_PASSWORD_ENV[role])
    if given:
        return given
    stored = _read_secrets(settings)
    if role not in stored:
        stored[role] = secrets.token_urlsafe(24)
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(settings.state_dir, 0o755)
        tmp = settings.secrets_path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(stored, fh)
        os.replace(tmp, settings.secrets_path)
    return stored[role]


def redact(dsn: str) -> str:
    """A DSN fit for a message: host, port, database and user, no password."""
    try:
        p = conninfo_to_dict(dsn)
    except Exception:  # noqa: BLE001 - never echo an unparsable secret
        return "<DSN illisible>"
    user = quote(p.get("user", "")) + "@" if p.get("user") else ""
    return f"postgresql://{user}{p.get('host', '')}:{p.get('port', '5432')}/{p.get('dbname', '')}"
