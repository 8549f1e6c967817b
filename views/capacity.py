"""Capacity planner page: on N GPUs next to the weights, the longest context at batch B, the most
sequences at context C, a fits / doesn't-fit heatmap, the memory split of one GPU, and what an
engine (transformers, vLLM, SGLang, llama.cpp) does with the free memory, with the lines it logs
(``views/capacity_engines.py``)."""
from __future__ import annotations

import json

import plotly.graph_objects as go
import streamlit as st

from calculator import gpu_memory, plan
from calculator.engines import sglang_startup
from calculator.engines.vllm import BLOCK_SIZES as VLLM_BLOCKS
from calculator.units import SCALES
from views import common as c
from views import startup as su
from views.capacity_engines import ENGINES, HELP, show
from views.startup import gpu_arg

CTX = [2**i for i in range(10, 21)]     # 1k … 1M
BATCH = [2**i for i in range(0, 11)]    # 1 … 1024


@st.cache_data(max_entries=32)
def heatmap(cap, contexts: tuple[int, ...], batches: tuple[int, ...]) -> list[list[int]]:
    return [[cap.used_per_gpu(ctx, b) for ctx in contexts] for b in batches]


st.title("Capacity planner")
unit = c.unit()
choices = c.model_choices()
# A link from before checkpoints were priced names its weight dtype as c_wdtype: it still holds.
old_wdtype = st.query_params.get("c_wdtype")
keys = c.url_state({
    "c_model": ("llama-3.1-70b", c.choice(choices)),
    "c_ckpt": (None, str),
    "c_gpu": ("H100 80GB", c.choice(c.gpu_names() + ["Custom"])),
    "c_custom": (96, c.int_in(1, 1 << 20)),
    "c_gpus": (4, c.int_in(1, 4096)),
    "c_tp": (None, c.int_in(1, 4096)),
    "c_wdtype": ("bf16", c.choice(c.WEIGHT_DTYPES)),
    "c_wdtype_ckpt": (old_wdtype if old_wdtype in c.WEIGHT_DTYPES else "checkpoint",
                      c.choice(("checkpoint",) + c.WEIGHT_DTYPES)),
    "c_kvdtype": ("bf16", c.kv_dtype_choice),
    "c_util": (0.90, c.float_in(0.5, 1.0)),
    "c_layout": ("theoretical", c.choice(("theoretical", "paged"))),
    "c_batch": (8, c.int_in(1, 1 << 32)),
    "c_ctx": (32768, c.int_in(1, 1 << 40)),
    "c_engine": ("theoretical", c.choice(ENGINES)),
    "c_page": (1, c.int_in(1, 4096)),
    "c_block": (16, c.choice(VLLM_BLOCKS)),
    "c_mnbt": (0, c.int_in(0, 1 << 24)),
    "c_usage": ("serve", c.choice(("serve", "llm", "engine"))),
    "c_sampler": ("native", c.choice(("native", "flashinfer"))),
    "c_mfs": (0.0, c.float_in(0.0, 0.99)),
    "c_sgver": (sglang_startup.VERSIONS[-1], c.choice(sglang_startup.VERSIONS)),
    "c_vver": (su.VLLM_DEFAULT_BUILD, c.choice(su.VLLM_BUILD_CHOICES)),
    "c_vkv": (0.0, c.float_in(0.0, float(1 << 20))),
    "c_vcg": (None, c.float_in(0.0, 1024.0)),
    "c_draft": (0, c.int_in(0, 64)),
    "c_skipmm": (False, c.boolean),
    "c_lmonly": (False, c.boolean),
    "c_vpc": (False, c.boolean),
})
r1 = st.columns(4)
choice = r1[0].selectbox("Model", choices, key="c_model", format_func=c.label)
gpu = r1[1].selectbox("GPU", c.gpu_names() + ["Custom"], key="c_gpu")
custom_gib = r1[2].number_input(f"Custom GPU memory ({c.unit_name()})", min_value=1,
                                max_value=1 << 20, key="c_custom", disabled=gpu != "Custom",
                                help="In the sidebar's unit: GiB = 2³⁰ bytes, GB = 10⁹ bytes")
