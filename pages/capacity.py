"""Capacity planner page: on N GPUs next to the weights, the longest context at batch B, the most
sequences at context C, a fits / doesn't-fit heatmap and the memory split of one GPU."""
from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from calculator import gpu_memory, plan
from calculator.units import SCALES
from pages import common as c

CTX = [2**i for i in range(10, 21)]     # 1k … 1M
BATCH = [2**i for i in range(0, 11)]    # 1 … 1024


@st.cache_data(max_entries=32)
def heatmap(cap, contexts: tuple[int, ...], batches: tuple[int, ...]) -> list[list[int]]:
    return [[cap.used_per_gpu(ctx, b) for ctx in contexts] for b in batches]


st.title("Capacity planner")
unit = c.unit()
choices = c.model_choices()
c.init_from_query("c_model", "llama-3.1-70b", lambda v: v if v in choices else "llama-3.1-70b")
c.init_from_query("c_gpu", "H100 80GB", lambda v: v if v in c.gpu_names() + ["Custom"] else "H100 80GB")
c.init_from_query("c_gpus", 4, int)
r1 = st.columns(4)
choice = r1[0].selectbox("Model", choices, key="c_model", format_func=c.label)
gpu = r1[1].selectbox("GPU", c.gpu_names() + ["Custom"], key="c_gpu")
custom_gib = r1[2].number_input("Custom GPU memory (GiB)", min_value=1, max_value=1 << 20, value=96,
                                key="c_custom", disabled=gpu != "Custom")
n_gpus = r1[3].number_input("GPUs per replica", min_value=1, max_value=4096, key="c_gpus")
r2 = st.columns(5)
tp_opts = [d for d in range(1, int(n_gpus) + 1) if n_gpus % d == 0]
tp = r2[0].selectbox("Tensor parallel", tp_opts, index=len(tp_opts) - 1, key="c_tp",
                     help="Pipeline stages = GPUs / TP")
model = c.resolve(choice)
# Models with checkpoint bytes (from the Hub) get their own widget, defaulting to those bytes.
w_opts = (["checkpoint"] if model.weight_bytes else []) + list(c.WEIGHT_DTYPES)
weight_dtype = r2[1].selectbox("Weight dtype", w_opts,
                               key="c_wdtype_ckpt" if model.weight_bytes else "c_wdtype",
                               help="checkpoint = the exact bytes of the Hub checkpoint's safetensors "
                                    "(packed formats such as MXFP4 included); others = parameters × dtype")
kv_dtype = r2[2].selectbox("KV dtype", c.KV_DTYPES, key="c_kvdtype")
util = r2[3].slider("Memory utilization", 0.50, 1.00, 0.90, 0.01, key="c_util",
                    help="Fraction of each GPU the engine may use (vLLM's gpu_memory_utilization)")
layout = r2[4].selectbox("Layout", ("theoretical", "paged"), key="c_layout")
c.sync_query(["c_model", "c_gpu", "c_gpus", "unit"])

gpu_bytes = custom_gib << 30 if gpu == "Custom" else gpu_memory(gpu)
if model.param_count is None:
    st.error("param_count: this model has no parameter count; add one on the Custom model page")
    st.stop()
cap = c.guarded(plan, model, gpu_bytes=gpu_bytes, gpus=int(n_gpus), tp=int(tp),
                pp=int(n_gpus) // int(tp), mem_util=f"{util:.2f}",
                weight_dtype=None if weight_dtype == "checkpoint" else weight_dtype,
                kv_dtype=kv_dtype, layout=layout)

k1, k2, k3 = st.columns(3)
k1.metric("Budget per GPU", c.fmt(cap.budget_per_gpu), help=f"{cap.budget_per_gpu:,} bytes")
k2.metric("Weights per GPU", c.fmt(cap.weights_per_gpu),
          help=f"{cap.weights_per_gpu:,} bytes; the model's {cap.weights_bytes:,} bytes from "
               f"{cap.weights_from}, split over {cap.gpus} GPU(s)")
