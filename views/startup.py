"""One GPU's memory at an engine's startup, drawn as a stacked bar (weights, activation peak,
non-torch, CUDA graphs, KV pool, left unused) with the figures behind each part; shared by the
Capacity and Engines pages. The numbers come from ``calculator.engines.vllm_startup`` and
``sglang_startup``; this module only draws them."""
from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from calculator.engines import vllm_startup
from calculator.engines.vllm import BETWEEN, POOL_VERSIONS
from calculator.gpus import GpuSpec, gpu_spec
from calculator.units import SCALES
from views import common as c

COLORS = {"weights": "#5c6bc0", "activation peak": "#8e24aa", "reserved for activations":
          "#8e24aa", "non-torch": "#6d4c41", "CUDA graphs": "#00897b", "KV pool": "#ef6c00",
          "Mamba state pool": "#ffb74d", "left unused": "#9e9e9e", "over the budget": "#d32f2f"}

# The SGLang builds whose startup rules are read (sglang_startup.VERSIONS), as a page names them
SGLANG_BUILDS = {"main": "main, late 2026 (+ prefill graphs)",
                 "0.5": "v0.5, Oct 2025 – Feb 2026 (from the card)",
                 "0.4": "v0.3 – v0.4 (default from TP)"}
# The vLLM builds a page offers: those whose startup rules are read (vllm_startup.VERSIONS: where
# NCCL's buffers sit) and 0.27, whose pool rules are read but not its startup (KV memory given).
VLLM_BUILDS = {"0.27": "v0.27+ (KV given)", "0.22": "v0.22 (+ CUDA-graph estimate)",
               "0.21": "v0.21 (+ CUDA-graph estimate)", "0.20": "v0.20 (+ CUDA-graph estimate)",
               "0.18": "v0.18 – v0.19",
               "0.17": "v0.17", "0.11": "v0.11 – v0.16", "0.10": "v0.10"}
# the pages offer the builds a whole model class runs on (v0.23 – v0.26: the CLI, full attention)
VLLM_BUILD_CHOICES = tuple(v for v in POOL_VERSIONS if v != BETWEEN)
VLLM_DEFAULT_BUILD = vllm_startup.DEFAULT_VERSION  # the newest whose every startup term is read
VLLM_POOL_ONLY = vllm_startup.POOL_ONLY
VLLM_BUILD_HELP = ("Where vLLM takes its memory snapshot: v0.10 before NCCL comes up, so TP's NCCL "
                   "buffers count as non-torch memory (1.38 GiB on NVLink at TP 2); from v0.11 "
                   "(vllm-project/vllm#25359) after it (0.55 GiB). From v0.17 the profiling run's "
                   "top-k/top-p sampler is a Triton kernel that masks in place instead of "
                   "sorting (vllm-project/vllm#33538): a much smaller activation peak. From v0.18 an "
                   "MLA model takes its attention backend's kernel block size "
                   "(vllm-project/vllm#35122: 16 on Hopper, 32 with FlashInfer MLA on Blackwell) "
                   "instead of the block forced before. From v0.20 "
                   "vLLM also deducts its CUDA-graph estimate, which it measures by capturing "
                   "graphs, so enter the figure its log prints (0 with --enforce-eager); dense "
                   "Qwen3 runs on the V2 model runner in v0.22, which deducts none. v0.27+: "
                   "sliding-window layers also keep blocks for the second batch async scheduling "
                   "has in flight (vllm-project/vllm#47728) and 'GPU KV cache size' is "
                   "concurrency × max_model_len; its startup memory is not modelled, so give the "
                   "'Available KV cache memory' its log prints")


def sglang_pool_lines(pool, version: str, startup: list[str] | tuple = ()) -> tuple[list[str], bool]:
    """What SGLang logs, in its order: server_args' flag changes (DSA, trtllm_mla), the startup
    lines given, then the pool's lines as the chosen build printed them; and whether those are
    that build's: v0.4 lines (no #tokens) are read for plain MHA pools only, so other pools show
    the current builds' lines (False)."""
    head = [*pool.config_lines, *startup]
    if version != "0.4":
        return head + pool.log_lines(config=False), True
    try:
        return head + pool.log_lines("v0.4", config=False), True
    except ValueError:
        return head + pool.log_lines(config=False), False


def sglang_fraction_note(startup) -> str:
    """How SGLang derived its fraction beyond the card: main's prefill-graph reserve and the cut
    for a multimodal model ('' when neither applies)."""
    note = ""
    if startup.prefill_graph_mib:
        note += f"; {startup.prefill_graph_why}"
    if startup.vlm_cut is not None:
        note += (f"; {float(startup.derived_fraction):g} × {startup.vlm_cut:.4f} for the "
                 "multimodal model's vision tower")
    return note


def mm_warning(startup, hint: str = "", cg_hint: str = "") -> None:
    """A page's warnings that a vLLM figure leaves something out: the multimodal encoder pass
    (nothing for a text model or with --skip-mm-profiling; ``hint`` follows it), DeepSeek sparse
    attention's indexer scratch, or v0.22's CUDA-graph estimate (nothing when given, on the V2
    runner or on ROCm; ``cg_hint``)."""
    for note, after in ((getattr(startup, "mm_note", ""), hint),
                        (getattr(startup, "dsa_note", ""), ""),
                        (getattr(startup, "cudagraph_note", ""), cg_hint)):
        if note:
            st.warning(f"vLLM's KV memory here is an {note}{after}.")


def gpu_arg(gpu: str, gpu_bytes: int) -> GpuSpec | tuple:
    """The catalogue entry for a page's GPU choice, or (name, bytes, None) for a custom size."""
    spec = gpu_spec(gpu) if gpu != "Custom" else None
    return spec if spec is not None else (f"{gpu_bytes / (1 << 30):g} GiB card", gpu_bytes, None)


