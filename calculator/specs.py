"""Frozen per-layer cache specs and the ``ModelSpec`` that groups them.

Each spec answers two questions for one layer of one sequence on one tensor-parallel rank:
how many tokens it holds at a given context (``tokens_held``) and how many bytes each held token
costs (``per_token_bytes``); linear-attention / SSM layers instead hold a constant ``state_bytes``.
Summing over layers, sequences and ranks lives in ``totals.py``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from math import prod

from .dtypes import KVDtype, get_dtype


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True, kw_only=True)
class FullAttentionSpec:
    """MHA / GQA / MQA: ``num_kv_heads`` heads of K (``head_dim_k``) and V (``head_dim_v``)."""

    num_kv_heads: int
    head_dim_k: int
    head_dim_v: int
    kind: str = field(default="full", init=False)
    window: int | None = field(default=None, init=False)

    def heads_per_rank(self, tp: int) -> int:
        # Each rank holds ceil(kv/tp) heads; with tp > kv heads are replicated (1 per rank).
        return _ceil_div(self.num_kv_heads, tp)

    def per_token_bytes(self, dtype: KVDtype, tp: int = 1) -> int:
        row = dtype.row_bytes(self.head_dim_k) + dtype.row_bytes(self.head_dim_v)
        return self.heads_per_rank(tp) * row

    def tokens_held(self, context: int) -> int:
        return context if self.window is None else min(context, self.window)

    def state_bytes(self, tp: int = 1) -> int:
        return 0

    def label(self) -> str:
        return f"attention {self.num_kv_heads} KV heads × ({self.head_dim_k}+{self.head_dim_v})"


@dataclass(frozen=True, kw_only=True)
class SlidingWindowSpec(FullAttentionSpec):
    """Attention over the last ``window`` tokens only: holds ``min(context, window)`` tokens."""

    window: int
    kind: str = field(default="sliding", init=False)

    def label(self) -> str:
        return f"{super().label()}, window {self.window}"


@dataclass(frozen=True, kw_only=True)
class IndexerCache:
    """DeepSeek sparse attention (DSA): the lightning indexer's key cache of one layer.

    One ``head_dim`` key per token (one head), stored as fp8 e4m3 with one fp32 scale per
    ``scale_block`` elements: ``k_cache`` + ``k_scale_cache`` of ``Indexer`` in DeepSeek-V3.2-Exp's
    inference/model.py. vLLM (``DeepseekV32IndexerCache``: head_dim + head_dim // 128 × 4 bytes,
    uint8) and SGLang (``NSATokenToKVPool.index_k_with_scale_buffer``) store the same 132 B for a
    128-wide key; transformers keeps the key in the compute dtype (its engine mode says so).
    """

    head_dim: int
    scale_block: int = 128
    kind: str = field(default="indexer", init=False)

    @property
    def key_bytes(self) -> int:
        return self.head_dim  # fp8: one byte per element

    @property
    def scale_bytes(self) -> int:
        return self.head_dim // self.scale_block * 4  # fp32 scales

    def row_bytes(self) -> int:
        """Bytes one token adds to one layer's indexer cache."""
        return self.key_bytes + self.scale_bytes

    def label(self) -> str:
        return (f"indexer {self.head_dim} fp8 + {self.head_dim // self.scale_block} fp32 scale "
                f"({self.row_bytes()} B)")


@dataclass(frozen=True, kw_only=True)
class MLASpec:
    """Multi-head latent attention: one ``kv_lora_rank + qk_rope_head_dim`` latent per token.

    The latent is replicated on every tensor-parallel rank. The decompressed head shapes are kept
    for variants and engine layouts that expand the latent, but they never enter the bytes here.
    DSA layers (DeepSeek-V3.2, GLM-5) also hold an ``indexer`` key per token, in its own format
    whatever the KV dtype; layers that reuse an earlier layer's top-k (GLM-5.2 "shared") have none.
    """

    kv_lora_rank: int
    qk_rope_head_dim: int
    num_heads: int = 0
    qk_nope_head_dim: int = 0
    v_head_dim: int = 0
    window: int | None = None
    indexer: IndexerCache | None = None
    kind: str = field(default="mla", init=False)

    def latent_bytes(self, dtype: KVDtype) -> int:
        return dtype.row_bytes(self.kv_lora_rank + self.qk_rope_head_dim)

    def index_bytes(self) -> int:
        """Indexer bytes per token of this layer (0 without an indexer)."""
        return self.indexer.row_bytes() if self.indexer else 0

    def per_token_bytes(self, dtype: KVDtype, tp: int = 1) -> int:
        return self.latent_bytes(dtype) + self.index_bytes()

    def tokens_held(self, context: int) -> int:
        return context if self.window is None else min(context, self.window)

    def state_bytes(self, tp: int = 1) -> int:
        return 0

    def label(self) -> str:
        win = "" if self.window is None else f", window {self.window}"
        idx = f" + {self.indexer.label()}" if self.indexer else ""
        return f"MLA latent {self.kv_lora_rank}+{self.qk_rope_head_dim}{idx}{win}"


