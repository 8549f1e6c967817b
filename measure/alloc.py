"""Allocate the tensors of one layer group's cache, in the layouts serving engines use.

- contiguous: per layer K ``[batch, kv_heads, tokens, head_dim_k]`` and V (HF-style);
- paged: per layer ``[2, num_blocks, block_size, kv_heads, head_dim]`` (vLLM-style; K and V
  separately when their head dims differ); ``num_blocks = batch × ceil(tokens / block_size)``;
- MLA: one latent per layer, ``[batch, tokens, rank + rope]`` or ``[num_blocks, block_size, rank + rope]``;
- sliding-window layers: ring buffers of ``min(context, window)`` tokens; state layers: their state
  tensors per sequence; shared-KV layers: nothing;
- DeepSeek-V4 layers: the window's K = V rows once, the compressed entries ``[batch, entries,
  head_dim]`` (and the indexer's ``index_head_dim`` keys), paged in blocks of entries, and the
  compressor's pending and overlap rows in the model dtype.
Quantized formats are a packed ``uint8`` payload plus an fp16 scale (and zero) tensor per group.
"""
from __future__ import annotations

import torch

from calculator.dtypes import KVDtype
from calculator.specs import (CompressedAttentionSpec, FullAttentionSpec, LayerSpec, MLASpec,
                              StateSpec)

TORCH_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16,
                "fp8_e4m3": torch.float8_e4m3fn, "fp8_e5m2": torch.float8_e5m2, "int8": torch.int8}
LAYOUTS = ("contiguous", "paged")


def check_device_dtype(dtype: KVDtype, device: torch.device) -> None:
    """Raise ``ValueError`` if ``device`` cannot hold ``dtype``'s storage."""
    torch_dtype = TORCH_DTYPES.get(dtype.name, torch.uint8)
    try:
        torch.empty(1, dtype=torch_dtype, device=device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"kv dtype: {dtype.name} is not supported on {device}: {exc}") from None


def _rows(lead: tuple[int, ...], row: int, dtype: KVDtype, device) -> list[torch.Tensor]:
    """Tensors holding ``prod(lead)`` rows of ``row`` elements each in ``dtype``."""
    if dtype.name in TORCH_DTYPES:
        return [torch.empty(*lead, row, dtype=TORCH_DTYPES[dtype.name], device=device)]
    groups = -(-row // dtype.group_size)
    payload = torch.empty(*lead, groups * dtype.payload_bytes, dtype=torch.uint8, device=device)
    scales = torch.empty(*lead, groups, dtype.scale_bytes // 2, dtype=torch.float16, device=device)
    return [payload, scales]


def allocate_layer(spec: LayerSpec, *, batch: int, context: int, dtype: KVDtype, layout: str,
                   block_size: int, device) -> list[torch.Tensor]:
    """The cache tensors of one layer for ``batch`` sequences of ``context`` tokens."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout: must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    if isinstance(spec, StateSpec):
        # the first shape (conv) in the state dtype, the rest in ssm_dtype where it differs (NemotronH)
        kinds = [spec.dtype] + [spec.ssm_dtype or spec.dtype] * (len(spec.shapes) - 1)
        return [torch.empty(batch, *shape, dtype=TORCH_DTYPES[k], device=device)
                for shape, k in zip(spec.shapes, kinds)]
    if isinstance(spec, CompressedAttentionSpec):
        return _compressed_layer(spec, batch, context, dtype, layout, block_size, device)
    tokens = spec.tokens_held(context)  # ring buffer of min(context, window) for windowed layers
    if tokens == 0:
        return []
    blocks = batch * -(-tokens // block_size)
    if isinstance(spec, MLASpec):
        width = spec.kv_lora_rank + spec.qk_rope_head_dim
        lead = (batch, tokens) if layout == "contiguous" else (blocks, block_size)
        out = _rows(lead, width, dtype, device)
        if spec.indexer:  # DSA: fp8 keys (as bytes) and their fp32 scales, whatever the KV dtype
            ix = spec.indexer
            out += [torch.empty(*lead, ix.key_bytes, dtype=torch.uint8, device=device),
                    torch.empty(*lead, ix.scale_bytes // 4, dtype=torch.float32, device=device)]
        return out
    assert isinstance(spec, FullAttentionSpec)
    h, dk, dv = spec.num_kv_heads, spec.head_dim_k, spec.head_dim_v
    if layout == "contiguous":
        return _rows((batch, h, tokens), dk, dtype, device) + _rows((batch, h, tokens), dv, dtype, device)
    if dk == dv:
        return _rows((2, blocks, block_size, h), dk, dtype, device)
    return _rows((blocks, block_size, h), dk, dtype, device) + _rows((blocks, block_size, h), dv, dtype, device)


def _compressed_layer(spec: CompressedAttentionSpec, batch: int, context: int, dtype: KVDtype,
                      layout: str, block_size: int, device) -> list[torch.Tensor]:
    """One DeepSeek-V4 layer: window rows, compressed entries (+ indexer keys), compressor state."""
    def lead(rows: int) -> tuple[int, int]:  # one sequence's rows, whole or in blocks, × batch
        return (batch, rows) if layout == "contiguous" else (batch * -(-rows // block_size), block_size)

    tokens, entries = spec.tokens_held(context), spec.entries(context)
    out = _rows((*lead(tokens), spec.num_kv_heads), spec.head_dim, dtype, device) if tokens else []
    if entries:
        out += _rows(lead(entries), spec.head_dim, dtype, device)
        if spec.index_head_dim:
            out += _rows(lead(entries), spec.index_head_dim, dtype, device)
    if spec.compress_rate:
        state, rate = TORCH_DTYPES[spec.state_dtype], spec.compress_rate
        width = 2 if spec.overlap else 1
        for dim in (d for d in (spec.head_dim, spec.index_head_dim) if d):
            # pending rows of the kv and gate projections, then CSA's overlap (kv and gate)
            out.append(torch.empty(batch, rate - 1, 2 * width * dim, dtype=state, device=device))
            if spec.overlap:
                out.append(torch.empty(batch, rate, 2 * dim, dtype=state, device=device))
    return out
