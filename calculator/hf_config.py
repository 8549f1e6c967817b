"""Read a Hugging Face ``config.json`` (as published) into a ``ModelSpec``.

All key aliases and library defaults are filled in one place (``normalize``); the per-layer
pattern is decided in one place (``layer_kinds``); everything else builds specs from those.
Bad or incomplete configs raise ``ValueError`` whose message starts with the field's name.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from .dtypes import model_dtype_name
from .specs import (FullAttentionSpec, IndexerCache, MLASpec, ModelSpec, SharedKVSpec,
                    SlidingWindowSpec, StateSpec, group_layers)

# "indexed_attention": transformers 5.23.0's DSA layers (DeepseekV32Config, GlmMoeDsaConfig):
# full attention plus an indexer key cache.
LAYER_TYPES = ("full_attention", "sliding_attention", "chunked_attention", "linear_attention",
               "mamba", "conv", "indexed_attention")
LEGACY_LAYER_TYPES = {"attention": "full_attention",
                      "deepseek_sparse_attention": "indexed_attention"}
# DeepSeek sparse attention without an index_topk key in the file (trimmed configs): the
# transformers config classes default it (index_topk 2048, index_head_dim 128).
DSA_TYPES = ("deepseek_v32", "glm_moe_dsa")
# Architectures read as something they are not: refused with the reason.
_DSV4 = ("DeepSeek-V4's compressed sparse / heavily compressed attention layers (compress_rates "
         "4 and 128, a 128-token window, a compressed indexer) are not modelled; reading it as "
         "plain attention would give a wrong cache")
UNSUPPORTED_TYPES = {
    "deepseek_v4": _DSV4,
    "deepseek_ref": _DSV4,  # SGLang's reference copies of the DeepSeek-V4 configs
}
# Configs whose attention keeps more than K and V under keys the reader does not model; a
# non-empty value refuses them whatever their model_type says.
UNSUPPORTED_KEYS = {
    "compress_ratios": _DSV4,
    "compress_rates": _DSV4,
    "sparse_attention_config": "MiniMax-M3's block-sparse attention (its index keys) is not "
                               "modelled; reading it as plain GQA would leave the index cache out",
}
# NemotronH's block names (transformers 5.23.0 configuration_nemotron_h.py ``_pattern_to_list``
# and the legacy names ``remap_legacy_layer_types`` accepts): MLP and MoE blocks hold no cache.
NEMOTRON_BLOCKS = {"M": "mamba2", "*": "full_attention", "-": "none", "E": "none",
                   "linear_attention": "mamba2", "mamba": "mamba2", "full_attention":
                   "full_attention", "attention": "full_attention", "mlp": "none", "moe": "none"}
MAX_LAYERS = 10_000
MAX_DIM = 1 << 24

# Other libraries' names for the standard fields (GPT-2, Falcon/RW, ChatGLM, MPT ...).
ALIASES = {
    "num_hidden_layers": ("n_layer", "n_layers", "num_layers"),
    "num_attention_heads": ("n_head", "n_heads", "num_heads"),
    "hidden_size": ("n_embd", "d_model", "dim"),
    "max_position_embeddings": ("n_positions", "seq_length", "max_sequence_length",
                                "max_seq_len", "n_ctx"),
    "num_key_value_heads": ("num_kv_heads", "n_head_kv", "n_kv_heads"),
    "head_dim": ("kv_channels",),
    "sliding_window": ("sliding_window_size",),
    "torch_dtype": ("dtype",),
}

# transformers' config-class defaults for keys that official configs leave out.
MODEL_TYPE_DEFAULTS: dict[str, dict[str, Any]] = {
    "gemma3_text": {"num_hidden_layers": 26, "hidden_size": 2304, "num_attention_heads": 8,
                    "num_key_value_heads": 4, "head_dim": 256, "sliding_window": 4096,
                    "sliding_window_pattern": 6, "max_position_embeddings": 131072},
    "gemma2": {"num_hidden_layers": 26, "hidden_size": 2304, "num_attention_heads": 8,
               "num_key_value_heads": 4, "head_dim": 256, "sliding_window": 4096,
               "max_position_embeddings": 8192},
    "falcon": {"max_position_embeddings": 2048},
    # The original Falcon-7B/40B configs (model_type RefinedWebModel / RefinedWeb, remote code);
    # transformers maps both to FalconConfig, whose default context is 2048.
    "RefinedWebModel": {"max_position_embeddings": 2048},
    "RefinedWeb": {"max_position_embeddings": 2048},
    # Gemma4TextConfig (transformers 5.23.0, models/gemma4/configuration_gemma4.py).
    "gemma4_text": {"num_hidden_layers": 30, "hidden_size": 2304, "num_attention_heads": 8,
                    "num_key_value_heads": 4, "head_dim": 256, "sliding_window": 512,
                    "sliding_window_pattern": 6, "max_position_embeddings": 131072},
    "gpt2": {"num_hidden_layers": 12, "hidden_size": 768, "num_attention_heads": 12,
             "max_position_embeddings": 1024, "torch_dtype": "float32"},
}
WRAPPED_TEXT_TYPES = {"gemma3": "gemma3_text", "gemma4": "gemma4_text"}


def _int(cfg: dict, key: str, *, lo: int = 1, hi: int = MAX_DIM) -> int:
    value = cfg.get(key)
    if value is None:
        raise ValueError(f"{key}: missing from config")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key}: must be an integer, got {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{key}: must be between {lo} and {hi}, got {value}")
    return value


def _opt_int(cfg: dict, key: str, **kw: int) -> int | None:
    return None if cfg.get(key) is None else _int(cfg, key, **kw)


def normalize(config: object) -> dict[str, Any]:
    """Unwrap ``text_config``, resolve key aliases, fill library defaults. Returns a new dict."""
    if not isinstance(config, dict):
        raise ValueError(f"config: expected a JSON object, got {type(config).__name__}")
    cfg = dict(config)
    if "text_config" in cfg and cfg["text_config"] is not None:
        text = cfg["text_config"]
        if not isinstance(text, dict):
            raise ValueError("text_config: expected a JSON object")
        outer_type = cfg.get("model_type")
        if outer_type is not None and not isinstance(outer_type, str):
            raise ValueError(f"model_type: expected a string, got {outer_type!r}")
        merged = {k: v for k, v in cfg.items() if k in ("torch_dtype", "dtype")}
        merged.update(text)
        if "model_type" not in text and outer_type in WRAPPED_TEXT_TYPES:
            merged["model_type"] = WRAPPED_TEXT_TYPES[outer_type]
        cfg = merged
    model_type = cfg.get("model_type")
    if model_type is not None and not isinstance(model_type, str):
        raise ValueError(f"model_type: expected a string, got {model_type!r}")
    if model_type in UNSUPPORTED_TYPES:
        raise ValueError(f"model_type: {model_type}: {UNSUPPORTED_TYPES[model_type]}")
    for key, why in UNSUPPORTED_KEYS.items():
        value = cfg.get(key)
        if isinstance(value, dict):
            value = value.get("use_sparse_attention", True)
        if value and (not isinstance(value, list) or any(value)):
            raise ValueError(f"{key}: {why}")
    for key, alts in ALIASES.items():
        if cfg.get(key) is None:
            for alt in alts:
                if cfg.get(alt) is not None:
                    cfg[key] = cfg[alt]
                    break
    for key, value in MODEL_TYPE_DEFAULTS.get(model_type or "", {}).items():
        cfg.setdefault(key, value)
    # Falcon / RW: multi_query wins over a written num_kv_heads unless the new decoder is used.
    if cfg.get("multi_query") is True and not cfg.get("new_decoder_architecture"):
        cfg["num_key_value_heads"] = 1
    # ChatGLM: multi_query_group_num counts the KV heads when multi-query attention is on.
    if cfg.get("multi_query_attention") is True and cfg.get("multi_query_group_num") is not None:
        cfg["num_key_value_heads"] = cfg["multi_query_group_num"]
    if cfg.get("num_key_value_heads") is None:
        cfg["num_key_value_heads"] = cfg.get("num_attention_heads")
    # NemotronH: the block list decides the layer count (num_hidden_layers is deprecated there)
    blocks = cfg.get("layers_block_type") or cfg.get("hybrid_override_pattern")
    if blocks is not None and (model_type or "").startswith("nemotron_h"):
        if not isinstance(blocks, (list, str)) or not 0 < len(blocks) <= MAX_LAYERS or \
                any(not isinstance(b, str) or b not in NEMOTRON_BLOCKS for b in blocks):
            raise ValueError("layers_block_type: expected blocks among "
                             + ", ".join(repr(k) for k in NEMOTRON_BLOCKS))
        cfg["num_hidden_layers"] = len(blocks)
        # internal kinds (mamba2, none), kept apart from the public layer_types vocabulary
        cfg["_block_kinds"] = [NEMOTRON_BLOCKS[b] for b in blocks]
    if model_type == "nemotron-nas":
        _nas_blocks(cfg)
    if model_type == "kimi_linear" and cfg.get("layer_types") is None:
        _kimi_linear_layers(cfg)
    # MiMo-V2-Flash: MimoV2FlashConfig.__post_init__ (transformers 5.23.0) makes the window
    # sliding_window_size + 1: the reference (SGLang) attends to that many previous tokens plus
    # the query. vLLM passes sliding_window_size itself (engines/vllm.py reads it back).
    if model_type == "mimo_v2_flash" and cfg.get("sliding_window_size") is not None:
        cfg["sliding_window"] = _int(cfg, "sliding_window_size", hi=1 << 40) + 1
    # Qwen2/2.5/3: a written sliding_window is ignored unless use_sliding_window is true.
    if cfg.get("use_sliding_window") is False:
        cfg["sliding_window"] = None
    return cfg


def _nas_blocks(cfg: dict[str, Any]) -> None:
    """Nemotron-NAS (DeciLMForCausalLM: Llama-3.3-Nemotron-Super-49B, -Ultra-253B, -51B): one
    ``block_configs`` entry per layer. vLLM (model_executor/models/nemotron_nas.py,
    ``DeciLMDecoderLayer``) and SGLang (models/nemotron_nas.py) build attention only where
    ``attention.no_op`` is false, with ``num_attention_heads // n_heads_in_group`` KV heads; the
    remote-code model replaces ``replace_with_linear`` attention by a Linear (no cache either)."""
    blocks = cfg.get("block_configs")
    heads = _int(cfg, "num_attention_heads")
    if not isinstance(blocks, list) or not 0 < len(blocks) <= MAX_LAYERS or \
            any(not isinstance(b, dict) or not isinstance(b.get("attention", {}), dict) for b in blocks):
        raise ValueError("block_configs: expected a list with one {attention, ffn} object per layer")
    if cfg.get("num_hidden_layers") not in (None, len(blocks)):
        raise ValueError(f"block_configs: {len(blocks)} entries for num_hidden_layers "
                         f"{cfg['num_hidden_layers']}")
    kinds: list[str] = []
    overrides: dict[str, dict[str, int]] = {}
    for i, block in enumerate(blocks):
        attn = block.get("attention") or {}
        if attn.get("no_op") is True or attn.get("replace_with_linear") is True:
            kinds.append("none")
            continue
        for key in ("window_length", "num_sink_tokens"):
            if attn.get(key) is not None:
                raise ValueError(f"block_configs: layer {i}'s attention {key} is not modelled")
        group = _int(attn, "n_heads_in_group", hi=heads)
        if heads % group:
            raise ValueError(f"block_configs: layer {i}'s n_heads_in_group {group} does not "
                             f"divide num_attention_heads {heads}")
        kinds.append("full_attention")
        overrides[str(i)] = {"num_key_value_heads": heads // group}
    if not overrides:
        raise ValueError("block_configs: no layer has attention (every one is no_op)")
    cfg["num_hidden_layers"] = len(blocks)
    cfg["_block_kinds"] = kinds
    cfg["num_key_value_heads"] = next(iter(overrides.values()))["num_key_value_heads"]
    cfg.setdefault("per_layer_config", overrides)


def _kimi_linear_layers(cfg: dict[str, Any]) -> None:
    """Kimi Linear / Kimi-K3 (transformers 5.23.0 ``KimiLinearConfig.__post_init__``): the
    1-indexed ``linear_attn_config.full_attn_layers`` are MLA, ``kda_layers`` Kimi Delta
    Attention; without the lists every 4th layer (i > 0, i % 4 == 0) is full."""
    n = _int(cfg, "num_hidden_layers", hi=MAX_LAYERS)
    lac = cfg.get("linear_attn_config") or {}
    if not isinstance(lac, dict):
        raise ValueError("linear_attn_config: expected a JSON object")
    if "full_attn_layers" in lac and "kda_layers" in lac:
        kinds: list = [None] * n
        for key, kind in (("full_attn_layers", "full_attention"), ("kda_layers", "linear_attention")):
            idx = lac[key]
            if not isinstance(idx, list) or any(isinstance(i, bool) or not isinstance(i, int)
                                                or not 1 <= i <= n for i in idx):
                raise ValueError(f"linear_attn_config: {key} must list layers 1 to {n}")
            for i in idx:
                kinds[i - 1] = kind
        if None in kinds:
            raise ValueError(f"linear_attn_config: layer {kinds.index(None) + 1} is in neither "
                             "full_attn_layers nor kda_layers")
    else:
        kinds = ["full_attention" if i and i % 4 == 0 else "linear_attention" for i in range(n)]
    cfg["layer_types"] = kinds


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


def _gemma4_kinds(cfg: dict[str, Any], kinds: list[str]) -> list[str]:
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


def cache_layer_indices(config: object) -> list[int]:
    """Indices (in the checkpoint's block numbering) of the layers that hold a cache, in the
    order of ``ModelSpec``'s layers: NemotronH's MLP / MoE blocks are left out."""
    cfg = normalize(config)
    n = _int(cfg, "num_hidden_layers", hi=MAX_LAYERS)
    kinds = cfg.get("_block_kinds") or []
    return [i for i in range(n) if i >= len(kinds) or kinds[i] != "none"]


def _state_spec(cfg: dict, kind: str, dtype: str, heads: int, head_dim: int) -> StateSpec:
    if kind == "mamba2":  # NemotronH: vLLM mamba2_state_shape; the ssm state in its own dtype
        nh = _int(cfg, "mamba_num_heads")
        hd = _int(cfg, "mamba_head_dim")
        d_state = _int(cfg, "ssm_state_size")
        groups = _int(cfg, "n_groups") if cfg.get("n_groups") is not None else (
            _int(cfg, "mamba_n_groups") if cfg.get("mamba_n_groups") is not None else 8)
        k = cfg.get("conv_kernel", cfg.get("mamba_d_conv", 4))
        k = _int({"conv_kernel": k}, "conv_kernel", lo=2, hi=1024)
        try:  # vLLM NemotronHForCausalLMConfig: the config's value, float32 when absent
            ssm = model_dtype_name(cfg.get("mamba_ssm_cache_dtype", "float32"))
        except ValueError as err:
            raise ValueError(f"mamba_ssm_cache_dtype: {str(err).split(': ', 1)[-1]}") from None
        return StateSpec(shapes=((nh * hd + 2 * groups * d_state, k - 1), (nh, hd, d_state)),
                         dtype=dtype, mechanism="mamba2", conv_kernel=k,
                         ssm_dtype=ssm)
    if kind == "conv":  # LFM2 short conv: vLLM short_conv_state_shape (hidden, conv_L_cache − 1)
        hidden = _int(cfg, "hidden_size")
        width = _int(cfg, "conv_L_cache", lo=2, hi=1024) if cfg.get("conv_L_cache") is not None else 3
        return StateSpec(shapes=((hidden, width - 1),), dtype=dtype, mechanism="short conv",
                         conv_kernel=width)
    if kind == "mamba" and cfg.get("mamba_n_heads") is not None:
        # Granite 4 hybrid (GraniteMoeHybridConfig): Mamba-2 with its own key names; vLLM
        # granitemoehybrid.py mamba2_state_shape, both states in the model dtype ("auto")
        hidden = _int(cfg, "hidden_size")
        inner = _int(cfg, "mamba_expand", hi=64) * hidden if cfg.get("mamba_expand") is not None \
            else 2 * hidden
        nh = _int(cfg, "mamba_n_heads")
        hd = cfg.get("mamba_d_head", "auto")
        hd = inner // nh if hd == "auto" else _int(cfg, "mamba_d_head")
        if nh * hd != inner:
            raise ValueError(f"mamba_n_heads: {nh} heads × mamba_d_head {hd} != mamba_expand × "
                             f"hidden_size {inner}")
        groups = _int(cfg, "mamba_n_groups") if cfg.get("mamba_n_groups") is not None else 1
        d_state = _int(cfg, "mamba_d_state") if cfg.get("mamba_d_state") is not None else 256
        k = _int(cfg, "mamba_d_conv", lo=2, hi=1024) if cfg.get("mamba_d_conv") is not None else 4
        return StateSpec(shapes=((inner + 2 * groups * d_state, k - 1), (nh, hd, d_state)),
                         dtype=dtype, mechanism="mamba2", conv_kernel=k)
    if kind == "mamba":  # Jamba / Mamba-1: conv (d_inner, d_conv-1) + ssm (d_inner, d_state)
        hidden = _int(cfg, "hidden_size")
        d_inner = _int(cfg, "mamba_expand", hi=64) * hidden
        d_conv = _int(cfg, "mamba_d_conv", lo=2, hi=1024)
        d_state = _int(cfg, "mamba_d_state", hi=MAX_DIM)
        return StateSpec(shapes=((d_inner, d_conv - 1), (d_inner, d_state)), dtype=dtype,
                         mechanism="mamba", conv_kernel=d_conv)
    if cfg.get("model_type") == "kimi_linear":
        # Kimi Delta Attention: q, k and v each through a short conv, then a (heads, d, d) state.
        # vLLM mamba_utils.py kda_state_shape / kda_state_dtype: convs in the model dtype, the
        # recurrent state in float32 (transformers keeps it in float32 too)
        lac = cfg.get("linear_attn_config") or {}
        nh = _int(lac, "num_heads") if lac.get("num_heads") is not None else (
            _opt_int(cfg, "linear_num_heads") or 32)
        hd = _int(lac, "head_dim") if lac.get("head_dim") is not None else (
            _opt_int(cfg, "linear_head_dim") or 128)
        k = lac.get("short_conv_kernel_size", cfg.get("linear_conv_kernel_dim", 4))
        k = _int({"short_conv_kernel_size": k}, "short_conv_kernel_size", lo=2, hi=1024)
        return StateSpec(shapes=((3 * nh * hd, k - 1), (nh, hd, hd)), dtype=dtype,
                         mechanism="KDA", conv_kernel=k, ssm_dtype="fp32")
    if cfg.get("linear_num_value_heads") is not None:  # Qwen3-Next gated DeltaNet
        kh = _int(cfg, "linear_num_key_heads")
        vh = _int(cfg, "linear_num_value_heads")
        kd = _int(cfg, "linear_key_head_dim")
        vd = _int(cfg, "linear_value_head_dim")
        k_conv = _int(cfg, "linear_conv_kernel_dim", lo=2, hi=1024)
        conv_dim = 2 * kh * kd + vh * vd
        return StateSpec(shapes=((conv_dim, k_conv - 1), (vh, kd, vd)), dtype=dtype,
                         mechanism="gated DeltaNet", conv_kernel=k_conv)
    # Lightning / plain linear attention: one head_dim × head_dim state per head.
    return StateSpec(shapes=((heads, head_dim, head_dim),), dtype=dtype,
                     mechanism="linear attention")


def from_hf_config(config: object, *, name: str = "custom", param_count: int | None = None,
                   source: str = "", include_mtp: bool = False,
                   weight_bytes: int | None = None) -> ModelSpec:
    """Build a ``ModelSpec`` from a config.json dict. Raises ``ValueError`` naming the field."""
    cfg = normalize(config)
    n = _int(cfg, "num_hidden_layers", hi=MAX_LAYERS)
    heads = _int(cfg, "num_attention_heads")
    hidden = _int(cfg, "hidden_size")
    kv_heads = _int(cfg, "num_key_value_heads")
    # A config without a max context still has an exact cache at any context: None = unknown.
    max_ctx = _opt_int(cfg, "max_position_embeddings", hi=1 << 40)
    dtype = model_dtype_name(cfg.get("torch_dtype"))
    head_dim = _opt_int(cfg, "head_dim")
    if head_dim is None and cfg.get("kv_lora_rank") is not None:  # MLA: no per-head K/V cached
        head_dim = _opt_int(cfg, "qk_rope_head_dim")  # (KimiLinearConfig's head_dim)
    if head_dim is None:
        if hidden % heads:
            raise ValueError(f"head_dim: missing, and hidden_size {hidden} is not divisible by "
                             f"num_attention_heads {heads}")
        head_dim = hidden // heads
    window = _opt_int(cfg, "sliding_window", hi=1 << 40)
    if cfg.get("attention_chunk_size") is not None and window is None:
        window = _int(cfg, "attention_chunk_size", hi=1 << 40)
    cfg["sliding_window"] = window
    if (cfg.get("model_type") or "").startswith("gemma4") and window is not None \
            and cfg.get("use_bidirectional_attention") == "all":
        window = window // 2 + 1  # Gemma4TextConfig.__post_init__: exclusive bounds
        cfg["sliding_window"] = window
    kinds = _gemma4_kinds(cfg, layer_kinds(cfg, n))
    overrides = layer_overrides(cfg, kinds)
    if any(k in ("sliding_attention", "chunked_attention") for k in kinds) and window is None:
        raise ValueError("sliding_window: layer_types has sliding layers but no window is set")

    indexed, dsa = None, None
    if cfg.get("kv_lora_rank") is not None:
        attn = MLASpec(kv_lora_rank=_int(cfg, "kv_lora_rank"),
                       qk_rope_head_dim=_int(cfg, "qk_rope_head_dim"), num_heads=heads,
                       qk_nope_head_dim=_opt_int(cfg, "qk_nope_head_dim") or 0,
                       v_head_dim=_opt_int(cfg, "v_head_dim") or 0)
        local = MLASpec(**{**_mla_fields(attn), "window": window}) if window else attn
        indexed = indexer_layers(cfg, n)
        if indexed is not None:
            head = _opt_int(cfg, "index_head_dim") or 128  # DeepseekV32Config / GlmMoeDsaConfig
            dsa = replace(attn, indexer=IndexerCache(head_dim=head))
    else:
        if heads % kv_heads:
            raise ValueError(f"num_key_value_heads: {kv_heads} does not divide "
                             f"num_attention_heads {heads}")
        # MiMo-V2-Flash: V heads narrower than K (v_head_dim), and the sliding layers have a
        # geometry of their own (swa_num_key_value_heads, swa_head_dim, swa_v_head_dim).
        v_dim = _opt_int(cfg, "v_head_dim") or head_dim
        attn = FullAttentionSpec(num_kv_heads=kv_heads, head_dim_k=head_dim, head_dim_v=v_dim)
        swa_kv = _opt_int(cfg, "swa_num_key_value_heads") or kv_heads
        swa_k = _opt_int(cfg, "swa_head_dim") or head_dim
        swa_v = _opt_int(cfg, "swa_v_head_dim") or v_dim
        local = (SlidingWindowSpec(num_kv_heads=swa_kv, head_dim_k=swa_k,
                                   head_dim_v=swa_v, window=window) if window else attn)
    specs: list = []
    for i, kind in enumerate(kinds):
        if i in overrides and kind in ("full_attention", "sliding_attention", "chunked_attention") \
                and not isinstance(attn, MLASpec):
            specs.append(_overridden(attn if kind == "full_attention" else local, overrides[i],
                                     heads, i))
        elif kind in ("full_attention", "indexed_attention"):
            specs.append(dsa if isinstance(attn, MLASpec) and indexed and indexed[i] else attn)
        elif kind in ("sliding_attention", "chunked_attention"):
            specs.append(local)
        elif kind == "none":
            continue  # an MLP / MoE block: no cache, and not counted as a cache layer
        else:
            specs.append(_state_spec(cfg, kind, dtype, heads, head_dim))
    shared = _opt_int(cfg, "num_kv_shared_layers", lo=0, hi=n) or 0
    for i in range(n - shared, n):  # Gemma 3n: the last layers reuse the last earlier KV of their kind
        src = max((j for j in range(n - shared) if kinds[j] == kinds[i]), default=None)
        if src is None:
            raise ValueError(f"num_kv_shared_layers: layer {i} has no earlier {kinds[i]} layer to share")
        specs[i] = SharedKVSpec(source_layer=src)
    mtp = _opt_int(cfg, "num_nextn_predict_layers", lo=0, hi=MAX_LAYERS) or 0
    if include_mtp:  # DSA MTP layers run their own indexer (vLLM DeepSeekV32 MTP, SGLang NextN)
        specs.extend([dsa if isinstance(attn, MLASpec) and indexed else attn] * mtp)
    return ModelSpec(name=name, groups=group_layers(specs), num_attention_heads=heads,
                     hidden_size=hidden, max_context=max_ctx, param_count=param_count,
                     weight_bytes=weight_bytes, dtype=dtype, source=source,
                     mtp_layers=0 if include_mtp else mtp, mtp_counted=mtp if include_mtp else 0,
                     model_type=cfg.get("model_type") or "",
                     blocks=n if "none" in kinds else 0)


def _overridden(spec, over: dict[str, int], heads: int, layer: int):
    kv = over.get("num_key_value_heads", spec.num_kv_heads)
    if heads % kv:
        raise ValueError(f"num_key_value_heads: layer {layer}'s {kv} KV heads do not divide "
                         f"num_attention_heads {heads}")
    dim = over.get("head_dim")
    return replace(spec, num_kv_heads=kv, head_dim_k=dim or spec.head_dim_k,
                   head_dim_v=dim or spec.head_dim_v)


def _mla_fields(spec: MLASpec) -> dict[str, int]:
    return {"kv_lora_rank": spec.kv_lora_rank, "qk_rope_head_dim": spec.qk_rope_head_dim,
            "num_heads": spec.num_heads, "qk_nope_head_dim": spec.qk_nope_head_dim,
            "v_head_dim": spec.v_head_dim}
