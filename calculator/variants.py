"""Re-express a model's attention as MHA, MQA, GQA(g) or MLA, keeping everything else.

The seed articles' core comparison: the same layers, windows and linear/SSM layers, with only the
cached form of each attention layer swapped. Head dims carry over; an MLA layer re-expressed as
full attention caches its decompressed heads (K = nope + rope, V = v_head_dim).
"""
from __future__ import annotations

from dataclasses import replace

from .specs import (CompressedAttentionSpec, FullAttentionSpec, MLASpec, ModelSpec,
                    SlidingWindowSpec, group_layers)

ATTENTIONS = ("mha", "mqa", "gqa", "mla")


def _head_dims(spec: FullAttentionSpec | MLASpec, model: ModelSpec) -> tuple[int, int]:
    if isinstance(spec, FullAttentionSpec):
        return spec.head_dim_k, spec.head_dim_v
    fallback = model.hidden_size // model.num_attention_heads
    k = spec.qk_nope_head_dim + spec.qk_rope_head_dim if spec.qk_nope_head_dim else fallback
    return k, spec.v_head_dim or fallback


def kv_heads_for(attention: str, heads: int, kv_heads: int | None) -> int:
    """KV heads of a full-attention variant; GQA needs a divisor of the query heads."""
    if attention == "mha":
        return heads
    if attention == "mqa":
        return 1
    if isinstance(kv_heads, bool) or not isinstance(kv_heads, int) or kv_heads < 1:
        raise ValueError(f"kv_heads: GQA needs a positive integer number of KV heads, got {kv_heads!r}")
    if heads % kv_heads:
        raise ValueError(f"kv_heads: {kv_heads} does not divide num_attention_heads {heads}")
    return kv_heads


def as_variant(model: ModelSpec, attention: str, *, kv_heads: int | None = None,
               kv_lora_rank: int = 512, rope_head_dim: int = 64) -> ModelSpec:
    """``model`` with every attention layer cached as ``attention`` (mha, mqa, gqa or mla)."""
    attention = str(attention).lower()
    if attention not in ATTENTIONS:
        raise ValueError(f"attention: must be one of {', '.join(ATTENTIONS)}, got {attention!r}")
    heads = model.num_attention_heads
    if attention == "mla":
        for field, value in (("kv_lora_rank", kv_lora_rank), ("rope_head_dim", rope_head_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{field}: must be a positive integer, got {value!r}")
    else:
        n_kv = kv_heads_for(attention, heads, kv_heads)

    def convert(spec):
        if isinstance(spec, CompressedAttentionSpec):  # DeepSeek-V4, as plain attention over
            # its head size: compressed layers attend to every token, window-only ones slide
            spec = (FullAttentionSpec(num_kv_heads=spec.num_kv_heads, head_dim_k=spec.head_dim,
                                      head_dim_v=spec.head_dim) if spec.compress_rate else
                    SlidingWindowSpec(num_kv_heads=spec.num_kv_heads, head_dim_k=spec.head_dim,
                                      head_dim_v=spec.head_dim, window=spec.window))
        if not isinstance(spec, (FullAttentionSpec, MLASpec)):
            return spec
        dk, dv = _head_dims(spec, model)
        if attention == "mla":
            nope = dk - rope_head_dim if dk > rope_head_dim else dk
            return MLASpec(kv_lora_rank=kv_lora_rank, qk_rope_head_dim=rope_head_dim,
                           num_heads=heads, qk_nope_head_dim=nope, v_head_dim=dv,
                           window=spec.window)
        if spec.window is not None:
            return SlidingWindowSpec(num_kv_heads=n_kv, head_dim_k=dk, head_dim_v=dv,
                                     window=spec.window)
        return FullAttentionSpec(num_kv_heads=n_kv, head_dim_k=dk, head_dim_v=dv)

    label = {"mha": "MHA", "mqa": "MQA", "mla": f"MLA (d_c={kv_lora_rank}, d_r={rope_head_dim})"}
    suffix = label.get(attention) or f"GQA ({kv_heads} KV heads)"
    return replace(model, name=f"{model.name} as {suffix}",
                   groups=group_layers([convert(s) for s in model.layer_specs()]))
