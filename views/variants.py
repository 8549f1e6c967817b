"""Attention variants page: one model re-expressed as MHA, MQA, GQA(g) and MLA, side by side, with
the formulas, the seed articles' worked examples and what each variant trades away."""
from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from calculator import as_variant, kv_cache_bytes, per_token_bytes
from calculator.formula import terms
from calculator.specs import FullAttentionSpec
from calculator.units import SCALES
from views import common as c

WHY = {
    "MHA": "Every query head has its own K and V head. Most expressive, largest cache: the baseline.",
    "MQA": "All query heads share one K/V head: the cache shrinks by the head count, but quality "
           "can drop and the single KV head cannot be split across tensor-parallel GPUs.",
    "GQA": "Query heads are split into g groups sharing one K/V head each: a tunable middle "
           "ground (Llama 3 70B uses g = 8 of 64).",
    "MLA": "Keys and values are rebuilt from one compressed latent (d_c) plus a small shared "
           "RoPE key (d_r) per token. The cache is tiny and, with the up-projections absorbed "
           "into the query and output, decoding reads only the latent; it costs extra compute "
           "and the latent is replicated on every TP GPU.",
}


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def per_token_text(variant, dtype: str) -> str:
    """Bytes one more token adds: while every layer grows, and past the largest window."""
    first = per_token_bytes(variant, dtype)
    windows = [g.spec.window for g in variant.groups if g.spec.window]
    if not windows:
        return f"{first:,} bytes per token"
    w = max(windows)
    beyond = (kv_cache_bytes(variant, w + 1, 1, dtype).kv_bytes
              - kv_cache_bytes(variant, w, 1, dtype).kv_bytes)
    return f"{first:,} bytes per token up to {w:,} tokens, then {beyond:,} (windows full)"


def arithmetic(kind: str, variant, context: int, batch: int, dtype: str) -> str:
    """Markdown: one line per layer group whose written product is that group's bytes."""
    parts = terms(variant, context, batch, dtype)
    total = sum(t.value for t in parts)
    lines = [f"**{kind}** = " + " + ".join(f"{t.value:,}" for t in parts) + f" = **{total:,} bytes**"
             if len(parts) > 1 else f"**{kind}** = **{total:,} bytes**"]
    for t in parts:
        meaning = " · ".join(m for m, _ in t.factors)
        lines.append(f"- {c.md_escape(t.label)}: {t.text()} = {t.value:,}  \n"
                     f"  <small>({c.md_escape(meaning)})</small>")
    return "\n".join(lines)


