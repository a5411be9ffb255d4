"""The project-managed local PostgreSQL cluster (``make demo``, tests).

Works as an ordinary user and as root: ``initdb`` refuses root, so as root
every server command runs as the ``postgres`` system user (Debian creates
it with the server packages) and the cluster folder is owned by it.

Layout of ``<cluster_dir>``: ``data/`` (PGDATA, also holds the Unix socket),
``server.log``, ``cluster.json`` (port; written last, marks a complete init).
"""
from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
from pathlib import Path

from portail.errors import UserError

MIN_PG_MAJOR = 15


def find_pg_bindir() -> Path:
    """Folder of initdb/pg_ctl: PG_BIN, then Debian's layout, then PATH."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb") or shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    raise UserError(
        "PostgreSQL (serveur) introuvable.",
        hint="Debian/Ubuntu : sudo apt-get install -y postgresql postgresql-postgis ; "
             "ou indiquez le dossier des binaires avec PG_BIN=/chemin/vers/bin, "
             "ou une base PostGIS existante avec DATABASE_URL=postgresql://…")


def pg_major(bindir: Path) -> int:
    out = subprocess.run([str(bindir / "pg_ctl"), "--version"], capture_output=True,
                         text=True, check=True).stdout
    return int(out.split()[-1].split(".")[0])


def free_port(preferred: int = 54329) -> int:
    """A TCP port free on 127.0.0.1, the preferred one if it is free."""
    for port in [preferred, *range(preferred + 1, preferred + 50)]:
        if port_is_free(port):
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


class LocalCluster:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.state_file = self.root / "cluster.json"

    # -- helpers ------------------------------------------------------------
    @property
    def as_root(self) -> bool:
        return os.geteuid() == 0

    def _run(self, args: list[str], check: bool = True) -> subprocess.CompletedProcess:
        if self.as_root:
            args = ["runuser", "-u", "postgres", "--", *args]
        return subprocess.run(args, capture_output=True, text=True, check=check)

    def _bin(self, name: str) -> str:
        return str(find_pg_bindir() / name)

    @property
    def port(self) -> int:
        return json.loads(self.state_file.read_text())["port"]

    def exists(self) -> bool:
        return self.state_file.exists()

    def admin_dsn(self, dbname: str = "postgres") -> str:
        if not self.exists():
            raise UserError("Le cluster local n'est pas initialisé.",
                            hint="Lancez `portail-lls db start` (ou `make demo`).")
        # Unix socket in PGDATA, trust: only the owner of the folder reaches it.
        return f"host={self.data} port={self.port} user=postgres dbname={dbname}"

    def _check_postgis(self, bindir: Path) -> None:
        major = pg_major(bindir)
        if major < MIN_PG_MAJOR:
            raise UserError(f"PostgreSQL {major} trouvé dans {bindir} ; il faut la version "
                            f"{MIN_PG_MAJOR} ou plus.",
                            hint="Indiquez un autre dossier avec PG_BIN=…")
        controls = glob.glob(f"/usr/share/postgresql/{major}/extension/postgis.control")
        pg_config = bindir / "pg_config"
        if not controls and pg_config.exists():
            sharedir = subprocess.run([str(pg_config), "--sharedir"], capture_output=True,
                                      text=True).stdout.strip()
            controls = glob.glob(f"{sharedir}/extension/postgis.control")
        if not controls:
            raise UserError(f"PostGIS n'est pas installé pour PostgreSQL {major}.",
                            hint=f"Debian/Ubuntu : sudo apt-get install -y "
                                 f"postgresql-{major}-postgis-3")

    # -- verbs --------------------------------------------------------------
    def init(self, port: int | None = None, fast: bool = False) -> None:
        """Create the cluster (idempotent: an existing one is kept)."""
        if self.exists():
            return
        if self.data.exists() and any(self.data.iterdir()):
            raise UserError(
                f"Le dossier {self.data} reste d'une initialisation interrompue "
                "(cluster.json absent).",
                hint="Aucune donnée n'y a été chargée : `portail-lls db reset` le supprime "
                     "et recrée le cluster.")
        bindir = find_pg_bindir()
        self._check_postgis(bindir)
        self.root.mkdir(parents=True, exist_ok=True)
        self.data.mkdir(exist_ok=True)
        if self.as_root:
            try:
                pg = pwd.getpwnam("postgres")
            except KeyError:
                raise UserError("Lancé en root, mais l'utilisateur système `postgres` "
                                "n'existe pas (initdb refuse root).",
                                hint="Installez le paquet postgresql, ou lancez la "
                                     "commande sous un utilisateur ordinaire.") from None
            for folder in self.root.parents:  # postgres must be able to enter them
                if folder == Path("/"):
                    break
                mode = folder.stat().st_mode
                if not mode & 0o001:
                    os.chmod(folder, mode | 0o001)
            os.chown(self.root, pg.pw_uid, pg.pw_gid)
            os.chown(self.data, pg.pw_uid, pg.pw_gid)
        os.chmod(self.data, 0o700)
        res = self._run([self._bin("initdb"), "-D", str(self.data), "-U", "postgres",
                         "-E", "UTF8", "--locale=C.UTF-8", "--auth-local=trust",
                         "--auth-host=scram-sha-256"], check=False)
        if res.returncode != 0:
            raise UserError(f"initdb a échoué dans {self.data} :\n{res.stderr.strip()}")
        settings = [
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{self.data}'",
            "password_encryption = 'scram-sha-256'",
            "shared_buffers = '256MB'",
            "max_connections = 200",
        ]
        if fast:  # throwaway test clusters: durability is not wanted
            settings += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("\n# portail-lls\n" + "\n".join(settings) + "\n")
        self._write_port(port or free_port())

    def _write_port(self, port: int) -> None:
        # The port lives here only; `start` passes it to the server.
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"port": port}))
        os.replace(tmp, self.state_file)

    def is_running(self) -> bool:
        if not self.exists():
            return False
        res = self._run([self._bin("pg_ctl"), "status", "-D", str(self.data)], check=False)
        return res.returncode == 0

    def start(self) -> None:
        if not self.exists():
            raise UserError("Le cluster local n'existe pas.", hint="`portail-lls db start` l'initialise.")
        if self.is_running():
            return
        if not port_is_free(self.port):
            new = free_port(self.port + 1)
            print(f"Le port {self.port} est pris par un autre programme : "
                  f"le cluster passe sur le port {new}.")
            self._write_port(new)
        if self.as_root and not self.log.exists():
            self.log.touch()
            pg = pwd.getpwnam("postgres")
            os.chown(self.log, pg.pw_uid, pg.pw_gid)
        # A postmaster.pid left by a crash is detected and ignored by postgres itself.
        res = self._run([self._bin("pg_ctl"), "start", "-w", "-t", "60", "-D", str(self.data),
                         "-l", str(self.log), "-o", f"-p {self.port}"], check=False)
        if res.returncode != 0:
            tail = self.log.read_text(errors="replace").splitlines()[-15:] if self.log.exists() else []
            raise UserError("Le cluster local n'a pas démarré :\n" + "\n".join(tail),
                            hint=f"Journal complet : {self.log}")

    def stop(self) -> None:
        if self.is_running():
            self._run([self._bin("pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(self.data)])

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
