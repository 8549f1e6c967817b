"""transformers' ``StaticCache`` and ``DynamicCache``, as transformers 5.23.0 allocates them.

Rules, each from transformers/cache_utils.py unless said otherwise:
- ``StaticCache.__init__`` picks one layer class per entry of ``layer_types``
  (``get_layer_types_and_kwargs``; ``STATIC_LAYER_TYPE_MAPPING``).
- Full attention, ``StaticLayer.lazy_initialization``: keys and values of shape
  ``[batch, num_kv_heads, max_cache_len, head_dim]`` in the dtype of the key states (the model's
  compute dtype): the theoretical figure at ``context = max_cache_len``.
- Sliding / chunked attention, ``StaticSlidingWindowLayer.__init__``:
  ``max_cache_len = min(sliding_window, max_cache_len)``.
- MLA, models/deepseek_v3/modeling_deepseek_v3.py ``DeepseekV3Attention.forward``: the cache is
  updated with the compressed latent (``kv_nope``: 1 × kv_lora_rank) as keys and the rotary key
  (1 × qk_rope_head_dim) as values, so a layer holds ``kv_lora_rank + qk_rope_head_dim`` per token.
- DSA (DeepSeek-V3.2, GLM-5: layer type ``indexed_attention``), ``StaticIndexedLayer`` /
  ``DynamicIndexedLayer``: besides the MLA latent, ``update_indexer`` keeps the indexer keys
  ``[batch, tokens, index_head_dim]`` in the dtype the indexer's ``k_norm`` returns (the compute
  dtype), not fp8; the static layer adds one more int64 counter (``indexer_cumulative_length``).
  GLM-5.2's "shared" layers never call it and hold none.
- Linear attention (gated DeltaNet), ``LinearAttentionLayer.lazy_initialization`` keeps the conv
  state at the full kernel width ``[batch, conv_dim, conv_kernel]`` in the compute dtype, and
  models/qwen3_next/modeling_qwen3_next.py ``torch_chunk_gated_delta_rule`` computes the
  recurrent state ``[batch, v_heads, k_dim, v_dim]`` in float32.
- Every static attention layer (full, sliding, MLA) also holds ``StaticLayer.__init__``'s position
  counter ``cumulative_length = torch.tensor(0, dtype=int)``: 8 bytes per layer, whatever the
  batch; counted in the group's constant (``state_bytes``) column.
- ``DynamicCache`` (what ``generate`` uses): ``DynamicLayer.update`` concatenates, so a full or MLA
  layer holds exactly the tokens fed (prompt + new tokens − 1 after ``generate``);
  ``DynamicSlidingWindowLayer.update`` keeps the last ``sliding_window − 1`` tokens as a *view* of
  the concatenation, so its storage after an update of ``n`` tokens is
  ``min(tokens before, sliding_window − 1) + n``, plus its 8-byte ``_sliding_window_tensor``.
- Mamba (Jamba) layers use the same ``LinearAttentionLayer``: conv ``[B, d_inner, d_conv]`` in the
  compute dtype and recurrent ``[B, d_inner, d_state]`` in fp32 (``models/jamba/modeling_jamba.py``,
  ``JambaMambaMixer.forward`` → ``update_conv_state`` / ``update_recurrent_state``; the fp32 state
  is what the PyTorch selective-scan path returns, measured without the ``mamba_ssm`` kernels).
- Short conv (LFM2) keeps only the conv state ``[B, hidden, conv_L_cache]`` in the compute dtype
  (``models/lfm2/modeling_lfm2.py``, ``Lfm2ShortConv.forward`` → ``update_conv_state``).
- Lightning attention (MiniMax) keeps ``[B, heads, head_dim, head_dim]`` in the compute dtype in
  ``MiniMaxCache.linear_cache`` (``models/minimax/modeling_minimax.py``,
  ``MiniMaxLightningAttention.forward``). MiniMax refuses a ``StaticCache`` ("MiniMax uses cache of
  its own"), so ``static_cache_bytes`` raises for it, as transformers does.
- DeepSeek-V4 has no static form either: ``generate`` gives it a ``DynamicCache`` of its own
  layers (``transformers_dsv4.py``). ``transformers_cache_bytes`` therefore answers with the
  StaticCache where transformers builds one and, for V4, with the DynamicCache right after a
  prompt of ``context`` tokens (its largest: the prefill's window and projections stay alive).
"""
from __future__ import annotations

