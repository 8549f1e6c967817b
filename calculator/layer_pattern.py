"""The kind of every layer of a config.json (full, sliding, chunked, linear, mamba, conv,
indexed attention) from whichever per-layer pattern the config uses, which DSA layers keep
indexer keys, and per-layer KV heads / head sizes (Gemma 4). ``hf_config`` builds specs from these.
"""
from __future__ import annotations

from typing import Any

from .config_fields import MAX_LAYERS
from .config_fields import int_field as _int
from .config_fields import opt_int_field as _opt_int

# "indexed_attention": transformers 5.23.0's DSA layers (DeepseekV32Config, GlmMoeDsaConfig):
# full attention plus an indexer key cache.
LAYER_TYPES = ("full_attention", "sliding_attention", "chunked_attention", "linear_attention",
               "mamba", "conv", "indexed_attention")
LEGACY_LAYER_TYPES = {"attention": "full_attention",
                      "deepseek_sparse_attention": "indexed_attention"}
# DeepSeek sparse attention without an index_topk key in the file (trimmed configs): the
# transformers config classes default it (index_topk 2048, index_head_dim 128).
DSA_TYPES = ("deepseek_v32", "glm_moe_dsa")


def layer_kinds(cfg: dict[str, Any], n: int) -> list[str]:
    """The kind of every layer, from whichever per-layer pattern the config uses."""
    model_type = cfg.get("model_type") or ""
    window = cfg.get("sliding_window")
    if cfg.get("_block_kinds") is not None:  # NemotronH, decided in normalize
        return list(cfg["_block_kinds"])
    if cfg.get("layer_types") is not None:
        kinds = cfg["layer_types"]
        if not isinstance(kinds, list) or len(kinds) != n:
            raise ValueError(f"layer_types: expected a list of {n} entries (num_hidden_layers)")
        # transformers 5.23.0 configuration_utils.py _LEGACY_LAYER_TYPE_REMAP: "attention" is
        # full attention, "mamba" a recurrent layer (Granite 4's Mamba-2, read in _state_spec)
        kinds = [LEGACY_LAYER_TYPES.get(k, k) if isinstance(k, str) else k for k in kinds]
        for k in kinds:
            if k not in LAYER_TYPES:
                raise ValueError(f"layer_types: {k!r} is not one of {', '.join(LAYER_TYPES)}")
        return list(kinds)
    if cfg.get("full_attn_idxs") is not None:  # LFM2 (older files): the rest are short convs
        idxs = cfg["full_attn_idxs"]
        if not isinstance(idxs, list) or any(isinstance(i, bool) or not isinstance(i, int)
                                             or not 0 <= i < n for i in idxs):
            raise ValueError(f"full_attn_idxs: expected layer indices below {n}")
        return ["full_attention" if i in set(idxs) else "conv" for i in range(n)]
    if cfg.get("attn_type_list") is not None:  # MiniMax: 1 = softmax, 0 = lightning linear
        types = cfg["attn_type_list"]
        if not isinstance(types, list) or len(types) != n or any(t not in (0, 1) for t in types):
            raise ValueError(f"attn_type_list: expected {n} entries of 0 or 1")
        return ["full_attention" if t == 1 else "linear_attention" for t in types]
    if cfg.get("attn_layer_period") is not None:  # Jamba
        period = _int(cfg, "attn_layer_period", hi=MAX_LAYERS)
        offset = _int(cfg, "attn_layer_offset", lo=0, hi=period - 1)
        return ["full_attention" if i % period == offset else "mamba" for i in range(n)]
    if cfg.get("hybrid_layer_pattern") is not None:  # MiMo-V2-Flash: 1 = sliding window, 0 = global
        pattern = cfg["hybrid_layer_pattern"]
        if not isinstance(pattern, list) or len(pattern) != n or any(t not in (0, 1) for t in pattern):
            raise ValueError(f"hybrid_layer_pattern: expected {n} entries of 0 or 1")
        return ["sliding_attention" if t == 1 else "full_attention" for t in pattern]
    if cfg.get("attention_chunk_size") is not None:  # Llama 4: chunked layers, every 4th global
        # transformers Llama4TextConfig: no_rope_layers[i] = int((i + 1) % no_rope_layer_interval
        # != 0) when the config leaves it out; RoPE layers attend in chunks, NoPE layers globally.
        flags = cfg.get("no_rope_layers") or None
        if flags is None:
            every = (_int(cfg, "no_rope_layer_interval", hi=MAX_LAYERS)
                     if cfg.get("no_rope_layer_interval") is not None else 4)
            flags = [int((i + 1) % every != 0) for i in range(n)]
        if not isinstance(flags, list) or len(flags) != n or any(f not in (0, 1) for f in flags):
            raise ValueError(f"no_rope_layers: expected {n} entries of 0 or 1")
        return ["chunked_attention" if f else "full_attention" for f in flags]
    if cfg.get("full_attention_interval") is not None:  # Qwen3-Next
        every = _int(cfg, "full_attention_interval", hi=MAX_LAYERS)
        return ["linear_attention" if (i + 1) % every else "full_attention" for i in range(n)]
    if window is None:
        return ["full_attention"] * n
    if cfg.get("sliding_window_pattern") is not None:  # Gemma 3, Cohere2
        every = _int(cfg, "sliding_window_pattern", hi=MAX_LAYERS)
        return ["sliding_attention" if (i + 1) % every else "full_attention" for i in range(n)]
    if model_type == "gemma2":  # even layers local, odd global, no list in the config
        return ["sliding_attention" if i % 2 == 0 else "full_attention" for i in range(n)]
    if cfg.get("max_window_layers") is not None and model_type.startswith("qwen"):
        first = _int(cfg, "max_window_layers", lo=0, hi=MAX_LAYERS)
        return ["sliding_attention" if i >= first else "full_attention" for i in range(n)]
    return ["sliding_attention"] * n  # Mistral: the window applies to every layer


