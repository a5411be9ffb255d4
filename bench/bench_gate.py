"""What the login gate costs: authenticated requests vs the same requests, gate off.

Runs two gunicorn servers side by side on the same database (same workers,
same app, same requests, credentials sent to both): one is the production app
(gate, credential cache, audit log); the other is built by ``app()`` below
with ``AUTH_DISABLED=1``, a switch that only this benchmark's factory reads
(the production entry point, ``portail.app:create_app``, has none). The two are
measured in alternating rounds so that a change of machine load hits both,
and the script prints both throughputs and their ratio (target: >= 0.9).

    PORTAIL_STATE_DIR=/tmp/state-bench PORT=5601 .venv/bin/python bench/bench_gate.py

Options: --seconds per round (3), --rounds (6), --clients concurrent (4),
--workers gunicorn (2).
"""
from __future__ import annotations

import argparse
import base64
import http.client
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

LOGIN = "bench.gate"
PATHS = ["/collections/communes/items?f=json&limit=10",
         "/collections/communes/items/59350?f=json",
         "/collections?f=json"]


def app():
    """gunicorn factory of this benchmark: the production app, or (AUTH_DISABLED=1) no gate."""
    from portail.app import build_app, create_app
    from portail.settings import get_settings
    if os.environ.get("AUTH_DISABLED") == "1":
        return build_app(get_settings(), gate=False)
    return create_app()


# -- load ------------------------------------------------------------------------------------
def _client(port: int, auth: str, seconds: float, start: float, out) -> None:
    headers = {"Authorization": auth}
    count = errors = 0
    while time.time() < start:
        time.sleep(0.001)
    deadline = start + seconds
    i = 0
    while time.time() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request("GET", PATHS[i % len(PATHS)], headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                count += 1
            else:
                errors += 1
        finally:
            conn.close()
        i += 1
    out.put((count, errors))


def measure(port: int, auth: str, seconds: float, clients: int) -> float:
    out = multiprocessing.Queue()
    start = time.time() + 0.3
    procs = [multiprocessing.Process(target=_client, args=(port, auth, seconds, start, out))
             for _ in range(clients)]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    ok = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    if errors:
        raise SystemExit(f"port {port}: {errors} réponse(s) en erreur pendant la mesure")
    return ok / seconds


def in_process(auth: str, requests_per_round: int = 60, rounds: int = 15) -> tuple[float, float, float]:
    """The same comparison without network nor load generator: both apps in this process,
    sequential requests through the WSGI stack, in short alternating rounds.

    Returns the median req/s of each and the median of the per-round ratios.
    """
    from portail.app import build_app, create_app
    from portail.settings import get_settings
    gated = create_app().test_client()
    open_ = build_app(get_settings(), gate=False).test_client()
    headers = {"Authorization": auth}
    for client in (gated, open_):   # warm-up (first argon2, pools, listener)
        for path in PATHS * 3:
            assert client.get(path, headers=headers).status_code == 200
            time.sleep(0.05)   # let the register listener connect

    def run(client) -> float:
        t0 = time.perf_counter()
        for i in range(requests_per_round):
            client.get(PATHS[i % len(PATHS)], headers=headers)
        return requests_per_round / (time.perf_counter() - t0)

    pairs = []
    for i in range(rounds):
        if i % 2:
            o = run(open_)
            g = run(gated)
        else:
            g = run(gated)
            o = run(open_)
        pairs.append((g, o))
    return (statistics.median(g for g, _ in pairs), statistics.median(o for _, o in pairs),
            statistics.median(g / o for g, o in pairs))


# -- servers -----------------------------------------------------------------------------------
def start_server(port: int, workers: int, gate_off: bool, state_dir: Path) -> subprocess.Popen:
    from portail.server import wait_healthy
    env = {**os.environ, "PORTAIL_STATE_DIR": str(state_dir), "PORT": str(port),
           "PORTAIL_URL": f"http://127.0.0.1:{port}"}
    env.pop("AUTH_DISABLED", None)
    if gate_off:
        env["AUTH_DISABLED"] = "1"
    log = open(state_dir / f"bench-{port}.log", "ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers",
         str(workers), "--no-control-socket", "--timeout", "60", "bench.bench_gate:app()"],
        env=env, cwd=str(REPO), stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    if not wait_healthy(f"http://127.0.0.1:{port}", process=process):
        process.terminate()
        raise SystemExit(f"le serveur du port {port} n'a pas démarré "
                         f"(journal : {state_dir / f'bench-{port}.log'})")
    return process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    os.environ.setdefault("PORTAIL_STATE_DIR", "/tmp/portail-bench-state")
    state_dir = Path(os.environ["PORTAIL_STATE_DIR"])
    state_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(state_dir, 0o755)
    base_port = int(os.environ.get("PORT", "5601"))

    from auth.accounts import set_account
    from portail.app import prepare_pygeoapi
    from auth.passwords import generate_password
    from portail.cli import REFERENCE_COMMUNES, ensure_database
    from portail.demo import published_communes
    from portail.settings import get_settings

    os.environ["PORTAIL_URL"] = f"http://127.0.0.1:{base_port}"
    settings = get_settings()
    ensure_database(settings, verbose=False)
    if published_communes(settings) == 0:
        from etl.communes import load_communes
        load_communes(settings.owner_dsn(), REFERENCE_COMMUNES, 2026)
    password = generate_password()
    set_account(settings.owner_dsn(), LOGIN, password)
    prepare_pygeoapi(settings, regenerate=True)
    auth = "Basic " + base64.b64encode(f"{LOGIN}:{password}".encode()).decode()

    gated = start_server(base_port, args.workers, False, state_dir)
    open_ = start_server(base_port + 1, args.workers, True, state_dir)
    try:
        for port in (base_port, base_port + 1):   # warm-up: pools, caches, first argon2
            measure(port, auth, 1.0, args.clients)
        with_gate, without = [], []
        for i in range(args.rounds):   # alternate which goes first
            first, second = (base_port, base_port + 1) if i % 2 == 0 else (base_port + 1, base_port)
            a = measure(first, auth, args.seconds, args.clients)
            b = measure(second, auth, args.seconds, args.clients)
            with_gate.append(a if first == base_port else b)
            without.append(b if first == base_port else a)
    finally:
        for process in (gated, open_):
            process.terminate()
            process.wait(15)
    g, o = statistics.median(with_gate), statistics.median(without)
    # Each round pairs two back-to-back measures: their ratio is less sensitive to the
    # load of a shared machine than the ratio of the medians.
    paired = statistics.median(a / b for a, b in zip(with_gate, without))
    print(f"requêtes : {', '.join(PATHS)} ; {args.clients} clients, gunicorn {args.workers} "
          f"workers, {args.rounds} manches de {args.seconds:.0f} s")
    print(f"avec le guichet (authentifié) : {g:8.1f} req/s   manches {[round(x) for x in with_gate]}")
    print(f"sans le guichet (AUTH_DISABLED): {o:8.1f} req/s   manches {[round(x) for x in without]}")
    ig, io, iratio = in_process(auth)
    print(f"dans un seul processus, séquentiel : avec {ig:.1f} req/s, sans {io:.1f} req/s, "
          f"médiane des rapports {iratio:.3f}")
    print(f"rapport des médianes : {g / o:.3f} ; médiane des rapports par manche : {paired:.3f} "
          "(objectif >= 0.9)")


if __name__ == "__main__":
    main()
