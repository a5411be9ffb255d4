"""Operations side of the web app: access log lines, Prometheus metrics,
readiness, and the client address behind a trusted reverse proxy.

- **Access log**: one JSON object a line on stderr per request (logger
  ``portail.access``): time, request id, login, method, route template, path,
  the *names* of the query parameters (never their values: a CQL filter or a
  URL-embedded credential must not reach a log), collection and process ids,
  status, duration in ms, bytes, client address. Never an ``Authorization``
  header, a password or a data value.
- **Metrics** (``/metrics``, Prometheus text format): gunicorn runs several
  worker processes, so ``prometheus_client`` runs in its multiprocess mode
  (``PROMETHEUS_MULTIPROC_DIR`` = ``Settings.metrics_path``, emptied when the
  server starts, dead workers marked by ``portail.gunicorn_hooks``). Readable
  only from ``METRICS_ALLOWED_NETWORKS`` (loopback by default); the proxy
  does not forward it.
- **Readiness** (``/ready``): migrations at the version of this code, data
  published, both pools usable; otherwise ``503`` with the reason.
- **Trusted proxies** (``TRUSTED_PROXIES``): ``X-Forwarded-For`` is believed
  only when the TCP peer is one of them; the client address then replaces
  ``REMOTE_ADDR`` for the audit log, the brute-force lockout and the log.
"""
from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import sys
import time
import uuid
from datetime import datetime, timezone
from typing import Iterable

from portail.settings import Settings

ACCESS_LOGGER = logging.getLogger("portail.access")
LOGGER = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
UNMATCHED_ROUTE = "(aucune route)"

# -- logging ---------------------------------------------------------------------------------
_STANDARD_ATTRS = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {
    "message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message and the ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": datetime.fromtimestamp(record.created, timezone.utc)
                 .isoformat(timespec="milliseconds"),
                 "level": record.levelname, "logger": record.name,
                 "message": record.getMessage()}
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = {k: v for k, v in vars(record).items()
                  if k not in _STANDARD_ATTRS and not k.startswith("_")}
        if fields:
            line += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        return line


