"""Engines page: one model, one context, one GPU: what the theoretical cache, transformers, vLLM,
SGLang and llama.cpp each allocate, how many requests fit, and the lines each prints. The KV memory
is either predicted per engine from the GPU (vLLM and SGLang keep their own startup memory first,
drawn as stacked bars) or one figure given for all."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from calculator import kv_cache_bytes
from calculator.engines import llamacpp_max_sequences, llamacpp_plan, sglang_pool, transformers_cache_bytes, vllm_plan
from calculator.engines.llamacpp import LLAMACPP_VERSION
from calculator.engines.llamacpp_dsv4 import LLAMACPP_DSV4_VERSION
from calculator.engines.sglang import SGLANG_VERSION
from calculator.engines.sglang_dsv4 import SGLANG_DSV4_VERSION, SglangV4Pool
from calculator.engines.sglang_mamba import NoStateSlot
from calculator.engines.transformers_cache import TRANSFORMERS_VERSION
from calculator.engines.vllm import BLOCK_SIZES as VLLM_BLOCKS
from calculator.engines.vllm import rules_label
from calculator.engines import sglang_startup, vllm_hybrid, vllm_startup
from calculator.gpus import gpu_memory, load_oom
from views import commands
from views import common as c
from views import startup as su


def rows(model, ctx: int, memory: int | dict, tp: int, startups: dict | None = None,
         kv_dtype: str = "bf16", block: int = 16, page: int = 1,
         mnbt: int | None = None, gpu: str | None = None,
         vllm_version: str = su.VLLM_DEFAULT_BUILD, keep: dict | None = None,
         prefix_caching: bool = False) -> list[dict]:
    """One row per engine: bytes for one request of ``ctx`` tokens per GPU, and what fits in the
    engine's KV memory (``memory``: one figure for all, or a dict by engine key), each engine
    storing KV as ``kv_dtype`` in its own spelling (a one-line refusal where it cannot).
    ``keep``: a dict that receives the SGLang pool the row was sized from; ``prefix_caching``:
    vLLM started with --enable-prefix-caching (hybrid models' 'align' mode)."""
    out = []
    mem = memory if isinstance(memory, dict) else dict.fromkeys(
        ("theoretical", "transformers", "vllm", "sglang", "llama.cpp"), memory)
    startups = startups or {}

    def add(engine, key, fn):
        memory = mem[key]
        head = startups[key].log_lines() if key in startups else []
        oom = load_oom(startups[key].weights, startups[key].gpu_total) if key in startups else ""
        try:
            if memory is None:
                raise ValueError(f"{engine}: its startup memory is not predicted here (see above); "
                                 "choose 'one figure for every engine' to size its pool")
            if memory <= 0:
                raise ValueError(f"{engine}: {oom}" if oom else
                                 f"{engine}: no memory left for KV on this GPU "
                                 f"({c.fmt(memory)} after what it keeps at startup)")
            one, fits, log = fn(memory, head)
            out.append({"engine": engine, "KV memory (bytes/GPU)": memory,
                        "one request (bytes/GPU)": one, "requests that fit": fits,
                        "engine prints": "\n".join(head + ([log] if log else [])
                                                   if isinstance(log, str) else log),
                        "note": ""})
        except ValueError as exc:
            note = str(exc)
            if isinstance(exc, NoStateSlot):  # a pool too small for one request's state
                note = (f"{engine}: no memory left for one Mamba state slot ({c.fmt(memory)} "
                        "after what it keeps at startup); it stops here")
            out.append({"engine": engine, "KV memory (bytes/GPU)": memory,
                        "one request (bytes/GPU)": None, "requests that fit": "—",
                        "engine prints": "\n".join(head), "note": note})

    def theoretical(memory, head):
        one = kv_cache_bytes(model, ctx, 1, kv_dtype, tp).per_gpu_total_bytes
        return one, f"{memory / one:.2f}x", ""

    def transformers(memory, head):
        if tp != 1:
            raise ValueError("transformers: one device's StaticCache (set TP to 1)")
        one = transformers_cache_bytes(model, ctx, 1, kv_dtype).total_bytes
        return one, f"{memory / one:.2f}x", ""

    def vllm(memory, head):  # the whole log: vLLM's own lines fall before and after the startup's
        flag = c.auto_or_fp8("vLLM", kv_dtype, model.dtype)
        p = vllm_plan(model, max_model_len=ctx, kv_memory=memory, tp=tp, kv_cache_dtype=flag,
                      block_size=block, gpu=gpu, version=vllm_version,
                      prefix_caching=prefix_caching,
                      **({"max_num_batched_tokens": startups["vllm"].max_num_batched_tokens}
                         if "vllm" in startups else
                         {"max_num_batched_tokens": mnbt} if mnbt else {}))
        return p.request_bytes(1), f"{p.max_concurrency:.2f}x", p.log_lines(head)

    def sglang(memory, head):
        flag = c.auto_or_fp8("SGLang", kv_dtype, model.dtype)
        p = sglang_pool(model, kv_memory=memory, tp=tp, kv_cache_dtype=flag, page_size=page, gpu=gpu)
        if keep is not None:  # the page draws SGLang's startup bar from this same pool
            keep["sglang"] = p
        pools = ("V4 pools" if isinstance(p, SglangV4Pool) else
                 "token + Mamba pools" if getattr(p, "mamba", None) else
                 "token pool" if p.swa_tokens is None else "full + SWA pools")
        version = startups["sglang"].version if "sglang" in startups else "current"
        lines, _ = su.sglang_pool_lines(p, version, head)  # the flag lines come before the startup's
        return p.request_bytes(ctx), f"{p.max_requests(ctx):.2f}x ({pools})", lines

    def llamacpp(memory, head):
        if tp != 1:
            raise ValueError("llama.cpp: splits layers across GPUs rather than heads; set TP to 1")
        if kv_dtype not in c.LLAMACPP_CACHE_TYPES:
            raise ValueError(f"llama.cpp has no {kv_dtype} cache (f16, bf16, f32, q8_0, q4_0)")
        t = c.LLAMACPP_CACHE_TYPES[kv_dtype]
        one = llamacpp_plan(model, n_ctx=ctx, cache_type_k=t, cache_type_v=t)
        n, shown = llamacpp_max_sequences(model, ctx, memory, cache_type_k=t, cache_type_v=t)
        return one.total_bytes, f"{n} (-np {n} -c {ctx * n:,})", "\n".join(shown.log_lines())

    add(f"theoretical ({kv_dtype})", "theoretical", theoretical)
    add(f"transformers {TRANSFORMERS_VERSION} "
        f"{'DynamicCache after the prompt' if model.has_compressed else 'StaticCache'}",
        "transformers", transformers)
    add(rules_label(vllm_version), "vllm", vllm)
    add((SGLANG_DSV4_VERSION if model.has_compressed else SGLANG_VERSION).split(" (")[0], "sglang",
        sglang)
    add((LLAMACPP_DSV4_VERSION if model.has_compressed else LLAMACPP_VERSION).split(" (")[0],
        "llama.cpp", llamacpp)
    return out


def predicted(model, gpu: str, util: float, tp: int, mnbt: int | None = None,
              sglang_version: str = sglang_startup.VERSIONS[-1],
              vllm_version: str = su.VLLM_DEFAULT_BUILD,
              cudagraph: int | None = None,
              language_model_only: bool = False) -> tuple[dict, dict, list[str]]:
    """Per engine: KV memory on one GPU, the vLLM / SGLang startups, and why any is missing.
    vLLM and SGLang: what their startup leaves; the others: utilization × the GPU − the weights
    (theoretical: they keep nothing modelled before their cache). ``cudagraph``: vLLM 0.20 –
    0.22's logged CUDA-graph estimate in bytes (None: not given, the pool an upper bound);
    ``language_model_only``: vLLM started with ``--language-model-only``."""
    from calculator.capacity import weights_per_gpu
    total = gpu_memory(gpu)
    share = weights_per_gpu(model, tp) or 0
    plain = int(total * util) - share
    mem = {"theoretical": plain, "transformers": plain, "llama.cpp": plain}
    startups, notes = {}, []
    spec = su.gpu_arg(gpu, total)
    if vllm_version in su.VLLM_POOL_ONLY:
        mem["vllm"] = None
        notes.append(f"vllm: v{vllm_version}+'s startup memory is not modelled (its pool rules "
                     "are); choose 'one figure for every engine' with the 'Available KV cache "
                     "memory' its log prints")
    for key, fn, kw in (("vllm", vllm_startup.predict, {"mem_util": f"{util:.2f}",
                                                        "max_num_batched_tokens": mnbt,
                                                        "version": vllm_version,
                                                        "cudagraph": cudagraph,
                                                        "language_model_only": language_model_only}),
                        ("sglang", sglang_startup.predict, {"version": sglang_version})):
        if key in mem:
            continue
        try:
            startups[key] = fn(model, spec, tp=tp, **kw)
            mem[key] = startups[key].available
        except ValueError as exc:  # no engine answer: no naive figure in its place
            mem[key] = None
            notes.append(f"{key}: startup not predicted ({exc})")
    return mem, startups, notes


st.title("Engines side by side")
c.unit()
choices = c.model_choices()
# A link from before the GPU was chosen here names its KV memory (e_mem): it keeps that figure.
old_link = "e_mem" in st.query_params and "e_src" not in st.query_params
keys = c.url_state({
    "e_model": ("gpt-oss-120b", c.choice(choices)),
    "e_ctx": (131072, c.int_in(1, 1 << 24)),
    "e_src": ("given" if old_link else "gpu", c.choice(("gpu", "given"))),
    "e_gpu": ("H100 80GB", c.choice(c.gpu_names())),
    "e_util": (0.90, c.float_in(0.5, 1.0)),
    "e_mem": (40, c.int_in(1, 1 << 14)),
    "e_tp": (1, c.int_in(1, 64)),
    "e_kvdtype": ("bf16", c.kv_dtype_choice),
    "e_block": (16, c.choice(VLLM_BLOCKS)),
    "e_page": (1, c.int_in(1, 4096)),
    "e_mnbt": (0, c.int_in(0, 1 << 24)),
    "e_sgver": (sglang_startup.VERSIONS[-1], c.choice(sglang_startup.VERSIONS)),
    "e_vver": (su.VLLM_DEFAULT_BUILD, c.choice(su.VLLM_BUILD_CHOICES)),
    "e_vcg": (None, c.float_in(0.0, 1024.0)),
    "e_vpc": (False, c.boolean),
    "e_lmonly": (False, c.boolean),
})
a, b, e = st.columns(3)
choice = a.selectbox("Model", choices, key="e_model", format_func=c.label)
ctx = b.number_input("Context per request (max_model_len)", min_value=1, max_value=1 << 24,
                     key="e_ctx")
tp = e.number_input("Tensor parallel", min_value=1, max_value=64, key="e_tp")
k1, k2, k3, k4, k5 = st.columns(5)
kv_dtype = k1.selectbox("KV dtype", c.KV_DTYPES, key="e_kvdtype",
                        help="Each engine in its own spelling: vLLM/SGLang auto or fp8, llama.cpp "
                             "-ctk/-ctv, transformers' cache dtype")
block = k2.selectbox("vLLM block size", VLLM_BLOCKS, key="e_block")
page_size = k3.number_input("SGLang page size", min_value=1, max_value=4096, key="e_page")
mnbt = k4.number_input("vLLM max_num_batched_tokens (0 = default)", min_value=0,
                       max_value=1 << 24, key="e_mnbt",
                       help="Sizes vLLM's profiling run and its sliding-window blocks; 0 = vLLM's "
                            "own default for the GPU (8,192 with a given KV memory)")
v_version = k5.selectbox("vLLM build", su.VLLM_BUILD_CHOICES[::-1], key="e_vver",
                         format_func=su.VLLM_BUILDS.get, help=su.VLLM_BUILD_HELP)
cg_gib = None  # vLLM 0.20 – 0.22's logged CUDA-graph estimate, with a predicted KV memory
src = st.radio("KV memory per GPU", ("gpu", "given"), key="e_src", horizontal=True,
               format_func={"gpu": "predicted from the GPU, per engine",
                            "given": "one figure for every engine"}.get)
if src == "gpu":
    g1, g2, g3 = st.columns(3)
    gpu = g1.selectbox("GPU", c.gpu_names(), key="e_gpu")
    util = g2.slider("Memory utilization", 0.50, 1.00, step=0.01, key="e_util",
                     help="vLLM's gpu_memory_utilization (SGLang uses its own default fraction)")
    sg_version = g3.selectbox("SGLang build", sglang_startup.VERSIONS[::-1], key="e_sgver",
                              format_func=su.SGLANG_BUILDS.get,
                              help="SGLang's default --mem-fraction-static: from the card since "
                                   "PR #10975 (late 2025), from the TP size before; main "
                                   "(late 2026) also reserves memory for prefill CUDA graphs")
    if v_version in vllm_startup.CUDAGRAPH_DEDUCTED:
        cg_gib = st.number_input(
            f"vLLM's 'Estimated CUDA graph memory' ({c.unit_name()}; empty = not predicted, 0 "
            "with --enforce-eager)", min_value=0.0, max_value=float(1 << 10), step=0.05,
            key="e_vcg", help="vLLM v0.20 – v0.22 deduct the CUDA-graph estimate they print "
                              "('Estimated CUDA graph memory: X GiB total') before the pool; it "
                              "is measured by capturing graphs, so it is not predicted here. "
                              "Without it vLLM's KV memory is an upper bound")
else:
    mem = st.number_input(f"KV memory per GPU ({c.unit_name()})", min_value=1, max_value=1 << 14,
                          key="e_mem", help="What the engine has left for KV on one GPU (vLLM's "
                                            "'Available KV cache memory'), in the sidebar's unit")
c.sync_query([k for k in keys if k not in (("e_mem",) if src == "gpu" else ("e_gpu", "e_util",
                                                                         "e_sgver", "e_vcg",
                                                                         "e_lmonly"))])
model = c.resolve(choice)
prefix = bool(model.has_state and v_version in vllm_hybrid.PREFIX_ALIGN and st.checkbox(
    "vLLM started with --enable-prefix-caching", key="e_vpc",
    help="Off by default for hybrid models; with it vLLM caches gated-DeltaNet / short-conv state "
         "in 'align' mode, two state pages per request instead of one (Mamba-2 models use 'all' "
         "mode, not modelled)"))
# text only: a predicted vLLM startup on a build with the flag (0.17 on) of a multimodal model
lm_only = bool(src == "gpu" and vllm_startup.multimodal(model.config)
               and v_version not in vllm_startup.LANGUAGE_ONLY_BEFORE and v_version not in su.VLLM_POOL_ONLY
               and st.checkbox("vLLM started with --language-model-only", key="e_lmonly",
                               help="Text only (or every --limit-mm-per-prompt at 0): vLLM 0.17 "
                                    "and later build no vision tower and run no encoder pass"))
# cg_gib is only asked for with a predicted KV memory on a build that deducts the estimate
cudagraph = None if cg_gib is None else int(cg_gib * c.unit_bytes())
startups, notes = {}, []
if src == "gpu":
    memory, startups, notes = predicted(model, gpu, float(util), int(tp), int(mnbt) or None,
                                        sg_version, v_version, cudagraph, lm_only)
else:
    memory = int(mem) * c.unit_bytes()
sg_pools = {}  # the SGLang pool the table sizes, for its startup bar
table = pd.DataFrame(rows(model, int(ctx), memory, int(tp), startups, kv_dtype, int(block),
                          int(page_size), int(mnbt) or None, gpu if src == "gpu" else None,
                          v_version, sg_pools, prefix))
table["KV memory"] = [c.fmt(int(v)) if pd.notna(v) else "—" for v in table["KV memory (bytes/GPU)"]]
table["one request"] = [c.fmt(int(v)) if pd.notna(v) else "—" for v in table["one request (bytes/GPU)"]]
table["one request (bytes/GPU)"] = [f"{int(v):,}" if pd.notna(v) else "—"
                                    for v in table["one request (bytes/GPU)"]]
# vLLM 0.20 – 0.22 without its CUDA-graph estimate, a multimodal encoder pass or DSA's indexer
# scratch left out: the pool is an upper bound (the warnings below)
bound = src == "gpu" and any(getattr(startups.get("vllm"), note, "")
                             for note in ("cudagraph_note", "mm_note", "dsa_note"))
table["status"] = ["no memory left (below)" if "no memory left" in n else
                   "not modelled (below)" if n else
                   "upper bound (below)" if bound and e.startswith("vLLM") else ""
                   for n, e in zip(table["note"], table["engine"])]
# The answer (requests that fit) right after the engine: on a phone it is what fits on screen.
cols = ["engine", "requests that fit", "KV memory", "one request", "one request (bytes/GPU)", "status"]
st.dataframe(table[cols if src == "gpu" else [x for x in cols if x != "KV memory"]],
             hide_index=True, key="e_table")
export = table.drop(columns=["note"]).assign(
    context=int(ctx), tp=int(tp), kv_memory_source=src,
    sglang_build=sg_version if src == "gpu" else "",
    vllm_build=v_version, vllm_prefix_caching=prefix, vllm_language_model_only=lm_only,
    vllm_cudagraph_bytes=cudagraph if cudagraph is not None else "",
    gpu=gpu if src == "gpu" else "", mem_util=float(util) if src == "gpu" else None,
    note=table["note"])
st.download_button("Download CSV (raw bytes + what the engines print)", export.to_csv(index=False),
                   file_name="engines_side_by_side.csv", mime="text/csv", key="e_dl")
if not choice.startswith("custom:"):
    with st.expander("Copy as command", icon=":material/terminal:"):
        base = ["--preset", choice, "--context", str(int(ctx)), "--tp", str(int(tp))]
        where = (["--gpu", gpu, "--mem-util", f"{float(util):.2f}"] if src == "gpu"
                 else ["--kv-memory", f"{int(mem)}{c.unit_name()}"])
        lines = []
        for engine, extra in (("vllm", ["--block-size", str(int(block))]
                               + (["--max-num-batched-tokens", str(int(mnbt))] if mnbt else [])
                               + (["--engine-version", v_version]
                                  if v_version != su.VLLM_DEFAULT_BUILD else [])
                               + (["--enable-prefix-caching"] if prefix else [])
                               + (["--language-model-only"] if lm_only else [])
                               + (["--cudagraph-memory", f"{cg_gib:g}{c.unit_name()}"]
                                  if cudagraph is not None else [])),
                              ("sglang", ["--page-size", str(int(page_size))]
                               + (["--engine-version", sg_version] if src == "gpu" and
                                  sg_version != sglang_startup.VERSIONS[-1] else []))):
            if engine == "vllm" and src == "gpu" and v_version in su.VLLM_POOL_ONLY:
                continue  # its startup is not modelled: no command to print the figures
            try:
                flag = c.auto_or_fp8(engine, kv_dtype, model.dtype)
            except ValueError:
                continue
            sg_util = ([] if engine == "sglang" and src == "gpu" else None)
            w = where if sg_util is None else ["--gpu", gpu]  # SGLang keeps its own fraction
            lines.append(commands._line(["python", "-m", "calculator", *base, "--engine", engine,
                                         *w, "--kv-cache-dtype", flag, *extra, "--format", "json"]))
        st.code("\n".join(lines), language="bash", wrap_lines=True)
if src == "gpu":
    st.caption("KV memory: for vLLM and SGLang, what each keeps free for its pool after its "
               "startup (bars below); for the others, utilization × the GPU − the weights, the "
               "theoretical lower bound with no engine overhead.")
for note in notes:
    st.info(note)
st.caption("One request = one sequence of the chosen context; requests that fit = KV memory ÷ "
           "one request (for vLLM, its own Maximum concurrency figure). vLLM counts whole blocks per KV "
           "group, keeps max_num_batched_tokens of slack in sliding-window layers (twice that from "
           "v0.27, with async scheduling's second batch in flight) and pads "
           "hybrid groups; SGLang sizes a flat token pool (hybrid state models: a Mamba pool of state "
           "slots beside it, 0.9 of its memory, at most a third of the slots running; "
           "gpt-oss-style models: a full pool and a SWA "
           "pool of 0.8× its tokens, where a request keeps only its window; DeepSeek-V4: window, "
           "compressed and state pools at its own bytes per full token, one request being that "
           "budget × the context, at most 256 at once); transformers' StaticCache holds "
           "max_cache_len for every full layer and the window for sliding ones (DeepSeek-V4 has no "
           "StaticCache: right after the prompt its DynamicCache still holds the prompt's window "
           "rows and compressor projections); llama.cpp (f16 "
           "cache, flash attention, -ub 512) pads the context to 256 cells, keeps window + "
           "ubatch cells in sliding layers, and its figure is whole sequences (-np) of this "
           "context. SGLang's \"GB\" in its lines is 2³⁰ bytes (it divides by 1 << 30).")
for key, start in startups.items():
    st.markdown(f"**{'vLLM' if key == 'vllm' else 'SGLang'}**: one GPU at startup")
    su.bar(start, f"e_bar_{key}", hybrid=su.hybrid_parts(sg_pools.get(key)))
    st.caption(su.caption(start))
    su.mm_warning(start, " (the Capacity page takes --skip-mm-profiling; both pages take "
                         "--language-model-only)", " (the Capacity page takes it)")
for _, r in table.iterrows():
    if r["note"]:
        st.info(r["note"])
for _, r in table.iterrows():
    if r["engine prints"]:
        st.markdown(f"**{c.md_escape(r['engine'])}** prints:")
        st.code(r["engine prints"], language=None, wrap_lines=True)
