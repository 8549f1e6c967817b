"""llama.cpp engine mode: the caches llama.cpp allocates for a ``ModelSpec`` and the lines it logs.

Rules reproduced, read at ggml-org/llama.cpp ec98e2002 (the copy vendored in ollama/ollama at
9db4bdbad~1, ``llama/llama.cpp/src``) unless said otherwise:

- ``llama-context.cpp``, ``llama_context::llama_context``: ``n_ctx`` = ``-c`` (0: the model's
  ``n_ctx_train``), then ``n_ctx = GGML_PAD(n_ctx, 256)``; with ``--kv-unified`` one stream holds
  every sequence (``n_ctx_seq = n_ctx``), else ``n_ctx_seq = GGML_PAD(n_ctx / n_seq_max, 256)`` and
  ``n_ctx = n_ctx_seq × n_seq_max``. ``n_batch = min(n_ctx, -b)``, ``n_ubatch = min(n_batch, -ub)``.
- ``llama-model.cpp``, ``llama_model::create_memory``: a model with windowed layers gets
  ``llama_kv_cache_iswa`` (size ``n_ctx_seq``); a hybrid (recurrent + attention) model gets
  ``llama_memory_hybrid`` with an attention cache of ``cparams.n_ctx`` cells and a recurrent memory
  of ``max(1, n_seq_max)`` cells; others get one ``llama_kv_cache`` of ``n_ctx_seq`` cells.
- ``llama-kv-cache-iswa.cpp``, ``llama_kv_cache_iswa::llama_kv_cache_iswa``: the SWA cache holds
  ``GGML_PAD(min(size_base, n_swa × (unified ? n_seq_max : 1) + n_ubatch), 256)`` cells, or
  ``size_base`` with ``--swa-full``; it logs ``creating non-SWA KV cache, size = N cells`` and
  ``creating     SWA KV cache, size = N cells``.
- ``llama-kv-cache.cpp``, ``llama_kv_cache::llama_kv_cache``: per layer,
  K = ``ggml_new_tensor_3d(type_k, n_embd_k_gqa, kv_size, n_stream)`` and V likewise (V is as
  wide as the widest layer's when flash attention is off, ``v_trans``); ``n_stream`` = 1 when
  unified, else ``n_seq_max``. Bytes are ``ggml_row_size`` × cells × streams, with the GGML block
  sizes (q8_0 34 B per 32 values, q4_0 18, q4_1 20, q5_0 22, q5_1 24, iq4_nl 18). The line
  ``size = %7.2f MiB (%6u cells, %3d layers, %2u/%u seqs), K (%s): %7.2f MiB, V (%s): %7.2f MiB``
  prints ``(float) bytes / (1024.0f * 1024.0f)``: single-precision, then rounded to 2 places.
- MLA (DeepSeek-style GGUFs converted with the MLA tensors): one KV head of ``kv_lora_rank +
  rope`` for K. Current llama.cpp (``const bool has_v = !is_mla;`` in the same constructor, as
  printed by 2026 builds: ``V (f16): 0.00 MiB``) allocates no V: ``mla="latent"``. Builds such as
  ec98e2002 also allocate a ``kv_lora_rank``-wide V: ``mla="latent+v"``. GGUFs converted before
  MLA support hold ordinary heads (``n_embd_k_gqa = heads × (nope + rope)``): ``mla="mha"``.
- ``llama-memory-recurrent.cpp``, ``llama_memory_recurrent::llama_memory_recurrent``: per recurrent
  layer, R = ``n_embd_r() × mem_size`` and S = ``n_embd_s() × mem_size`` in f32; ``n_embd_r`` is
  ``(d_conv − 1) × conv channels`` and ``n_embd_s`` the state (``llama-hparams.cpp``), so a layer
  holds the kernel−1 conv state and the recurrent state in f32. LFM2's short conv layers
  (``n_shortconv_l_cache`` set) have ``n_embd_r = n_embd × (n_shortconv_l_cache − 1)`` and
  ``n_embd_s = ssm_d_state × ssm_d_inner = 0`` (``llama-hparams.cpp`` as vendored in
  ollama/ollama at 19ef0ed3): R only, ``S (f32): 0.00 MiB``. It logs ``size = … (%6u cells,
  %3d layers, %2u seqs), R (f32): …, S (f32): …`` with every model layer in the count (``n_layer``,
  NemotronH's MLP / MoE blocks included).
- Builds before PR #16812 (``build="pre-16812"``, through late October 2025): every size above
  is padded to ``llama_kv_cache::get_padding(cparams)`` = 256 with flash attention and 32 without
  (``llama-kv-cache.cpp``; ``llama_model::create_memory`` pads ``n_ctx`` per stream, ceil(n_ctx /
  n_seq_max), and ``llama-kv-cache-iswa.cpp`` pads the SWA size *before* capping it at the base
  size: ``min(size_base, GGML_PAD(n_swa × streams' seqs + n_ubatch, n_pad))``). #16812 dropped the
  padding and #17046 brought 256 back for every case, which is the current rule. Builds before
  the class rename print ``llama_kv_cache_unified`` / ``llama_kv_cache_unified_iswa``
  (``log_lines(legacy=True)``).
- ``LLM_ARCH_LLAMA`` reads no sliding window, so a model windowed on every layer (Mistral-7B-v0.1)
  gets a full cache; only models mixing full and windowed layers get the iSWA pair.
- DeepSeek sparse attention (DeepSeek-V3.2, GLM-5): ``llama-kv-cache-dsa.cpp`` ·
  ``llama_kv_cache_dsa::llama_kv_cache_dsa`` (2026 builds, read at 035aa95b) builds two
  ``llama_kv_cache`` of the same size: the main MLA cache over every attention layer, then the
  lightning indexer's key cache, made by the same class from hparams with one KV head of
  ``indexer_head_size`` (128) in the -ctk type and no V (``has_v = !is_mla``), over the layers
  ``filter_lid`` keeps: those with a "full" indexer (ggml-org/llama.cpp#26474, August 2026; GLM-5.2
  runs it on 21 of its 78 layers). Each logs ``llama_kv_cache_dsa: creating main KV cache, size =
  N cells`` / ``creating indexer KV cache, size = N cells`` before its size line.
- DeepSeek-V4: ``llama-kv-cache-dsv4.cpp`` · ``llama_kv_cache_dsv4::llama_kv_cache_dsv4`` (read
  at ggml-org/llama.cpp 035aa95b; ``llamacpp_dsv4.py`` has the rules) keeps one stream
  per sequence whatever ``--kv-unified`` says: a raw ``llama_kv_cache_iswa`` of K-only rows
  (every main layer windowed, so the non-SWA half holds 0 layers), the CSA, HCA and
  lightning-indexer K-only caches of ``GGML_PAD(ceil(kv_size / ratio), 256)`` cells, and three f32
  compressor states.

The cache record, its log lines and the GGML arithmetic they share are in ``llamacpp_cache.py``.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from math import prod

from ..specs import MLASpec, ModelSpec, SharedKVSpec, SlidingWindowSpec, StateSpec
from ..totals import MAX_CONTEXT
from .llamacpp_cache import CACHE_TYPES, MIB, LlamaCppCache, ggml_pad, mib, row_size
from .llamacpp_dsv4 import dsv4_caches

LLAMACPP_VERSION = "llama.cpp ec98e2002 (llama-context.cpp, llama-kv-cache*.cpp, create_memory)"
MLA_MODES = ("latent", "latent+v", "mha")
BUILDS = ("current", "pre-16812")


@dataclass(frozen=True)
class LlamaCppPlan:
    model: str
    n_ctx: int         # after padding (what llama_context logs as n_ctx)
    n_ctx_seq: int
    n_seq_max: int
    n_ubatch: int
    caches: tuple[LlamaCppCache, ...]

    @property
    def total_bytes(self) -> int:
        return sum(c.total_bytes for c in self.caches)

    def log_lines(self, legacy: bool = False) -> list[str]:
        return [line for c in self.caches for line in c.log_lines(legacy)]


def _widths(spec, mla: str) -> tuple[int, int]:
    """(n_embd_k_gqa, n_embd_v_gqa) of an attention layer."""
    if isinstance(spec, MLASpec):
        if mla == "mha":
            if not spec.num_heads:
                raise ValueError("mla-cache: mha needs the model's query heads and nope/v head dims")
            return (spec.num_heads * (spec.qk_nope_head_dim + spec.qk_rope_head_dim),
                    spec.num_heads * spec.v_head_dim)
        latent = spec.kv_lora_rank + spec.qk_rope_head_dim
        return latent, (spec.kv_lora_rank if mla == "latent+v" else 0)
    return spec.num_kv_heads * spec.head_dim_k, spec.num_kv_heads * spec.head_dim_v


def _kv_cache(kind: str, layers: list, cells: int, n_seq_max: int, n_stream: int, type_k: str,
              type_v: str, mla: str, v_width: int | None) -> LlamaCppCache:
    k_bytes = v_bytes = 0
    for spec in layers:
        k, v = _widths(spec, mla)
        if v and v_width is not None:
            v = v_width
        k_bytes += row_size(type_k, k, "cache-type-k") * cells * n_stream
        if v:
            v_bytes += row_size(type_v, v, "cache-type-v") * cells * n_stream
    return LlamaCppCache(kind, cells, len(layers), n_seq_max, n_stream, type_k, type_v, k_bytes, v_bytes)


def _indexer_cache(layers: list, cells: int, n_seq_max: int, n_stream: int, type_k: str,
                   type_v: str) -> LlamaCppCache:
    """The lightning indexer's keys: one head of the indexer's width per "full" indexer layer,
    in the -ctk type; no V, as in every MLA cache."""
    k_bytes = sum(row_size(type_k, s.indexer.head_dim, "cache-type-k") for s in layers)
    return LlamaCppCache("dsa_index", cells, len(layers), n_seq_max, n_stream, type_k, type_v,
                         k_bytes * cells * n_stream, 0)


def _recurrent(model: ModelSpec, states: list[StateSpec], mem_size: int, n_seq_max: int) -> LlamaCppCache:
    r = s = 0
    for spec in states:
        if spec.mechanism == "short conv":  # LFM2: n_embd_r = n_embd × (L − 1), n_embd_s = 0
            r += prod(spec.shapes[0]) * 4 * mem_size
            continue
        if not spec.conv_kernel or len(spec.shapes) != 2:
            raise ValueError(f"engine llama.cpp: the {spec.mechanism} state is not modelled "
                             "(llama.cpp keeps a conv state and a recurrent state per layer)")
        r += prod(spec.shapes[0]) * 4 * mem_size
        s += prod(spec.shapes[1]) * 4 * mem_size
    return LlamaCppCache("recurrent", mem_size, model.blocks or model.num_layers, n_seq_max, 1,
                         "f32", "f32", r, s)


def plan(model: ModelSpec, *, n_ctx: int = 0, n_seq_max: int = 1, kv_unified: bool = False,
         cache_type_k: str = "f16", cache_type_v: str = "f16", n_batch: int = 2048,
         n_ubatch: int = 512, swa_full: bool = False, flash_attn: bool = True,
         mla: str = "latent", build: str = "current") -> LlamaCppPlan:
    """The caches llama.cpp allocates for ``-c n_ctx -np n_seq_max -ctk/-ctv -b -ub [--swa-full]``;
    ``build``: "current", or "pre-16812" (padding 256 with flash attention, 32 without)."""
    if build not in BUILDS:
        raise ValueError(f"llamacpp-build: one of {', '.join(BUILDS)}, got {build!r}")
    pad = 256 if build == "current" or flash_attn else 32
    for flag, t in (("cache-type-k", cache_type_k), ("cache-type-v", cache_type_v)):
        if t not in CACHE_TYPES:
            raise ValueError(f"{flag}: llama.cpp has {', '.join(CACHE_TYPES)}, got {t!r}")
    if mla not in MLA_MODES:
        raise ValueError(f"mla-cache: one of {', '.join(MLA_MODES)}, got {mla!r}")
    if model.has_compressed and build != "current":
        raise ValueError("engine llama.cpp: DeepSeek-V4 came with 2026 builds; use the current build")
    if model.has_indexer and (build != "current" or mla != "latent"):
        raise ValueError("engine llama.cpp: DeepSeek sparse attention came with 2026 builds, whose "
                         "MLA cache is latent-only: use the current build and --mla-cache latent")
    if not flash_attn and CACHE_TYPES[cache_type_v][1] > 1:
        raise ValueError("cache-type-v: llama.cpp needs flash attention for a quantized V cache")
    if not 1 <= n_seq_max <= 256:  # LLAMA_MAX_SEQ
        raise ValueError(f"parallel: n_seq_max must be 1 to 256, got {n_seq_max}")
    for flag, v in (("batch-size", n_batch), ("ubatch-size", n_ubatch)):
        if v < 1:
            raise ValueError(f"{flag}: must be at least 1, got {v}")
    if n_ctx == 0:
        if model.max_context is None:
            raise ValueError("context: the model states no training context; give -c")
        n_ctx = model.max_context
    if not 0 < n_ctx <= MAX_CONTEXT:
        raise ValueError(f"context: must be 1 to {MAX_CONTEXT:,}, got {n_ctx}")
    if build == "current":
        n_ctx = ggml_pad(n_ctx, 256)
        if kv_unified:
            n_ctx_seq = n_ctx
        else:
            n_ctx_seq = ggml_pad(n_ctx // n_seq_max, 256)
            n_ctx = n_ctx_seq * n_seq_max
    elif kv_unified:  # pre-16812 create_memory: pad per stream
        n_ctx = n_ctx_seq = ggml_pad(n_ctx, pad)
    else:
        n_ctx_seq = ggml_pad(-(-n_ctx // n_seq_max), pad)
        n_ctx = n_ctx_seq * n_seq_max
    n_batch = min(n_ctx, n_batch)
    n_ubatch = min(n_batch, n_ubatch)
    n_stream = 1 if kv_unified else n_seq_max

    specs = model.layer_specs()
    states = [s for s in specs if isinstance(s, StateSpec)]
    attn = [s for s in specs if not isinstance(s, (StateSpec, SharedKVSpec))]
    full = [s for s in attn if not isinstance(s, SlidingWindowSpec)]
    swa = [s for s in attn if isinstance(s, SlidingWindowSpec)]
    if swa and not full:  # LLM_ARCH_LLAMA and kin read no window: one ordinary cache
        full, swa = attn, []
    v_width = None
    if not flash_attn and attn:  # v_trans: V as wide as the widest layer's (n_embd_v_gqa_max)
        v_width = max(_widths(s, mla)[1] for s in attn)
    kv = dict(n_seq_max=n_seq_max, n_stream=n_stream, type_k=cache_type_k, type_v=cache_type_v,
              mla=mla, v_width=v_width)
    caches: list[LlamaCppCache] = []
    if model.has_compressed:
        caches += dsv4_caches(model, n_ctx_seq, n_seq_max, n_ubatch, cache_type_k, cache_type_v,
                              swa_full)
    elif model.has_indexer:
        if states or swa or not all(isinstance(s, MLASpec) for s in attn):
            raise ValueError("engine llama.cpp: sparse attention is modelled for MLA models "
                             "without windows or recurrent layers (DeepSeek-V3.2, GLM-5)")
        caches.append(replace(_kv_cache("kv", full, n_ctx_seq, **kv), kind="dsa_main"))
        caches.append(_indexer_cache([s for s in attn if s.indexer], n_ctx_seq, n_seq_max,
                                     n_stream, cache_type_k, cache_type_v))
    elif states:
        if swa:
            raise ValueError("engine llama.cpp: hybrid models with windowed layers are not modelled")
        if attn:  # llama_memory_hybrid: the attention cache is cparams.n_ctx cells
            caches.append(_kv_cache("kv", full, n_ctx, **kv))
        caches.append(_recurrent(model, states, max(1, n_seq_max), n_seq_max))
    elif swa:
        windows = {s.window for s in swa}
        if len(windows) > 1:
            raise ValueError(f"engine llama.cpp: one window per model (n_swa); this one has {sorted(windows)}")
        n_swa = windows.pop()
        wanted = n_swa * (n_seq_max if kv_unified else 1) + n_ubatch
        if swa_full:
            size_swa = n_ctx_seq
        elif build == "current":
            size_swa = ggml_pad(min(n_ctx_seq, wanted), 256)
        else:  # pre-16812: padded first, then capped at the base size
            size_swa = min(n_ctx_seq, ggml_pad(wanted, pad))
        caches.append(_kv_cache("base", full, n_ctx_seq, **kv))
        caches.append(_kv_cache("swa", swa, size_swa, **kv))
    else:
        cache = _kv_cache("kv", full, n_ctx_seq, **kv)
        if model.model_type == "nemotron-nas" and model.blocks:
            # LLM_ARCH_DECI: convert_hf_to_gguf.py writes 0 KV heads for the no-op blocks, and
            # llama_kv_cache keeps a (zero-width) K/V pair for every layer (has_kv): all count
            cache = replace(cache, layers=model.blocks)
        caches.append(cache)
    return LlamaCppPlan(model.name, n_ctx, n_ctx_seq, n_seq_max, n_ubatch, tuple(caches))


def max_context(model: ModelSpec, kv_memory: int, **knobs) -> LlamaCppPlan | None:
    """The largest ``-c`` (a multiple of 256) whose caches fit in ``kv_memory`` bytes, or None."""
    if kv_memory <= 0:
        raise ValueError("kv-memory: must be positive")
    lo, hi = 0, MAX_CONTEXT // 256
    best = None
    while lo < hi:  # allocation grows with n_ctx, so bisect on n_ctx / 256
        mid = (lo + hi + 1) // 2
        p = plan(model, n_ctx=mid * 256, **knobs)
        if p.total_bytes <= kv_memory:
            lo, best = mid, p
        else:
            hi = mid - 1
    return best


def max_sequences(model: ModelSpec, ctx: int, kv_memory: int, **knobs) -> tuple[int, LlamaCppPlan]:
    """The most sequences (``-np n -c ctx·n``) of ``ctx`` tokens each whose caches fit in
    ``kv_memory``, with the plan for that many (for one sequence when none fits)."""
    lo, hi = 0, 256  # LLAMA_MAX_SEQ
    while lo < hi:
        n = (lo + hi + 1) // 2
        if plan(model, n_ctx=ctx * n, n_seq_max=n, **knobs).total_bytes <= kv_memory:
            lo = n
        else:
            hi = n - 1
    return lo, plan(model, n_ctx=ctx * max(lo, 1), n_seq_max=max(lo, 1), **knobs)


__all__ = ["CACHE_TYPES", "LLAMACPP_VERSION", "MIB", "LlamaCppCache", "LlamaCppPlan", "ggml_pad", "mib",
           "row_size",
           "max_context", "max_sequences", "plan"]
