"""Vectorized comparison table: many models × contexts × batches × dtypes → a DataFrame.

Per-layer bytes are linear in held tokens: a block (model, dtype, batch) is batch × (bytes per
token of its unwindowed layers × held(ctx) + Σ over windows of their bytes per token ×
held(min(ctx, window)) + state). Every block's coefficients are gathered first, then the whole
table is a few int64 matrix products (blocks × windows × contexts), per pipeline stage for the
per-GPU columns. Values are bounded against int64 first: if the largest could overflow, the table
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


def _coefficients(counts, dtype, tp: int) -> tuple[int, dict, int, dict]:
    """Bytes as a function of held tokens: (bytes per token of the unwindowed layers,
    {window: bytes per token of layers holding min(tokens, window)}, state bytes,
    {rate: bytes per entry of DeepSeek-V4 layers holding tokens // rate entries})."""
    lin, wins, state, rates = 0, {}, 0, {}
    for spec, n in counts:
        b = n * spec.per_token_bytes(dtype, tp)
        if spec.window is None:
            lin += b
        else:
            wins[spec.window] = wins.get(spec.window, 0) + b
        state += n * spec.state_bytes(tp)
        rate = getattr(spec, "compress_rate", 0)
        if rate:
            rates[rate] = rates.get(rate, 0) + n * spec.entry_bytes(dtype)
    return lin, wins, state, rates


def _blocks_batched(blocks: list[tuple], ctx: np.ndarray, layout: str,
                    block: int) -> dict[str, np.ndarray]:
    """Every (model, dtype, batch) block at once. ``blocks`` holds (batch, whole-model
    coefficients, per-stage coefficients); bytes = batch × (lin · held(ctx) + Σ coef_w ·
    held(min(ctx, w)) [+ state]), as int64 matrices of blocks × contexts."""
    windows = sorted({w for b in blocks for co in (b[1], *b[2]) for w in co[1]})
    rates = sorted({r for b in blocks for co in (b[1], *b[2]) for r in co[3]})
    col = {w: i for i, w in enumerate(windows)}
    rcol = {r: i for i, r in enumerate(rates)}
    full = _held(None, ctx, layout, block)
    held_w = (np.vstack([_held(w, ctx, layout, block) for w in windows]) if windows
              else np.zeros((0, ctx.size), dtype=np.int64))
    # compressed entries: context // rate, in whole blocks of entries when paged (totals.py)
    held_r = (np.vstack([_held(None, ctx // r, layout, block) for r in rates]) if rates
              else np.zeros((0, ctx.size), dtype=np.int64))

    def matrix(coefs: list[tuple]) -> tuple[np.ndarray, np.ndarray]:
        lin = np.fromiter((co[0] for co in coefs), dtype=np.int64, count=len(coefs))
        win = np.zeros((len(coefs), len(windows)), dtype=np.int64)
        per_entry = np.zeros((len(coefs), len(rates)), dtype=np.int64)
        for i, co in enumerate(coefs):
            for w, b in co[1].items():
                win[i, col[w]] = b
            for r, b in co[3].items():
                per_entry[i, rcol[r]] = b
        state = np.fromiter((co[2] for co in coefs), dtype=np.int64, count=len(coefs))
        return lin[:, None] * full[None, :] + win @ held_w + per_entry @ held_r, state

    batch = np.fromiter((b[0] for b in blocks), dtype=np.int64, count=len(blocks))[:, None]
    kv, state = matrix([b[1] for b in blocks])
    stage_kv, stage_total = [], []
    for s in range(len(blocks[0][2])):
        s_kv, s_state = matrix([b[2][s] for b in blocks])
        stage_kv.append(batch * s_kv)
        stage_total.append(batch * (s_kv + s_state[:, None]))
    totals, kvs = np.stack(stage_total), np.stack(stage_kv)
    best = totals.max(axis=0)
    gpu_kv = np.where(totals == best, kvs, -1).max(axis=0)
    return {"kv_bytes": (batch * kv).ravel(),
            "state_bytes": np.repeat(batch[:, 0] * state, ctx.size),
            "per_gpu_kv_bytes": gpu_kv.ravel(), "per_gpu_total_bytes": best.ravel()}


def _block_python(model, contexts, batch, dtype, tp, pp, layout, block) -> dict[str, list]:
    rows = [kv_cache_bytes(model, c, batch, dtype, tp, pp, layout, block) for c in contexts]
    return {"kv_bytes": [r.kv_bytes for r in rows], "state_bytes": [r.state_bytes for r in rows],
            "per_gpu_kv_bytes": [r.per_gpu_kv_bytes for r in rows],
            "per_gpu_total_bytes": [r.per_gpu_total_bytes for r in rows]}


def _categorical(labels: list[str], repeat: int) -> pd.Categorical:
    """Each label repeated ``repeat`` times, as codes into the distinct labels (a few labels over
    many rows). The categories are a plain object Index: inferring pandas' Arrow string dtype for
    them costs more than the rest of a small table."""
    cats = list(dict.fromkeys(labels))
    index = {label: i for i, label in enumerate(cats)}
    codes = np.fromiter((index[label] for label in labels), dtype=np.int32, count=len(labels))
    return pd.Categorical.from_codes(np.repeat(codes, repeat),
                                     dtype=pd.CategoricalDtype(pd.Index(cats, dtype=object)),
                                     validate=False)


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
    if unit not in SCALES:
        raise ValueError(f"unit: unknown {unit!r}")
    table = pd.DataFrame(sweep_columns(models, contexts, batches=batches, dtypes=dtypes, tp=tp,
                                       pp=pp, layout=layout, block_size=block_size), copy=False)
    if formatted:
        for col in ("kv_bytes", "total_bytes", "per_gpu_total_bytes"):
            table[col.replace("_bytes", f"_{unit}")] = _format_column(table[col], unit)
    return table


def sweep_columns(models: Sequence[ModelSpec], contexts: Iterable[int], *,
                  batches: Iterable[int] = (1,), dtypes: Iterable[str] = ("bf16",), tp: int = 1,
                  pp: int = 1, layout: str = "theoretical", block_size: int = 16,
                  labels: bool = True) -> dict[str, np.ndarray]:
    """``sweep``'s columns, in its order, as arrays (a page that reads a few of them, or builds
    its own table from them, skips the DataFrame). ``labels=False``: the byte columns only,
    what a chart draws from."""
    contexts = [int(c) for c in contexts]
    ctx = np.asarray(contexts, dtype=np.int64) if max(contexts) < INT64_SAFE else None
    batches = list(batches)
    dtype_specs = [get_dtype(d) for d in dtypes]
    held = max(contexts) + (block_size if layout == "paged" else 0)
    names, attentions, kv_dtypes, batch_col, per_tokens = [], [], [], [], []
    plan: list[tuple] = []   # (batch, whole-model and per-stage coefficients, model, dtype)
    exact = ctx is None
    for model in models:
        # Validates every argument once per model (tp, pp, layout, block, contexts, batch);
        # the largest value is then bounded exactly from the per-token bytes and state.
        kv_cache_bytes(model, max(contexts), max(batches), dtype_specs[0], tp, pp, layout,
                       block_size)
        whole = [(g.spec, g.count) for g in model.groups]
        stages = [list(c.items()) for c in _stage_counts(model, pp)]
        attention = model.describe()
        for dtype in dtype_specs:
            coef = _coefficients(whole, dtype, 1)
            per_token = coef[0] + sum(coef[1].values())
            stage_coefs = [_coefficients(c, dtype, tp) for c in stages]
            entry = sum(coef[3].values())  # at most one entry per token: a bound for the guard
            for batch in batches:
                if 2 * batch * ((per_token + entry) * held + coef[2]) >= INT64_SAFE:
                    exact = True
                plan.append((batch, coef, stage_coefs, model, dtype))
                names.append(model.name)
                attentions.append(attention)
                kv_dtypes.append(dtype.name)
                batch_col.append(batch)
                per_tokens.append(per_token)
    n = len(contexts)
    if not plan:
        raise ValueError("models: give at least one model")
    if exact:   # some value could pass int64: Python ints through kv_cache_bytes, block by block
        parts = [_block_python(m, contexts, b, d, tp, pp, layout, block_size)
                 for b, _, _, m, d in plan]
        values = {k: np.concatenate([np.asarray(p[k], dtype=object) for p in parts])
                  for k in ("kv_bytes", "state_bytes", "per_gpu_kv_bytes", "per_gpu_total_bytes")}
    else:
        values = _blocks_batched(plan, ctx, layout, block_size)
    if not labels:
        return {**values, "total_bytes": values["kv_bytes"] + values["state_bytes"]}
    data = {key: _categorical(vals, n) for key, vals in (
        ("model", names), ("attention", attentions), ("kv_dtype", kv_dtypes))}
    data["layout"] = _categorical([layout] * len(plan), n)
    data["tp"] = np.full(n * len(plan), tp, dtype=np.int64)
    data["pp"] = np.full(n * len(plan), pp, dtype=np.int64)
    for key, vals in (("batch", batch_col), ("per_token_bytes", per_tokens)):
        big = max(vals) >= INT64_SAFE
        data[key] = np.repeat(np.asarray(vals, dtype=object if big else np.int64), n)
    data["context"] = np.tile(np.asarray(contexts, dtype=object if ctx is None else np.int64),
                              len(plan))
    for key in ("kv_bytes", "state_bytes", "per_gpu_kv_bytes", "per_gpu_total_bytes"):
        data[key] = values[key]
    total = values["kv_bytes"] + values["state_bytes"]
    data = {k: data[k] for k in ("model", "attention", "kv_dtype", "layout", "tp", "pp", "batch",
                                 "context", "per_token_bytes", "kv_bytes", "state_bytes")}
    data["total_bytes"] = total
    data["per_gpu_kv_bytes"] = values["per_gpu_kv_bytes"]
    data["per_gpu_total_bytes"] = values["per_gpu_total_bytes"]
    for col in BYTE_COLUMNS:
        if data[col].dtype == object and all(int(v) < INT64_SAFE for v in data[col]):
            data[col] = data[col].astype("int64")
    return data
