"""The Capacity page's engine section: what transformers, vLLM, SGLang or llama.cpp does with the
memory left for KV on one GPU next to the weights, and the lines each engine logs for that setup."""
from __future__ import annotations

import streamlit as st

from calculator.engines import ENGINES, llamacpp_max_sequences, sglang_pool, transformers_cache_bytes, vllm_plan
from calculator.engines import vllm as vllm_plan_rules, vllm_hybrid
from calculator.engines.llamacpp import LLAMACPP_VERSION
from calculator.engines.sglang import SGLANG_VERSION
from calculator.engines.sglang_mamba import NoStateSlot
from calculator.engines.transformers_cache import TRANSFORMERS_VERSION
from calculator.engines.vllm import BLOCK_SIZES as VLLM_BLOCKS
from calculator.engines.vllm import VLLM_VERSION
from calculator.engines import sglang_startup, vllm_profile, vllm_startup
from views import commands
from views import common as c
from views import startup as su

HELP = ("theoretical: the figures above, a lower bound with no engine overhead. transformers: how many sequences of this context one "
        f"StaticCache (transformers {TRANSFORMERS_VERSION}; DeepSeek-V4: its DynamicCache right "
        "after the prompt) holds there. vllm: the block pool "
        f"vLLM builds in the memory free for KV on one GPU, as {VLLM_VERSION} computes it. "
        f"sglang: the token pools SGLang sizes there ({SGLANG_VERSION}). llama.cpp: how many "
        f"sequences (-np) of this context its caches hold ({LLAMACPP_VERSION}). vLLM and SGLang start "
        "from the GPU as the driver reports it and take off what they keep before the pool "
        "(activation peak, non-torch memory, reserved share)")


def kv_flag(engine: str, kv_dtype: str, model_dtype: str) -> str:
    """--kv-cache-dtype for the page's KV dtype, or a ValueError naming that flag."""
    try:
        return c.auto_or_fp8(engine, kv_dtype, model_dtype)
    except ValueError as exc:
        raise ValueError(f"kv-cache-dtype: {exc}") from None


def show(engine: str, model, cap, ctx: int, n_gpus: int, tp: int, kv_dtype: str, gpu=None,
         util: float = 0.9, where: tuple = ()) -> None:
    """The section for ``engine``: transformers and llama.cpp with ``cap.free_per_gpu`` bytes
    left for KV per GPU; vLLM and SGLang with the memory their startup leaves on ``gpu``.
    Returns the figures shown, for the page's export ({} when the engine shows none)."""
    if engine == "theoretical":
        st.caption("The figures above are the theoretical cache: every token's K and V (or "
                   "latent, or state), no blocks, no engine overhead — a lower bound on what an "
                   "engine needs. Pick *vllm* or *sglang* for what the engine itself will have "
                   "and print.")
    elif engine in ("transformers", "llama.cpp") and (n_gpus != 1 or tp != 1):
        st.info(f"The {engine} mode models one device: set GPUs and tensor parallel to 1.")
    elif engine == "transformers":
        return _transformers(model, cap, ctx, kv_dtype)
    elif engine == "llama.cpp":
        return _llamacpp(model, cap, ctx, kv_dtype)
    elif n_gpus // tp != 1:
        st.info(f"The {engine} mode models one pipeline stage: set tensor parallel = GPUs per "
                "replica.")
    elif engine == "sglang":
        return _sglang(model, cap, ctx, tp, kv_dtype, gpu, where)
    else:
        return _vllm(model, cap, ctx, tp, kv_dtype, gpu, util, where)
    return {}


