"""The long schemathesis run over the portal's OpenAPI document (the suite runs a short one).

    PORTAIL_LOGIN=demo PORTAIL_PASSWORD=… .venv/bin/python bench/hostile/schemathesis_long.py \
        http://127.0.0.1:5104 [--max-examples 50]

All phases (explicit examples, coverage of every parameter's boundaries, random fuzzing,
stateful links), check ``not_a_server_error``. Prints the summary; exit 1 on a failure.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from test_ops_hostile import run_schemathesis  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--max-examples", type=int, default=50)
    args = parser.parse_args()
    credentials = (os.environ.get("PORTAIL_LOGIN", "demo"), os.environ["PORTAIL_PASSWORD"])
    with tempfile.TemporaryDirectory(prefix="portail-schemathesis-") as folder:
        started = time.monotonic()
        run = run_schemathesis(args.url.rstrip("/"), credentials, Path(folder),
                               args.max_examples)
        print("\n".join(run.stdout.splitlines()[-20:]))
        print(f"[schemathesis] {time.monotonic() - started:.0f} s, exit {run.returncode}")
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())
