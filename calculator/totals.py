"""Sum a ``ModelSpec``'s per-layer specs into exact integer bytes for a batch.

``kv_cache_bytes`` is the one place that applies context, batch, dtype, layout (theoretical or
paged), tensor parallelism and pipeline parallelism. Everything is Python ``int``.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from .dtypes import KVDtype, get_dtype
from .specs import LayerSpec, ModelSpec

LAYOUTS = ("theoretical", "paged")
MAX_CONTEXT = 1 << 40   # 1.1e12 tokens: beyond any model; larger is treated as a typo
MAX_BATCH = 1 << 32
MAX_PARALLEL = 4096


def check_positive(name: str, value: object, hi: int) -> int:
    """Return ``value`` if it is an int in [1, hi], else raise ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name}: must be an integer, got {value!r}")
    if not 1 <= value <= hi:
        raise ValueError(f"{name}: must be between 1 and {hi:,}, got {value:,}")
    return value


def _paged(rows: int, layout: str, block_size: int) -> int:
    """Rows one sequence holds: paged rounds up to whole blocks."""
    return -(-rows // block_size) * block_size if layout == "paged" else rows


def held_tokens(spec: LayerSpec, context: int, layout: str, block_size: int) -> int:
    """Tokens one sequence holds in this layer; paged rounds up to whole blocks."""
    return _paged(spec.tokens_held(context), layout, block_size)


def held_entries(spec: LayerSpec, context: int) -> int:
    """DeepSeek-V4's compressed entries one sequence holds in this layer (0 elsewhere)."""
    entries = getattr(spec, "entries", None)
    return entries(context) if entries else 0


def entry_bytes(spec: LayerSpec, context: int, layout: str, block_size: int,
                kv: KVDtype) -> tuple[int, int]:
    """(bytes, indexer bytes) of one sequence's compressed entries in this layer (DeepSeek-V4;
    0 elsewhere); paged rounds the entries up to whole blocks of ``block_size`` entries."""
    n = _paged(held_entries(spec, context), layout, block_size)
    return (n * spec.entry_bytes(kv), n * spec.index_entry_bytes(kv)) if n else (0, 0)


def _layer_kv(spec: LayerSpec, context: int, layout: str, block_size: int, kv: KVDtype,
              tp: int) -> int:
    """KV bytes of one sequence in one layer on one TP rank."""
    return (held_tokens(spec, context, layout, block_size) * spec.per_token_bytes(kv, tp)
            + entry_bytes(spec, context, layout, block_size, kv)[0])


def pp_stages(num_layers: int, pp: int) -> list[range]:
    """Contiguous pipeline stages; the first ``num_layers % pp`` stages get one extra layer."""
    if pp > num_layers:
        raise ValueError(f"pp: {pp} pipeline stages for only {num_layers} layers")
    base, extra = divmod(num_layers, pp)
    stages, start = [], 0
    for s in range(pp):
        size = base + (1 if s < extra else 0)
        stages.append(range(start, start + size))
        start += size
    return stages


@dataclass(frozen=True, kw_only=True)
class GroupBytes:
    """One layer group's share of the cache for the whole batch."""

    label: str
    kind: str
    layers: int
    tokens_per_seq: int
    kv_bytes: int
    state_bytes: int
    index_bytes: int = 0     # DSA indexer keys: part of kv_bytes, shown apart
    entries_per_seq: int = 0  # DeepSeek-V4: compressed entries each sequence holds per layer


@dataclass(frozen=True, kw_only=True)
class Breakdown:
    """The cache of one model at one (context, batch, dtype, layout, tp, pp)."""

    model: str
    context: int
    batch: int
    dtype: str
    layout: str
    tp: int
    pp: int
    groups: tuple[GroupBytes, ...]
    kv_bytes: int            # attention KV of the whole batch, all ranks' unique data
    state_bytes: int         # constant linear/SSM state of the whole batch
    per_gpu_kv_bytes: int    # KV on the busiest GPU (largest pipeline stage, one TP rank)
    per_gpu_state_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.kv_bytes + self.state_bytes

    @property
    def per_gpu_total_bytes(self) -> int:
        return self.per_gpu_kv_bytes + self.per_gpu_state_bytes


def kv_cache_bytes(model: ModelSpec, context: int, batch: int = 1, dtype: str | KVDtype = "bf16",
                   tp: int = 1, pp: int = 1, layout: str = "theoretical",
                   block_size: int = 16) -> Breakdown:
    """Exact cache bytes of ``model`` for ``batch`` sequences of ``context`` tokens each."""
    check_positive("context", context, MAX_CONTEXT)
    check_positive("batch", batch, MAX_BATCH)
    check_positive("tp", tp, MAX_PARALLEL)
    check_positive("pp", pp, MAX_PARALLEL)
    check_positive("block_size", block_size, 1 << 20)
    if layout not in LAYOUTS:
        raise ValueError(f"layout: must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    kv = get_dtype(dtype)

    groups = []
    for g in model.groups:
        tokens = held_tokens(g.spec, context, layout, block_size)
        extra, extra_index = entry_bytes(g.spec, context, layout, block_size, kv)
        groups.append(GroupBytes(
            label=g.spec.label(), kind=g.spec.kind, layers=g.count, tokens_per_seq=tokens,
            kv_bytes=batch * g.count * (tokens * g.spec.per_token_bytes(kv) + extra),
            state_bytes=batch * g.count * g.spec.state_bytes(),
            index_bytes=batch * g.count * (tokens * getattr(g.spec, "index_bytes", lambda: 0)()
                                           + extra_index),
            entries_per_seq=held_entries(g.spec, context)))

    # Per GPU: one TP rank of the heaviest pipeline stage.
    if pp == 1:  # one stage holds every layer: sum by group (what the capacity bisection calls)
        busiest = (sum(batch * g.count * _layer_kv(g.spec, context, layout, block_size, kv, tp)
                       for g in model.groups),
                   sum(batch * g.count * g.spec.state_bytes(tp) for g in model.groups))
    else:
        per_layer = [(batch * _layer_kv(s, context, layout, block_size, kv, tp),
                      batch * s.state_bytes(tp)) for s in model.layer_specs()]
        stages = [(sum(per_layer[i][0] for i in r), sum(per_layer[i][1] for i in r))
                  for r in pp_stages(len(per_layer), pp)]
        busiest = max(stages, key=lambda st: (st[0] + st[1], st[0]))
    return Breakdown(
        model=model.name, context=context, batch=batch, dtype=kv.name, layout=layout, tp=tp,
        pp=pp, groups=tuple(groups), kv_bytes=sum(g.kv_bytes for g in groups),
        state_bytes=sum(g.state_bytes for g in groups), per_gpu_kv_bytes=busiest[0],
        per_gpu_state_bytes=busiest[1])


def per_token_bytes(model: ModelSpec, dtype: str | KVDtype = "bf16") -> int:
    """KV bytes one token adds to one sequence across all layers (the published figure)."""
    return kv_cache_bytes(model, 1, 1, dtype).kv_bytes


def long_context_bytes_per_token(model: ModelSpec, dtype: str | KVDtype = "bf16") -> Fraction:
    """KV bytes one more token adds to one sequence once every window is full: the unwindowed
    layers' bytes per token, plus each DeepSeek-V4 compressed layer's entry bytes ÷ its rate
    (one entry per ``compress_rate`` tokens). A fraction where an entry does not divide."""
    kv = get_dtype(dtype)
    total = Fraction(0)
    for g in model.groups:
        spec = g.spec
        if spec.kind == "compressed":
            if spec.compress_rate:
                total += Fraction(g.count * spec.entry_bytes(kv), spec.compress_rate)
        elif spec.window is None:
            total += g.count * spec.per_token_bytes(kv)
    return total