def configure_logging(settings: Settings) -> None:
    """Application records to stderr (gunicorn's error stream) in the chosen format."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_portail", False)), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler._portail = True
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    # pygeoapi's logging.basicConfig adds a plain stdout handler to the root when its app
    # is imported: every record would be written twice, once in its format. One console
    # handler, one format (other handlers, e.g. a test's capture, are left alone).
    root.handlers = [h for h in root.handlers
                     if not (type(h) is logging.StreamHandler
                             and getattr(h, "stream", None) in (sys.stdout, sys.stderr))]
    root.addHandler(handler)
    root.setLevel(settings.log_level)


# -- trusted proxies ---------------------------------------------------------------------------
class TrustedProxies:
    """WSGI middleware: believe ``X-Forwarded-For`` only from a configured proxy.

    Walking the header from the right (the hop nearest to us), every address
    that is itself a trusted proxy is skipped; the first one that is not is
    the client. A request that did not come from a trusted proxy keeps its TCP
    peer address, whatever header it sends.
    """

    def __init__(self, wsgi_app, networks: Iterable[str]):
        self.wsgi_app = wsgi_app
        self.networks = [ipaddress.ip_network(n, strict=False) for n in networks]

    def trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.networks)

    def client_address(self, peer: str, forwarded_for: str | None) -> str:
        if not forwarded_for or not self.trusted(peer):
            return peer
        client = peer
        for hop in reversed(forwarded_for.split(",")):
            hop = hop.strip()
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                break            # garbage: keep the last address we could vouch for
            client = hop
            if not self.trusted(hop):
                break
        return client

    def __call__(self, environ, start_response):
        peer = environ.get("REMOTE_ADDR", "")
        environ["portail.peer_addr"] = peer
        environ["REMOTE_ADDR"] = self.client_address(peer, environ.get("HTTP_X_FORWARDED_FOR"))
        return self.wsgi_app(environ, start_response)


# -- metrics -----------------------------------------------------------------------------------
class Metrics:
    """The portal's Prometheus metrics (created once per process)."""

    def __init__(self, settings: Settings):
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
        # Own registry when single-process (in-process tests build several apps).
        registry = None if self.multiprocess else CollectorRegistry()
        self.registry = registry
        self.requests = Counter("portail_http_requests", "Requêtes HTTP servies",
                                ["method", "route", "status"], registry=registry)
        self.latency = Histogram("portail_http_request_duration_seconds",
                                 "Durée des requêtes HTTP (secondes)", ["route"],
                                 buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30),
                                 registry=registry)
        self.auth_failures = Counter("portail_auth_failures",
                                     "Refus du guichet, par motif (missing : sans identifiants, "
                                     "bad : identifiants faux, locked : verrou anti-force "
                                     "brute, refused : compte refusé par la convention)",
                                     ["reason"], registry=registry)
        gauge = {"registry": registry, "multiprocess_mode": "livesum"}
        self.pool_size = Gauge("portail_db_pool_connections", "Connexions ouvertes par pool "
                               "(somme des processus vivants)", ["pool"], **gauge)
        self.pool_available = Gauge("portail_db_pool_available", "Connexions libres par pool",
                                    ["pool"], **gauge)
        self.pool_waiting = Gauge("portail_db_pool_waiting", "Demandes de connexion en attente "
                                  "par pool", ["pool"], **gauge)
        self.pool_max = Gauge("portail_db_pool_max", "Taille maximale par pool", ["pool"],
                              **gauge)
        self.settings = settings
        self.collectors: list = []   # read at each scrape (parts add theirs: add_collector)

    def add_collector(self, collector) -> None:
        """A part's own metrics, collected at each scrape (e.g. the job queue's gauge)."""
        if collector not in self.collectors:
            self.collectors.append(collector)

    def auth_failure(self, reason: str) -> None:
        """Count a refusal of the gate (no login label: logins are not metric labels)."""
        self.auth_failures.labels(reason).inc()

    def observe_pools(self) -> None:
        from portail.pools import open_pools
        for name, pool in open_pools().items():
            stats = pool.get_stats()
            self.pool_size.labels(name).set(stats.get("pool_size", 0))
            self.pool_available.labels(name).set(stats.get("pool_available", 0))
            self.pool_waiting.labels(name).set(stats.get("requests_waiting", 0))
            self.pool_max.labels(name).set(stats.get("pool_max", 0))

    def exposition(self) -> bytes:
        from prometheus_client import CollectorRegistry, generate_latest
        if self.multiprocess:
            from prometheus_client import multiprocess
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        else:
            registry = self.registry
        scrape = CollectorRegistry()
        scrape.register(_Chain(registry, *self.collectors))
        return generate_latest(scrape)


class _Chain:
    """A collector that yields the metrics of a registry, then of other collectors."""

    def __init__(self, registry, *collectors):
        self.registry, self.collectors = registry, collectors

    def collect(self):
        yield from self.registry.collect()
        for collector in self.collectors:
            yield from collector.collect()


_metrics: Metrics | None = None


def metrics(settings: Settings) -> Metrics:
    global _metrics
    if _metrics is None:
        _metrics = Metrics(settings)
    return _metrics


def prepare_metrics_dir(settings: Settings) -> dict[str, str]:
    """Empty the multiprocess folder (before gunicorn starts); env vars for the server."""
    path = settings.metrics_path
    path.mkdir(parents=True, exist_ok=True)
    for leftover in path.glob("*.db"):
        leftover.unlink(missing_ok=True)
    return {"PROMETHEUS_MULTIPROC_DIR": str(path)}


