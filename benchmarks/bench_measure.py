"""Benchmark the measurement sweep: wall time, bytes allocated, rows matched / total, and decode
bandwidth as a fraction of the device's copy bandwidth.

    python -m benchmarks.bench_measure [--device auto] [--save]

--save writes measure/results/<device>-<date>.csv (and -decode.csv) for the dashboard.
--whole-model (for GPUs) adds, per preset, one decode step over every attention layer with a
cache of at least 1 GiB (the longest context the model takes, up to 128k, with batch raised until
the cache reaches 1 GiB, halved while it exceeds what the device has free).
"""
from __future__ import annotations

import argparse
import statistics
import time

from measure import cli
from measure.cli import file_stem


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="auto")
    p.add_argument("--save", action="store_true")
    p.add_argument("--contexts", nargs="+", default=["8k", "128k"])
    p.add_argument("--decode-context", default="2k")
    p.add_argument("--decode-dtype", default=None, help="default: bf16 on cuda, fp32 on cpu")
    p.add_argument("--whole-model", action="store_true",
                   help="also time a whole-model decode step over a cache >= 1 GiB per preset")
    args = p.parse_args()
    common = ["--all-presets", "--device", args.device]
    ctx = [a for c in args.contexts for a in ("--context", c)]
    t0 = time.perf_counter()
    _, table = cli.run(common + ctx + ["--kv-dtype", "bf16", "--kv-dtype", "fp8", "--layout",
                                       "contiguous", "--layout", "paged"]
                       + (["--out", "results"] if args.save else []))
    wall = time.perf_counter() - t0
    totals = table[table["group"] == "total"]
    print(f"measure sweep on {table['device_name'].iloc[0]}: {len(totals)} model rows "
          f"({len(table)} group rows) in {wall:.1f} s")
    print(f"bytes expected = measured in {int(totals['match'].sum())}/{len(totals)} model rows; "
          f"{int(table['match'].sum())}/{len(table)} group rows")
    print(f"bytes represented: {int(totals['measured_bytes'].sum()):,}; actually allocated (not "
          f"extrapolated): {int(totals.loc[~totals['extrapolated'], 'measured_bytes'].sum()):,}; "
          f"extrapolated model rows: {int(totals['extrapolated'].sum())}")
    device = table["device"].iloc[0]
    dtype = args.decode_dtype or ("bf16" if device.startswith("cuda") else "fp32")
    t0 = time.perf_counter()
    from measure.decode import time_decode
    from model_presets import list_presets, load_preset
    from calculator.units import parse_tokens
    rows = [r for n in list_presets() for r in time_decode(
        load_preset(n), context=parse_tokens(args.decode_context), batch=1, dtype=dtype,
        device=args.device)]
    print(f"decode steps ({dtype}, context {args.decode_context}): {len(rows)} layer groups in "
          f"{time.perf_counter() - t0:.1f} s; copy bandwidth {rows[0].copy_gbps:.1f} GB/s")
    print(f"achieved / copy bandwidth: {spread(rows)}")
    for r in rows:
        print(f"  {r.model:<20} {r.group[:46]:<46} {r.bytes_read:>12,} B  {r.median_s * 1e6:>10,.0f} us"
              f"  {r.achieved_gbps:6.1f} GB/s  {r.fraction_of_copy:6.1%}")
    if args.whole_model:
        whole = whole_model_rows(dtype, args.device)
        print(f"whole-model decode steps over caches >= 1 GiB: {len(whole)} presets; achieved / "
              f"copy: {spread(whole)}")
        for r in whole:
            print(f"  {r.model:<20} ctx {r.context:>7,} x{r.batch:<3} {r.bytes_read:>15,} B "
                  f"{r.median_s * 1e3:>9.3f} ms {r.achieved_gbps:7.1f} GB/s {r.fraction_of_copy:6.1%}")
        rows = rows + whole
    if args.save:
        import pandas as pd
        from measure.cli import RESULTS
        name = file_stem(table["device_name"].iloc[0])
        pd.DataFrame([r.as_dict() for r in rows]).assign(
            device_name=table["device_name"].iloc[0], torch=table["torch"].iloc[0],
            date=table["date"].iloc[0]).to_csv(RESULTS / f"{name}-{table['date'].iloc[0]}-decode.csv",
                                               index=False)


GIB = 1 << 30


def spread(rows) -> str:
    fr = [r.fraction_of_copy for r in rows]
    return f"median {statistics.median(fr):.1%}, min {min(fr):.1%}, max {max(fr):.1%}"


def whole_model_rows(dtype: str, device: str) -> list:
    """One whole-model decode row per preset, over a cache of at least 1 GiB (see docstring)."""
    from measure.check import free_bytes, resolve_device
    from measure.decode import attention_bytes, time_decode_model
    from model_presets import list_presets, load_preset
    budget = free_bytes(resolve_device(device)) // 2
    rows = []
    for name in list_presets():
        m = load_preset(name)

        def size(c: int, b: int) -> int:
            return attention_bytes(m, c, b, dtype)
        context, batch = min(m.max_context or 131072, 131072), 1
        if size(context, 1) == 0:
            continue
        batch = max(1, -(-GIB // size(context, 1)))
        while size(context, batch) > budget and context > 1024:
            context //= 2
            batch = max(1, -(-GIB // size(context, 1)))
        row = time_decode_model(m, context=context, batch=batch, dtype=dtype, device=device)
        if row.timing == "cuda graph":  # the same step launched from Python, for comparison
            eager = time_decode_model(m, context=context, batch=batch, dtype=dtype,
                                      device=device, graph=False)
            print(f"  {m.name:<20} eager {eager.median_s * 1e3:.3f} ms = "
                  f"{eager.fraction_of_copy:.1%} of copy; graph {row.median_s * 1e3:.3f} ms")
        rows.append(row)
    return rows


if __name__ == "__main__":
    main()
