"""The Capacity page's engine section: what transformers, vLLM, SGLang or llama.cpp does with the
memory left for KV on one GPU next to the weights, and the lines each engine logs for that setup."""
from __future__ import annotations

import streamlit as st

from calculator.engines import ENGINES, llamacpp_max_sequences, sglang_pool, static_cache_bytes, vllm_plan
from calculator.engines.llamacpp import LLAMACPP_VERSION
from calculator.engines.sglang import SGLANG_VERSION
from calculator.engines.transformers_cache import TRANSFORMERS_VERSION
from calculator.engines.vllm import BLOCK_SIZES as VLLM_BLOCKS
from calculator.engines.vllm import VLLM_VERSION
from views import common as c

HELP = ("theoretical: the figures above. transformers: how many sequences of this context one "
        f"StaticCache (transformers {TRANSFORMERS_VERSION}) holds there. vllm: the block pool "
        f"vLLM builds in the memory free for KV on one GPU, as {VLLM_VERSION} computes it. "
        f"sglang: the token pools SGLang sizes there ({SGLANG_VERSION}). llama.cpp: how many "
        f"sequences (-np) of this context its caches hold ({LLAMACPP_VERSION})")


def kv_flag(engine: str, kv_dtype: str, model_dtype: str) -> str:
    """--kv-cache-dtype for the page's KV dtype, or a ValueError naming that flag."""
    try:
        return c.auto_or_fp8(engine, kv_dtype, model_dtype)
    except ValueError as exc:
        raise ValueError(f"kv-cache-dtype: {exc}") from None


def show(engine: str, model, cap, ctx: int, n_gpus: int, tp: int, kv_dtype: str) -> None:
    """The section for ``engine``, with ``cap.free_per_gpu`` bytes left for KV per GPU."""
    if engine == "theoretical":
        st.caption("The figures above are the theoretical cache: every token's K and V (or "
                   "latent, or state), no blocks, no engine overhead. Pick *vllm* to see vLLM's "
                   "own numbers.")
    elif engine in ("transformers", "llama.cpp") and (n_gpus != 1 or tp != 1):
        st.info(f"The {engine} mode models one device: set GPUs and tensor parallel to 1.")
    elif engine == "transformers":
        _transformers(model, cap, ctx, kv_dtype)
    elif engine == "llama.cpp":
        _llamacpp(model, cap, ctx, kv_dtype)
    elif n_gpus // tp != 1:
        st.info(f"The {engine} mode models one pipeline stage: set tensor parallel = GPUs per "
                "replica.")
    elif engine == "sglang":
        _sglang(model, cap, ctx, tp, kv_dtype)
    else:
        _vllm(model, cap, ctx, tp, kv_dtype)