n_gpus = r1[3].number_input("GPUs per replica", min_value=1, max_value=4096, key="c_gpus")
r2 = st.columns(6)
tp_opts = [d for d in range(1, int(n_gpus) + 1) if n_gpus % d == 0]
if st.session_state.get("c_tp") not in tp_opts:
    st.session_state["c_tp"] = tp_opts[-1]
tp = r2[0].selectbox("Tensor parallel", tp_opts, key="c_tp", help="Pipeline stages = GPUs / TP")
# A preset's published checkpoints (its own, then e.g. FP8 and AWQ ones); custom models have one.
ckpt_opts = list(c.checkpoints(choice)) if not choice.startswith("custom:") else ["as given"]
if st.session_state.get("c_ckpt") not in ckpt_opts:
    st.session_state["c_ckpt"] = ckpt_opts[0]
ckpt = r2[1].selectbox("Checkpoint", ckpt_opts, key="c_ckpt", disabled=len(ckpt_opts) == 1,
                       help="Which published checkpoint of the model is served: its weights' bytes "
                            "are priced from its config.json and quantization_config")
model = c.resolve(choice, None if ckpt == ckpt_opts[0] else ckpt)
# Models whose checkpoint is priced (presets, Hub ids, pasted configs) default to its exact bytes;
# a quantized checkpoint that cannot be priced also defaults there, so its reason is shown.
priced = model.weight_bytes is not None or bool(model.quant_method)
wkey = "c_wdtype_ckpt" if priced else "c_wdtype"
w_opts = (["checkpoint"] if priced else []) + list(c.WEIGHT_DTYPES)
weight_dtype = r2[2].selectbox("Weight dtype", w_opts, key=wkey,
                               help="checkpoint = the exact bytes of the checkpoint's tensors in its "
                                    "shipped format (FP8, AWQ, MXFP4 ... scales included), from "
                                    "config.json or the Hub's safetensors headers; others = "
                                    "parameters × dtype")
kv_dtype = r2[3].selectbox("KV dtype", c.KV_DTYPES, key="c_kvdtype")
util = r2[4].slider("Memory utilization", 0.50, 1.00, step=0.01, key="c_util",
                    help="Fraction of each GPU the engine may use (vLLM's gpu_memory_utilization)")
layout = r2[5].selectbox("Layout", ("theoretical", "paged"), key="c_layout")
c.sync_query([k for k in keys if k not in ("c_wdtype", "c_wdtype_ckpt")] + [wkey])

gpu_bytes = custom_gib * c.unit_bytes() if gpu == "Custom" else gpu_memory(gpu)
if model.param_count is None and model.weight_bytes is None:
    st.error("param_count: this model has no parameter count; add one on the Custom model page")
    st.stop()
cap = c.guarded(plan, model, gpu_bytes=gpu_bytes, gpus=int(n_gpus), tp=int(tp),
                pp=int(n_gpus) // int(tp), mem_util=f"{util:.2f}",
                weight_dtype=None if weight_dtype == "checkpoint" else weight_dtype,
                kv_dtype=kv_dtype, layout=layout)

# The headline figures are the theoretical answer (no engine overhead); with an engine picked
# below, they say so, and the engine's own answer is in its section.
engine_picked = st.session_state.get("c_engine", "theoretical")
theo = "" if engine_picked == "theoretical" else " (theoretical)"
k1, k2, k3 = st.columns(3)
k1.metric("Budget per GPU", c.fmt(cap.budget_per_gpu), help=f"{cap.budget_per_gpu:,} bytes")
k2.metric("Weights per GPU", c.fmt(cap.weights_per_gpu),
          help=f"{cap.weights_per_gpu:,} bytes of the model's {cap.weights_bytes:,}")
