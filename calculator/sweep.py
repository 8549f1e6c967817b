"""Vectorized comparison table: many models × contexts × batches × dtypes → a DataFrame.

Per-layer bytes are linear in held tokens, so each (model, dtype, batch) is one numpy pass over
all contexts. Values are checked against int64 first: if the largest could overflow, that block
is computed with Python ints through ``kv_cache_bytes`` instead (slower, never wrong).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from .dtypes import get_dtype
from .specs import ModelSpec
from .totals import kv_cache_bytes, pp_stages
from .units import format_bytes

INT64_SAFE = (1 << 62)
BYTE_COLUMNS = ("per_token_bytes", "kv_bytes", "state_bytes", "total_bytes",
                "per_gpu_kv_bytes", "per_gpu_total_bytes")


def _held(window: int | None, ctx: np.ndarray, layout: str, block: int) -> np.ndarray:
    tokens = ctx if window is None else np.minimum(ctx, window)
    if layout == "paged":
        tokens = -(-tokens // block) * block
    return tokens


def _block_vectorized(model: ModelSpec, ctx: np.ndarray, batch: int, dtype, tp: int, pp: int,
                      layout: str, block: int) -> dict[str, np.ndarray]:
    specs = model.layer_specs()
    kv = np.zeros_like(ctx)
    state = 0
    for g in model.groups:
        kv = kv + g.count * g.spec.per_token_bytes(dtype) * _held(g.spec.window, ctx, layout, block)
        state += g.count * g.spec.state_bytes()
    stage_kv, stage_total = [], []
    for r in pp_stages(len(specs), pp):
        s_kv = np.zeros_like(ctx)
        s_state = 0
        for i in r:
            s = specs[i]
            s_kv = s_kv + s.per_token_bytes(dtype, tp) * _held(s.window, ctx, layout, block)
            s_state += s.state_bytes(tp)
        stage_kv.append(batch * s_kv)
        stage_total.append(batch * s_kv + batch * s_state)
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


def sweep(models: Sequence[ModelSpec], contexts: Iterable[int], *, batches: Iterable[int] = (1,),
          dtypes: Iterable[str] = ("bf16",), tp: int = 1, pp: int = 1,
          layout: str = "theoretical", block_size: int = 16, unit: str = "GiB") -> pd.DataFrame:
    """One row per model × dtype × batch × context with raw bytes and formatted columns."""
    contexts = [int(c) for c in contexts]
    frames = []
    for model in models:
        for dtype_name in dtypes:
            dtype = get_dtype(dtype_name)
            per_token = kv_cache_bytes(model, 1, 1, dtype).kv_bytes
            for batch in batches:
                # Validates every argument and gives the largest value exactly.
                top = kv_cache_bytes(model, max(contexts), batch, dtype, tp, pp, layout, block_size)
                if top.total_bytes < INT64_SAFE:
                    cols = _block_vectorized(model, np.asarray(contexts, dtype=np.int64), batch,
                                             dtype, tp, pp, layout, block_size)
                else:
                    cols = _block_python(model, contexts, batch, dtype, tp, pp, layout, block_size)
                frame = pd.DataFrame(cols)
                frame.insert(0, "context", contexts)
                frame.insert(0, "batch", batch)
                frame.insert(0, "kv_dtype", dtype.name)
                frame.insert(0, "attention", model.describe())
                frame.insert(0, "model", model.name)
                frame["per_token_bytes"] = per_token
                frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    table["total_bytes"] = table["kv_bytes"] + table["state_bytes"]
    for col in BYTE_COLUMNS:
        if table[col].dtype != object:
            table[col] = table[col].astype("int64")
    table["layout"], table["tp"], table["pp"] = layout, tp, pp
    for col in ("kv_bytes", "total_bytes", "per_gpu_total_bytes"):
        table[col.replace("_bytes", f"_{unit}")] = [format_bytes(int(v), unit) for v in table[col]]
    order = ["model", "attention", "kv_dtype", "layout", "tp", "pp", "batch", "context",
             *BYTE_COLUMNS, f"kv_{unit}", f"total_{unit}", f"per_gpu_total_{unit}"]
    return table[order]
