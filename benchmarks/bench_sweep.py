"""Benchmark: the full comparison table (all presets × 256 contexts × 4 dtypes), vectorized
``calculator.sweep`` vs a plain Python loop over ``kv_cache_bytes``. Checks they agree.

    python -m benchmarks.bench_sweep
"""
from __future__ import annotations

import statistics
import time

import numpy as np

from calculator import kv_cache_bytes, sweep
from model_presets import list_presets, load_preset

DTYPES = ("bf16", "fp8", "q8_0", "int4_g128")


def contexts(n: int = 256) -> list[int]:
    return sorted({int(c) for c in np.geomspace(1, 1 << 20, n).round()} | {1 << 20})[:n]


def loop_table(models, ctxs):
    return [(m.name, d, c, kv_cache_bytes(m, c, 1, d).total_bytes)
            for m in models for d in DTYPES for c in ctxs]


def main(repeats: int = 5) -> None:
    models = [load_preset(n) for n in list_presets()]
    ctxs = contexts()
    while len(ctxs) < 256:
        ctxs.append(ctxs[-1] + 1)
    t_vec, t_fmt, t_loop = [], [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        table = sweep(models, ctxs, dtypes=DTYPES, formatted=False)
        t_vec.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        sweep(models, ctxs, dtypes=DTYPES)
        t_fmt.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        rows = loop_table(models, ctxs)
        t_loop.append(time.perf_counter() - t0)
    assert [r[3] for r in rows] == table["total_bytes"].tolist(), "sweep and loop disagree"
    v, f, lp = statistics.median(t_vec), statistics.median(t_fmt), statistics.median(t_loop)
    print(f"rows: {len(table):,} ({len(models)} presets × {len(ctxs)} contexts × {len(DTYPES)} dtypes)")
    print(f"vectorized sweep, bytes (what a chart runs): median {v * 1000:.1f} ms over {repeats}")
    print(f"  with the formatted '12.34 GiB' columns (exports): median {f * 1000:.1f} ms")
    print(f"plain Python loop over kv_cache_bytes:     median {lp * 1000:.1f} ms over {repeats}")
    print(f"ratio loop / sweep: {lp / v:.1f}x (formatted: {lp / f:.1f}x); all {len(rows):,} totals "
          "identical")


if __name__ == "__main__":
    main()
