"""Compare page: KV memory vs context for several models, the comparison table, CSV/JSON export.

Every widget is in the URL. The chart and the table come from ``compare_chart`` (cached on cheap
keys), so a rerun that changes nothing rebuilds nothing.
"""
from __future__ import annotations

import streamlit as st

from views import common as c
from views import commands
from views.compare_chart import ENGINES, cache_key, chart, engine_note, tables
from views.hub_box import hub_box

DEFAULT_MODELS = ["llama-3.1-8b", "llama-3.1-70b", "deepseek-v3", "mistral-7b-v0.1",
                  "gemma-3-27b", "qwen3-next-80b-a3b"]
CTX_STEPS = [2**i for i in range(7, 23)]  # 128 … 4M tokens
TABLE_CTX = [2**i for i in range(10, 21)]  # 1k … 1M
CHART_OPTS = {"minus_weights": "Minus weights", "clip": "Stop at max context", "logy": "Log y axis",
              "mtp": "Count MTP layers"}


def _chart_opts_changed() -> None:
    chosen = set(st.session_state.get("chart_opts") or ())
    for key in CHART_OPTS:
        st.session_state[key] = key in chosen


st.title("KV-cache memory vs context")
unit = c.unit()
choices = c.model_choices()
keys = c.url_state({
    "models": ([m for m in DEFAULT_MODELS if m in choices], c.choice(choices), True),
    "dtype": ("bf16", c.kv_dtype_choice),
    "batch": (1, c.int_in(1, 1_000_000)),
    "layout": ("theoretical", c.choice(("theoretical", "paged"))),
    "tp": (1, c.choice((1, 2, 4, 8, 16))),
    "block": (16, c.int_in(1, 4096)),
    "gpu_lines": (["H100 80GB"], c.choice(c.gpu_names()), True),
    "util": (0.90, c.float_in(0.5, 1.0)),
    "minus_weights": (False, c.boolean),
    "clip": (True, c.boolean),
    "logy": (True, c.boolean),
    "mtp": (False, c.boolean),
    "table_ctx": ([8192, 32768, 131072], c.choice(TABLE_CTX), True),
    "cap_gpu": ("H100 80GB", c.choice(c.gpu_names())),
    "engine": ("theoretical", c.choice(ENGINES)),
})
# A range slider seeded through session state comes back as one value (AppTest), so the range
# is passed as the widget's value, read from the URL once.
ctx_default = (1024, 1 << 20)


def _ctx_step(text: str) -> int | None:
    """A context of the slider's steps from the URL, or None (0, 10^30, '²', 5,000 digits ...)."""
    try:
        value = c.int_in(1, 1 << 30)(text) if text.isascii() and text.isdigit() and len(text) < 12 else None
    except ValueError:
        return None
    return value if value in CTX_STEPS else None


if "ctx" not in st.session_state and "ctx" in st.query_params:
    wanted = sorted(v for v in map(_ctx_step, st.query_params.get_all("ctx")) if v is not None)
    if len(wanted) == 2 and wanted[0] < wanted[1]:
        ctx_default = tuple(wanted)
keys.append("ctx")
st.session_state["models"] = [m for m in st.session_state["models"] if m in choices]

# A lazy expander: its box is built only while it is open, so a rerun with it closed costs nothing.
with st.expander("Add a model from the Hugging Face Hub", icon=":material/cloud_download:",
                 key="cmp_hub_open", on_change="rerun") as hub_panel:
    if hub_panel.open:
        hub_box("cmp_hub", add_to="models")
picked = st.multiselect("Models", choices, key="models", format_func=c.label,
                        help="Presets, plus any model you built or fetched on the Custom model page")
# Rows are horizontal containers: one block each (a row of n columns is n + 1), so a rerun sends
# fewer messages; they wrap on a narrow screen.
col1 = col2 = col3 = col4 = col5 = st.container(horizontal=True)
dtype = col1.selectbox("KV dtype", c.KV_DTYPES, key="dtype",
                       help="q8_0/q4_0 and int4/int2 count their per-group scales")
batch = col2.number_input("Batch (sequences)", min_value=1, max_value=1_000_000, step=1, key="batch")
layout = col3.selectbox("Layout", ("theoretical", "paged"), key="layout",
                        help="paged rounds each sequence up to whole blocks (vLLM)")
tp = col4.selectbox("Tensor parallel", (1, 2, 4, 8, 16), key="tp",
                    help="Per-GPU bytes: ceil(KV heads / TP) heads per GPU; MLA latents are replicated")
block = col5.number_input("Block size", min_value=1, max_value=4096, key="block",
                          disabled=layout != "paged")
engine = st.radio("Engine", ENGINES, key="engine", horizontal=True,
                  help="theoretical: the cache itself; transformers: StaticCache(max_cache_len = "
                       "context) in the KV dtype (bf16, fp16 or fp32; TP 1), with its 8-byte "
                       "position counters (DeepSeek-V4, which has none: its DynamicCache right "
                       "after a prompt of the context); vllm: whole blocks per request (block size "
                       "above, KV dtype auto/fp8; sliding layers keep the window plus "
                       "max_num_batched_tokens 8,192, as v0.11 – v0.23 do; v0.27+ keeps twice "
                       "that, see the Engines page); sglang: the token pool (and gpt-oss-style SWA pool) that "
                       "holds context·batch tokens, plus 3 Mamba state slots per sequence for "
                       "hybrid state models; llama.cpp: -c context·batch -np batch with "
                       "-ctk/-ctv = the KV dtype (f16 for fp16), context padded to 256 cells. "
                       "The Engines page shows each engine's own log lines.")