# -- readiness -------------------------------------------------------------------------------
def readiness() -> tuple[bool, dict]:
    """(ready, details): pools usable, migrations applied, data published."""
    import psycopg
    from psycopg_pool import PoolTimeout

    from portail.migrate import available_migrations
    from portail.pools import gate_pool, service_pool
    from diffusion.store import data_version

    checks: dict[str, str] = {}
    try:
        with gate_pool().connection(timeout=2) as conn:
            applied = {row[0] for row in conn.execute(
                "SELECT version FROM portail_meta.schema_migration")}
        checks["primary"] = "ok"
    except (PoolTimeout, psycopg.OperationalError):
        return False, {"reason": "base principale injoignable", "checks": {"primary": "down"}}
    except psycopg.Error as exc:
        return False, {"reason": f"version du schéma illisible ({type(exc).__name__})",
                       "checks": {"primary": "ok"}}
    missing = [m.version for m in available_migrations() if m.version not in applied]
    if missing:
        checks["migrations"] = "pending"
        return False, {"reason": f"{len(missing)} migration(s) non appliquée(s), dont "
                                 f"{missing[0]} : lancez `portail-lls db migrate`",
                       "checks": checks}
    checks["migrations"] = "ok"
    try:
        with service_pool().connection(timeout=2) as conn:
            version = data_version(conn)
        checks["read"] = "ok"
    except (PoolTimeout, psycopg.Error):
        checks["read"] = "down"
        return False, {"reason": "base de lecture (vues publiées) injoignable", "checks": checks}
    if not version:
        checks["data"] = "none"
        return False, {"reason": "aucune donnée publiée : chargez un millésime "
                                 "(portail-lls etl load …)", "checks": checks}
    checks["data"] = "ok"
    return True, {"checks": checks, "data_version": version}


# -- the Flask side ------------------------------------------------------------------------------
def install(app, settings: Settings) -> Metrics:
    """Request id, access log, metrics, /metrics and /ready on the portal's Flask app;
    returns the metrics, to which the other parts add theirs."""
    from flask import Response, g, jsonify, request

    configure_logging(settings)
    if settings.trusted_proxies:
        app.wsgi_app = TrustedProxies(app.wsgi_app, settings.trusted_proxies)
    meter = metrics(settings)
    allowed = [ipaddress.ip_network(n, strict=False) for n in settings.metrics_networks]

    @app.before_request
    def _start():
        g.obs_started = time.perf_counter()
        given = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = given if _REQUEST_ID_RE.match(given) else uuid.uuid4().hex

    @app.after_request
    def _finish(response):
        elapsed = time.perf_counter() - g.get("obs_started", time.perf_counter())
        route = request.url_rule.rule if request.url_rule is not None else UNMATCHED_ROUTE
        response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
        if response.status_code == 503 and "Retry-After" not in response.headers:
            response.headers["Retry-After"] = "5"   # database down, seen by pygeoapi's code
        try:
            meter.requests.labels(request.method, route, str(response.status_code)).inc()
            meter.latency.labels(route).observe(elapsed)
            meter.observe_pools()
        except Exception:  # noqa: BLE001 - metrics never break an answer
            LOGGER.exception("metrics update failed")
        if request.path == "/metrics":
            return response
        view_args = request.view_args or {}
        size = None if response.is_streamed else response.calculate_content_length()
        ACCESS_LOGGER.info("request", extra={
            "request_id": g.get("request_id"), "login": g.get("login"),
            "client": request.remote_addr, "method": request.method, "route": route,
            "path": request.path[:512], "query_keys": sorted(set(request.args.keys()))[:20],
            "collection_id": view_args.get("collection_id"),
            "process_id": view_args.get("process_id"), "status": response.status_code,
            "duration_ms": round(elapsed * 1000, 1), "bytes": size})
        return response

    @app.get("/metrics")
    def _metrics_route():
        try:
            client = ipaddress.ip_address(request.remote_addr or "")
        except ValueError:
            client = None
        if client is None or not any(client in net for net in allowed):
            return jsonify({"code": "Forbidden",
                            "description": "Métriques lisibles seulement depuis les réseaux "
                                           "de METRICS_ALLOWED_NETWORKS."}), 403
        from prometheus_client import CONTENT_TYPE_LATEST
        return Response(meter.exposition(), mimetype=CONTENT_TYPE_LATEST.split(";")[0],
                        headers={"Cache-Control": "no-store"})

    @app.get("/ready")
    def _ready():
        ok, details = readiness()
        if ok:
            return jsonify({"status": "ready", **details})
        response = jsonify({"status": "not ready", **details})
        response.status_code = 503
        response.headers["Retry-After"] = "5"
        return response

    return meter