def hybrid_parts(pool) -> tuple[int, int | None]:
    """For an SGLang pool with a Mamba pool beside it, (state bytes, K + V bytes) as SGLang
    allocates them: ``MambaPool``'s slots + 1 and the token pool's K and V buffers, the two
    figures its lines print; (0, None) for any other pool, or none."""
    if pool is None or not getattr(pool, "mamba", None):
        return 0, None
    return pool.mamba_bytes, pool.k_bytes + pool.v_bytes


def parts(startup, state: int = 0, kv_bytes: int | None = None) -> list[tuple[str, int]]:
    """The bar's parts in bytes, summing to the GPU's total (the pool may be negative: then the
    engine stops, and the overshoot is drawn in red). ``state`` and ``kv_bytes``: for a hybrid
    model, SGLang's Mamba state slots and token pool as allocated, drawn apart. Their sum passes
    the pool's memory by about one slot (SGLang's split leaves out the padded slot 0), which comes
    out of the memory it reserved for activations."""
    b = startup.breakdown()
    kv = b["kv_memory_bytes"]
    vllm = hasattr(startup, "max_num_seqs")
    reserved = b["activation_bytes"]
    pool = max(kv, 0)
    tail = [("KV pool", pool)]
    if state and kv_bytes is not None:
        tail = [("Mamba state pool", state), ("KV pool", kv_bytes)]
        reserved -= min(max(state + kv_bytes - pool, 0), reserved)
        pool = state + kv_bytes
    used = b["weight_bytes_per_gpu"] + reserved + b["non_torch_bytes"] + b["cudagraph_bytes"]
    out = [("weights", b["weight_bytes_per_gpu"]),
           ("activation peak" if vllm else "reserved for activations", reserved),
           ("non-torch", b["non_torch_bytes"]), ("CUDA graphs", b["cudagraph_bytes"]), *tail]
    rest = startup.gpu_total - used - pool
    out.append(("left unused", max(rest, 0)))
    if kv < 0:
        out.append(("over the budget", -kv))
    return out


def bar(startup, key: str, hybrid: tuple[int, int | None] = (0, None)) -> None:
    """``hybrid``: ``hybrid_parts`` of the SGLang pool for a hybrid model."""
    scale = SCALES[c.unit_name()]
    fig = go.Figure()
    for name, value in parts(startup, *hybrid):
        if value <= 0 and name not in ("weights", "KV pool"):
            continue
        fig.add_trace(go.Bar(y=["GPU"], x=[value / scale], name=name, orientation="h",
                             marker_color=COLORS[name], text=c.fmt(value), textposition="inside",
                             insidetextanchor="middle", customdata=[f"{value:,}"],
                             hovertemplate=f"{name}: %{{customdata}} bytes<extra></extra>"))
    fig.add_vline(x=startup.gpu_total / scale, line={"color": "#616161", "dash": "dash", "width": 2})
    fig.update_layout(barmode="stack", height=230, xaxis_title=c.unit_name(),
                      yaxis={"visible": False}, margin={"t": 10, "l": 10, "r": 10},
                      legend={"orientation": "h", "traceorder": "normal", "y": -0.5,
                              "yanchor": "top"})
    st.plotly_chart(fig, key=key)


def caption(startup) -> str:
    """Where each part of the bar comes from, in one paragraph."""
    b = startup.breakdown()
    if hasattr(startup, "max_num_seqs"):
        return (f"{startup.gpu}: {c.fmt(startup.gpu_total)} as the driver reports it × "
                f"gpu_memory_utilization {float(startup.mem_util):g} = "
                f"{c.fmt(int(startup.requested))} for vLLM {startup.version}. Activation peak: "
                f"the larger of the profiling run's sampler over max_num_seqs "
                f"{startup.max_num_seqs:,} × the vocabulary ({startup.sampler_words}: "
                f"{c.fmt(startup.sampler_bytes)}) and its forward over max_num_batched_tokens "
                f"{startup.max_num_batched_tokens:,} ({c.fmt(startup.forward_bytes)}). "
                f"Non-torch: {startup.non_torch_source}. CUDA graphs: "
                f"{startup.cudagraph_source}."
                + (" Text only (--language-model-only): the weights leave out the vision tower "
                   "and its projector, and no encoder pass is profiled."
                   if startup.mm_encoder == "text only" else ""))
    return (f"{startup.gpu}: {c.fmt(startup.gpu_total)} as the driver reports it; SGLang starts "
            f"with {c.fmt(startup.free_at_start)} free (CUDA context: {startup.context_source}), "
            f"keeps mem_fraction_static {float(startup.mem_fraction_static):g}"
            + ("" if startup.fraction_given else
               " (v0.3 and v0.4 builds' default, from the TP size alone)"
               if startup.version == "0.4" else
               " (its own default for this card and TP: chunked "
               f"prefill {startup.chunked_prefill_size:,}, CUDA graphs to batch "
               f"{startup.cuda_graph_max_bs}" + sglang_fraction_note(startup) + ")")
            + f" of that for weights and KV, and reserves {c.fmt(b['activation_bytes'])} for "
            "activations and CUDA graphs."
            + (f" The weights include {c.fmt(startup.mla_copies)} of w_kc / w_vc, the copies of "
               "each MLA layer's kv_b_proj that post_load_weights keeps beside it."
               if getattr(startup, "mla_copies", 0) else "")
            + ((" They also include" if getattr(startup, "mla_copies", 0) else
                " The weights include")
               + f" {c.fmt(startup.rope_cache)} of rope cos/sin caches, which SGLang keeps in "
                 "float32 on CUDA over every position of max_position_embeddings."
               if getattr(startup, "rope_cache", 0) else ""))

