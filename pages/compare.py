"""Compare page: KV memory vs context for several models, the comparison table, CSV/JSON export."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.express as px
import streamlit as st

from calculator import gpu_memory, plan, weights_bytes
from calculator.units import SCALES
from pages import common as c
from pages.hub_box import hub_box

DEFAULT_MODELS = ["llama-3.1-8b", "llama-3.1-70b", "deepseek-v3", "mistral-7b-v0.1",
                  "gemma-3-27b", "qwen3-next-80b-a3b"]
CTX_STEPS = [2**i for i in range(7, 23)]  # 128 … 4M tokens
TABLE_CTX = [2**i for i in range(10, 21)]  # 1k … 1M
POINTS = 256


@st.cache_data(max_entries=64)
def max_context_fits(model, gpu: str, tp: int, batch: int, dtype: str, layout: str, block: int):
    if model.param_count is None:
        return "no param count"
    cap = plan(model, gpu_bytes=gpu_memory(gpu), gpus=tp, kv_dtype=dtype, layout=layout,
               block_size=block)
    if not cap.weights_fit:
        return "weights don't fit"
    mc = cap.max_context(batch)
    return "unbounded (window)" if mc is None else f"{mc:,}"


def hline(fig: go.Figure, value: int, name: str, color: str, dash: str, x0: int, x1: int) -> None:
    """A horizontal reference line as a trace (hline annotations misplace on log axes)."""
    fig.add_trace(go.Scatter(
        x=[x0, x1], y=[value / scale, value / scale], mode="lines+text", name=name,
        line={"color": color, "dash": dash, "width": 1}, text=[name, ""],
        textposition="top right", textfont={"size": 10, "color": color},
        hovertemplate=f"{name}: {value:,} bytes<extra></extra>"))


st.title("KV-cache memory vs context")
unit = c.unit()
choices = c.model_choices()
c.init_from_query("models", [m for m in DEFAULT_MODELS if m in choices], many=True)
st.session_state["models"] = [m for m in st.session_state["models"] if m in choices]
c.init_from_query("dtype", "bf16", lambda v: v if v in c.KV_DTYPES else "bf16")
c.init_from_query("batch", 1, int)
c.init_from_query("layout", "theoretical", lambda v: v if v in ("theoretical", "paged") else "theoretical")
c.init_from_query("tp", 1, int)
ctx_default = (1024, 1 << 20)
if "ctx" not in st.session_state and "ctx" in st.query_params:
    try:
        wanted = sorted(int(v) for v in st.query_params.get_all("ctx"))
    except ValueError:
        wanted = []
    if len(wanted) == 2 and all(v in CTX_STEPS for v in wanted) and wanted[0] < wanted[1]:
        ctx_default = tuple(wanted)

with st.expander("Add a model from the Hugging Face Hub", icon=":material/cloud_download:"):
    hub_box("cmp_hub", add_to="models")
picked = st.multiselect("Models", choices, key="models", format_func=c.label,
                        help="Presets, plus any model you built on the Custom model page")
col1, col2, col3, col4, col5 = st.columns(5)
dtype = col1.selectbox("KV dtype", c.KV_DTYPES, key="dtype",
                       help="q8_0/q4_0 and int4/int2 count their per-group scales")
batch = col2.number_input("Batch (sequences)", min_value=1, max_value=1_000_000, step=1, key="batch")
layout = col3.selectbox("Layout", ("theoretical", "paged"), key="layout",
                        help="paged rounds each sequence up to whole blocks (vLLM)")
tp = col4.selectbox("Tensor parallel", (1, 2, 4, 8, 16), key="tp",
                    help="Per-GPU bytes: ceil(KV heads / TP) heads per GPU; MLA latents are replicated")
block = col5.number_input("Block size", min_value=1, max_value=4096, value=16, key="block",
                          disabled=layout != "paged")
lo, hi = st.select_slider("Context range (tokens, log axis)", CTX_STEPS, value=ctx_default,
                          key="ctx", format_func=c.token_label)
g1, g2, g3, g4 = st.columns([2, 1, 1, 1])
gpus = g1.multiselect("GPU memory lines", c.gpu_names(), default=["H100 80GB"], key="gpu_lines")
minus_w = g2.checkbox("Minus each model's weights", key="minus_weights",
                      help="bf16 weights split over the TP GPUs")
clip = g3.checkbox("Stop at model's max context", value=True, key="clip")
logy = g4.checkbox("Log y axis", value=True, key="logy")
c.sync_query(["models", "dtype", "batch", "layout", "tp", "ctx", "unit"])

if not picked:
    st.info("Pick at least one model above.")
    st.stop()
if lo >= hi:
    st.error("context range: the upper end must be above the lower end")
    st.stop()

models = [c.resolve(m) for m in picked]
grid = {int(x) for x in np.geomspace(lo, hi, POINTS).round()}
grid |= {m.max_context for m in models if lo <= m.max_context <= hi}
contexts = tuple(sorted(grid))
table = c.guarded(c.cached_sweep, tuple(models), contexts, int(batch), dtype, int(tp), layout,
                  int(block), unit)

scale = SCALES[unit]
colors = px.colors.qualitative.Plotly
fig = go.Figure()
per_gpu = tp > 1
ycol = "per_gpu_total_bytes" if per_gpu else "total_bytes"
for i, (choice, m) in enumerate(zip(picked, models)):
    rows = table[table["model"] == m.name]
    if clip:
        rows = rows[rows["context"] <= m.max_context]
    if rows.empty:
        continue
    color = colors[i % len(colors)]
    y = rows[ycol].astype(float) / scale
    custom = np.column_stack([[f"{int(v):,}" for v in rows[ycol]], [c.fmt(v) for v in rows[ycol]]])
    fig.add_trace(go.Scatter(
        x=rows["context"], y=y, mode="lines", name=c.label(choice), line={"color": color},
        customdata=custom,
        hovertemplate="<b>%{fullData.name}</b><br>%{x:,} tokens<br>%{customdata[0]} bytes"
                      "<br>%{customdata[1]}<extra></extra>"))
    end = rows[rows["context"] == m.max_context]
    if not end.empty:
        fig.add_trace(go.Scatter(
            x=end["context"], y=end[ycol].astype(float) / scale, mode="markers", showlegend=False,
            marker={"symbol": "diamond", "size": 10, "color": color},
            hovertemplate=f"<b>{m.name}</b><br>max context %{{x:,}} tokens<extra></extra>"))
    if minus_w and m.param_count:
        for gpu in gpus:
            free = gpu_memory(gpu) - -(-weights_bytes(m.param_count, "bf16") // tp)
            if free > 0:
                hline(fig, free, f"{gpu} − {m.name} weights", color, "dot", lo, hi)
for gpu in gpus:
    hline(fig, gpu_memory(gpu), gpu, "gray", "dash", lo, hi)
fig.update_layout(
    xaxis={"type": "log", "title": "context (tokens per sequence)"},
    yaxis={"type": "log" if logy else "linear",
           "title": f"KV cache {'per GPU ' if per_gpu else ''}({unit}), batch {batch}"},
    legend={"orientation": "h", "y": -0.2}, margin={"t": 30}, height=520, hovermode="closest")
st.plotly_chart(fig, key="compare_chart")
st.caption("Flat stretches are sliding-window layers that stopped growing; ◆ marks each model's "
           "max context. Hover for exact bytes.")

st.subheader("Comparison table")
t1, t2 = st.columns([3, 1])
table_ctx = t1.multiselect("Contexts in the table", TABLE_CTX, default=[8192, 32768, 131072],
                           format_func=c.token_label, key="table_ctx")
cap_gpu = t2.selectbox("Max context on", c.gpu_names(), key="cap_gpu",
                       help=f"{tp} GPU(s) (= TP), 90% memory utilization, bf16 weights")
export = c.guarded(c.cached_sweep, tuple(models), tuple(sorted(table_ctx)) or (lo,), int(batch),
                   dtype, int(tp), layout, int(block), unit)
rows = []
for choice, m in zip(picked, models):
    r = export[export["model"] == m.name]
    row = {"model": c.label(choice), "attention": m.describe(), "layers": m.num_layers,
           "max context": f"{m.max_context:,}", "bytes/token": f"{int(r['per_token_bytes'].iloc[0]):,}"}
    for _, x in r.iterrows():
        row[f"@ {c.token_label(int(x['context']))}"] = c.fmt(x[ycol])
    row[f"max context on {tp}× {cap_gpu}"] = max_context_fits(m, cap_gpu, int(tp), int(batch), dtype,
                                                              layout, int(block))
    rows.append(row)
st.dataframe(pd.DataFrame(rows), hide_index=True, key="compare_table")
e1, e2 = st.columns(2)
e1.download_button("Download CSV (raw bytes + formatted)", export.to_csv(index=False),
                   file_name="kv_cache_comparison.csv", mime="text/csv", key="dl_csv")
e2.download_button("Download JSON", export.to_json(orient="records", indent=2),
                   file_name="kv_cache_comparison.json", mime="application/json", key="dl_json")