@dataclass(frozen=True, kw_only=True)
class CompressedAttentionSpec:
    """DeepSeek-V4 attention (transformers 5.23.0 ``models/deepseek_v4``): every layer keeps a
    ``window`` of shared-KV MQA rows (``num_kv_heads`` × ``head_dim``, K = V, one copy), and a
    compressed layer also keeps one ``head_dim`` entry per ``compress_rate`` tokens: every 4th
    token on compressed sparse attention (CSA), whose lightning indexer adds an
    ``index_head_dim`` key per entry, every 128th on heavily compressed attention (HCA).
    ``compress_rate`` 0 is a sliding-window-only layer. Replicated on every TP rank (one head).

    The compressor's working state, per sequence and constant: the tokens of the window not yet
    compressed (at most ``compress_rate − 1`` rows of its kv and gate projections, 2 × head_dim
    wide on CSA whose windows overlap, head_dim on HCA; the indexer's likewise) and, on CSA, the
    previous window's first-half slice (``overlap_kv`` / ``overlap_gate``: compress_rate rows of
    head_dim each, and of index_head_dim for the indexer), in the model dtype.
    """

    head_dim: int
    window: int
    compress_rate: int = 0
    index_head_dim: int = 0
    num_kv_heads: int = 1
    state_dtype: str = "bf16"
    kind: str = field(default="compressed", init=False)

    @property
    def overlap(self) -> bool:
        """CSA (the indexed layers) compresses overlapping windows; HCA does not."""
        return bool(self.index_head_dim)

    def per_token_bytes(self, dtype: KVDtype, tp: int = 1) -> int:
        """Bytes of one windowed token (K = V: one row per KV head)."""
        return self.num_kv_heads * dtype.row_bytes(self.head_dim)

    def tokens_held(self, context: int) -> int:
        return min(context, self.window)

    def entries(self, context: int) -> int:
        """Compressed entries one sequence holds at ``context`` tokens."""
        return context // self.compress_rate if self.compress_rate else 0

    def entry_bytes(self, dtype: KVDtype) -> int:
        """Bytes of one compressed entry, the indexer's key included (0: no compressor)."""
        if not self.compress_rate:
            return 0
        return dtype.row_bytes(self.head_dim) + self.index_entry_bytes(dtype)

    def index_entry_bytes(self, dtype: KVDtype) -> int:
        return dtype.row_bytes(self.index_head_dim) if self.index_head_dim else 0

    def state_bytes(self, tp: int = 1) -> int:
        if not self.compress_rate:
            return 0
        item = get_dtype(self.state_dtype).group_bytes
        width = 2 if self.overlap else 1                      # kv_proj / gate_proj output rows
        pending = (self.compress_rate - 1) * 2 * width * (self.head_dim + self.index_head_dim)
        overlap = self.compress_rate * 2 * (self.head_dim + self.index_head_dim) if self.overlap else 0
        return (pending + overlap) * item

    def label(self) -> str:
        head = f"K=V {self.num_kv_heads}×{self.head_dim}, window {self.window}"
        if not self.compress_rate:
            return f"sliding {head}"
        name = "CSA" if self.overlap else "HCA"
        idx = f" + indexer {self.index_head_dim}" if self.index_head_dim else ""
        return f"{name} 1/{self.compress_rate} entries {self.head_dim}{idx} + {head}"