k3.metric(f"Free for KV per GPU{theo}", c.fmt(cap.free_per_gpu) if cap.weights_fit else "none",
          help=f"{cap.free_per_gpu:,} bytes" if cap.weights_fit else
          f"the weights exceed the budget by {-cap.free_per_gpu:,} bytes")
st.caption(f"Weights: {c.fmt(cap.weights_bytes)} ({cap.weights_bytes:,} bytes) from "
           f"{c.md_escape(cap.weights_from)}"
           + ("" if cap.gpus == 1 or "share" in cap.weights_from
              else f", split evenly over {cap.gpus} GPUs") + ".")
if not cap.weights_fit:
    st.error(f"The weights alone don't fit: {c.fmt(cap.weights_per_gpu)} per GPU against a budget "
             f"of {c.fmt(cap.budget_per_gpu)}. Add GPUs, quantize the weights or raise utilization.")
    st.stop()

q1, q2 = st.columns(2)
with q1:
    batch = st.number_input("Batch B", min_value=1, max_value=1 << 32, key="c_batch")
    mc = c.guarded(cap.max_context, int(batch))
    if mc is None:  # every layer windowed: memory allows any length, the model's max still holds
        st.metric(f"Longest context at batch {batch}{theo}",
                  f"{model.max_context:,} tokens" if model.max_context else "unbounded",
                  help="Every attention layer is windowed: the cache stops growing, so memory "
                       "allows any length")
        if model.max_context:
            st.caption("The model's own max context; every layer is windowed, so memory would "
                       "allow any length.")
    else:
        st.metric(f"Longest context at batch {batch}{theo}", f"{mc:,} tokens")
        if model.max_context and mc > model.max_context:
            st.caption(f"Beyond the model's trained max context ({model.max_context:,}).")
        elif mc == 0:
            st.warning("Not even one token per sequence fits at this batch.")
with q2:
    ctx = st.number_input("Context C (tokens)", min_value=1, max_value=1 << 40, key="c_ctx")
    mb = c.guarded(cap.max_batch, int(ctx))
    st.metric(f"Most concurrent sequences at {int(ctx):,} tokens{theo}", f"{mb:,}")
if theo:
    st.caption(f"These are the theoretical figures: utilization × the GPU − weights, no engine "
               f"overhead, a lower bound on what {engine_picked} needs. Its own answer, after "
               "what it keeps at startup, is in the engine section below.")

st.subheader(f"Fits / doesn't fit (per GPU){theo}")
used = heatmap(cap, tuple(CTX), tuple(BATCH))
free = cap.free_per_gpu
z = [[min(u / free, 2.0) for u in row] for row in used]
marks = [["✓" if u <= free else "✗" for u in row] for row in used]
sizes = [[f"{c.fmt(u)} ({u:,} bytes)" for u in row] for row in used]
fig = go.Figure(go.Heatmap(
    z=z, x=[c.token_label(x) for x in CTX], y=[str(b) for b in BATCH], text=marks,
    customdata=sizes, texttemplate="%{text}", textfont={"size": 12}, zmin=0, zmax=2,
    colorscale=[[0, "#2e7d32"], [0.5, "#c0ca33"], [0.5001, "#ef9a9a"], [1, "#b71c1c"]],
    colorbar={"title": {"text": "used / free", "side": "top"}, "tickvals": [0, 1, 2],
              "ticktext": ["0", "1 (full)", "≥2"], "orientation": "h", "y": 1.02,
              "yanchor": "bottom", "thickness": 12, "len": 0.6},
    hovertemplate="context %{x}, batch %{y}<br>%{text} %{customdata} per GPU<extra></extra>"))
fig.update_layout(xaxis={"title": "context (tokens)", "type": "category"},
                  yaxis={"title": "batch (sequences)", "type": "category"}, height=500,
                  margin={"t": 70, "l": 10, "r": 10})