st.title("Attention variants")
unit = c.unit()
choices = c.model_choices()
keys = c.url_state({
    "v_model": ("llama-3-70b", c.choice(choices)),
    "v_batch": (8, c.int_in(1, 1_000_000)),
    "v_ctx": (1000, c.int_in(1, 1 << 40)),
    "v_dtype": ("fp16", c.choice(c.KV_DTYPES)),
    "v_g": (None, c.int_in(1, 1 << 16)),
    "v_dc": (512, c.int_in(1, 65536)),
    "v_dr": (64, c.int_in(1, 4096)),
})
s1, s2, s3, s4 = st.columns(4)
choice = s1.selectbox("Model", choices, key="v_model", format_func=c.label)
batch = s2.number_input("Batch B", min_value=1, max_value=1_000_000, key="v_batch")
context = s3.number_input("Context S (tokens)", min_value=1, max_value=1 << 40, key="v_ctx")
dtype = s4.selectbox("KV dtype", c.KV_DTYPES, key="v_dtype")
model = c.resolve(choice)
heads = model.num_attention_heads
divs = divisors(heads)
native = next((g.spec.num_kv_heads for g in model.groups if isinstance(g.spec, FullAttentionSpec)), 8)
default_g = native if native in divs else divs[len(divs) // 2]
m1, m2, m3 = st.columns([2, 1, 1])
if st.session_state.get("v_g") not in divs:  # a new model, or a link with a bad g
    st.session_state["v_g"] = default_g
g = m1.select_slider("GQA: KV heads (divisors of the query heads only)", divs, key="v_g")
d_c = m2.number_input("MLA d_c", min_value=1, max_value=65536, key="v_dc")
d_r = m3.number_input("MLA d_r", min_value=1, max_value=4096, key="v_dr")
c.sync_query(keys)

if model.has_compressed:
    shipped = kv_cache_bytes(model, int(context), int(batch), dtype).total_bytes
    st.caption(f"{model.name} ships DeepSeek-V4's compressed attention: {c.fmt(shipped)} "
               f"({shipped:,} bytes) at these settings. The variants below re-express its layers "
               "as plain attention over its head size (the window-only layers keep their window).")
variants = {
    "MHA": c.guarded(as_variant, model, "mha"),
    "MQA": c.guarded(as_variant, model, "mqa"),
    "GQA": c.guarded(as_variant, model, "gqa", kv_heads=int(g)),
    "MLA": c.guarded(as_variant, model, "mla", kv_lora_rank=int(d_c), rope_head_dim=int(d_r)),
}
# Each card is the sum its arithmetic below writes out: the KV of the attention layers plus the
# constant state of linear / SSM layers (models such as Qwen3-Next have both).
breakdowns = {k: c.guarded(kv_cache_bytes, v, int(context), int(batch), dtype)
              for k, v in variants.items()}
sizes = {k: b.total_bytes for k, b in breakdowns.items()}
cols = st.columns(4)
for col, (kind, v) in zip(cols, variants.items()):
    with col:
        b = breakdowns[kind]
        st.subheader(kind if kind != "GQA" else f"GQA (g = {g})")
        st.metric("KV cache" if not b.state_bytes else "KV cache + state", c.fmt(sizes[kind]),
                  help=f"{sizes[kind]:,} bytes")
        share = "" if kind == "MHA" else f" · {sizes[kind] / sizes['MHA']:.1%} of MHA"
        state = f" ({b.kv_bytes:,} KV + {b.state_bytes:,} state)" if b.state_bytes else ""
        st.caption(f"{sizes[kind]:,} bytes{state} · {per_token_text(v, dtype)}{share}")
        st.write(WHY[kind])
st.markdown(f"**The arithmetic** at B = {int(batch):,}, S = {int(context):,} tokens, {dtype}: one "
            "term per layer group, each product equal to that group's bytes (windowed layers hold "
            "min(S, window) tokens; linear/SSM layers a constant state).")
for kind, v in variants.items():
    st.markdown(arithmetic(kind if kind != "GQA" else f"GQA (g = {g})", v, int(context), int(batch),
                           dtype), unsafe_allow_html=True)

fig = go.Figure(go.Bar(
    x=[k if k != "GQA" else f"GQA g={g}" for k in sizes], y=[s / SCALES[unit] for s in sizes.values()],
    text=[c.fmt(s) for s in sizes.values()], textposition="outside",
    customdata=[f"{s:,}" for s in sizes.values()],
    hovertemplate="%{x}: %{customdata} bytes<extra></extra>"))
fig.update_layout(yaxis_title=f"KV cache ({unit})", height=380, margin={"t": 30})
st.plotly_chart(fig, key="variants_chart")

st.subheader("Worked examples from the seed articles")
st.write("Llama 3 70B (80 layers, 64 heads of 128), batch 8, 1,000 tokens, fp16 — set the "
         "controls to those values (the defaults) and the cards above reproduce them:")
llama = c.preset("llama-3-70b")
seed = {k: kv_cache_bytes(as_variant(llama, *a, **kw), 1000, 8, "fp16").kv_bytes for k, a, kw in (
    ("MHA", ("mha",), {}), ("MQA", ("mqa",), {}), ("GQA (8 KV heads)", ("gqa",), {"kv_heads": 8}),
    ("MLA (d_c 512, d_r 64)", ("mla",), {"kv_lora_rank": 512, "rope_head_dim": 64}))}
st.table({"variant": list(seed), "bytes": [f"{v:,}" for v in seed.values()],
          "GB (10⁹)": [c.fmt(v, "GB") for v in seed.values()],
          "GiB (2³⁰)": [c.fmt(v, "GiB") for v in seed.values()]})
st.info("The seed article quotes ≈0.83 GB for MLA by scaling MHA with DeepSeek's ratio "
        "(d_c + d_r) / (2·d_model) using DeepSeek-V3's d_model = 7168. Llama 3 70B's d_model is "
        "8192 and the latent is independent of it: 80 · 8 · 1000 · 576 · 2 = 737,280,000 bytes "
        "≈ 0.737 GB. DeepSeek-V2's own check: d_c + d_r = 576 = 2.25 × (2 · 128), so MLA caches "
        "as much as GQA with 2.25 groups.")