class _HoldsNoTokens:
    """Shared by layers that cache no per-token KV (state layers, shared-KV layers)."""

    def per_token_bytes(self, dtype: KVDtype, tp: int = 1) -> int:
        return 0

    def tokens_held(self, context: int) -> int:
        return 0

    def state_bytes(self, tp: int = 1) -> int:
        return 0


@dataclass(frozen=True, kw_only=True)
class StateSpec(_HoldsNoTokens):
    """Linear-attention / SSM layer: no KV, a constant per-sequence state.

    ``shapes`` are the state tensors of one sequence (e.g. a conv state and a recurrent state);
    the first dimension of each is split across tensor-parallel ranks. ``dtype`` is the state's
    format (the model's dtype unless the config names another).
    """

    shapes: tuple[tuple[int, ...], ...]
    dtype: str
    mechanism: str
    conv_kernel: int = 0  # width of the conv kernel when shapes[0] is a conv state (kernel − 1 kept)
    ssm_dtype: str | None = None  # format of the shapes after the first, when it differs (NemotronH)
    kind: str = field(default="state", init=False)
    window: int | None = field(default=None, init=False)

    def state_bytes(self, tp: int = 1) -> int:
        items = [get_dtype(self.dtype).group_bytes] + \
            [get_dtype(self.ssm_dtype or self.dtype).group_bytes] * (len(self.shapes) - 1)
        return sum(_ceil_div(s[0], tp) * prod(s[1:]) * item for s, item in zip(self.shapes, items))

    def label(self) -> str:
        dims = " + ".join("×".join(map(str, s)) for s in self.shapes)
        if self.ssm_dtype and self.ssm_dtype != self.dtype:
            return f"{self.mechanism} state {dims} ({self.dtype} conv, {self.ssm_dtype} ssm)"
        return f"{self.mechanism} state {dims} ({self.dtype})"


@dataclass(frozen=True, kw_only=True)
class SharedKVSpec(_HoldsNoTokens):
    """A layer that reuses the KV of layer ``source_layer``: adds nothing."""

    source_layer: int
    kind: str = field(default="shared", init=False)
    window: int | None = field(default=None, init=False)

    def label(self) -> str:
        return f"shares KV of layer {self.source_layer}"


LayerSpec = (FullAttentionSpec | SlidingWindowSpec | MLASpec | CompressedAttentionSpec | StateSpec
             | SharedKVSpec)