def _transformers(model, cap, ctx: int, kv_dtype: str) -> dict:
    # StaticCache bytes = batch × per-sequence bytes + 8-byte counters that do not grow (likewise
    # DeepSeek-V4's DynamicCache after the prompt)
    first = c.guarded(transformers_cache_bytes, model, ctx, 1, kv_dtype)
    one, kind = first.total_bytes, first.layout.split()[2]
    per = transformers_cache_bytes(model, ctx, 2, kv_dtype).total_bytes - one
    fixed = one - per
    n = max(0, (cap.free_per_gpu - fixed) // per)
    if n == 0:
        st.error(f"One sequence's {kind} ({c.fmt(one)}) is more than the "
                 f"{c.fmt(max(cap.free_per_gpu, 0))} free.")
    else:
        held = transformers_cache_bytes(model, ctx, n, kv_dtype).total_bytes
        t1, t2 = st.columns(2)
        t1.metric(f"Sequences of {ctx:,} tokens (batch)", f"{n:,}",
                  help=f"({cap.free_per_gpu:,} B − {fixed:,} B of position counters) // "
                       f"{per:,} B per sequence")
        t2.metric(f"{kind} for that batch", c.fmt(held), help=f"{held:,} bytes")
        st.caption("transformers logs nothing when it allocates a cache; the Measurements page "
                   "checks these bytes against the cache transformers itself allocates.")
        return {"sequences": n, "static_cache_bytes": held, "kv_memory_bytes": cap.free_per_gpu}
    return {"sequences": 0, "kv_memory_bytes": cap.free_per_gpu}


def _llamacpp(model, cap, ctx: int, kv_dtype: str) -> dict:
    if kv_dtype not in c.LLAMACPP_CACHE_TYPES:
        st.error(f"cache-type-k: llama.cpp has no {kv_dtype} cache; pick bf16, fp16, fp32, q8_0 "
                 "or q4_0.")
        return {}
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
        return {"kv_memory_bytes": cap.free_per_gpu, "sequences": n, "n_ctx": lp.n_ctx,
                "caches_bytes": lp.total_bytes, "log": lp.log_lines()}


def _commands(lines: list[str | None]) -> None:
    """The shell lines behind the figures above (st.code has a copy button)."""
    text = "\n".join(line for line in lines if line)
    if text:
        st.caption("Copy as command: the engine's launch line, and the calculator line whose JSON "
                   "carries these figures:")
        st.code(text, language="bash", wrap_lines=True)


def _sglang(model, cap, ctx: int, tp: int, kv_dtype: str, gpu, where: tuple = ()) -> dict:
    e1, e2, e3 = st.columns(3)
    page = e1.number_input("Page size (--page-size)", min_value=1, max_value=4096, key="c_page")
    frac = e2.number_input("--mem-fraction-static (0 = SGLang's default)", min_value=0.0,
                           max_value=0.99, step=0.01, key="c_mfs",
                           help="SGLang's own default comes from the card's memory, chunked "
                                "prefill, CUDA-graph batch and TP (server_args.py)")
    version = e3.selectbox("SGLang build", sglang_startup.VERSIONS[::-1], key="c_sgver",
                           format_func=su.SGLANG_BUILDS.get,
                           help="Where the default --mem-fraction-static and the log lines "
                                "changed: PR #10975 (late 2025) derives it from the card; "
                                "earlier builds from the TP size alone; main (late 2026) "
                                "also reserves memory for prefill CUDA graphs")
    sg_dtype = c.guarded(kv_flag, "SGLang", kv_dtype, model.dtype)
    start = c.guarded(sglang_startup.predict, model, gpu, tp=tp, version=version,
                      mem_fraction_static=None if frac == 0 else f"{frac:.2f}")
    sp, short = None, ""
    if start.available > 0:
        try:
            sp = sglang_pool(model, kv_memory=start.available, page_size=int(page),
                             kv_cache_dtype=sg_dtype, tp=tp, gpu=gpu)
        except NoStateSlot:
            short = ", less than one Mamba state slot"
        except ValueError as exc:
            st.error(str(exc))
            st.stop()
    su.bar(start, "c_sglang_bar", hybrid=su.hybrid_parts(sp))
    st.caption(su.caption(start))
    if sp is None:
        st.error(f"SGLang stops: the weights leave {c.fmt(start.available)} for its pools{short} "
                 "(\"Not enough memory. Please try to increase --mem-fraction-static.\").")
        return {**start.breakdown(), "tokens": 0}
    s1, s2, s3 = st.columns(3)
    s1.metric("#tokens (max_total_num_tokens)", f"{sp.tokens:,}",
              help=f"{start.available:,} B // {sp.cell_size:,} B per token"
                   + (", split between the full and SWA pools" if sp.swa_tokens else "")
                   + (f", after {sp.mamba_size:,} Mamba state slots of {sp.mamba.per_req:,} B "
                      "(0.9 of the token pool's memory)" if getattr(sp, "mamba", None) else "")
                   + f", rounded down to the page of {int(page)}")
    s2.metric("SWA pool", "—" if sp.swa_tokens is None else f"{sp.swa_tokens:,} tokens",
              help="Hybrid-SWA models (gpt-oss, Llama 4, MiMo-V2): 0.8 × the full pool's tokens")
    s3.metric(f"Requests of {ctx:,} tokens", f"{sp.max_requests(ctx):.2f}x",
              help="The pool's tokens ÷ the context (with a SWA pool: the scarcer pool; a "
                   "request keeps only its window there; with a Mamba pool, at most a third of "
                   "its slots)")
    st.caption("SGLang will log (its \"GB\" is 2³⁰ bytes: it divides by 1 << 30):")
    log, as_built = su.sglang_pool_lines(sp, version, start.log_lines())
    if not as_built:
        st.caption("This pool's line as v0.4 builds printed it is not read here; the current "
                   "builds' line is shown.")
    st.code("\n".join(log), language=None, wrap_lines=True)
    figures = {**start.breakdown(), "engine_version": version,
               "mem_fraction_static": float(start.mem_fraction_static),
               "tokens": sp.tokens, "swa_tokens": sp.swa_tokens,
               **({"max_mamba_cache_size": sp.mamba_size, "mamba_bytes": sp.mamba_bytes}
                  if sp.mamba else {}),
               "requests_at_context": sp.max_requests(ctx), "log": log}
    if where:
        choice, ckpt, gpu_name = where
        fr = None if frac == 0 else float(frac)
        _commands([commands.sglang_launch(choice, ckpt, tp=tp, fraction=fr, kv_cache_dtype=sg_dtype,
                                          page=int(page), ctx=ctx),
                   commands.calculator(choice, ckpt, "sglang", gpu=gpu_name, tp=tp, ctx=ctx, extra=(
                       (["--mem-util", f"{fr:.2f}"] if fr else []) + (
                           ["--kv-cache-dtype", sg_dtype] if sg_dtype != "auto" else []) + (
                           ["--page-size", str(int(page))] if int(page) != 1 else []) + (
                           ["--engine-version", version] if version != sglang_startup.VERSIONS[-1]
                           else [])))])
    return figures


def _vllm(model, cap, ctx: int, tp: int, kv_dtype: str, gpu, util: float, where: tuple = ()) -> dict:
    e1, e2, e3, e4, e5, e6 = st.columns(6)
    startup_read = st.session_state.get("c_vver") not in su.VLLM_POOL_ONLY
    block = e1.selectbox("Block size (--block-size)", VLLM_BLOCKS, key="c_block")
    usage = e2.selectbox("Started by", vllm_startup.USAGES, key="c_usage",
                         format_func={"serve": "vllm serve", "llm": "LLM class",
                                      "engine": "(Async)EngineArgs"}.get,
                         disabled=not startup_read,
                         help="vllm serve, the offline LLM class and an engine built from "
                              "(Async)EngineArgs default to different max_num_batched_tokens "
                              "and max_num_seqs, which size the profiling run")
    sampler = e3.selectbox("Sampler", vllm_profile.SAMPLERS, key="c_sampler",
                           disabled=not startup_read,
                           help="native: pip installs without FlashInfer; flashinfer: the "
                                "vllm/vllm-openai image. Sets the profiling run's peak")
    mnbt = e4.number_input("--max-num-batched-tokens (0 = vLLM's default)", min_value=0,
                           max_value=1 << 24, key="c_mnbt",
                           help="Sizes the profiling run and the blocks a sliding-window layer keeps")
    draft = e5.number_input("Draft layers (speculative)", min_value=0, max_value=64, key="c_draft",
                            help="EAGLE / EAGLE-3: 1; MTP: the model's next-n layers. vLLM puts "
                                 "the drafter's attention layers in the same KV pool (the "
                                 "drafter's weights are not added here)")
    version = e6.selectbox("vLLM build", su.VLLM_BUILD_CHOICES[::-1], key="c_vver",
                           format_func=su.VLLM_BUILDS.get, help=su.VLLM_BUILD_HELP)
    vllm_dtype = c.guarded(kv_flag, "vLLM", kv_dtype, model.dtype)
    pool_only = version in su.VLLM_POOL_ONLY
    skip_mm = vllm_startup.multimodal(model.config) and not pool_only and st.checkbox(
        "vLLM started with --skip-mm-profiling", key="c_skipmm",
        help="Without it vLLM first profiles the vision/audio encoder on its largest dummy "
             "inputs, which this page does not model (the KV memory shown is then an upper "
             "bound); with it vLLM skips that pass")
    lm_only = (vllm_startup.multimodal(model.config) and not pool_only
               and version not in vllm_startup.LANGUAGE_ONLY_BEFORE and st.checkbox(
                   "vLLM started with --language-model-only", key="c_lmonly",
                   help="Text only (or every --limit-mm-per-prompt at 0): vLLM 0.17 and later "
                        "build no vision tower and run no encoder pass"))
    prefix = (model.has_state and version in vllm_hybrid.PREFIX_ALIGN and st.checkbox(
        "vLLM started with --enable-prefix-caching", key="c_vpc",
        help="Off by default for hybrid models; with it vLLM caches gated-DeltaNet / short-conv "
             "state in 'align' mode, two state pages per request instead of one (Mamba-2 "
             "models use 'all' mode, not modelled)"))
    cg_gib = None
    if version in vllm_startup.CUDAGRAPH_DEDUCTED:
        cg_gib = st.number_input(
            f"Estimated CUDA graph memory from vLLM's log ({c.unit_name()}; empty = not "
            "predicted, 0 with --enforce-eager)", min_value=0.0, max_value=float(1 << 10),
            step=0.05, key="c_vcg",
            help="vLLM v0.20+ prints 'Estimated CUDA graph memory: X GiB total' and deducts it "
                 "before the pool; it measures it by capturing graphs, so it is not predicted "
                 "here. Dense Qwen3 in v0.22 (V2 model runner) and ROCm deduct none")
    cudagraph = None if cg_gib is None else int(cg_gib * c.unit_bytes())
    build_util = vllm_startup.DEFAULT_UTIL.get(version)
    if build_util is not None and f"{util:.2f}" != build_util:
        st.caption(f"vLLM {su.VLLM_BUILDS.get(version, version).split(' (')[0]} defaults to "
                   f"--gpu-memory-utilization {build_util}; this page runs it at the Memory "
                   f"utilization slider's {util:.2f}, and the command below passes that.")
    start = c.guarded(vllm_startup.predict, model, gpu, mem_util=f"{util:.2f}", tp=tp,
                      usage=usage, sampler=sampler, skip_mm_profiling=skip_mm,
                      version=su.VLLM_DEFAULT_BUILD if pool_only else version,
                      max_num_batched_tokens=int(mnbt) or None, cudagraph=cudagraph,
                      language_model_only=bool(lm_only))
    if pool_only:  # its startup is not modelled: the KV memory its own log prints
        given = st.number_input(
            f"Available KV cache memory from vLLM {version}+'s log ({c.unit_name()} per GPU; 0 = "
            f"v{su.VLLM_DEFAULT_BUILD}'s prediction, {c.fmt(start.available)})", min_value=0.0,
            max_value=float(1 << 20), step=0.25, key="c_vkv",
            help="vLLM prints it at startup: 'Available KV cache memory: X GiB'")
        available = int(given * c.unit_bytes()) if given else start.available
        st.caption(f"vLLM {version}'s startup memory (its V2 model runner, sampler and CUDA-graph "
                   f"estimate) is not modelled here, so the pool below sizes "
                   + (f"the {c.fmt(available)} given" if given else
                      f"v{su.VLLM_DEFAULT_BUILD}'s predicted {c.fmt(available)} (enter your log's "
                      "figure above)")
                   + f", with max_num_batched_tokens {start.max_num_batched_tokens:,} "
                     f"(v{su.VLLM_DEFAULT_BUILD}'s default here; set it above if yours differs).")
        head, breakdown = [], {"kv_memory_bytes": available}
    else:
        su.bar(start, "c_vllm_bar")
        st.caption(su.caption(start))
        su.mm_warning(start)
        available, head, breakdown = start.available, start.log_lines(), start.breakdown()
    if available <= 0:
        st.error(f"vLLM stops: \"Available KV cache memory: {available / (1 << 30):.2f} "
                 "GiB\" then \"No available memory for the cache blocks\". Add GPUs, raise "
                 "utilization or lower max_num_seqs.")
        return {**breakdown, "num_blocks": 0}
    vp = c.guarded(vllm_plan, model, max_model_len=ctx, kv_memory=available,
                   block_size=int(block), kv_cache_dtype=vllm_dtype, tp=tp,
                   max_num_batched_tokens=start.max_num_batched_tokens, draft_layers=int(draft),
                   gpu=gpu, version=version, prefix_caching=bool(prefix))
    v0, v1, v2, v3 = st.columns(4)
    bound = not pool_only and start.cudagraph_missing  # ≤: vLLM also deducts its graph estimate
    v0.metric("Available KV cache memory", ("≤ " if bound else "") + c.fmt(available),
              help=f"{available:,} B" + ("" if pool_only else
                                         " = requested − weights − activation peak − non-torch"
                                         + (" − CUDA graphs" if start.version in
                                            vllm_startup.CUDAGRAPH_DEDUCTED else "")))
    v1.metric("GPU blocks", f"{vp.num_blocks:,}",
              help=f"{available:,} B // page {vp.page_size:,} B // {vp.group_size} "
                   "layers per group")
    v2.metric("KV cache size (tokens)", f"{vp.num_tokens:,}",
              help=(f"int({vp.max_concurrency:.4f} concurrency × {ctx:,} tokens)"
                    if version in vllm_plan_rules.TOKENS_FROM_CONCURRENCY
                    else f"{vp.num_blocks:,} blocks // {len(vp.groups)} KV group(s) × block size"))
    v3.metric(f"Max concurrency at {ctx:,} tokens", f"{vp.max_concurrency:.2f}x",
              help=f"{vp.num_blocks:,} blocks / {vp.blocks_per_request:,} blocks per request")
    if vp.config_lines or vp.backend_lines:
        line = (vp.backend_lines or vp.config_lines)[-1]
        st.caption(f"vLLM uses block {vp.block_size}, not the {int(block)} chosen: its MLA kernel "
                   f"on this GPU needs it (\"{line}\")")
    st.caption("vLLM will log:")
    lines = vp.log_lines(head)
    st.code("\n".join(lines), language=None, wrap_lines=True)
    figures = {**breakdown, "engine_version": version,
               "max_num_batched_tokens": start.max_num_batched_tokens,
               "in_flight_tokens": vp.in_flight_tokens, "num_blocks": vp.num_blocks,
               "tokens": vp.num_tokens, "max_concurrency": vp.max_concurrency,
               "block_size": vp.block_size, "log": lines}
    if not pool_only:
        figures["max_num_seqs"] = start.max_num_seqs
        if start.mm_encoder:  # "not modelled" (the upper bound warned of), "skipped", "text only"
            figures["mm_encoder_profile"] = start.mm_encoder
        if start.version in vllm_startup.CUDAGRAPH_DEDUCTED:
            figures.update(model_runner=start.runner, cudagraph_source=start.cudagraph_source,
                           cudagraph_missing=start.cudagraph_missing)
    if where:
        choice, ckpt, gpu_name = where
        knobs = (([] if pool_only else
                  ["--mem-util", f"{util:.2f}", "--usage", usage, "--sampler", sampler])
                 + (["--kv-cache-dtype", vllm_dtype] if vllm_dtype != "auto" else [])
                 + (["--block-size", str(int(block))] if int(block) != 16 else [])
                 + (["--max-num-batched-tokens", str(start.max_num_batched_tokens)]
                    if int(mnbt) or pool_only else [])
                 + (["--num-draft-layers", str(int(draft))] if int(draft) else [])
                 + (["--skip-mm-profiling"] if skip_mm else [])
                 + (["--language-model-only"] if lm_only else [])
                 + (["--enable-prefix-caching"] if prefix else [])
                 + (["--cudagraph-memory", str(cudagraph)]
                    if cudagraph is not None and not pool_only else [])
                 + (["--engine-version", version] if version != su.VLLM_DEFAULT_BUILD
                    else [])
                 + (["--kv-memory", f"{available}"] if pool_only else []))
        _commands([commands.vllm_serve(choice, ckpt, tp=tp, util=util, ctx=ctx,
                                       kv_cache_dtype=vllm_dtype, block=int(block),
                                       mnbt=int(mnbt) or None, usage=usage,
                                       kv_memory=available if pool_only else None,
                                       skip_mm=skip_mm, prefix_caching=bool(prefix),
                                       language_model_only=bool(lm_only)),
                   commands.calculator(choice, ckpt, "vllm", gpu=gpu_name, tp=tp, ctx=ctx,
                                       extra=knobs)])
    if vp.padding_layers:
        figures["padding_layers"] = vp.padding_layers
        st.caption(f"{vp.padding_layers} padding layer(s): vLLM rounds each attention type's "
                   f"layers up to groups of {vp.group_size}, and the padding holds no tokens.")
    return figures