def indexer_layers(cfg: dict[str, Any], n: int) -> list[bool] | None:
    """DSA models: which layers run their own lightning indexer (and so cache its keys); None
    for models without one. transformers 5.23.0 ``GlmMoeDsaConfig.__post_init__``: a written
    ``indexer_types`` wins, then ``index_topk_pattern`` ("F" full, "S" shared), else layer i is
    full when ``max(i − index_skip_topk_offset + 1, 0) % index_topk_freq == 0`` (defaults 2 and
    1: every layer). "shared" layers reuse an earlier layer's top-k and hold no indexer keys."""
    if cfg.get("index_topk") is None and cfg.get("model_type") not in DSA_TYPES:
        return None
    types = cfg.get("indexer_types")
    if types is None and cfg.get("index_topk_pattern") is not None:
        pattern = cfg["index_topk_pattern"]
        types = ([{"F": "full", "S": "shared"}.get(c, c) for c in pattern]
                 if isinstance(pattern, str) else pattern)
    if types is None:
        freq = max(_opt_int(cfg, "index_topk_freq", lo=0, hi=MAX_LAYERS) or 1, 1)
        offset = _opt_int(cfg, "index_skip_topk_offset", lo=0, hi=MAX_LAYERS)
        offset = 2 if offset is None else offset
        return [max(i - offset + 1, 0) % freq == 0 for i in range(n)]
    if not isinstance(types, list) or len(types) != n or any(t not in ("full", "shared") for t in types):
        raise ValueError(f"indexer_types: expected {n} entries of 'full' or 'shared'")
    return [t == "full" for t in types]


def gemma4_kinds(cfg: dict[str, Any], kinds: list[str]) -> list[str]:
    """Gemma4TextConfig.__post_init__ forces the last layer to full attention."""
    if (cfg.get("model_type") or "").startswith("gemma4") and kinds and kinds[-1] != "full_attention":
        return [*kinds[:-1], "full_attention"]
    return kinds


def layer_overrides(cfg: dict[str, Any], kinds: list[str]) -> dict[int, dict[str, int]]:
    """Per-layer KV heads / head size that differ from the config's defaults (Gemma 4).

    transformers 5.23.0 ``Gemma4TextConfig.__post_init__``: unless the config carries its own
    ``per_layer_config``, every full-attention layer gets ``head_dim = global_head_dim`` (default
    512) and, when ``attention_k_eq_v`` is true, ``num_key_value_heads =
    num_global_key_value_heads``. K and V are both cached (V is ``v_norm`` of the un-roped keys).
    """
    n = len(kinds)
    written = cfg.get("per_layer_config")
    if written is not None:
        if not isinstance(written, dict):
            raise ValueError("per_layer_config: expected an object of layer index → overrides")
        out: dict[int, dict[str, int]] = {}
        for key, value in written.items():
            try:
                idx = int(key)
            except (TypeError, ValueError):
                raise ValueError(f"per_layer_config: {key!r} is not a layer index") from None
            if not 0 <= idx < n or not isinstance(value, dict):
                raise ValueError(f"per_layer_config: entry {key!r} must be a layer below {n} "
                                 "with an object of overrides")
            out[idx] = {k: _int(value, k) for k in ("head_dim", "num_key_value_heads")
                        if value.get(k) is not None}
        return out
    if not (cfg.get("model_type") or "").startswith("gemma4"):
        return {}
    over = {"head_dim": _opt_int(cfg, "global_head_dim") or 512}
    if cfg.get("attention_k_eq_v") is True and cfg.get("num_global_key_value_heads") is not None:
        over["num_key_value_heads"] = _int(cfg, "num_global_key_value_heads")
    return {i: over for i, k in enumerate(kinds) if k == "full_attention"}