lo, hi = st.select_slider("Context range (tokens, log axis)", CTX_STEPS, value=ctx_default,
                          key="ctx", format_func=c.token_label)
gpus = st.multiselect("GPU memory lines", c.gpu_names(), key="gpu_lines")
util = st.slider("Memory utilization", 0.50, 1.00, step=0.01, key="util",
                 help="The share of each GPU the engine may use (vLLM's gpu_memory_utilization): "
                      "the GPU lines, the minus-weights lines and the table's max context all use it")
# The four chart switches are one pills widget (one element, not a row of four); each switch
# stays its own boolean in session state and in the URL.
st.session_state["chart_opts"] = [k for k in CHART_OPTS if st.session_state[k]]
st.pills("Chart options", list(CHART_OPTS), selection_mode="multi", key="chart_opts",
         format_func=CHART_OPTS.get, on_change=_chart_opts_changed,
         help="**Minus weights**: each model's weights split over the TP GPUs, subtracted from each "
              "GPU line (checkpoint bytes for Hub models, else parameters × model dtype). "
              "**Stop at max context**: end each curve at the model's own max context. "
              "**Count MTP layers**: MTP / next-n prediction layers (DeepSeek-V3, GLM-4.5) are left "
              "out by default, as published per-token figures do; each counts as one more "
              "attention layer.")
minus_w, clip, logy, mtp = (bool(st.session_state[k]) for k in CHART_OPTS)
c.sync_query(keys)

missing = c.url_rejected("models")
if missing:
    st.warning("Not found: " + ", ".join(c.md_code(m) for m in missing) + ". Custom and Hub models "
               "live in one browser session; fetch or rebuild them on the Custom model page.")
if not picked:
    st.info("Pick at least one model above.")
    st.stop()

models = tuple(c.resolve(m) for m in picked)
labels = tuple(c.label(m) for m in picked)
settings = (dtype, int(batch), layout, int(tp), int(block), lo, hi, tuple(gpus), float(util),
            bool(minus_w), bool(clip), bool(logy), bool(mtp), unit, engine)
for m, name in zip(models, labels):
    note = engine_note(m, engine, lo, dtype, int(batch), int(tp), int(block))
    if note:
        st.info(f"{c.md_escape(name)}: no {engine} curve: {c.md_escape(note)}")
fig = c.guarded(chart, cache_key(picked, models, labels, settings), models, labels, settings)
st.plotly_chart(fig, key="compare_chart", config={"displaylogo": False})
st.caption("Flat stretches are sliding-window layers that stopped growing; ◆ marks each model's "
           "max context. Hover for exact bytes. "
           + (f"With TP={tp} the curves are one GPU's share." if tp > 1 else "Curves are the whole batch."))

st.subheader("Comparison table")
table_ctx = st.multiselect("Contexts in the table", TABLE_CTX, format_func=c.token_label, key="table_ctx")
cap_gpu = st.selectbox("Max context on", c.gpu_names(), key="cap_gpu",
                       help="TP GPUs of this kind at the utilization above, next to the weights")
table_ctx = tuple(sorted(table_ctx))
shown, csv, json_text = c.guarded(tables, cache_key(picked, models, labels, settings, table_ctx, cap_gpu),
                                  models, labels, settings, table_ctx, cap_gpu)
st.dataframe(shown, hide_index=True, key="compare_table",
             column_config={"model": st.column_config.TextColumn(pinned=True)})
st.caption("“bytes/token” is the whole model (all GPUs), every layer counted: with sliding "
           "windows it is the growth per token until the windows fill, after which only the full "
           "layers grow (DeepSeek-V4's compressed layers: one entry per 4 or 128 tokens, the "
           "“then … past the window” figure). The @-context columns are "
           + (f"one GPU's share at TP={tp}" if tp > 1 else "the whole batch")
           + ("" if engine == "theoretical" else f", as {engine} allocates it") + "."
           + " Max context caps at the model's own limit and says what memory alone would allow."
           + (" " + c.state_note(engine) if any(g.spec.kind == "state" for m in models for g in m.groups)
              else "")
           + (" SGLang sizes DeepSeek-V4's pools in 256-token pages at its own budget per token "
              "(the window pool is 0.1 of the full one) and sets aside the HCA compressor state "
              "for max_running_requests (256) whatever the batch: the flat start of its curve."
              if engine == "sglang" and any(m.has_compressed for m in models) else "")
           + (" transformers has no StaticCache for DeepSeek-V4: its figure is the DynamicCache "
              "right after a prompt of that context, which still holds the prompt's window rows "
              "and compressor projections (one token later it drops to the window and the "
              "entries)."
              if engine == "transformers" and any(m.has_compressed for m in models) else ""))
e1 = e2 = st.container(horizontal=True)
e1.download_button("Download CSV (raw bytes + formatted)", csv,
                   file_name="kv_cache_comparison.csv", mime="text/csv", key="dl_csv")
e2.download_button("Download JSON", json_text,
                   file_name="kv_cache_comparison.json", mime="application/json", key="dl_json")
with st.expander("Copy as command", icon=":material/terminal:"):
    st.caption("One CLI line per model, printing this table's figures for the chosen engine "
               "(CSV for the theoretical cache, JSON for an engine).")
    st.code("\n".join(commands.compare_lines(
        picked, engine, dtype=dtype, model_dtypes={p: m.dtype for p, m in zip(picked, models)},
        batch=int(batch), tp=int(tp), layout=layout, block=int(block),
        contexts=table_ctx or (lo,), mtp=bool(mtp))), language="bash", wrap_lines=True)
