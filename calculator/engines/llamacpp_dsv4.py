"""llama.cpp's DeepSeek-V4 caches: the raw window cache, three compressed K-only caches and three
compressor states, as ``llama_kv_cache_dsv4`` allocates them (their lines: ``llamacpp_cache.py``).

Read at ggml-org/llama.cpp 035aa95b, ``src/llama-kv-cache-dsv4.cpp``:

- ``llama_kv_cache_dsv4::llama_kv_cache_dsv4(kv_size = n_ctx_seq, n_seq_max, n_ubatch, ...)``
  keeps every stream per sequence ("Keep DSV4 KV/state streams per sequence even when public KV
  mode is unified": ``unified_raw = unified_compressed = false``), so each cache below holds
  ``n_seq_max`` streams; with ``--kv-unified`` ``n_ctx_seq`` is the whole ``n_ctx``, and every
  stream is that long. MTP (next-n) layers are left out (``n_layer_nextn = 0``).
- ``kv_raw``: a ``llama_kv_cache_iswa`` over every main layer with ``dsv4_make_k_only`` (K rows
  of ``n_embd_head_k`` = head_dim, no V). Every V4 layer is windowed, so its non-SWA cache holds
  0 layers; the SWA cache holds ``GGML_PAD(min(kv_size, n_swa + n_ubatch), 256)`` cells
  (``kv_size`` with ``--swa-full``).
- ``kv_csa`` / ``kv_hca``: ``llama_kv_cache`` of ``GGML_PAD(dsv4_comp_size(kv_size, ratio), 256)``
  cells, ``dsv4_comp_size`` = ``max(1, ceil(kv_size / ratio))``, over the layers whose
  ``dsv4_compress_ratios`` is ``DSV4_CSA_RATIO`` (4) / ``DSV4_HCA_RATIO`` (128); K-only head_dim
  rows in the ``-ctk`` type. ``kv_lid``: the lightning indexer's keys, the CSA size and layers,
  one ``indexer_head_size`` (128) head. Each is announced as ``creating DSV4 … KV cache, size =
  N cells`` with the unpadded ``dsv4_comp_size``.
- ``llama_dsv4_comp_state``: per layer, two f32 tensors (kv and score) of ``n_embd_state`` ×
  ``state_size`` × ``n_stream × (1 + n_rs_seq)``: CSA ``2·head_dim`` × ``2·4``, HCA ``head_dim`` ×
  128, indexer ``2·indexer_head_size`` × ``2·4``; it logs ``%s ratio = %u, state = %u x %u,
  streams = %u, rs_seq = %u, layers = %zu, size = %7.2f MiB`` in double precision. ``n_rs_seq``
  (speculative rollback copies) is 0 here, as llama_context logs it by default.

A public run (ggml-org/llama.cpp#27680, DeepSeek-V4-Flash-0731, ``-c 64000``, bf16 cache, one
sequence) logged ``creating     SWA KV cache, size = 4352 cells`` and ``size = 182.75 MiB``
over 43 layers, and the three states at 1.31, 10.00 and 0.33 MiB; ``tests/test_dsv4.py``
reproduces those lines.
"""
from __future__ import annotations

from ..specs import CompressedAttentionSpec, ModelSpec
from .llamacpp_cache import CSA_RATIO, HCA_RATIO, LlamaCppCache, ggml_pad, row_size

LLAMACPP_DSV4_VERSION = "llama.cpp 035aa95b (llama-kv-cache-dsv4.cpp)"
PAD = 256


def comp_size(kv_size: int, ratio: int) -> int:
    """``dsv4_comp_size``: compressed rows for ``kv_size`` tokens, at least one."""
    return max(1, -(-kv_size // ratio))


def _k_only(kind: str, widths: list[int], cells: int, n_seq: int, type_k: str, type_v: str,
            announced: int = 0) -> LlamaCppCache:
    k = sum(row_size(type_k, w, "cache-type-k") for w in widths) * cells * n_seq
    return LlamaCppCache(kind, cells, len(widths), n_seq, n_seq, type_k, type_v, k, 0, announced)


def _state(kind: str, layers: int, rows: int, width: int, n_seq: int) -> LlamaCppCache:
    half = 4 * width * rows * n_seq * layers          # f32 kv; the score tensor is the same size
    return LlamaCppCache(kind, rows, layers, n_seq, n_seq, "f32", "f32", half, half, width=width)


def dsv4_caches(model: ModelSpec, kv_size: int, n_seq: int, n_ubatch: int, type_k: str,
                type_v: str, swa_full: bool) -> list[LlamaCppCache]:
    """The caches of ``llama_kv_cache_dsv4`` for ``kv_size`` cells (``n_ctx_seq``) per stream."""
    if model.mtp_counted:
        raise ValueError("engine llama.cpp: DeepSeek-V4's cache leaves the MTP layers out "
                         "(n_layer_nextn = 0); size it without MTP layers")
    specs = model.layer_specs()
    if not all(isinstance(s, CompressedAttentionSpec) for s in specs):
        raise ValueError("engine llama.cpp: a DeepSeek-V4 model has V4 attention on every layer")
    if {s.compress_rate for s in specs} - {0, CSA_RATIO, HCA_RATIO}:
        raise ValueError(f"engine llama.cpp: DeepSeek-V4 compresses at {CSA_RATIO} and {HCA_RATIO} "
                         "(DSV4_CSA_RATIO / DSV4_HCA_RATIO are fixed in llama.cpp)")
    windows = {s.window for s in specs}
    if len(windows) > 1:
        raise ValueError(f"engine llama.cpp: one window per model (n_swa); this one has {sorted(windows)}")
    n_swa = windows.pop()
    width = lambda s: s.num_kv_heads * s.head_dim  # noqa: E731  (n_embd_k_gqa, one head on V4)
    csa = [s for s in specs if s.compress_rate == CSA_RATIO]
    hca = [s for s in specs if s.compress_rate == HCA_RATIO]
    swa_cells = kv_size if swa_full else ggml_pad(min(kv_size, n_swa + n_ubatch), PAD)
    c4, c128 = comp_size(kv_size, CSA_RATIO), comp_size(kv_size, HCA_RATIO)
    return [
        _k_only("dsv4_base", [], kv_size, n_seq, type_k, type_v),
        _k_only("dsv4_swa", [width(s) for s in specs], swa_cells, n_seq, type_k, type_v),
        _k_only("dsv4_csa", [width(s) for s in csa], ggml_pad(c4, PAD), n_seq, type_k, type_v, c4),
        _k_only("dsv4_hca", [width(s) for s in hca], ggml_pad(c128, PAD), n_seq, type_k, type_v, c128),
        _k_only("dsv4_lid", [s.index_head_dim for s in csa], ggml_pad(c4, PAD), n_seq, type_k,
                type_v, c4),
        _state("dsv4_state_csa", len(csa), 2 * CSA_RATIO, 2 * csa[0].head_dim if csa else 0, n_seq),
        _state("dsv4_state_hca", len(hca), HCA_RATIO, hca[0].head_dim if hca else 0, n_seq),
        _state("dsv4_state_lid", len(csa), 2 * CSA_RATIO, 2 * csa[0].index_head_dim if csa else 0,
               n_seq),
    ]
