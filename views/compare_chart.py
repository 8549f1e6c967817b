"""Builders of the Compare page's chart and table, cached on cheap keys.

Defined here rather than in the page script so the cached functions are created once per process
(a page script re-runs its decorators on every rerun). Each takes one string key
(``cache_key``) that names all its inputs; the other arguments are not hashed.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import plotly.express as px
import plotly.graph_objects as go
from _plotly_utils.utils import convert_to_base64
import streamlit as st

from calculator import ModelSpec, gpu_memory, plan
from calculator.sweep import sweep_columns
from calculator.totals import long_context_bytes_per_token
from calculator.engines import ENGINES, llamacpp_plan, sglang_pool, transformers_cache_bytes, vllm_plan
from calculator.units import SCALES, format_per_token
from views import common as c

POINTS = 256
JS_EXACT = 1 << 53  # hover shows exact bytes as numbers below this, as text above


class FrozenFigure(go.Figure):
    """A finished figure whose ``to_dict`` is a dict made once.

    ``st.plotly_chart`` calls ``to_dict()`` on every rerun (validating every trace and
    base64-encoding every array: most of an unchanged rerun's time); a cached chart hands it the
    dict it already made. The dict is read, never written, by ``plotly.io.to_json``."""

    @classmethod
    def of(cls, fig_dict: dict) -> "FrozenFigure":
        """A frozen figure around a dict built here in plotly's own ``to_dict`` form (the traces
        are plain scatter dicts: building them as plotly objects only to validate and dump them
        again was most of a changed rerun's time). ``tests/test_compare_rerun.py`` checks the
        dict equals what plotly's validation makes of it."""
        convert_to_base64(fig_dict["data"])  # numpy arrays → typed-array specs, in place
        # No Figure.__init__: it would build an empty figure and its template (0.75 ms) only to
        # be bypassed; st.plotly_chart needs a BaseFigure whose to_dict() gives the dict.
        fig = object.__new__(cls)
        fig._frozen = fig_dict
        return fig

    def to_dict(self):
        return self._frozen

    def __repr__(self) -> str:
        return f"FrozenFigure({len(self._frozen['data'])} traces)"


_TEMPLATE: dict = {}


def _template() -> dict:
    """The default template plotly writes into every figure's layout (read once, shared)."""
    if not _TEMPLATE:
        _TEMPLATE.update(go.Figure().to_dict()["layout"]["template"])
    return _TEMPLATE


def cache_key(choices: list[str], models: tuple[ModelSpec, ...], *rest) -> str:
    """One string naming a build: hashing a short string is the cheapest cache lookup there is.
    A model enters as its choice name and ``hash(model)``, so an edited custom model misses."""
    return repr((tuple((ch, hash(m)) for ch, m in zip(choices, models)), *rest))




def engine_bytes(m: ModelSpec, engine: str, ctx: int, dtype: str, batch: int, tp: int, block: int) -> int:
    """What ``engine`` allocates for ``batch`` sequences of ``ctx`` tokens (per GPU when TP > 1).

    transformers: ``StaticCache(max_cache_len=ctx)`` for ``batch`` sequences, in the KV dtype
    (the model's compute dtype: bf16, fp16 or fp32), one device (DeepSeek-V4: the DynamicCache
    right after a ctx-token prompt, ``transformers_cache_bytes``);
    vllm: the blocks of ``batch`` requests at max_model_len = ctx (``VllmPlan.request_bytes``);
    sglang: the pools that hold ctx·batch tokens (``--kv-cache-dtype`` auto or fp8; hybrid-SWA
    models add a SWA pool of 0.8× those tokens); llama.cpp: the caches of ``-c ctx·batch -np
    batch`` with -ctk/-ctv = the KV dtype.
    Raises ``ValueError`` (one line) where the engine refuses or the mode is not modelled."""
    if engine == "transformers":
        if tp != 1:
            raise ValueError("transformers' StaticCache is one device's: set TP to 1")
        return transformers_cache_bytes(m, ctx, batch, dtype).total_bytes
    if engine == "vllm":
        kv = c.auto_or_fp8("vLLM", dtype, m.dtype)
        return vllm_plan(m, max_model_len=ctx, block_size=block, kv_cache_dtype=kv,
                         tp=tp).request_bytes(batch)
    if engine == "sglang":
        kv = c.auto_or_fp8("SGLang", dtype, m.dtype)
        return sglang_pool(m, tokens=ctx * batch, kv_cache_dtype=kv, tp=tp,
                           requests=batch).total_bytes  # hybrids: 3 Mamba slots per request
    if engine == "llama.cpp":
        if dtype not in c.LLAMACPP_CACHE_TYPES:
            raise ValueError(f"llama.cpp has no {dtype} cache type (pick bf16, fp16, fp32, q8_0 or q4_0)")
        if tp != 1:
            raise ValueError("llama.cpp splits layers across GPUs, not heads: set TP to 1")
        t = c.LLAMACPP_CACHE_TYPES[dtype]
        return llamacpp_plan(m, n_ctx=ctx * batch, n_seq_max=min(batch, 256), cache_type_k=t,
                             cache_type_v=t).total_bytes
    raise ValueError(f"unknown engine {engine!r}")


def engine_note(m: ModelSpec, engine: str, ctx: int, dtype: str, batch: int, tp: int, block: int) -> str:
    """'' when the engine sizes this model at ``ctx``, else why not (one line)."""
    if engine == "theoretical":
        return ""
    try:
        engine_bytes(m, engine, ctx, dtype, batch, tp, block)
    except ValueError as exc:
        return str(exc)
    return ""


def with_mtp(models: tuple[ModelSpec, ...], mtp: bool) -> list[ModelSpec]:
    return [m.with_mtp_layers() for m in models] if mtp else list(models)


def capacity(m: ModelSpec, gpu: str, tp: int, util: float, dtype: str, layout: str, block: int):
    """The plan both the chart's 'minus weights' lines and the table's max context use."""
    if m.param_count is None and m.weight_bytes is None:
        return None
    try:
        return plan(m, gpu_bytes=gpu_memory(gpu), gpus=tp, mem_util=f"{util:.2f}", kv_dtype=dtype,
                    layout=layout, block_size=block)
    except ValueError:  # e.g. a quantized checkpoint whose bytes cannot be priced: no weight line
        return None


@st.cache_resource(max_entries=32, show_spinner=False)
def chart(key: str, _models: tuple[ModelSpec, ...], _labels: tuple[str, ...], _s: tuple) -> go.Figure:
    """The memory-vs-context figure. ``key`` (``cache_key``) names every other argument."""
    labels, s = _labels, _s
    (dtype, batch, layout, tp, block, lo, hi, gpus, util, minus_w, clip, logy, mtp, unit, engine) = s
    models = with_mtp(_models, mtp)
    grid = {int(x) for x in np.geomspace(lo, hi, POINTS).round()}
    grid |= {m.max_context for m in models if m.max_context and lo <= m.max_context <= hi}
    contexts = sorted(grid)
    table = sweep_columns(models, contexts, batches=[batch], dtypes=[dtype], tp=tp, layout=layout,
                          block_size=block, labels=False)
    scale, per_gpu = SCALES[unit], tp > 1
    ycol = "per_gpu_total_bytes" if per_gpu else "total_bytes"
    colors = px.colors.qualitative.Plotly
    fig = []   # the traces, as the dicts plotly's to_dict would make of them
    all_ys, grid_xs, n = table[ycol], np.asarray(contexts), len(contexts)
    for i, (m, name) in enumerate(zip(models, labels)):
        color = colors[i % len(colors)]
        ys, xs = all_ys[i * n:(i + 1) * n], grid_xs
        if engine != "theoretical":
            ys = np.asarray(_engine_curve(m, engine, contexts, dtype, batch, tp, block), dtype=object)
            xs = xs[ys != None]  # noqa: E711  (points the engine refuses are left out)
            ys = ys[ys != None]  # noqa: E711
        if clip and m.max_context:
            keep = xs <= m.max_context
            xs, ys = xs[keep], ys[keep]
        if not len(xs):
            continue
        # float64 holds every integer below 2**53 exactly (and travels as a compact typed array);
        # beyond that the exact figure goes as text.
        exact = ys if ys.dtype == np.int64 else [int(v) for v in ys]
        small = max(exact) < JS_EXACT
        custom = np.asarray(exact, dtype=np.float64) if small else [f"{int(v):,}" for v in exact]
        fmt = "%{customdata:,}" if small else "%{customdata}"
        fig.append(dict(
            type="scatter", x=np.asarray(xs, dtype=np.int64),
            y=np.asarray(exact, dtype=float) / scale, mode="lines", name=c.html_escape(name),
            line={"color": color}, customdata=custom, legendgroup=str(i),
            hovertemplate=f"<b>%{{fullData.name}}</b><br>%{{x:,}} tokens<br>{fmt} bytes"
                          f"<br>%{{y:,.2f}} {unit}<extra></extra>"))
        at = int(np.searchsorted(xs, m.max_context)) if m.max_context else len(xs)
        if at < len(xs) and xs[at] == m.max_context:
            y_end = int(exact[at])
            fig.append(dict(
                type="scatter", x=[m.max_context], y=[y_end / scale], mode="markers",
                showlegend=False, name=c.html_escape(name), legendgroup=str(i),
                marker={"symbol": "diamond", "size": 10, "color": color},
                hovertemplate="<b>%{fullData.name}</b><br>max context %{x:,} tokens<extra></extra>"))
        if minus_w:
            for gpu in gpus:
                cap = capacity(m, gpu, tp, util, dtype, layout, block)
                if cap is not None and cap.free_per_gpu > 0:
                    line(fig, cap.free_per_gpu, f"{gpu} at {util:.0%} − {name} weights", color,
                         "dot", lo, hi, scale, str(i))
    for gpu in gpus:
        budget = gpu_memory(gpu) * round(util * 100) // 100
        line(fig, budget, f"{gpu} at {util:.0%}", "gray", "dash", lo, hi, scale, "gpus")
    yaxis = {"type": "log" if logy else "linear",
             "title": {"text": f"KV cache {f'per GPU (TP={tp})' if per_gpu else 'total'} ({unit}), "
                               f"batch {batch}" + ("" if engine == "theoretical" else f", {engine}")}}
    if logy:
        yaxis["dtick"] = 1
    layout = {
        "template": _template(),
        "xaxis": {"type": "log", "title": {"text": "context (tokens per sequence)"},
                  "dtick": 1, "minor": {"showgrid": False}},  # powers of 10 only
        "yaxis": yaxis,
        "legend": {"orientation": "h", "y": -0.18, "yanchor": "top", "x": 0},
        "margin": {"t": 30, "l": 10, "r": 10}, "height": 560, "hovermode": "closest"}
    return FrozenFigure.of({"data": fig, "layout": layout})


def line(fig: list, value: int, name: str, color: str, dash: str, x0: int, x1: int,
         scale: int, group: str) -> None:
    """A labelled horizontal line as a legend entry (no in-plot text, so labels never overlap)."""
    fig.append(dict(
        type="scatter", x=[x0, x1], y=[value / scale] * 2, mode="lines", name=c.html_escape(name),
        legendgroup=group, line={"color": color, "dash": dash, "width": 1},
        customdata=[f"{value:,}"] * 2,
        hovertemplate="%{fullData.name}: %{customdata} bytes<extra></extra>"))


@st.cache_resource(max_entries=32, show_spinner=False)
def tables(key: str, _models: tuple[ModelSpec, ...], _labels: tuple[str, ...], _s: tuple,
           _table_ctx: tuple[int, ...], _cap_gpu: str):
    """(display table, CSV text, JSON text). ``key`` (``cache_key``) names every other argument."""
    labels, s, table_ctx, cap_gpu = _labels, _s, _table_ctx, _cap_gpu
    (dtype, batch, layout, tp, block, lo, hi, gpus, util, minus_w, clip, logy, mtp, unit, engine) = s
    models = with_mtp(_models, mtp)
    contexts = table_ctx or (lo,)
    if unit not in SCALES:
        raise ValueError(f"unit: unknown {unit!r}")
    cols = sweep_columns(models, contexts, batches=[batch], dtypes=[dtype], tp=tp,
                         layout=layout, block_size=block)  # sweep's columns, no DataFrame yet
    ycol = "per_gpu_total_bytes" if tp > 1 else "total_bytes"
    scope = f"per GPU, TP={tp}" if tp > 1 else "total"
    for col in ("kv_bytes", "total_bytes", "per_gpu_total_bytes"):  # sweep's '12.34 GiB' columns
        cols[col.replace("_bytes", f"_{unit}")] = [f"{int(v) / SCALES[unit]:.2f} {unit}"
                                                   for v in cols[col]]
    n = len(contexts)
    rows = []
    shown_bytes, shown_text, max_ctx, notes = [], [], [], []
    for i, (m, name) in enumerate(zip(models, labels)):
        part = slice(i * n, (i + 1) * n)  # sweep keeps model order
        ctxs = [int(x) for x in cols["context"][part]]
        # Numbers first, descriptions last: on a phone the pinned model column and the
        # figures are what fits; the rest scrolls.
        row = {"model": name}
        values = (cols[ycol][part].tolist() if engine == "theoretical"
                  else _engine_curve(m, engine, ctxs, dtype, batch, tp, block))
        note = "" if engine == "theoretical" else engine_note(m, engine, int(contexts[-1]), dtype,
                                                              batch, tp, block)
        for ctx, value in zip(ctxs, values):
            label = f"@ {c.token_label(ctx)} ({scope}{'' if engine == 'theoretical' else ', ' + engine})"
            beyond = bool(m.max_context and ctx > m.max_context)
            row[label] = ("—" if value is None else c.format_bytes(int(value), unit)
                          + (" (beyond max)" if beyond else ""))
            shown_bytes.append(None if value is None else int(value))
            shown_text.append(row[label])
            notes.append(note if value is None else "")
        mc_label = f"max context on {tp}× {cap_gpu} at {util:.0%}"
        row[mc_label] = max_context_text(m, capacity(m, cap_gpu, tp, util, dtype, layout, block), batch)
        max_ctx += [row[mc_label]] * n
        row["bytes/token (whole model)"] = f"{int(cols['per_token_bytes'][i * n]):,}"
        if m.has_compressed:  # DeepSeek-V4: then its entries
            growth = long_context_bytes_per_token(m, dtype)
            row["bytes/token (whole model)"] += f", then {format_per_token(growth)} past the window"
        row["model max context"] = f"{m.max_context:,}" if m.max_context else "unknown"
        row["layers"] = m.num_layers
        row["attention"] = m.describe()
        rows.append(row)
    # The export carries what the table shows (the engine's figure, raw and formatted, its scope,
    # the GPU and utilization the max-context column used) beside the theoretical breakdown.
    # One DataFrame built from its columns (inserting them one by one re-lays the frame each time).
    first, *rest = cols
    export = pd.DataFrame({
        first: cols[first], "engine": engine,
        "shown_bytes": _nullable_ints(shown_bytes), "shown": shown_text, "scope": scope,
        **{col: cols[col] for col in rest},
        "gpu": cap_gpu, "mem_util": util, "max_context_on_gpu": max_ctx,
        "model_max_context": [m.max_context for m in models for _ in contexts],
        "beyond_model_max_context": [bool(m.max_context and int(x) > m.max_context)
                                     for m in models for x in contexts],
        "engine_note": notes})
    # An Arrow table: st.dataframe serializes it as is, where a DataFrame is converted every rerun.
    return (pa.Table.from_pylist(rows),
            export.to_csv(index=False), export.to_json(orient="records", indent=2))


def _nullable_ints(values: list[int | None]):
    """Integers with gaps as pandas' nullable Int64, or as objects past int64 (a batch of 2^30
    at 1M tokens): the CSV and JSON write them exactly either way."""
    if all(v is None or -(1 << 63) <= v < (1 << 63) for v in values):
        return pd.array(values, dtype="Int64")
    return pd.array(values, dtype=object)


def _engine_curve(m: ModelSpec, engine: str, contexts, dtype: str, batch: int, tp: int,
                  block: int) -> list[int | None]:
    out = []
    for x in contexts:
        try:
            out.append(engine_bytes(m, engine, int(x), dtype, batch, tp, block))
        except ValueError:
            out.append(None)
    return out


def max_context_text(m: ModelSpec, cap, batch: int) -> str:
    if cap is None:
        return "no parameter count"
    if not cap.weights_fit:
        return "weights don't fit"
    mc = cap.max_context(batch)
    if mc is None:  # every layer windowed: memory allows any length, the model's max still holds
        return (f"{m.max_context:,} (model max; windows cap the cache)" if m.max_context
                else "unbounded (windows cap the cache)")
    if m.max_context and mc > m.max_context:
        return f"{m.max_context:,} (model max; memory fits {mc:,})"
    return f"{mc:,}"