from dataclasses import replace
from math import prod

from ..dtypes import get_dtype
from ..specs import FullAttentionSpec, MLASpec, ModelSpec, SharedKVSpec, StateSpec
from ..totals import Breakdown, GroupBytes, check_positive, MAX_BATCH, MAX_CONTEXT
from . import transformers_dsv4

TRANSFORMERS_VERSION = "5.23.0"
COMPUTE_DTYPES = ("bf16", "fp16", "fp32")
COUNTER_BYTES = 8  # one int64 (StaticLayer.cumulative_length; DynamicSlidingWindowLayer._sliding_window_tensor)


def _state_bytes(spec: StateSpec, compute_bytes: int) -> int:
    if spec.mechanism == "linear attention":  # MiniMaxCache.linear_cache: [B, heads, d, d]
        return prod(spec.shapes[0]) * compute_bytes
    if spec.mechanism == "short conv":  # LFM2: conv state only, [B, hidden, conv_L_cache]
        return spec.shapes[0][0] * spec.conv_kernel * compute_bytes
    if spec.mechanism not in ("gated DeltaNet", "mamba", "mamba2", "KDA") or not spec.conv_kernel:
        raise ValueError(f"engine transformers: {spec.mechanism} state is not modelled for "
                         f"transformers {TRANSFORMERS_VERSION}")
    conv_dim = spec.shapes[0][0]
    recurrent = prod(spec.shapes[1])
    return conv_dim * spec.conv_kernel * compute_bytes + recurrent * 4


def _label(spec, dtype: str) -> str:
    if isinstance(spec, MLASpec) and spec.indexer:
        return (f"MLA latent {spec.kv_lora_rank}+{spec.qk_rope_head_dim} + indexer keys "
                f"{spec.indexer.head_dim} ({dtype})")
    if not isinstance(spec, StateSpec):
        return spec.label()
    if spec.mechanism == "linear attention":
        return f"lightning state {'×'.join(map(str, spec.shapes[0]))} ({dtype})"
    if spec.mechanism == "short conv":
        return f"short conv state: conv {spec.shapes[0][0]}×{spec.conv_kernel} ({dtype})"
    return (f"{spec.mechanism} state: conv {spec.shapes[0][0]}×{spec.conv_kernel} ({dtype}) + "
            f"recurrent {'×'.join(map(str, spec.shapes[1]))} (fp32)")


def _compute_dtype(model: ModelSpec, dtype: str | None):
    kv = get_dtype(dtype or model.dtype)
    if kv.name not in COMPUTE_DTYPES:
        raise ValueError(f"kv dtype: transformers' caches store the model's compute dtype "
                         f"({', '.join(COMPUTE_DTYPES)}), not {kv.name}")
    return kv


def dynamic_tokens(window: int | None, updates: list[int]) -> int:
    """Tokens of storage a DynamicCache layer holds after updates of these sizes."""
    if window is None:
        return sum(updates)
    kept, storage = 0, 0
    for n in updates:
        storage = kept + n
        kept = min(kept + n, window - 1)
    return storage


def _groups(model: ModelSpec, batch: int, kv, tokens_of, counter_of) -> list[GroupBytes]:
    """Per group: attention layers hold ``tokens_of(spec)`` tokens and ``counter_of(spec)``
    bookkeeping bytes per layer; state layers their constant state."""
    b, out = kv.group_bytes, []
    for g in model.groups:
        spec, n = g.spec, g.count
        tokens, kv_bytes, state, index = 0, 0, 0, 0
        if isinstance(spec, (MLASpec, FullAttentionSpec)):
            tokens = tokens_of(spec)
            per_token = (spec.kv_lora_rank + spec.qk_rope_head_dim if isinstance(spec, MLASpec)
                         else spec.num_kv_heads * (spec.head_dim_k + spec.head_dim_v)) * b
            indexer = getattr(spec, "indexer", None)
            index = batch * n * tokens * indexer.head_dim * b if indexer else 0
            kv_bytes = batch * n * tokens * per_token + index
            state = n * counter_of(spec)
        elif isinstance(spec, StateSpec):
            state = batch * n * _state_bytes(spec, b)
        elif not isinstance(spec, SharedKVSpec):
            raise ValueError(f"engine transformers: layer kind {spec.kind!r} is not modelled")
        out.append(GroupBytes(label=_label(spec, kv.name), kind=spec.kind, layers=n,
                              tokens_per_seq=tokens, kv_bytes=kv_bytes, state_bytes=state,
                              index_bytes=index))
    return out


