"""Measurements page: committed ``measure/results`` CSVs as expected-vs-measured tables and decode
bandwidth charts, plus a small live measurement when torch is installed."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from views import common as c

RESULTS = Path(__file__).resolve().parents[1] / "measure" / "results"


def short_group(label: str) -> str:
    """'attention 8 KV heads × (128+128), window 4096' -> 'window 4096'; MLA, state, full (one
    layer), or 'whole model' (every attention layer in one step: its own bar, never stacked on
    the one-layer bar of the same model)."""
    if label.startswith("whole model"):
        return "whole model"
    if "window" in label:
        return "window " + label.rsplit("window ", 1)[1]
    if label.startswith("MLA"):
        return "MLA"
    return "state" if "state" in label else "full"


def by_design(totals: pd.DataFrame) -> pd.DataFrame:
    """Theoretical bytes vs the transformers mode for each measured model, with the reason.
    (For generate results the context is the tokens fed: prompt + new tokens − 1.)"""
    from calculator import from_hf_config, kv_cache_bytes
    from model_presets import list_presets
    from model_presets.param_counts import full_config
    rows = []
    for r in totals.itertuples():
        if r.model not in list_presets():
            continue
        m = from_hf_config(full_config(r.model))  # the config measured, with its own dtype
        theory = kv_cache_bytes(m, int(r.context), int(r.batch), m.dtype).total_bytes
        attn = sum(g.count for g in m.groups if g.spec.kind in ("full", "sliding", "mla"))
        sliding = sum(g.count for g in m.groups if g.spec.window)
        if m.has_compressed:  # DeepSeek-V4: transformers_dsv4.py
            reasons = ["DeepSeek-V4's DynamicCache: window storage and compressor buffers are views "
                       "that keep the last update's rows (after the prompt: all of it); plain "
                       "sliding layers hold V apart; + 8 B per layer"]
        elif "StaticCache" in r.library:
            reasons = [f"{attn} position counters × 8 B (StaticLayer.cumulative_length)"]
        else:
            reasons = [f"sliding layers keep window − 1 tokens as a view of the last concatenation, "
                       f"+ 8 B each ({sliding} layers)"] if sliding else ["none for attention"]
        if m.has_state:
            reasons.append("conv state at the full kernel width and an fp32 recurrent state")
        rows.append({"model": r.model, "context": int(r.context), "batch": int(r.batch),
                     "theoretical_bytes": theory, "transformers_bytes": int(r.expected_bytes),
                     "difference": int(r.expected_bytes) - theory, "why": "; ".join(reasons)})
    return pd.DataFrame(rows)


@st.cache_data
def load_results(path: str, mtime: float) -> pd.DataFrame:
    return pd.read_csv(path)


st.title("Measurements")
c.unit()
c.sync_query([])  # the unit travels in every URL
st.write("`python -m measure` allocates each cache with torch in the layout an engine uses and "
         "compares the bytes with the calculator. Rows marked *extrapolated* were too big for "
         "the device: a subset was allocated, checked for linear scaling and scaled up.")
files = sorted(RESULTS.glob("*.csv"))
alloc_files = [f for f in files if not f.stem.endswith("-decode") and not f.stem.startswith("transformers-")]
library_files = sorted((f for f in files if f.stem.startswith("transformers-")), reverse=True)
if not alloc_files:
    st.info("No committed results yet: run `python -m benchmarks.bench_measure --save`.")
else:
    pick = st.selectbox("Result file", [f.name for f in alloc_files], key="m_file")
    path = RESULTS / pick
    df = load_results(str(path), path.stat().st_mtime)
    meta = df.iloc[0]
    totals = df[df["group"] == "total"]
    # The device's full name as text (a metric cuts it); the match count covers the rows that
    # were allocated whole, the extrapolated ones are counted apart.
    st.markdown(f"**Device:** {c.md_escape(meta['device_name'])} · torch {c.md_escape(meta['torch'])}"
                f" · {c.md_escape(meta['date'])}")
    whole = totals[~totals["extrapolated"].astype(bool)]
    scaled = totals[totals["extrapolated"].astype(bool)]
    b, d = st.columns(2)
    b.metric("Allocated rows matching to the byte", f"{int(whole['match'].sum())} / {len(whole)}",
             help="Model totals whose cache was allocated whole on the device")
    d.metric("Extrapolated rows matching", f"{int(scaled['match'].sum())} / {len(scaled)}",
             help="Too big for the device: a subset was allocated, checked for linear scaling "
                  "and scaled up, so these match by arithmetic, not by one allocation")
    only_totals = st.toggle("Show model totals only", value=True, key="m_totals")
    view = totals if only_totals else df
    shown = view[["model", "group", "kv_dtype", "layout", "batch", "context", "expected_bytes",
                  "measured_bytes", "match", "extrapolated", "measured_fraction"]].copy()
    shown["expected"] = [c.fmt(v) for v in shown["expected_bytes"]]
    shown["difference (bytes)"] = shown["measured_bytes"] - shown["expected_bytes"]
    bytes_fmt = st.column_config.NumberColumn(format="localized")
    st.dataframe(shown, hide_index=True, key="m_table", column_config={
        "expected_bytes": bytes_fmt, "measured_bytes": bytes_fmt, "difference (bytes)": bytes_fmt,
        "context": bytes_fmt})
    decode = path.with_name(path.stem + "-decode.csv")
    if decode.exists():
        dd = load_results(str(decode), decode.stat().st_mtime)
        if "timing" not in dd:  # files written before whole-model rows: all eager
            dd = dd.assign(timing="eager")
        st.subheader("Decode step: achieved read bandwidth vs the device's copy bandwidth")
        names = dd["model"] + " · " + dd["group"].map(short_group)  # short: phones are narrow
        copy = float(dd["copy_gbps"].median())
        fig = go.Figure(go.Bar(
            x=dd["achieved_gbps"], y=names, orientation="h", name="achieved GB/s",
            customdata=dd[["bytes_read", "median_s", "fraction_of_copy", "group", "timing",
                           "context", "batch"]].to_numpy(),
            hovertemplate="%{y}<br>%{customdata[3]}<br>context %{customdata[5]:,} × batch "
                          "%{customdata[6]}<br>%{customdata[0]:,} bytes in %{customdata[1]:.6f} s "
                          "(%{customdata[4]})<br>%{x:.1f} GB/s = %{customdata[2]:.0%} of copy"
                          "<extra></extra>"))
        fig.add_trace(go.Scatter(x=[copy, copy], y=[names.iloc[0], names.iloc[-1]], mode="lines",
                                 name=f"memory copy {copy:.1f} GB/s",
                                 line={"dash": "dash", "color": "#616161"}, hoverinfo="name"))
        fig.update_layout(height=max(360, 22 * len(dd)), xaxis_title="GB/s (10⁹ B/s)",
                          margin={"t": 20, "l": 10, "r": 10}, yaxis={"autorange": "reversed"},
                          legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0})
        st.plotly_chart(fig, key="m_decode")
        st.caption("One-layer rows read one layer's cache (small: launch-bound on a GPU). "
                   "*Whole model* rows read every attention layer's cache in one step (≥ 1 GiB on "
                   "GPUs, timed as one CUDA graph replay). On a CPU, small caches that fit in the "
                   "processor's cache can beat the memory-copy figure. The per-token floor is the "
                   "whole cache ÷ copy bandwidth.")

st.subheader("Caches transformers itself allocates")
st.write("`python -m measure --engine transformers` lets transformers read each config with its "
         "own config class and allocate its own `StaticCache` for a structural twin of the model "
         "(every cache-shaping field kept, weights tiny; DeepSeek-V4, which has none: the "
         "DynamicCache right after the prompt, the storage its views keep), with real tensors, then compares the "
         "bytes with the calculator's transformers mode, layer group by layer group. An "
         "independent reading: a misread config would not match here.")
if not library_files:
    st.info("No committed library results yet: run `python -m measure --engine transformers "
            "--all-presets --out results`.")
else:
    lib_name = st.selectbox("Library result file", [f.name for f in library_files],
                            key="m_lib_file", help="static: StaticCache after one step; generate: "
                            "the DynamicCache that generate leaves after a few tokens")
    lib_path = RESULTS / lib_name
    lib = load_results(str(lib_path), lib_path.stat().st_mtime)
    lib_totals = lib[lib["group"] == "total"]
    l1, l2 = st.columns(2)
    l1.metric("Model totals matching to the byte", f"{int(lib_totals['match'].sum())} / {len(lib_totals)}",
              help=f"{lib_path.name}: {lib['library'].iloc[0]}, torch {lib['torch'].iloc[0]}")
    l2.metric("Layer groups matching", f"{int(lib['match'].sum())} / {len(lib)}")
    st.dataframe(lib[["model", "group", "context", "batch", "expected_bytes", "measured_bytes",
                      "match", "library"]], hide_index=True, key="m_library",
                 column_config={k: st.column_config.NumberColumn(format="localized")
                                for k in ("expected_bytes", "measured_bytes", "context")})
    st.markdown("**Differences by design** between the theoretical figure and what transformers "
                "allocates (both exact):")
    st.dataframe(by_design(lib_totals), hide_index=True, key="m_by_design",
                 column_config={k: st.column_config.NumberColumn(format="localized")
                                for k in ("theoretical_bytes", "transformers_bytes", "difference")})

st.subheader("Measure on this machine")
if importlib.util.find_spec("torch") is None:
    st.info("Live measurement needs torch, which is not installed here (the hosted app installs "
            "only requirements.txt). To measure on your machine: `pip install -r "
            "requirements-dev.txt` (torch 2.13.0 CPU build), then restart this app to get a "
            "**Run measurement** button here, or run `python -m measure --preset llama-3.1-8b "
            "--context 8k` in a shell.")
else:
    l1, l2, l3 = st.columns(3)
    name = l1.selectbox("Preset", c.preset_names(), key="m_preset",
                        index=c.preset_names().index("llama-3.1-8b"))
    ctx = l2.number_input("Context", min_value=1, max_value=1 << 20, value=2048, key="m_ctx")
    dtype = l3.selectbox("KV dtype", c.KV_DTYPES, key="m_dtype")
    if st.button("Run measurement", key="m_run"):
        from measure.check import measure_model
        progress = st.progress(0.0, text="allocating the contiguous layout…")
        rows = []
        try:
            for i, layout in enumerate(("contiguous", "paged")):
                rows += measure_model(c.preset(name), context=int(ctx), batch=1, dtype=dtype,
                                      layout=layout, device="auto")
                progress.progress((i + 1) / 2, text="allocating the paged layout…" if i == 0 else "done")
        except (ValueError, RuntimeError) as exc:
            st.error(str(exc))
        else:
            st.dataframe(pd.DataFrame([r.as_dict() for r in rows]), hide_index=True, key="m_live")
            ok = all(r.match for r in rows)
            (st.success if ok else st.error)(
                f"{sum(r.match for r in rows)}/{len(rows)} rows: measured == expected")
