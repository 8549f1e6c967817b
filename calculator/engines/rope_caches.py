"""The rope cos/sin caches an engine builds with the model: as many and as wide as
``get_rope`` makes them (vLLM ``model_executor/layers/rotary_embedding/``, SGLang
``layers/rotary_embedding.py``, which adapted it), one per distinct rope, each
``[positions, rotary_dim]``. vLLM keeps them in the model dtype (gpt-oss: float32); SGLang in
float32 on CUDA (``sglang_startup.rope_bytes``). ``vllm_weights`` books them in "Model loading
took"; ``sglang_startup`` in "mem usage".

- ``RotaryEmbedding``: ``max_position_embeddings`` positions × ``head_dim ×
  partial_rotary_factor`` (transformers 5 files nest the factor in ``rope_parameters``; MiniMax-M2
  names ``rotary_dim``, ``minimax_m2.py``). ``Llama3RotaryEmbedding`` is the same size; Llama 4
  builds it over all of its 10,485,760 positions (``llama4.py``).
- ``LinearScalingRotaryEmbedding`` / ``DynamicNTKScalingRotaryEmbedding``: max_position × factor
  positions (Gemma 3's global rope); YaRN: ``original_max_position_embeddings × factor``;
  MLA's ``DeepseekScalingRotaryEmbedding``: ``qk_rope_head_dim`` wide, the ceiling of original ×
  factor for any scaling.
- Gemma 3's local layers: a second, unscaled cache (``rope_local_base_freq``); Gemma 4: one per
  layer type, the full layers' proportional rope as wide as ``global_head_dim``.
"""
from __future__ import annotations

import math

from ..model.shapes import config_int
from ..model.stored import MODEL_ST, ST_BITS


# models whose attention has no rope, so no cos/sin cache: GPT-2 (learned positions), NemotronH
# (nemotron_h.py builds no get_rope), Kimi Linear's NoPE MLA (kimi_linear.py: rotary_emb=None);
# Granite 4 hybrids only with position_embedding_type "rope" (granitemoehybrid.py)
NO_ROPE = ("gpt2", "nemotron_h", "kimi_linear")


def _number(value: object, field: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise ValueError(f"{field}: expected a number from {lo:g} to {hi:g}, got {value!r}")
    return float(value)


def rope_caches(cfg: dict, mtype: str, mla: bool = False,
                item: int | None = None) -> list[tuple[str, int]]:
    """The ``cos_sin_cache`` buffers ``get_rope`` creates for the model (one per distinct rope).
    MLA (``deepseek_v2.py``): ``qk_rope_head_dim`` wide, and any rope scaling is
    ``DeepseekScalingRotaryEmbedding`` over ``torch.arange(original × factor)``, its ceiling.
    ``item``: bytes per value where the engine keeps another dtype than vLLM's (SGLang on CUDA:
    float32)."""
    if mtype in NO_ROPE or (mtype == "granitemoehybrid"
                            and cfg.get("position_embedding_type") != "rope"):
        return []
    if mtype == "gemma4_text":
        return _gemma4_ropes(cfg, item)
    if mla:
        rotary = config_int(cfg, "qk_rope_head_dim")
    else:
        heads = config_int(cfg, "num_attention_heads")
        head_dim = config_int(cfg, "head_dim") if cfg.get("head_dim") else config_int(cfg, "hidden_size") // heads
        factor = cfg.get("partial_rotary_factor")
        params = cfg.get("rope_parameters")
        if factor is None and isinstance(params, dict):  # transformers 5 files (Qwen3.5) nest it
            factor = params.get("partial_rotary_factor")
        if factor is None and cfg.get("rotary_dim") is not None:
            # MiniMax-M2 names the rotated width (minimax_m2.py: partial factor = rotary_dim / head)
            factor = config_int(cfg, "rotary_dim") / head_dim
        rotary = int(head_dim * (1.0 if factor is None else
                                 _number(factor, "partial_rotary_factor", 1e-6, 1.0)))
    positions = unscaled = config_int(cfg, "max_position_embeddings", hi=1 << 32)
    scaling = cfg.get("rope_scaling") or {}
    if not isinstance(scaling, dict):
        raise ValueError(f"rope_scaling: expected a JSON object, got {scaling!r}")
    kind = str(scaling.get("rope_type") or scaling.get("type") or "default")
    if kind in ("linear", "dynamic") and not mla:
        # LinearScalingRotaryEmbedding / DynamicNTKScalingRotaryEmbedding: the cache spans
        # max_position_embeddings × factor positions (rotary_embedding/*_scaling_rope.py)
        positions = int(positions * _number(scaling.get("factor"), "rope_scaling.factor", 1.0, 1e6))
    elif kind == "yarn" or (mla and kind != "default"):
        original = config_int(scaling, "original_max_position_embeddings", hi=1 << 32)
        scaled = original * _number(scaling.get("factor"), "rope_scaling.factor", 1.0, 1e6)
        positions = math.ceil(scaled) if mla else int(scaled)
    if item is None:
        item = 4 if mtype == "gpt_oss" else ST_BITS[MODEL_ST[dtype_name(cfg)]] // 8
    caches = [("rotary_emb.cos_sin_cache", positions * rotary * item)]
    if mtype == "gemma3_text":  # local layers use their own base (rope_local_base_freq), unscaled
        caches.append(("rotary_emb_local.cos_sin_cache", unscaled * rotary * item))
    return caches


def _gemma4_ropes(cfg: dict, item: int | None = None) -> list[tuple[str, int]]:
    """Gemma 4 (``gemma4.py`` · ``Gemma4Attention``): one rope per layer type from
    ``rope_parameters[type]``, over ``max_position_embeddings``. Sliding layers rotate
    ``head_dim × partial_rotary_factor``; the full layers' "proportional" rope
    (``Gemma4RotaryEmbedding``) keeps a cache as wide as the whole ``global_head_dim``."""
    from ..layer_pattern import layer_kinds
    positions = config_int(cfg, "max_position_embeddings", hi=1 << 32)
    item = ST_BITS[MODEL_ST[dtype_name(cfg)]] // 8 if item is None else item
    params = cfg.get("rope_parameters") or {}
    kinds = set(layer_kinds(cfg, config_int(cfg, "num_hidden_layers")))
    caches = []
    for kind, width in (("sliding_attention", "head_dim"), ("full_attention", "global_head_dim")):
        if kind not in kinds:
            continue
        hd = config_int(cfg, width, cfg.get("head_dim"))
        rope = params.get(kind) if isinstance(params, dict) else None
        rope = rope if isinstance(rope, dict) else {}
        factor = _number(rope.get("partial_rotary_factor", 1.0), "partial_rotary_factor", 1e-6, 1.0)
        rotary = hd if rope.get("rope_type") == "proportional" else int(hd * factor)
        caches.append((f"rotary_emb_{kind}.cos_sin_cache", positions * rotary * item))
    return caches


def dtype_name(cfg: dict) -> str:
    """The config's model dtype as the calculator names it (bf16, fp16, fp32)."""
    from ..dtypes import model_dtype_name
    return model_dtype_name(cfg.get("torch_dtype"))
