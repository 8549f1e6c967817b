"""The cache as a written sum: one product term per layer group, each equal to that group's bytes.

Pages print these so that every equation a user reads is the real computation: a sliding-window
group multiplies by ``min(context, window)``, an MLA group by its latent width, a linear/SSM group
by its constant state, and the terms add up to ``kv_cache_bytes(...).total_bytes``.
"""
from __future__ import annotations

from dataclasses import dataclass
from math import prod

from .dtypes import get_dtype
from .specs import FullAttentionSpec, MLASpec, ModelSpec, StateSpec
from .totals import kv_cache_bytes

Factor = tuple[str, tuple[int, ...]]  # (meaning, summands): a factor's value is sum(summands)


@dataclass(frozen=True, kw_only=True)
class Term:
    """One layer group: ``value == prod(sum(s) for _, s in factors)``."""

    label: str
    factors: tuple[Factor, ...]
    value: int

    def text(self) -> str:
        """'62 · 8 · 1,024 · 16 · (128 + 128) · 2' (what the page shows, LaTeX aside)."""
        parts = []
        for _, summands in self.factors:
            nums = [f"{v:,}" for v in summands]
            parts.append(nums[0] if len(nums) == 1 else "(" + " + ".join(nums) + ")")
        return " · ".join(parts)


def _row_factors(dtype, dims: tuple[int, ...], one_row: bool = False) -> tuple[Factor, ...]:
    """Bytes of one token's row(s): elements × bytes for plain types; whole quant groups else.
    ``one_row``: the dims are parts of one row (an MLA latent), quantized together."""
    if dtype.group_size == 1:
        return (("elements per token and head", dims),
                (f"bytes per element ({dtype.name})", (dtype.group_bytes,)))
    rows = (dtype.row_bytes(sum(dims)),) if one_row else tuple(dtype.row_bytes(d) for d in dims)
    return ((f"{dtype.name} bytes per row: ceil(d / {dtype.group_size}) · {dtype.group_bytes}", rows),)


def _tokens(spec, gb) -> Factor:
    meaning = f"tokens held = min(S, {spec.window:,})" if spec.window else "tokens (S)"
    return meaning, (gb.tokens_per_seq,)


def terms(model: ModelSpec, context: int, batch: int = 1, dtype: str = "bf16") -> list[Term]:
    """One term per layer group that holds bytes, in the model's group order."""
    kv = get_dtype(dtype)
    breakdown = kv_cache_bytes(model, context, batch, kv)
    out = []
    for group, gb in zip(model.groups, breakdown.groups):
        spec, n = group.spec, group.count
        if isinstance(spec, StateSpec):
            factors = (("layers", (n,)), ("sequences", (batch,)),
                       (f"state bytes per sequence ({spec.dtype})", (spec.state_bytes(),)))
            label = f"{n} × {spec.label()}"
        elif isinstance(spec, MLASpec) and spec.indexer:
            # DSA: the latent row in the KV dtype plus the indexer's fp8 key and fp32 scales
            factors = (("layers", (n,)), ("sequences", (batch,)), _tokens(spec, gb),
                       (f"bytes per token: latent ({kv.name}) + indexer key + scales",
                        (spec.latent_bytes(kv), spec.indexer.key_bytes, spec.indexer.scale_bytes)))
            label = f"{n} × {spec.label()}"
        elif isinstance(spec, MLASpec):
            factors = (("layers", (n,)), ("sequences", (batch,)), _tokens(spec, gb),
                       *_row_factors(kv, (spec.kv_lora_rank, spec.qk_rope_head_dim), one_row=True))
            label = f"{n} × {spec.label()}"
        elif isinstance(spec, FullAttentionSpec):
            factors = (("layers", (n,)), ("sequences", (batch,)), _tokens(spec, gb),
                       ("KV heads", (spec.num_kv_heads,)),
                       *_row_factors(kv, (spec.head_dim_k, spec.head_dim_v)))
            label = f"{n} × {spec.label()}"
        elif spec.kind == "compressed":  # DeepSeek-V4: window, entries and compressor state
            parts = _compressed_terms(spec, n, batch, kv, gb)
            if sum(t.value for t in parts) != gb.kv_bytes + gb.state_bytes:
                raise AssertionError(f"formula for {spec.label()} does not add up")
            out += parts
            continue
        else:
            continue  # shared-KV layers hold nothing of their own
        value = prod(sum(s) for _, s in factors)
        if value != gb.kv_bytes + gb.state_bytes:  # the written product must be the computation
            raise AssertionError(f"formula for {label} gives {value}, cache has {gb.kv_bytes + gb.state_bytes}")
        out.append(Term(label=label, factors=factors, value=value))
    return out


def _compressed_terms(spec, n: int, batch: int, kv, gb) -> list[Term]:
    """A DeepSeek-V4 group as up to three products: the window's K = V rows, the compressed
    entries (with the indexer's key on CSA), the compressor's state."""
    head = (("layers", (n,)), ("sequences", (batch,)))
    rows = [(f"{n} × window of {spec.label()}",
             (*head, _tokens(spec, gb), ("KV heads (K = V, one copy)", (spec.num_kv_heads,)),
              *_row_factors(kv, (spec.head_dim,))))]
    if spec.compress_rate:
        dims = (spec.head_dim, spec.index_head_dim) if spec.index_head_dim else (spec.head_dim,)
        rows.append((f"{n} × compressed entries of {spec.label()}",
                     (*head, (f"entries = floor(S / {spec.compress_rate})", (gb.entries_per_seq,)),
                      *_row_factors(kv, dims))))
        rows.append((f"{n} × compressor state of {spec.label()}",
                     (*head, (f"state bytes per sequence ({spec.state_dtype})", (spec.state_bytes(),)))))
    return [Term(label=label, factors=f, value=prod(sum(x) for _, x in f)) for label, f in rows]
