"""PostgreSQL restarted during a load run: counts the 503s, checks there is no 500,
and measures how long the portal takes to answer again once the database is back.

    PORTAIL_STATE_DIR=/tmp/state-x PORT=5104 PORTAIL_LOGIN=demo PORTAIL_PASSWORD=… \\
        .venv/bin/python bench/load/restart_under_load.py [--users 50] [--seconds 60]

Runs against the portal and the local cluster of PORTAIL_STATE_DIR (``make demo``):
locust (bench/load/locustfile.py) in the background; after a third of the run,
``pg_ctl stop -m fast``, 5 s down, ``pg_ctl start``; then polls the items of a layer
until the first 200. Never point it at a cluster others use.
"""
from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from portail.cluster import LocalCluster  # noqa: E402
from portail.settings import load_settings  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--down", type=float, default=5.0)
    args = parser.parse_args()
    settings = load_settings()
    url = f"http://127.0.0.1:{settings.port}"
    auth = (os.environ.get("PORTAIL_LOGIN", "demo"), os.environ["PORTAIL_PASSWORD"])
    cluster = LocalCluster(settings.cluster_dir)
    with tempfile.TemporaryDirectory(prefix="portail-restart-") as folder:
        prefix = Path(folder) / "load"
        locust = subprocess.Popen(
            [str(Path(sys.executable).parent / "locust"), "-f",
             str(ROOT / "bench" / "load" / "locustfile.py"), "--headless",
             "-u", str(args.users), "-r", str(args.users), "-t", f"{args.seconds}s",
             "--host", url, "--csv", str(prefix), "--only-summary"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(args.seconds / 3)
        cluster.stop()
        time.sleep(args.down)
        cluster.start()
        back = time.monotonic()
        recovery = None
        while time.monotonic() - back < 60:
            try:
                if requests.get(f"{url}/collections/communes/items",
                                params={"f": "json", "limit": 1}, auth=auth,
                                timeout=10).status_code == 200:
                    recovery = time.monotonic() - back
                    break
            except requests.RequestException:
                pass
            time.sleep(0.05)
        output, _ = locust.communicate(timeout=args.seconds * 3)
        with open(f"{prefix}_stats.csv", newline="") as fh:
            total = {r["Name"]: r for r in csv.DictReader(fh)}["Aggregated"]
        failures: dict[str, int] = {}
        with open(f"{prefix}_failures.csv", newline="") as fh:
            for row in csv.DictReader(fh):
                found = re.search(r"HTTP \d{3}", row["Error"])
                kind = found.group(0) if found else row["Error"][:60]
                failures[kind] = failures.get(kind, 0) + int(row["Occurrences"])
    server_errors = sum(n for kind, n in failures.items()
                        if kind.startswith("HTTP 5") and kind != "HTTP 503")
    print(f"[restart under load] {args.users} users, {args.seconds} s, PostgreSQL down "
          f"{args.down:.0f} s: {total['Request Count']} requests, failures by kind {failures}; "
          f"other 5xx than 503: {server_errors}; back to 200 {recovery if recovery is None else round(recovery, 2)} s "
          f"after PostgreSQL accepted connections; p50 {total['50%']} ms, p95 {total['95%']} ms, "
          f"p99 {total['99%']} ms")
    return 0 if server_errors == 0 and recovery is not None and recovery < 5 and \
        set(failures) <= {"HTTP 503"} else 1


if __name__ == "__main__":
    sys.exit(main())