@dataclass(frozen=True, kw_only=True)
class LayerGroup:
    """Layers (by index) that share one spec."""

    spec: LayerSpec
    layers: tuple[int, ...]

    @property
    def count(self) -> int:
        return len(self.layers)


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """A model as the cache sees it: layer groups plus the facts the app shows beside them."""

    name: str
    groups: tuple[LayerGroup, ...]
    num_attention_heads: int
    hidden_size: int
    max_context: int | None  # None: the config does not say (the cache is still exact at any context)
    param_count: int | None = None
    weight_bytes: int | None = None  # exact checkpoint bytes (safetensors headers, or config.json)
    weights_from: str = ""           # where weight_bytes came from, in words
    weights_error: str = ""          # why the weights cannot be priced (one line), when they can't
    quant_method: str = ""           # quantization_config.quant_method of the checkpoint ('' = none)
    weight_parts: tuple[tuple[str, int], ...] = ()  # (part, bytes): embeddings, attention, mlp ...
    # The config.json the model was read from (None for a form-built model): engines that shard
    # the weights (vLLM's "Model loading took") read the shapes from it.
    config: dict | None = field(default=None, compare=False, hash=False, repr=False)
    dtype: str = "bf16"
    source: str = ""
    mtp_layers: int = 0      # MTP / next-n layers in the config that are NOT counted
    mtp_counted: int = 0     # MTP layers included in ``groups`` (include_mtp)
    model_type: str = ""     # config.json's model_type: engines that pick a pool by architecture read it
    blocks: int = 0          # checkpoint blocks when some hold no cache (NemotronH MLP/MoE); 0: = layers

    @property
    def num_layers(self) -> int:
        return sum(g.count for g in self.groups)

    def layer_specs(self) -> list[LayerSpec]:
        """Spec of each layer, by layer index."""
        out: list[LayerSpec | None] = [None] * self.num_layers
        for g in self.groups:
            for i in g.layers:
                out[i] = g.spec
        return out  # type: ignore[return-value]

    @property
    def has_compressed(self) -> bool:
        """Whether any layer keeps DeepSeek-V4's compressed entries (``CompressedAttentionSpec``)."""
        return any(g.spec.kind == "compressed" for g in self.groups)

    @property
    def has_state(self) -> bool:
        """Whether any layer keeps a recurrent state (``StateSpec``: Mamba, gated DeltaNet, …)."""
        return any(g.spec.kind == "state" for g in self.groups)

    @property
    def has_indexer(self) -> bool:
        """Whether any layer keeps DeepSeek sparse attention's indexer keys."""
        return any(getattr(g.spec, "indexer", None) for g in self.groups)

    @property
    def attention(self) -> str:
        """Short family name: MHA, GQA, MQA or MLA (of the attention layers)."""
        for g in self.groups:
            if isinstance(g.spec, MLASpec):
                return "MLA"
            if isinstance(g.spec, CompressedAttentionSpec):  # DeepSeek-V4: shared-KV MQA
                return "MQA" if g.spec.num_kv_heads == 1 else "GQA"
            if isinstance(g.spec, FullAttentionSpec):
                kv = g.spec.num_kv_heads
                if kv == 1:
                    return "MQA"
                return "MHA" if kv == self.num_attention_heads else "GQA"
        return "none"

    def describe(self) -> str:
        """One line: family plus window / hybrid features, e.g. 'GQA + sliding 4096 (21/42)'."""
        parts = [self.attention]
        n = self.num_layers
        for kind, text in (("sliding", "sliding"), ("state", "linear/SSM"), ("shared", "shared KV")):
            k = sum(g.count for g in self.groups if g.spec.kind == kind)
            if k:
                wins = sorted({g.spec.window for g in self.groups if g.spec.kind == kind and g.spec.window})
                extra = f" {'/'.join(map(str, wins))}" if wins else ""
                parts.append(f"{text}{extra} ({k}/{n} layers)")
        v4 = [g for g in self.groups if g.spec.kind == "compressed"]
        if v4:  # DeepSeek-V4: a window on every layer, compressed entries on most
            wins = "/".join(sorted({str(g.spec.window) for g in v4}))
            parts.append(f"window {wins} ({sum(g.count for g in v4)}/{n} layers)")
            for rate in sorted({g.spec.compress_rate for g in v4} - {0}):
                k = sum(g.count for g in v4 if g.spec.compress_rate == rate)
                parts.append(f"1/{rate} compressed ({k}/{n} layers)")
        idx = sum(g.count for g in self.groups if getattr(g.spec, "indexer", None)
                  or getattr(g.spec, "index_head_dim", 0))
        if idx:
            parts.append(f"{'DSA ' * (not v4)}indexer ({idx}/{n} layers)")
        if self.mtp_counted:
            parts.append(f"{self.mtp_counted} MTP layer{'s' * (self.mtp_counted > 1)} counted")
        elif self.mtp_layers:
            parts.append(f"{self.mtp_layers} MTP layer{'s' * (self.mtp_layers > 1)} not counted")
        return " + ".join(parts)

    def with_mtp_layers(self) -> "ModelSpec":
        """The model with its MTP / next-n layers counted; each caches like a full-attention
        (or MLA) layer, as ``from_hf_config(include_mtp=True)`` builds them."""
        attn = next((g.spec for g in self.groups
                     if g.spec.kind in ("full", "mla") and g.spec.window is None), None)
        if not self.mtp_layers or attn is None:
            return self
        return replace(self, groups=group_layers(self.layer_specs() + [attn] * self.mtp_layers),
                       mtp_layers=0, mtp_counted=self.mtp_counted + self.mtp_layers)


def group_layers(specs: list[LayerSpec]) -> tuple[LayerGroup, ...]:
    """Collect per-layer specs into groups, in order of first appearance."""
    order: dict[LayerSpec, list[int]] = {}
    for i, spec in enumerate(specs):
        order.setdefault(spec, []).append(i)
    return tuple(LayerGroup(spec=s, layers=tuple(idx)) for s, idx in order.items())