k3.metric("Free for KV per GPU", c.fmt(cap.free_per_gpu), help=f"{cap.free_per_gpu:,} bytes")
if not cap.weights_fit:
    st.error(f"The weights alone don't fit: {c.fmt(cap.weights_per_gpu)} per GPU against a budget "
             f"of {c.fmt(cap.budget_per_gpu)}. Add GPUs, quantize the weights or raise utilization.")
    st.stop()

q1, q2 = st.columns(2)
with q1:
    batch = st.number_input("Batch B", min_value=1, max_value=1 << 32, value=8, key="c_batch")
    mc = c.guarded(cap.max_context, int(batch))
    if mc is None:
        st.metric(f"Longest context at batch {batch}", "unbounded",
                  help="Every attention layer is windowed: the cache stops growing")
    else:
        st.metric(f"Longest context at batch {batch}", f"{mc:,} tokens")
        if mc > model.max_context:
            st.caption(f"Beyond the model's trained max context ({model.max_context:,}).")
        elif mc == 0:
            st.warning("Not even one token per sequence fits at this batch.")
with q2:
    ctx = st.number_input("Context C (tokens)", min_value=1, max_value=1 << 40, value=32768, key="c_ctx")
    mb = c.guarded(cap.max_batch, int(ctx))
    st.metric(f"Most concurrent sequences at {int(ctx):,} tokens", f"{mb:,}")

st.subheader("Fits / doesn't fit (per GPU)")
used = heatmap(cap, tuple(CTX), tuple(BATCH))
free = cap.free_per_gpu
z = [[min(u / free, 2.0) for u in row] for row in used]
text = [[("✓ " if u <= free else "✗ ") + c.fmt(u) for u in row] for row in used]
fig = go.Figure(go.Heatmap(
    z=z, x=[c.token_label(x) for x in CTX], y=[str(b) for b in BATCH], text=text,
    texttemplate="%{text}", textfont={"size": 9}, zmin=0, zmax=2,
    colorscale=[[0, "#2e7d32"], [0.5, "#c0ca33"], [0.5001, "#ef9a9a"], [1, "#b71c1c"]],
    colorbar={"title": "used / free", "tickvals": [0, 0.5, 1, 1.5, 2],
              "ticktext": ["0", "½", "1 (full)", "1½", "≥2"]},
    hovertemplate="context %{x}, batch %{y}<br>%{text}<extra></extra>"))
fig.update_layout(xaxis={"title": "context", "type": "category"},
                  yaxis={"title": "batch (sequences)", "type": "category"}, height=460, margin={"t": 20})
st.plotly_chart(fig, key="capacity_heatmap")

st.subheader(f"Memory of one GPU at C = {int(ctx):,}, B = {int(batch)}")
kv_used = cap.used_per_gpu(int(ctx), int(batch))
scale = SCALES[unit]
parts = [("weights", cap.weights_per_gpu, "#5c6bc0"), ("KV cache + state", kv_used, "#ef6c00"),
         ("free", max(cap.free_per_gpu - kv_used, 0), "#9e9e9e"),
         ("reserved (1 − utilization)", cap.gpu_bytes - cap.budget_per_gpu, "#424242")]
bar = go.Figure()
for name, value, color in parts:
    bar.add_trace(go.Bar(y=["GPU"], x=[value / scale], name=name, orientation="h",
                         marker_color=color, text=c.fmt(value), textposition="inside",
                         hovertemplate=f"{name}: {value:,} bytes<extra></extra>"))
bar.update_layout(barmode="stack", height=200, xaxis_title=unit, margin={"t": 10},
                  legend={"orientation": "h", "traceorder": "normal"})
if kv_used > cap.free_per_gpu:
    st.error(f"Doesn't fit: the cache needs {c.fmt(kv_used)} per GPU, {c.fmt(kv_used - cap.free_per_gpu)} "
             "more than is free.")
st.plotly_chart(bar, key="capacity_bar")
