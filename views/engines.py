"""Engines page: one model, one context, one GPU's KV memory: what the theoretical cache,
transformers, vLLM, SGLang and llama.cpp each allocate, how many requests fit, and the lines each
prints."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from calculator import kv_cache_bytes
from calculator.engines import llamacpp_max_sequences, llamacpp_plan, sglang_pool, static_cache_bytes, vllm_plan
from calculator.engines.llamacpp import LLAMACPP_VERSION
from calculator.engines.sglang import SGLANG_VERSION
from calculator.engines.transformers_cache import TRANSFORMERS_VERSION
from calculator.engines.vllm import VLLM_VERSION
from views import common as c


def rows(model, ctx: int, memory: int, tp: int) -> list[dict]:
    """One row per engine: bytes for one request of ``ctx`` tokens per GPU, and what fits."""
    out = []

    def add(engine, fn):
        try:
            one, fits, log = fn()
            out.append({"engine": engine, "one request (bytes/GPU)": one,
                        "requests that fit": fits, "engine prints": log, "note": ""})
        except ValueError as exc:
            out.append({"engine": engine, "one request (bytes/GPU)": None,
                        "requests that fit": "—", "engine prints": "", "note": str(exc)})

    def theoretical():
        one = kv_cache_bytes(model, ctx, 1, "bf16", tp).per_gpu_total_bytes
        return one, f"{memory / one:.2f}x", ""

    def transformers():
        if tp != 1:
            raise ValueError("transformers: one device's StaticCache (set TP to 1)")
        one = static_cache_bytes(model, ctx, 1).total_bytes
        return one, f"{memory / one:.2f}x", ""

    def vllm():
        p = vllm_plan(model, max_model_len=ctx, kv_memory=memory, tp=tp)
        return p.request_bytes(1), f"{p.max_concurrency:.2f}x", "\n".join(p.log_lines())

    def sglang():
        p = sglang_pool(model, kv_memory=memory, tp=tp)
        pools = "token pool" if p.swa_tokens is None else "full + SWA pools"
        return p.request_bytes(ctx), f"{p.max_requests(ctx):.2f}x ({pools})", p.log_line()

    def llamacpp():
        if tp != 1:
            raise ValueError("llama.cpp: splits layers across GPUs rather than heads; set TP to 1")
        one = llamacpp_plan(model, n_ctx=ctx)
        n, shown = llamacpp_max_sequences(model, ctx, memory)
        return one.total_bytes, f"{n} (-np {n} -c {ctx * n:,})", "\n".join(shown.log_lines())

    add("theoretical (bf16)", theoretical)
    add(f"transformers {TRANSFORMERS_VERSION} StaticCache", transformers)
    add(VLLM_VERSION, vllm)
    add(SGLANG_VERSION.split(" (")[0], sglang)
    add(LLAMACPP_VERSION.split(" (")[0], llamacpp)
    return out


st.title("Engines side by side")
c.unit()
choices = c.model_choices()
keys = c.url_state({
    "e_model": ("gpt-oss-120b", c.choice(choices)),
    "e_ctx": (131072, c.int_in(1, 1 << 24)),
    "e_mem": (40, c.int_in(1, 1 << 14)),
    "e_tp": (1, c.int_in(1, 64)),
})
a, b, d, e = st.columns(4)
choice = a.selectbox("Model", choices, key="e_model", format_func=c.label)
ctx = b.number_input("Context per request (max_model_len)", min_value=1, max_value=1 << 24,
                     key="e_ctx")
mem = d.number_input("KV memory per GPU (GiB)", min_value=1, max_value=1 << 14, key="e_mem",
                     help="What the engine has left for KV on one GPU (vLLM's 'Available KV "
                          "cache memory')")
tp = e.number_input("Tensor parallel", min_value=1, max_value=64, key="e_tp")
c.sync_query(list(keys))
model = c.resolve(choice)
table = pd.DataFrame(rows(model, int(ctx), int(mem) << 30, int(tp)))
table["one request"] = [c.fmt(int(v)) if pd.notna(v) else "—" for v in table["one request (bytes/GPU)"]]
table["one request (bytes/GPU)"] = [f"{int(v):,}" if pd.notna(v) else "—"
                                    for v in table["one request (bytes/GPU)"]]
table["status"] = ["not modelled (below)" if n else "" for n in table["note"]]
st.dataframe(table[["engine", "one request", "one request (bytes/GPU)", "requests that fit", "status"]],
             hide_index=True, key="e_table")
st.caption("One request = one sequence of the chosen context; requests that fit = KV memory ÷ "
           "one request (for vLLM, its own Maximum concurrency figure). vLLM counts whole blocks per KV "
           "group, keeps max_num_batched_tokens (8,192) of slack in sliding-window layers and pads "
           "hybrid groups; SGLang sizes a flat token pool (gpt-oss-style models: a full pool and a SWA "
           "pool of 0.8× its tokens, where a request keeps only its window); transformers' StaticCache holds "
           "max_cache_len for every full layer and the window for sliding ones; llama.cpp (f16 "
           "cache, flash attention, -ub 512) pads the context to 256 cells, keeps window + "
           "ubatch cells in sliding layers, and its figure is whole sequences (-np) of this "
           "context.")
for _, r in table.iterrows():
    if r["note"]:
        st.info(r["note"])
for _, r in table.iterrows():
    if r["engine prints"]:
        st.markdown(f"**{c.md_escape(r['engine'])}** prints:")
        st.code(r["engine prints"], language=None, wrap_lines=True)