def dynamic_cache_bytes(model: ModelSpec, prompt: int, new_tokens: int, batch: int = 1,
                        dtype: str | None = None) -> Breakdown:
    """Bytes of the DynamicCache ``generate`` leaves after ``new_tokens`` from a ``prompt``
    (updates: the prompt, then one token per step except the last)."""
    check_positive("prompt", prompt, MAX_CONTEXT)
    check_positive("new_tokens", new_tokens, 1 << 20)
    check_positive("batch", batch, MAX_BATCH)
    _check_class(model)
    kv = _compute_dtype(model, dtype)
    updates = [prompt] + [1] * (new_tokens - 1)
    if model.has_compressed:
        groups = transformers_dsv4.groups(model, updates, batch, kv.group_bytes, kv.name,
                                          lambda spec: dynamic_tokens(spec.window, updates))
        return _breakdown(model, prompt + new_tokens - 1, batch, kv.name, "DynamicCache", groups)
    groups = _groups(model, batch, kv, lambda spec: dynamic_tokens(spec.window, updates),
                     lambda spec: COUNTER_BYTES if spec.window else 0)  # _sliding_window_tensor
    return _breakdown(model, prompt + new_tokens - 1, batch, kv.name, "DynamicCache", groups)


# Architectures transformers does not define: their remote code keeps a cache of its own.
NO_CLASS = {"nemotron-nas": "Nemotron-NAS (DeciLM) has no transformers class; its remote code "
                            "(modeling_decilm.py, trust_remote_code) keeps its own VariableCache"}


def _check_class(model: ModelSpec) -> None:
    if model.model_type in NO_CLASS:
        raise ValueError(f"engine transformers: {NO_CLASS[model.model_type]}; the theoretical, "
                         "vllm, sglang and llama.cpp engines size it")


def _breakdown(model, context, batch, dtype, kind, groups) -> Breakdown:
    kv_total = sum(x.kv_bytes for x in groups)
    state_total = sum(x.state_bytes for x in groups)
    return Breakdown(model=model.name, context=context, batch=batch, dtype=dtype,
                     layout=f"transformers {TRANSFORMERS_VERSION} {kind}", tp=1, pp=1,
                     groups=tuple(groups), kv_bytes=kv_total, state_bytes=state_total,
                     per_gpu_kv_bytes=kv_total, per_gpu_state_bytes=state_total)


def static_cache_bytes(model: ModelSpec, context: int, batch: int = 1,
                       dtype: str | None = None) -> Breakdown:
    """Bytes of ``StaticCache(config, max_cache_len=context)`` for ``batch`` sequences."""
    check_positive("context", context, MAX_CONTEXT)
    check_positive("batch", batch, MAX_BATCH)
    _check_class(model)
    if model.has_compressed:  # DeepseekV4PreTrainedModel: "isn't compatible with StaticCache"
        raise ValueError("engine transformers: DeepSeek-V4 keeps DeepseekV4CSACache / "
                         "DeepseekV4HCACache layers of its own, in a DynamicCache (no StaticCache)")
    kv = _compute_dtype(model, dtype)
    if any(isinstance(g.spec, StateSpec) and g.spec.mechanism == "linear attention"
           for g in model.groups):
        raise ValueError("engine transformers: MiniMax (lightning attention) keeps its own "
                         "MiniMaxCache; transformers refuses a StaticCache for it")
    # StaticLayer.cumulative_length, and StaticIndexedLayer.indexer_cumulative_length with an indexer
    groups = _groups(model, batch, kv, lambda spec: spec.tokens_held(context),
                     lambda spec: COUNTER_BYTES * (2 if getattr(spec, "indexer", None) else 1))
    return _breakdown(model, context, batch, kv.name, "StaticCache", groups)


def transformers_cache_bytes(model: ModelSpec, context: int, batch: int = 1,
                             dtype: str | None = None) -> Breakdown:
    """The transformers mode: ``StaticCache(max_cache_len=context)``, or for DeepSeek-V4 (no
    static form) the DynamicCache ``generate`` holds right after a ``context``-token prompt."""
    if model.has_compressed:
        out = dynamic_cache_bytes(model, context, 1, batch, dtype)
        return replace(out, layout=f"{out.layout} after a {context:,}-token prompt")
    return static_cache_bytes(model, context, batch, dtype)