def _transformers(model, cap, ctx: int, kv_dtype: str) -> None:
    # StaticCache bytes = batch × per-sequence bytes + 8-byte counters that do not grow
    one = c.guarded(static_cache_bytes, model, ctx, 1, kv_dtype).total_bytes
    per = static_cache_bytes(model, ctx, 2, kv_dtype).total_bytes - one
    fixed = one - per
    n = max(0, (cap.free_per_gpu - fixed) // per)
    if n == 0:
        st.error(f"One sequence's StaticCache ({c.fmt(one)}) is more than the "
                 f"{c.fmt(max(cap.free_per_gpu, 0))} free.")
    else:
        held = static_cache_bytes(model, ctx, n, kv_dtype).total_bytes
        t1, t2 = st.columns(2)
        t1.metric(f"Sequences of {ctx:,} tokens (batch)", f"{n:,}",
                  help=f"({cap.free_per_gpu:,} B − {fixed:,} B of position counters) // "
                       f"{per:,} B per sequence")
        t2.metric("StaticCache for that batch", c.fmt(held), help=f"{held:,} bytes")
    st.caption("transformers logs nothing when it allocates a cache; the Measurements page "
               "checks these bytes against the StaticCache transformers itself allocates.")


def _llamacpp(model, cap, ctx: int, kv_dtype: str) -> None:
    if kv_dtype not in c.LLAMACPP_CACHE_TYPES:
        st.error(f"cache-type-k: llama.cpp has no {kv_dtype} cache; pick bf16, fp16, fp32, q8_0 "
                 "or q4_0.")
    else:
        t = c.LLAMACPP_CACHE_TYPES[kv_dtype]
        n, lp = c.guarded(llamacpp_max_sequences, model, ctx, cap.free_per_gpu,
                          cache_type_k=t, cache_type_v=t)
        l1, l2 = st.columns(2)
        l1.metric(f"Sequences of {ctx:,} tokens (-np)", f"{n:,}",
                  help="The most n for which -c context·n -np n fits, f16 cells padded to 256, "
                       "flash attention on, -ub 512")
        l2.metric("Caches for that -np", c.fmt(lp.total_bytes), help=f"{lp.total_bytes:,} bytes")
        st.caption(f"llama.cpp will log (with -c {lp.n_ctx:,} -np {lp.n_seq_max} -ctk {t} -ctv {t}):")
        st.code("\n".join(lp.log_lines()), language=None, wrap_lines=True)


def _sglang(model, cap, ctx: int, tp: int, kv_dtype: str) -> None:
    page = st.number_input("Page size (--page-size)", min_value=1, max_value=4096, key="c_page")
    sg_dtype = c.guarded(kv_flag, "SGLang", kv_dtype, model.dtype)
    sp = c.guarded(sglang_pool, model, kv_memory=cap.free_per_gpu, page_size=int(page),
                   kv_cache_dtype=sg_dtype, tp=tp)
    s1, s2, s3 = st.columns(3)
    s1.metric("#tokens (max_total_num_tokens)", f"{sp.tokens:,}",
              help=f"{cap.free_per_gpu:,} B // {sp.cell_size:,} B per token"
                   + (", split between the full and SWA pools" if sp.swa_tokens else "")
                   + f", rounded down to the page of {int(page)}")
    s2.metric("SWA pool", "—" if sp.swa_tokens is None else f"{sp.swa_tokens:,} tokens",
              help="Hybrid-SWA models (gpt-oss, Llama 4, MiMo-V2): 0.8 × the full pool's tokens")
    s3.metric(f"Requests of {ctx:,} tokens", f"{sp.max_requests(ctx):.2f}x",
              help="The pool's tokens ÷ the context (with a SWA pool: the scarcer pool; a "
                   "request keeps only its window there)")
    st.caption(f"SGLang will log (with {c.fmt(cap.free_per_gpu)} left for KV; SGLang takes "
               "that from --mem-fraction-static after loading the weights):")
    st.code(sp.log_line(), language=None, wrap_lines=True)


def _vllm(model, cap, ctx: int, tp: int, kv_dtype: str) -> None:
    e1, e2 = st.columns(2)
    block = e1.selectbox("Block size (--block-size)", VLLM_BLOCKS, key="c_block")
    mnbt = e2.number_input("--max-num-batched-tokens", min_value=1, max_value=1 << 24,
                           key="c_mnbt", help="Sizes the blocks a sliding-window layer keeps")
    vllm_dtype = c.guarded(kv_flag, "vLLM", kv_dtype, model.dtype)
    vp = c.guarded(vllm_plan, model, max_model_len=ctx, kv_memory=cap.free_per_gpu,
                   block_size=int(block), kv_cache_dtype=vllm_dtype, tp=tp,
                   max_num_batched_tokens=int(mnbt))
    v1, v2, v3 = st.columns(3)
    v1.metric("GPU blocks", f"{vp.num_blocks:,}",
              help=f"{cap.free_per_gpu:,} B // page {vp.page_size:,} B // {vp.group_size} "
                   "layers per group")
    v2.metric("KV cache size", f"{vp.num_tokens:,} tokens",
              help=f"{vp.num_blocks:,} blocks // {len(vp.groups)} KV group(s) × block size")
    v3.metric(f"Max concurrency at {ctx:,} tokens", f"{vp.max_concurrency:.2f}x",
              help=f"{vp.num_blocks:,} blocks / {vp.blocks_per_request:,} blocks per request")
    st.caption(f"vLLM will log (with {c.fmt(cap.free_per_gpu)} available for KV; vLLM "
               "measures that figure after profiling activations and CUDA graphs, so "
               "a real server has somewhat less):")
    st.code("\n".join(vp.log_lines()), language=None, wrap_lines=True)
    if vp.padding_layers:
        st.caption(f"{vp.padding_layers} padding layer(s): vLLM rounds each attention type's "
                   f"layers up to groups of {vp.group_size}, and the padding holds no tokens.")
