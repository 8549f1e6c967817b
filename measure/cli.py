"""``python -m measure``: allocate real caches, print expected / measured / match, write a CSV.

Bad requests (a context that can't fit one layer, a dtype the device lacks, cuda where there is
none) print one line on stderr and exit with status 2.
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import sys
from pathlib import Path

import pandas as pd
import torch

from calculator.cli import UsageError, OneLineParser, positive_int, token_count
from calculator.load import model_from_config_file
from calculator.units import format_bytes

from .check import measure_model, resolve_device
from .decode import time_decode, time_decode_model

RESULTS = Path(__file__).resolve().parent / "results"


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m measure", description="Allocate real KV caches and check bytes.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--preset", action="append", help="preset name; repeatable")
    src.add_argument("--config", help="path to a Hugging Face config.json")
    src.add_argument("--all-presets", action="store_true", help="every preset")
    p.add_argument("--context", action="append", type=token_count, help="tokens; repeatable (128k ok)")
    p.add_argument("--batch", type=positive_int, default=1)
    p.add_argument("--kv-dtype", action="append", help="kv dtype; repeatable (default bf16)")
    p.add_argument("--layout", action="append", choices=("contiguous", "paged"),
                   help="repeatable (default contiguous)")
    p.add_argument("--block-size", type=positive_int, default=16)
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    p.add_argument("--decode", action="store_true", help="also time one decode step per layer group")
    p.add_argument("--decode-model", action="store_true",
                   help="also time one decode step over every attention layer of the model "
                        "(the whole cache read once)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--out", help="write the CSV here ('results' = measure/results/<device>-<date>.csv)")
    p.add_argument("--engine", choices=("shapes", "transformers"), default="shapes",
                   help="shapes: caches in the calculator's own shapes (default); transformers: "
                        "the StaticCache transformers allocates for a structural twin (DeepSeek-V4: "
                        "the DynamicCache after a --context-token prompt), compared with the "
                        "calculator's transformers mode")
    p.add_argument("--new-tokens", type=positive_int,
                   help="with --engine transformers: generate this many tokens after a prompt of "
                        "--context tokens and measure the DynamicCache generate leaves")
    return p


def _configs(args) -> list[tuple[str, dict]]:
    """(name, full config.json) pairs for --engine transformers."""
    from model_presets import list_presets, preset_key
    from model_presets.param_counts import full_config
    from calculator.load import parse_config_text
    if args.all_presets or args.preset:
        names = list_presets() if args.all_presets else [preset_key(n) for n in args.preset]
        if args.all_presets:  # presets whose architecture transformers does not define
            from calculator.engines.transformers_cache import NO_CLASS
            names = [n for n in names if full_config(n).get("model_type") not in NO_CLASS]
        return [(n, full_config(n)) for n in names]
    if args.config:
        path = Path(args.config)
        if not path.is_file():
            raise UsageError(f"config: no such file {args.config!r}")
        return [(path.parent.name or path.stem, parse_config_text(path.read_bytes()))]
    raise UsageError("give --preset NAME, --config PATH or --all-presets")


def run_library(args, dev) -> tuple[str, pd.DataFrame]:
    """--engine transformers: expected (calculator) vs measured (transformers' own StaticCache)."""
    import transformers
    from .hf_library import measure_generate, measure_library
    rows = []
    for name, config in _configs(args):
        for c in args.context or [300]:
            found = (measure_generate(config, name=name, prompt=c, new_tokens=args.new_tokens,
                                      batch=args.batch, device=str(dev)) if args.new_tokens else
                     measure_library(config, name=name, context=c, batch=args.batch, device=str(dev)))
            rows += [r.as_dict() for r in found]
    table = pd.DataFrame(rows)
    table.insert(0, "device_name", device_name(dev))
    table["torch"], table["transformers"] = torch.__version__, transformers.__version__
    table["date"] = dt.date.today().isoformat()
    if args.out:
        kind = "generate" if args.new_tokens else "static"
        out = (RESULTS / f"transformers-{kind}-{file_stem(table['device_name'][0])}-{table['date'][0]}.csv"
               if args.out == "results" else Path(args.out))
        out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(out, index=False)
    if args.format == "csv":
        return table.to_csv(index=False).rstrip("\n"), table
    if args.format == "json":
        return table.to_json(orient="records", indent=2), table
    lines = [f"device: {device_name(dev)}, torch {torch.__version__}, {rows[0]['library']} "
             "of a structural twin"]
    for r in rows:
        lines.append(f"{r['model']:<20} {r['group'][:52]:<52} ctx {r['context']:>8,}  expected "
                     f"{r['expected_bytes']:>14,}  measured {r['measured_bytes']:>14,}  "
                     f"{'match' if r['match'] else 'MISMATCH'}")
    totals = table[table["group"] == "total"]
    lines.append(f"{int(totals['match'].sum())}/{len(totals)} model totals match to the byte")
    return "\n".join(lines), table


def _models(args):
    from model_presets import list_presets, load_preset
    if args.all_presets:
        return [load_preset(n) for n in list_presets()]
    if args.preset:
        return [load_preset(n) for n in args.preset]
    if args.config:
        return [model_from_config_file(args.config)]
    raise UsageError("give --preset NAME, --config PATH or --all-presets")


def file_stem(device_name: str) -> str:
    """A device name as it appears in result file names ('NVIDIA H100' → 'NVIDIA_H100')."""
    return device_name.replace(" ", "_")


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return device.type


def run(argv: list[str] | None) -> tuple[str, pd.DataFrame]:
    args = build_parser().parse_args(argv)
    dev = resolve_device(args.device)
    if args.new_tokens and args.engine != "transformers":
        raise UsageError("--new-tokens needs --engine transformers")
    if args.engine == "transformers":
        if args.decode or args.decode_model or args.kv_dtype or args.layout:
            raise UsageError("--engine transformers measures the model's own dtype and layout; "
                             "drop --decode / --decode-model / --kv-dtype / --layout")
        return run_library(args, dev)
    models = _models(args)
    contexts = args.context or [8192]
    rows, decode = [], []
    for model in models:
        for dtype in args.kv_dtype or ["bf16"]:
            for layout in args.layout or ["contiguous"]:
                for c in contexts:
                    rows += [r.as_dict() for r in measure_model(
                        model, context=c, batch=args.batch, dtype=dtype, layout=layout,
                        block_size=args.block_size, device=str(dev))]
            if args.decode and dtype in ("bf16", "fp16", "fp32"):
                for c in contexts:
                    decode += [r.as_dict() for r in time_decode(model, context=c, batch=args.batch,
                                                                dtype=dtype, device=str(dev))]
            if args.decode_model and dtype in ("bf16", "fp16", "fp32"):
                decode += [time_decode_model(model, context=c, batch=args.batch, dtype=dtype,
                                             device=str(dev)).as_dict() for c in contexts]
    table = pd.DataFrame(rows)
    meta = {"device": device_name(dev), "torch": torch.__version__,
            "date": dt.date.today().isoformat()}
    table.insert(0, "device_name", meta["device"])
    table["torch"], table["date"] = meta["torch"], meta["date"]
    dec = pd.DataFrame(decode)
    if args.out:
        out = (RESULTS / f"{file_stem(meta['device'])}-{meta['date']}.csv"
               if args.out == "results" else Path(args.out))
        out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(out, index=False)
        if len(dec):
            dec.assign(device_name=meta["device"], torch=meta["torch"], date=meta["date"]).to_csv(
                out.with_name(out.stem + "-decode.csv"), index=False)
    if args.format == "csv":
        buf = io.StringIO()
        table.to_csv(buf, index=False)
        return buf.getvalue().rstrip("\n"), table
    if args.format == "json":
        return json.dumps({"meta": meta, "rows": rows, "decode": decode}, indent=2), table
    lines = [f"device: {meta['device']}, torch {meta['torch']}"]
    for r in rows:
        note = f" (extrapolated from {r['measured_fraction']})" if r["extrapolated"] else ""
        lines.append(f"{r['model']:<20} {r['group'][:44]:<44} {r['kv_dtype']:>9} {r['layout']:>10} "
                     f"ctx {r['context']:>8,}  expected {r['expected_bytes']:>16,}  measured "
                     f"{r['measured_bytes']:>16,}  {'match' if r['match'] else 'MISMATCH'}{note}")
    for d in decode:
        lines.append(f"decode {d['model']:<20} {d['group'][:44]:<44} ctx {d['context']:>8,} "
                     f"{format_bytes(d['bytes_read'])} in {d['median_s'] * 1e6:,.0f} us = "
                     f"{d['achieved_gbps']:.1f} GB/s ({d['fraction_of_copy']:.0%} of copy "
                     f"{d['copy_gbps']:.1f} GB/s); model floor {d['model_floor_s'] * 1e3:.3f} ms/token")
    matched = int(table.loc[table["group"] == "total", "match"].sum())
    lines.append(f"{matched}/{int((table['group'] == 'total').sum())} model totals match to the byte")
    return "\n".join(lines), table


def main(argv: list[str] | None = None) -> int:
    try:
        text, _ = run(argv)
        print(text)
    except (UsageError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
