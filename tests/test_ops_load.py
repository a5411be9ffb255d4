"""A short load run (locust, headless) on the session's portal: 10 authenticated users for
10 seconds on the realistic mix of bench/load/locustfile.py, 0 failures. The full run
(50 users, 60 s) and its figures: docs/operations.md."""
from __future__ import annotations

import csv
import os
import subprocess

from ops_support import VENV_BIN
from portail.settings import REPO_ROOT

LOCUSTFILE = REPO_ROOT / "bench" / "load" / "locustfile.py"


def test_short_load_run_has_no_failure(live_server, account, tmp_path):
    login, password = account
    env = {**os.environ, "PORTAIL_LOGIN": login, "PORTAIL_PASSWORD": password}
    run = subprocess.run(
        [str(VENV_BIN / "locust"), "-f", str(LOCUSTFILE), "--headless", "-u", "10", "-r", "10",
         "-t", "10s", "--host", live_server, "--csv", str(tmp_path / "load"), "--only-summary"],
        env=env, capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)
    with open(tmp_path / "load_stats.csv", newline="") as fh:
        rows = {row["Name"]: row for row in csv.DictReader(fh)}
    total = rows["Aggregated"]
    print(f"\n[load] {total['Request Count']} requests, {total['Failure Count']} failures, "
          f"{float(total['Requests/s']):.1f} req/s, p50 {total['50%']} ms, "
          f"p95 {total['95%']} ms, p99 {total['99%']} ms")
    assert int(total["Request Count"]) > 50
    assert int(total["Failure Count"]) == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert run.returncode == 0
    # Every kind of request of the mix ran.
    for name in ("items limit=1 (count)", "items page 1", "items bbox", "items filter (CQL)"):
        assert int(rows[name]["Request Count"]) > 0, name
