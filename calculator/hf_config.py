"""Read a Hugging Face ``config.json`` (as published) into a ``ModelSpec``.

All key aliases and library defaults are filled in one place (``normalize``); the per-layer
pattern is decided in one place (``layer_pattern.layer_kinds``) and a recurrent layer's state in
another (``state_specs.state_spec``); this module builds the specs from those.
Bad or incomplete configs raise ``ValueError`` whose message starts with the field's name.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from .config_fields import MAX_LAYERS
from .config_fields import int_field as _int
from .config_fields import opt_int_field as _opt_int
from .dsv4 import dsv4_specs, is_dsv4
from .dtypes import model_dtype_name
from .layer_pattern import gemma4_kinds, indexer_layers, layer_kinds, layer_overrides
from .specs import (FullAttentionSpec, IndexerCache, MLASpec, ModelSpec, SharedKVSpec,
                    SlidingWindowSpec, group_layers)
from .state_specs import state_spec

# Architectures read as something they are not: refused with the reason.
UNSUPPORTED_TYPES: dict[str, str] = {}
# Configs whose attention keeps more than K and V under keys the reader does not model; a
# non-empty value refuses them whatever their model_type says.
UNSUPPORTED_KEYS = {
    "sparse_attention_config": "MiniMax-M3's block-sparse attention (its index keys) is not "
                               "modelled; reading it as plain GQA would leave the index cache out",
}
# NemotronH's block names (transformers 5.23.0 configuration_nemotron_h.py ``_pattern_to_list``
# and the legacy names ``remap_legacy_layer_types`` accepts), each the block it builds
# (model/shapes_nemotron_h.py lists their tensors) ...
NEMOTRON_BLOCK_TYPES = {"M": "mamba", "*": "attention", "-": "mlp", "E": "moe", "mamba": "mamba",
                        "linear_attention": "mamba", "attention": "attention",
                        "full_attention": "attention", "mlp": "mlp", "moe": "moe"}
# ... and the cache it keeps: MLP and MoE blocks hold none
NEMOTRON_BLOCKS = {name: {"mamba": "mamba2", "attention": "full_attention"}.get(block, "none")
                   for name, block in NEMOTRON_BLOCK_TYPES.items()}

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
    # Olmo3Config (transformers 5.23.0, models/olmo3/configuration_olmo3.py): sliding_window 4096
    # and, without layer_types, layer i slides unless (i + 1) % 4 == 0, the rule that
    # sliding_window_pattern 4 spells here.
    "olmo3": {"num_hidden_layers": 32, "hidden_size": 4096, "num_attention_heads": 32,
              "sliding_window": 4096, "sliding_window_pattern": 4, "max_position_embeddings": 2048},
    "gpt2": {"num_hidden_layers": 12, "hidden_size": 768, "num_attention_heads": 12,
             "max_position_embeddings": 1024, "torch_dtype": "float32"},
}
WRAPPED_TEXT_TYPES = {"gemma3": "gemma3_text", "gemma4": "gemma4_text"}


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


def cache_layer_indices(config: object) -> list[int]:
    """Indices (in the checkpoint's block numbering) of the layers that hold a cache, in the
    order of ``ModelSpec``'s layers: NemotronH's MLP / MoE blocks are left out."""
    cfg = normalize(config)
    n = _int(cfg, "num_hidden_layers", hi=MAX_LAYERS)
    kinds = cfg.get("_block_kinds") or []
    return [i for i in range(n) if i >= len(kinds) or kinds[i] != "none"]


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
    mtp = _opt_int(cfg, "num_nextn_predict_layers", lo=0, hi=MAX_LAYERS) or 0
    if is_dsv4(cfg):  # DeepSeek-V4: a window on every layer, compressed entries on most
        specs = dsv4_specs(cfg, n, dtype)
        # its MTP layer attends over the window alone (compress ratio 0)
        mtp_spec, blocks = replace(specs[0], compress_rate=0, index_head_dim=0), 0
    else:
        specs, mtp_spec, blocks = _layer_specs(cfg, n, heads, hidden, kv_heads, dtype)
    if include_mtp:
        specs += [mtp_spec] * mtp
    return ModelSpec(name=name, groups=group_layers(specs), num_attention_heads=heads,
                     hidden_size=hidden, max_context=max_ctx, param_count=param_count,
                     weight_bytes=weight_bytes, dtype=dtype, source=source,
                     mtp_layers=0 if include_mtp else mtp, mtp_counted=mtp if include_mtp else 0,
                     model_type=cfg.get("model_type") or "", blocks=blocks)


def _layer_specs(cfg: dict[str, Any], n: int, heads: int, hidden: int, kv_heads: int,
                 dtype: str) -> tuple[list, Any, int]:
    """(each layer's spec, the spec an MTP layer caches with, checkpoint blocks when some hold no
    cache) for every architecture but DeepSeek-V4."""
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
    kinds = gemma4_kinds(cfg, layer_kinds(cfg, n))
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
            specs.append(state_spec(cfg, kind, dtype, heads, head_dim))
    shared = _opt_int(cfg, "num_kv_shared_layers", lo=0, hi=n) or 0
    for i in range(n - shared, n):  # Gemma 3n: the last layers reuse the last earlier KV of their kind
        src = max((j for j in range(n - shared) if kinds[j] == kinds[i]), default=None)
        if src is None:
            raise ValueError(f"num_kv_shared_layers: layer {i} has no earlier {kinds[i]} layer to share")
        specs[i] = SharedKVSpec(source_layer=src)
    # DSA MTP layers run their own indexer (vLLM DeepSeekV32 MTP, SGLang NextN)
    mtp_spec = dsa if isinstance(attn, MLASpec) and indexed else attn
    return specs, mtp_spec, (n if "none" in kinds else 0)


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
