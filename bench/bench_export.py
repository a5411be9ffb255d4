"""Benchmark: the export process against pandas.DataFrame.to_excel (openpyxl), whole MEL.

One run, on this machine, nothing shared with a demo:
1. a throwaway PostGIS cluster (like the tests), migrated, with the demo dataset
   (``etl.demo.build_demo``, full size by default: about 5,000 résidences,
   130,000 dwellings, 3 millésimes) loaded and published;
2. every exportable layer of the data dictionary, for the whole MEL, at its
   latest millésime, one workbook per theme (an export takes at most 20 layers):
   - ours: the real ``ExportProcessor.execute`` path (checks, counts, server-side
     cursor over the diffusion views, xlsxwriter in constant_memory mode);
   - baseline: the same SELECTs read into ``pandas.DataFrame`` (same French
     column titles), written with ``DataFrame.to_excel(engine="openpyxl")``, one
     sheet per layer;
3. the wall time of both, the ratio, then the peak Python memory of each
   (tracemalloc, in a second pass so that tracing does not slow the timings)
   and the process's peak RSS.

Run: ``.venv/bin/python bench/bench_export.py`` (about 3 minutes, most of it
loading the demo). ``--scale 0.2`` for a quicker, smaller run.
Targets (issue 7): ours under 10 s, at least 3× faster than the baseline.
"""
from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from portail.cluster import LocalCluster, free_port  # noqa: E402
from portail.migrate import migrate  # noqa: E402
from portail.settings import get_settings, load_settings  # noqa: E402

MAX_LAYERS = 20


def groups(dic) -> list[tuple[str, list[str]]]:
    """Exportable layers, one group per theme, in dictionary order."""
    from processes.request import exportable
    out = []
    for theme in dic.themes:
        names = [name for name, layer in theme.layers.items() if exportable(layer)]
        for i in range(0, len(names), MAX_LAYERS):
            if names[i:i + MAX_LAYERS]:
                out.append((theme.name, names[i:i + MAX_LAYERS]))
    return out


def ours(batches) -> int:
    """The real export path; returns the bytes written."""
    from processes.export import ExportProcessor
    processor = ExportProcessor({"name": "export", "max_rows": 10_000_000})
    size = 0
    for _, layers in batches:
        mimetype, content = processor.execute({"layers": layers, "territory": "MEL"})
        assert mimetype.startswith("application/vnd.openxmlformats"), mimetype
        size += len(content)
    return size


def baseline(batches) -> tuple[int, float]:
    """Same rows, same titles, through pandas and openpyxl; (bytes, seconds in to_excel)."""
    import pandas as pd

    from data_dictionary.model import dictionary
    from processes.request import parse_request
    from processes.selection import select_all
    from processes.workbook import column_title
    from portail.pools import service_pool
    size, writing = 0, 0.0
    for _, layers in batches:
        request = parse_request({"layers": layers, "territory": "MEL"}, dictionary())
        out = io.BytesIO()
        with service_pool().connection() as conn:
            selections = select_all(conn, request, 10_000_000)
            frames = []
            for sel in selections:
                stmt, params = sel.select()
                rows = conn.execute(stmt, params).fetchall()
                titles = [column_title(sel.layer.fields[c]) for c in sel.columns]
                frames.append((sel.layer.name[:31], pd.DataFrame(rows, columns=titles)))
        t0 = time.perf_counter()
        with pd.ExcelWriter(out, engine="openpyxl") as writer:
            for name, frame in frames:
                frame.to_excel(writer, sheet_name=name, index=False)
        writing += time.perf_counter() - t0
        size += len(out.getvalue())
    return size, writing


def peak_python_memory(fn, *args) -> float:
    tracemalloc.start()
    try:
        fn(*args)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="demo size (1.0: make demo)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--profile", action="store_true", help="cProfile of ours (top 25)")
    args = parser.parse_args()

    state = Path(tempfile.mkdtemp(prefix="portail-bench-export-", dir="/tmp"))
    os.chmod(state, 0o755)
    os.environ["PORTAIL_STATE_DIR"] = str(state)
    os.environ["PORT"] = str(free_port(18950))
    for var in ("DATABASE_URL", "OWNER_DATABASE_URL", "SERVICE_DATABASE_URL"):
        os.environ.pop(var, None)
    get_settings.cache_clear()
    settings = load_settings()
    cluster = LocalCluster(settings.cluster_dir)
    try:
        cluster.init(port=free_port(56500), fast=True)
        cluster.start()
        migrate(settings, verbose=False)
        from etl.demo import build_demo
        t0 = time.perf_counter()
        build_demo(settings.owner_dsn(), state / "demo", seed=args.seed, scale=args.scale,
                   echo=lambda *a: None)
        print(f"Demo dataset (scale {args.scale}) loaded and published in "
              f"{time.perf_counter() - t0:.0f} s", flush=True)

        from data_dictionary.model import dictionary
        from portail.pools import service_pool
        batches = groups(dictionary())
        layers = [name for _, names in batches for name in names]
        from processes.request import parse_request
        from processes.selection import select_all
        with service_pool().connection() as conn:
            rows = sum(s.rows for _, names in batches for s in select_all(
                conn, parse_request({"layers": names}, dictionary()), 10_000_000))
        print(f"{len(layers)} exportable layers in {len(batches)} workbooks (one per theme), "
              f"whole MEL, latest millésime: {rows:,} rows\n")

        ours(batches[:1])            # warm-up: pool, catalogue, imports
        baseline(batches[:1])
        t0 = time.perf_counter()
        ours_size = ours(batches)
        t_ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        base_size, base_writing = baseline(batches)
        t_base = time.perf_counter() - t0

        print(f"{'':44} {'seconds':>8} {'MB out':>7}")
        print(f"{'ours (ExportProcessor, xlsxwriter)':44} {t_ours:8.2f} {ours_size / 2**20:7.1f}")
        print(f"{'baseline (pandas to_excel, openpyxl)':44} {t_base:8.2f} {base_size / 2**20:7.1f}"
              f"   (of which to_excel: {base_writing:.2f} s)")
        print(f"ratio baseline / ours: {t_base / t_ours:.1f}×   "
              f"(targets: ours < 10 s, ratio ≥ 3×)")

        if args.profile:
            import cProfile
            import pstats
            profiler = cProfile.Profile()
            profiler.runcall(ours, batches)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(20)
        mem_ours = peak_python_memory(ours, batches)
        mem_base = peak_python_memory(baseline, batches)
        print(f"\npeak Python memory (tracemalloc): ours {mem_ours:.1f} MB, "
              f"baseline {mem_base:.1f} MB")
        print(f"peak RSS of this process (both, getrusage): "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
        print(f"({date.today():%Y-%m-%d}, {os.cpu_count()} CPU)")
    finally:
        from portail import pools as pool
        for p in list(pool._pools.values()):
            p.close()
        pool._pools.clear()
        cluster.remove()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