st.plotly_chart(fig, key="capacity_heatmap")
st.caption("✓ fits, ✗ doesn't; hover a cell for the cache size per GPU.")

st.subheader(f"Memory of one GPU at C = {int(ctx):,}, B = {int(batch)} (theoretical)")
kv_used = cap.used_per_gpu(int(ctx), int(batch))
scale = SCALES[unit]
overflow = max(kv_used - cap.free_per_gpu, 0)
parts = [("weights", cap.weights_per_gpu, "#5c6bc0"),
         ("KV cache + state", kv_used - overflow, "#ef6c00"),
         ("free", max(cap.free_per_gpu - kv_used, 0), "#9e9e9e"),
         ("reserved (1 − utilization)", cap.gpu_bytes - cap.budget_per_gpu, "#424242"),
         ("overflow: does not fit", overflow, "#d32f2f")]
bar = go.Figure()
for name, value, color in parts:
    if value or name != "overflow: does not fit":
        bar.add_trace(go.Bar(y=["GPU"], x=[value / scale], name=name, orientation="h",
                             marker_color=color, text=c.fmt(value), textposition="inside",
                             insidetextanchor="middle", customdata=[f"{value:,}"],
                             hovertemplate=f"{name}: %{{customdata}} bytes<extra></extra>"))
bar.add_vline(x=cap.gpu_bytes / scale, line={"color": "#d32f2f" if overflow else "#616161",
                                             "dash": "dash", "width": 2})
bar.update_layout(barmode="stack", height=260, xaxis_title=unit, yaxis={"visible": False},
                  margin={"t": 10, "l": 10, "r": 10},
                  legend={"orientation": "h", "traceorder": "normal", "y": -0.45, "yanchor": "top"})
if overflow:
    st.error(f"Doesn't fit: the cache needs {c.fmt(kv_used)} per GPU, {c.fmt(overflow)} "
             f"({overflow:,} bytes) more than is free; the red part lies past the GPU's "
             f"{c.fmt(cap.gpu_bytes)} (dashed line).")
st.plotly_chart(bar, key="capacity_bar")

st.subheader("What the engine does with the GPU")
engine = st.radio("Engine", ENGINES, key="c_engine", horizontal=True, help=HELP)
engine_figures = show(engine, model, cap, int(ctx), int(n_gpus), int(tp), kv_dtype,
                      gpu_arg(gpu, gpu_bytes), util,
                      where=(choice, None if ckpt == ckpt_opts[0] else ckpt,
                             gpu if gpu != "Custom" else f"{custom_gib}{c.unit_name()}"))

# The export is what the page shows: the theoretical answers (labelled), the heatmap's bytes,
# one GPU's split, and the engine section's own figures and lines.
export = {
    "model": model.name, "checkpoint": ckpt, "gpu": gpu, "gpu_bytes": cap.gpu_bytes,
    "gpus": cap.gpus, "tp": cap.tp, "pp": cap.pp, "mem_util": round(float(util), 2),
    "kv_dtype": kv_dtype, "layout": layout, "weights_from": cap.weights_from,
    "theoretical": {"budget_bytes_per_gpu": cap.budget_per_gpu,
                    "weight_bytes_per_gpu": cap.weights_per_gpu,
                    "free_bytes_per_gpu": cap.free_per_gpu, "batch": int(batch),
                    "max_context": mc, "context": int(ctx), "max_batch": mb,
                    "heatmap_used_bytes_per_gpu": {"contexts": CTX, "batches": BATCH,
                                                   "bytes": used},
                    "kv_bytes_per_gpu_at_context_and_batch": kv_used},
    "engine": engine, "engine_figures": engine_figures or {},
}
st.download_button("Download JSON (every figure on this page)", json.dumps(export, indent=2),
                   file_name="capacity.json", mime="application/json", key="c_dl")
