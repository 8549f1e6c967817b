"""Vectorized comparison table: many models × contexts × batches × dtypes → a DataFrame.

Per-layer bytes are linear in held tokens, so each (model, dtype, batch) is one numpy pass over
all contexts. Values are checked against int64 first: if the largest could overflow, that block
is computed with Python ints through ``kv_cache_bytes`` instead (slower, never wrong).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from .dtypes import get_dtype
from .specs import ModelSpec
from .totals import kv_cache_bytes, pp_stages
from .units import SCALES

INT64_SAFE = (1 << 62)
BYTE_COLUMNS = ("per_token_bytes", "kv_bytes", "state_bytes", "total_bytes",
                "per_gpu_kv_bytes", "per_gpu_total_bytes")


def _held(window: int | None, ctx: np.ndarray, layout: str, block: int) -> np.ndarray:
    tokens = ctx if window is None else np.minimum(ctx, window)
    if layout == "paged":
        tokens = -(-tokens // block) * block
    return tokens


def _stage_counts(model: ModelSpec, pp: int) -> list[Counter]:
    """For each pipeline stage, how many of its layers use each spec (the whole model is one
    stage: its groups already count them)."""
    if pp == 1:
        return [Counter({g.spec: g.count for g in model.groups})]
    specs = model.layer_specs()
    return [Counter(specs[i] for i in r) for r in pp_stages(len(specs), pp)]


def _block_vectorized(model: ModelSpec, ctx: np.ndarray, batch: int, dtype, tp: int, pp: int,
                      layout: str, block: int) -> dict[str, np.ndarray]:
    kv = np.zeros_like(ctx)
    state = 0
    for g in model.groups:
        kv += g.count * g.spec.per_token_bytes(dtype) * _held(g.spec.window, ctx, layout, block)
        state += g.count * g.spec.state_bytes()
    stage_kv, stage_total = [], []
    for counts in _stage_counts(model, pp):
        s_kv = np.zeros_like(ctx)
        s_state = 0
        for spec, n in counts.items():
            s_kv += n * spec.per_token_bytes(dtype, tp) * _held(spec.window, ctx, layout, block)
            s_state += n * spec.state_bytes(tp)
        stage_kv.append(batch * s_kv)
        stage_total.append(batch * (s_kv + s_state))
    totals, kvs = np.vstack(stage_total), np.vstack(stage_kv)
    best = totals.max(axis=0)
    gpu_kv = np.where(totals == best, kvs, -1).max(axis=0)
    return {"kv_bytes": batch * kv, "state_bytes": np.full_like(ctx, batch * state),
            "per_gpu_kv_bytes": gpu_kv, "per_gpu_total_bytes": best}


def _block_python(model, contexts, batch, dtype, tp, pp, layout, block) -> dict[str, list]:
    rows = [kv_cache_bytes(model, c, batch, dtype, tp, pp, layout, block) for c in contexts]
    return {"kv_bytes": [r.kv_bytes for r in rows], "state_bytes": [r.state_bytes for r in rows],
            "per_gpu_kv_bytes": [r.per_gpu_kv_bytes for r in rows],
            "per_gpu_total_bytes": [r.per_gpu_total_bytes for r in rows]}


def _format_column(values: pd.Series, unit: str) -> np.ndarray:
    """'12.34 GiB' for every value (no thousands separators, so CSV cells need no quoting)."""
    scaled = np.asarray([int(v) / SCALES[unit] for v in values], dtype=float) \
        if values.dtype == object else values.to_numpy(dtype=float) / SCALES[unit]
    return np.char.add(np.char.mod("%.2f", scaled), f" {unit}")


def sweep(models: Sequence[ModelSpec], contexts: Iterable[int], *, batches: Iterable[int] = (1,),
          dtypes: Iterable[str] = ("bf16",), tp: int = 1, pp: int = 1,
          layout: str = "theoretical", block_size: int = 16, unit: str = "GiB",
          formatted: bool = True) -> pd.DataFrame:
    """One row per model × dtype × batch × context with raw bytes, and with ``formatted`` the
    '12.34 GiB' columns (a chart reads the bytes only and skips that string work)."""
    contexts = [int(c) for c in contexts]
    ctx = np.asarray(contexts, dtype=np.int64) if max(contexts) < INT64_SAFE else None
    if unit not in SCALES:
        raise ValueError(f"unit: unknown {unit!r}")
    labels: dict[str, list] = {k: [] for k in ("model", "attention", "kv_dtype", "batch", "per_token_bytes")}
    blocks: list[dict] = []
    batches = list(batches)
    for model in models:
        for i, dtype_name in enumerate(dtypes):
            dtype = get_dtype(dtype_name)
            per_token = sum(g.count * g.spec.per_token_bytes(dtype) for g in model.groups)
            # Validates every argument once per model (tp, pp, layout, block, contexts, batch);
            # the largest value is then bounded exactly from the per-token bytes and state.
            if i == 0:
                kv_cache_bytes(model, max(contexts), max(batches), dtype, tp, pp, layout, block_size)
            state = sum(g.count * g.spec.state_bytes() for g in model.groups)
            for batch in batches:
                held = max(contexts) + (block_size if layout == "paged" else 0)
                bound = batch * (per_token * held + state)
                if ctx is not None and 2 * bound < INT64_SAFE:
                    blocks.append(_block_vectorized(model, ctx, batch, dtype, tp, pp, layout, block_size))
                else:
                    blocks.append(_block_python(model, contexts, batch, dtype, tp, pp, layout, block_size))
                for key, value in (("model", model.name), ("attention", model.describe()),
                                   ("kv_dtype", dtype.name), ("batch", batch),
                                   ("per_token_bytes", per_token)):
                    labels[key].append(value)
    n = len(contexts)
    ints = ("batch", "per_token_bytes")
    data = {}
    for key, vals in labels.items():
        if key in ints and max(vals) < INT64_SAFE:
            data[key] = np.repeat(np.asarray(vals, dtype=np.int64), n)
        elif key in ints:
            data[key] = np.repeat(np.asarray(vals, dtype=object), n)
        else:  # a few distinct labels repeated: categorical codes, not a string per row
            cats = pd.Categorical(vals)
            data[key] = pd.Categorical.from_codes(np.repeat(cats.codes, n), cats.categories)
    data["context"] = np.tile(np.asarray(contexts, dtype=object if ctx is None else np.int64), len(blocks))
    for col in ("kv_bytes", "state_bytes", "per_gpu_kv_bytes", "per_gpu_total_bytes"):
        parts = [b[col] for b in blocks]
        exact = any(isinstance(p, list) for p in parts)
        data[col] = (np.concatenate([np.asarray(p, dtype=object) for p in parts]) if exact
                     else np.concatenate(parts))
    table = pd.DataFrame(data)
    table["total_bytes"] = table["kv_bytes"] + table["state_bytes"]
    for col in BYTE_COLUMNS:
        if table[col].dtype == object and all(int(v) < INT64_SAFE for v in table[col]):
            table[col] = table[col].astype("int64")
    table["layout"], table["tp"], table["pp"] = layout, tp, pp
    order = ["model", "attention", "kv_dtype", "layout", "tp", "pp", "batch", "context",
             *BYTE_COLUMNS]
    if formatted:
        for col in ("kv_bytes", "total_bytes", "per_gpu_total_bytes"):
            table[col.replace("_bytes", f"_{unit}")] = _format_column(table[col], unit)
        order += [f"kv_{unit}", f"total_{unit}", f"per_gpu_total_{unit}"]
    return table[order]
