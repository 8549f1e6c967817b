"""DeepSeek-V4's cache as transformers 5.23.0 holds it: a ``DynamicCache`` of its own layers.

V4 has no static form (``DeepseekV4PreTrainedModel``: "isn't compatible with StaticCache"), so
``generate`` builds ``DynamicCache(config=...)`` and its layer classes from
``models/deepseek_v4/modeling_deepseek_v4.py``. What each layer's tensors keep alive (their
storage, since most of them are views), after updates of n_1 … n_k tokens (T in all):

- The window. ``sliding_attention`` layers are plain ``DynamicSlidingWindowLayer``s: keys and
  values are concatenated apart, two storages of ``min(tokens before, window − 1) + n_k`` rows
  (``transformers_cache.dynamic_tokens``). On CSA / HCA layers ``DeepseekV4HCACache.update`` keeps
  ``values = keys``: one storage of as many rows. Each also holds the 8-byte
  ``_sliding_window_tensor``.
- The compressor (HCA: ``"compressor"``; CSA: ``"compressor"`` and ``"indexer"``).
  ``store_compression_weights`` keeps ``buffer_kv`` / ``buffer_gate`` as the slice
  ``kv[:, usable:]`` of the projection (or of ``cat(buffer, projection)`` when tokens were
  pending), so both keep the whole ``pending + n_k`` rows alive, even when the slice is empty;
  rows are ``2 × head_dim`` wide on CSA (two overlapping series), ``head_dim`` on HCA, and
  ``2 × index_head_dim`` for the indexer. After a prompt of C tokens that is C rows: the prefill's
  projections stay in the cache until the next token replaces them.
- ``update_compressor_states`` concatenates the emitted entries: ``T // compress_rate`` rows of
  ``head_dim`` (``index_head_dim`` for the indexer).
- CSA's ``update_overlap_state`` clones the last window's first half of kv and gate
  (``compress_rate × head_dim`` each, likewise for the indexer) once a window has closed.

Everything is in the compute dtype. Under float16 transformers keeps the compressor projections in
float32 (``_keep_in_fp32_modules``), which is not modelled: refused.
"""
from __future__ import annotations

from typing import Callable

from ..specs import CompressedAttentionSpec, ModelSpec
from ..totals import GroupBytes

COUNTER_BYTES = 8  # DynamicSlidingWindowLayer._sliding_window_tensor


def _compressor(spec: CompressedAttentionSpec, updates: list[int], item: int) -> tuple[int, int, int]:
    """(entry bytes, indexer entry bytes, buffer + overlap bytes) of one layer, one sequence."""
    r, total, last = spec.compress_rate, sum(updates), updates[-1]
    buffered = (total - last) % r + last              # pending rows + the last update
    entries = total // r
    series = 2 if spec.overlap else 1                 # CSA's kv_proj / gate_proj: Ca and Cb
    widths = [(spec.head_dim, series * spec.head_dim)]
    if spec.index_head_dim:
        widths.append((spec.index_head_dim, 2 * spec.index_head_dim))
    state = sum(2 * buffered * proj for _, proj in widths) * item      # buffer_kv + buffer_gate
    if spec.overlap and total >= r:                                   # overlap_kv + overlap_gate
        state += sum(2 * r * width for width, _ in widths) * item
    index = entries * spec.index_head_dim * item
    return entries * spec.head_dim * item, index, state


def groups(model: ModelSpec, updates: list[int], batch: int, item: int, dtype: str,
           tokens_of: Callable[[CompressedAttentionSpec], int]) -> list[GroupBytes]:
    """Per layer group, what transformers' V4 DynamicCache holds after ``updates``
    (``tokens_of(spec)``: the window's rows, ``transformers_cache.dynamic_tokens``)."""
    if dtype == "fp16":
        raise ValueError("kv dtype: transformers keeps DeepSeek-V4's compressor projections in "
                         "float32 under float16 (_keep_in_fp32_modules), which is not modelled; "
                         "use bf16 or fp32")
    out = []
    for g in model.groups:
        spec, n = g.spec, g.count
        if not isinstance(spec, CompressedAttentionSpec):
            raise ValueError(f"engine transformers: layer kind {spec.kind!r} in a DeepSeek-V4 "
                             "model is not modelled")
        rows = tokens_of(spec)
        copies = 1 if spec.compress_rate else 2        # values = keys only in V4's own layers
        window = rows * spec.num_kv_heads * spec.head_dim * item * copies
        entry = index = state = 0
        if spec.compress_rate:
            entry, index, state = _compressor(spec, updates, item)
        out.append(GroupBytes(
            label=f"{spec.label()} ({dtype}){'' if spec.compress_rate else ', K and V apart'}",
            kind=spec.kind, layers=n, tokens_per_seq=rows,
            kv_bytes=batch * n * (window + entry + index), index_bytes=batch * n * index,
            state_bytes=n * (batch * state + COUNTER_BYTES),
            entries_per_seq=sum(updates) // spec.compress_rate if spec.compress_rate else 0))
    return out
