"""Start and stop the portal under gunicorn (never Flask's debug server)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from portail.cluster import port_is_free
from portail.errors import UserError
from portail.settings import Settings


def _read_pid(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return pid


def running_pid(settings: Settings) -> int | None:
    return _read_pid(settings.server_pidfile)


def gunicorn_command(settings: Settings) -> list[str]:
    """The gunicorn command line; request limits and timeouts from the settings.

    ``limit_request_line`` / ``limit_request_fields`` / ``limit_request_field_size``
    bound what a client may send before the app sees anything (``400``/``414``
    otherwise); ``timeout`` bounds a request's work (a slow client on a sync
    worker included); the reverse proxy bounds bodies and slow clients first.
    """
    return [sys.executable, "-m", "gunicorn",
            "--config", "python:portail.gunicorn_hooks",
            "--bind", f"{settings.host}:{settings.port}",
            "--workers", str(settings.web_workers),
            "--threads", str(settings.web_threads),
            "--no-control-socket",
            "--pid", str(settings.server_pidfile),
            "--timeout", str(settings.request_timeout), "--graceful-timeout", "10",
            "--limit-request-line", str(settings.limit_request_line),
            "--limit-request-fields", str(settings.limit_request_fields),
            "--limit-request-field_size", str(settings.limit_request_field_size),
            "portail.app:create_app()"]


def stop(settings: Settings, quiet: bool = False) -> bool:
    from processes.jobs.worker import stop_background
    stop_background(settings)   # the worker started next to the server, if any
    pid = running_pid(settings)
    if pid is None:
        if not quiet:
            print("Le serveur du portail ne tourne pas.")
        return False
    os.kill(pid, signal.SIGTERM)
    for _ in range(150):
        if _read_pid(settings.server_pidfile) is None:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
    settings.server_pidfile.unlink(missing_ok=True)
    if not quiet:
        print(f"Serveur arrêté (pid {pid}).")
    return True


def wait_healthy(url: str, seconds: float = 30.0, process: subprocess.Popen | None = None) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
                if resp.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def start(settings: Settings, foreground: bool = False) -> None:
    """(Re)start the portal; in the background it returns once /health answers."""
    from portail.app import prepare_pygeoapi

    port_file = settings.state_dir / "gunicorn.port"
    ours = running_pid(settings) is not None and port_file.exists() \
        and port_file.read_text().strip() == str(settings.port)
    if not ours and not port_is_free(settings.port, settings.host):
        raise UserError(f"Le port {settings.port} est déjà utilisé par un autre programme.",
                        hint=f"Choisissez-en un autre : PORT={settings.port + 1} make demo "
                             f"(ou portail-lls server start --port {settings.port + 1}).")
    from processes.jobs.worker import stop_background
    stop_background(settings, wait=False)   # ends after its job, next to the new one
    stop(settings, quiet=True)  # a second `make demo` restarts our own server
    # The OpenAPI document follows the config and the public URL: regenerate it.
    prepare_pygeoapi(settings, regenerate=True)
    from portail.observability import prepare_metrics_dir
    env = {**os.environ, "PORT": str(settings.port), "HOST": settings.host,
           "PORTAIL_STATE_DIR": str(settings.state_dir), "PORTAIL_URL": settings.public_url,
           **prepare_metrics_dir(settings)}
    command = gunicorn_command(settings)
    if foreground:
        os.execvpe(command[0], command, env)
    log = open(settings.server_logfile, "ab")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=log,
                               stdin=subprocess.DEVNULL, start_new_session=True,
                               cwd=str(Path(__file__).resolve().parent.parent))
    port_file.write_text(str(settings.port))
    local_url = f"http://{'127.0.0.1' if settings.host in ('0.0.0.0', '') else settings.host}:{settings.port}"
    if not wait_healthy(local_url, process=process):
        tail = settings.server_logfile.read_text(errors="replace").splitlines()[-20:]
        process.terminate()
        raise UserError("Le serveur n'a pas démarré :\n" + "\n".join(tail),
                        hint=f"Journal complet : {settings.server_logfile}")
    # One job worker next to the server, so that asynchronous exports complete
    # (containers run workers as their own service: `portail-lls worker`).
    from processes.jobs.worker import start_background
    start_background(settings, env)
